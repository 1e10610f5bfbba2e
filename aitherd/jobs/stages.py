"""One thin adapter per stage job whose domain code returns its own result type: the harvests,
train, export, benchmark, deploy, router_train and star runs become the RunResult the worker reports. Numbers
go to counts; what a run made or decided as text goes to outputs (`adapter.coder`,
`export.coder.FAMILY`, `verdict.reasoner`, `live.coder`, `router.model_file`, `star.adapter`). The stages are
imported inside each function, in the worker only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aitherd.runs import JobContext, RunResult

if TYPE_CHECKING:
    from aitherd.evaluate.job import BenchmarkRun
    from aitherd.export.job import ExportRun
    from aitherd.serve.router_train import RouterTrainRun
    from aitherd.serve.worker import DeployRun
    from aitherd.sources.harvest import HarvestRun
    from aitherd.star.job import StarRun
    from aitherd.train.job import TrainRun


def harvest_result(run: HarvestRun) -> RunResult:
    return RunResult(run.status, message=run.message, error=run.error)


def star_result(run: StarRun) -> RunResult:
    return RunResult(run.status, message=run.message, error=run.error,
                     outputs={"star.adapter": run.adapter} if run.adapter else {})


def train_result(run: TrainRun) -> RunResult:
    return RunResult(run.status, counts=run.counts, message=run.message, error=run.error,
                     outputs={f"adapter.{name}": version for name, version in run.adapters.items()})


def export_result(run: ExportRun) -> RunResult:
    return RunResult(run.status, message=run.message, error=run.error,
                     outputs={f"export.{specialist}.{family}": export_id
                              for (specialist, family), export_id in run.exports.items()})


def benchmark_result(run: BenchmarkRun) -> RunResult:
    return RunResult(run.status, counts=run.counts, message=run.message, error=run.error,
                     outputs={f"verdict.{name}": verdict for name, verdict in run.verdicts.items()})


def deploy_result(run: DeployRun) -> RunResult:
    return RunResult(run.status, message=run.message, error=run.error,
                     outputs={f"live.{name}": version for name, version in run.live.items()})


def router_train_result(run: RouterTrainRun) -> RunResult:
    return RunResult(run.status, message=run.message,
                     counts={f"router.{name}": value for name, value in run.accuracy.items()},
                     outputs={"router.model_file": run.model_file} if run.model_file else {})


def run_train(ctx: JobContext) -> RunResult:
    from aitherd.train.job import run_train as train

    return train_result(train(ctx))


def run_export(ctx: JobContext) -> RunResult:
    """The export, screened against the same decontamination index as curation."""
    from aitherd.curate import DecontamError, DecontamIndex, screen
    from aitherd.export.job import run_export as export

    decontam = ctx.loaded.config.curation.decontam
    index = None
    if decontam.enabled:
        try:
            index = DecontamIndex.from_config(decontam)
        except DecontamError as err:
            return RunResult("failed", error=f"the export screen cannot load its benchmarks: {err}")
    return export_result(export(ctx, screen=(lambda texts: screen(texts, index)) if index is not None else None))


def run_benchmark(ctx: JobContext) -> RunResult:
    from aitherd.evaluate.job import run_benchmark as benchmark  # evaluate: suites, sandbox, gate

    return benchmark_result(benchmark(ctx))


def run_deploy(ctx: JobContext) -> RunResult:
    from aitherd.serve.worker import run_deploy as deploy  # serve: through the daemon's deploy

    return deploy_result(deploy(ctx))


def run_router_train(ctx: JobContext) -> RunResult:
    from aitherd.serve.router_train import run_router_train as router_train

    return router_train_result(router_train(ctx))


def run_star(ctx: JobContext) -> RunResult:
    from aitherd.star.job import run_star as star  # star: rationales sampled, checked, curated

    return star_result(star(ctx))
