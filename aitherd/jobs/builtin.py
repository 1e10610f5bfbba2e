"""The daemon's jobs. A job whose capability is not built into this version says so: it records
`skipped: not configured` with what is missing, instead of pretending to work."""

from __future__ import annotations

from aitherd.jobs import RunResult
from aitherd.jobs.context import JobContext


def _not_configured(ctx: JobContext, what: str) -> RunResult:
    ctx.progress("checking configuration", force=True)
    ctx.log.info("job_not_configured", detail=what)
    return RunResult(status="skipped", message=f"not configured: {what}")


def run_harvest_coder(ctx: JobContext) -> RunResult:
    repos = ", ".join(r.path for r in ctx.loaded.repos) or "none"
    return _not_configured(
        ctx, f"this build has no coder harvest sources yet (watched repos: {repos})")


def run_harvest_reasoner(ctx: JobContext) -> RunResult:
    return _not_configured(ctx, "this build has no reasoner harvest sources yet")


def run_star(ctx: JobContext) -> RunResult:
    return _not_configured(ctx, "this build has no STaR iteration yet")


def run_benchmark(ctx: JobContext) -> RunResult:
    return _not_configured(ctx, "this build has no adapter benchmark yet")


def run_deploy(ctx: JobContext) -> RunResult:
    return _not_configured(ctx, "this build has no model server to deploy into yet")
