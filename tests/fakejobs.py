"""Job functions for the daemon tests, loaded by the worker through AITHERD_JOB_MODULE.

What each job does is read at run time from the JSON file named by FAKE_JOB_PLAN, so a test can
make a job slow, failing or crashing; every run appends `job run_id trigger` to runs.log beside it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from aitherd import errors
from aitherd.runs import JobContext, RunResult


def _run(ctx: JobContext) -> RunResult:
    plan_file = Path(os.environ["FAKE_JOB_PLAN"])
    plan = json.loads(plan_file.read_text()).get(ctx.job, {}) if plan_file.exists() else {}
    with open(plan_file.parent / "runs.log", "a") as fh:
        fh.write(f"{ctx.job} {ctx.run_id} {ctx.trigger}\n")
    if plan.get("echo_args"):
        return RunResult("ok", message=json.dumps(ctx.args, sort_keys=True))
    if "raise" in plan:
        raise RuntimeError(plan["raise"])
    if "raise_kind" in plan:  # one of aitherd.errors' kinds, e.g. NotConfigured
        raise getattr(errors, plan["raise_kind"])(plan.get("message", ""))
    if "exit" in plan:
        os._exit(plan["exit"])
    steps = int(plan.get("steps", 1))
    for step in range(steps):
        if ctx.should_stop():
            return RunResult("interrupted", counts={"steps": step},
                             message=f"checkpointed at step {step}")
        ctx.progress("working", step, steps, force=True)
        time.sleep(float(plan.get("sleep", 0)))
    return RunResult("ok", counts={"steps": steps, **plan.get("counts", {})}, message="fake work done",
                     outputs=plan.get("outputs", {}))


run_harvest_coder = run_harvest_reasoner = run_export = run_star = _run
run_train = run_benchmark = run_deploy = run_router_train = _run
