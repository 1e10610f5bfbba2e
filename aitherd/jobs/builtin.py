"""The daemon's jobs. Harvests run their sources through curation into the store (the train,
export, benchmark, deploy, router_train and star adapters are in aitherd.jobs.stages). A job with nothing
to do in this configuration records `skipped: not configured` with what is missing."""

from __future__ import annotations

from typing import Any

from aitherd.jobs.stages import harvest_result
from aitherd.runs import JobContext, RunResult


def _curation_counts(ctx: JobContext, stats: dict[str, Any]) -> None:
    for step, info in stats.items():
        if step == "redactions":
            for kind, n in info.items():
                ctx.count(f"redacted.{kind}", n)
        elif isinstance(info, dict):
            for reason, n in (info.get("dropped") or {}).items():
                ctx.count(f"curation.{step}.{reason}", n)
            ctx.count(f"curation.{step}.kept", info.get("kept", 0))


def _harvest(ctx: JobContext, specialist: str) -> RunResult:
    from aitherd.curate import Curator, DecontamError

    cfg = ctx.loaded.config
    try:
        curator = Curator(cfg.curation, ctx.engine)
    except DecontamError as err:
        return RunResult("failed", error=f"curation cannot start: {err}")
    try:
        if specialist == "coder":
            from aitherd.sources.coder import harvest_coder

            run = harvest_coder(ctx, cfg.sources.coder, curator.process, curator.save_signatures)
        else:
            from aitherd.sources.reasoner import harvest_reasoner

            run = harvest_reasoner(ctx, cfg.sources.reasoner, curator.process, curator.save_signatures)
    finally:
        curator.close()  # its worker processes
    _curation_counts(ctx, curator.stats.as_dict())
    return harvest_result(run)


def run_harvest_coder(ctx: JobContext) -> RunResult:
    return _harvest(ctx, "coder")


def run_harvest_reasoner(ctx: JobContext) -> RunResult:
    return _harvest(ctx, "reasoner")


def run_curate(ctx: JobContext) -> RunResult:
    """Re-evaluate stored examples after a threshold or benchmark change, without re-harvesting."""
    from aitherd.curate import Curator, DecontamError

    try:
        curator = Curator(ctx.loaded.config.curation, ctx.engine)
    except DecontamError as err:
        return RunResult("failed", error=f"curation cannot start: {err}")
    ctx.progress("rechecking stored examples", force=True)
    out = curator.recheck(ctx.engine)
    changed = out.get("changed") or {}
    for key, n in changed.items():
        ctx.count(f"changed.{key}", n)
    total = sum(n for n in changed.values() if isinstance(n, int))
    return RunResult("ok", message=f"rechecked; {total} example(s) changed status"
                     + (": " + ", ".join(f"{k} {v}" for k, v in changed.items()) if changed else ""))
