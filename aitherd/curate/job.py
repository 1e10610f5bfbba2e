"""Curation inside a job: stream, store in chunks, report counts and progress to the daemon."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aitherd.candidate import Candidate
from aitherd.curate.config import CurationConfig
from aitherd.curate.pipeline import Curator
from aitherd.store.examples import insert_candidates


def curate_and_store(
    ctx: Any,
    candidates: Iterable[Candidate],
    config: CurationConfig | None = None,
    chunk: int = 500,
) -> dict[str, Any]:
    """Curate `candidates` and insert them all (accepted and rejected) under `ctx.run_id`.

    `ctx` is an aitherd.jobs.context.JobContext (count, progress, should_stop, engine, log).
    Stops early, after storing what was curated, when the daemon asks. Returns the step stats.
    """
    curator = Curator(config or CurationConfig(), ctx.engine)
    done = inserted = 0
    pending: list[Candidate] = []

    def flush() -> None:
        nonlocal inserted, pending
        if pending:
            inserted += insert_candidates(ctx.engine, pending, ctx.run_id)[0]
            curator.save_signatures()
            pending = []

    for c in curator.process(candidates):
        pending.append(c)
        done += 1
        ctx.count("accepted" if c.status == "accepted" else f"rejected_{c.reason}")
        if len(pending) >= chunk:
            flush()
            ctx.progress("curate", done)
        if ctx.should_stop():
            break
    flush()
    stats = curator.stats.as_dict()
    for kind, n in stats.get("redactions", {}).items():
        ctx.count(f"redacted_{kind}", n)
    ctx.log.info(
        "curated",
        seen=done,
        inserted=inserted,
        dropped={s: v["dropped"] for s, v in stats.items() if s != "redactions"},
    )
    return stats
