"""Jobs: what the scheduler, the watchers and `aitherctl run` trigger, all the same way.

A job is a plain function `run_<job>(ctx) -> RunResult`, named here by import path and executed
in a worker subprocess (`python -m aitherd.worker`) so the daemon never imports heavy libraries.
Where a stage's domain code returns its own result type (train, export, benchmark, deploy,
router_train), the function named here is the thin adapter in `aitherd.jobs.stages`.
"""

from __future__ import annotations

from dataclasses import dataclass

from aitherd.runs import FINAL_STATUSES, RunResult, Status


@dataclass(frozen=True)
class JobSpec:
    name: str
    target: str  # "module:function", imported in the worker only
    description: str
    scheduled: bool = True  # benchmark and deploy only run chained (or by hand)
    then: tuple[str, ...] = ()  # jobs started after an ok run


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec("harvest_coder", "aitherd.jobs.builtin:run_harvest_coder",
                "harvest coding examples from repos, session logs, corpora and datasets"),
        JobSpec("harvest_reasoner", "aitherd.jobs.builtin:run_harvest_reasoner",
                "harvest reasoning examples from traces, MCTS trees, teachers and datasets"),
        JobSpec("export", "aitherd.jobs.stages:run_export",
                "export the training corpora for each specialist and base family",
                then=("router_train",)),
        JobSpec("star", "aitherd.jobs.stages:run_star",
                "a STaR iteration: generate rationales, keep the correct ones"),
        JobSpec("train", "aitherd.jobs.stages:run_train",
                "train the LoRA adapters from the latest exports", then=("benchmark",)),
        JobSpec("curate", "aitherd.jobs.builtin:run_curate",
                "re-evaluate stored examples after a curation change", scheduled=False),
        JobSpec("benchmark", "aitherd.jobs.stages:run_benchmark",
                "benchmark candidate adapters", scheduled=False, then=("deploy",)),
        JobSpec("deploy", "aitherd.jobs.stages:run_deploy",
                "deploy adapters that pass the gate into the model server", scheduled=False),
        JobSpec("router_train", "aitherd.jobs.stages:run_router_train",
                "learn the `model: auto` router from the store's accepted examples", scheduled=False),
    )
}

__all__ = ["FINAL_STATUSES", "JOBS", "JobSpec", "RunResult", "Status"]
