"""The reasoner harvest: every configured reasoning source, in batches, crash-safe.

Each source yields candidates and checkpoints (see items.py). A batch is curated, inserted
(idempotent by content hash), and only then is the source's watermark advanced: a crash or kill
repeats work but never duplicates or loses an example. Generated traces (teacher, augmentation)
are stored one by one, since each was paid for; the store is their ledger, so a prompt answered
once is never asked again. A failing source is recorded with what and where, and the other
sources still run. Finally the non-reasoning share is topped up by derivation.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from aitherd.runs import JobContext
from aitherd.sources import chronicle, mcts, non_reasoning
from aitherd.sources.generate import AugmentConfig, Ledger, Outcome, TeacherConfig, augment, teacher
from aitherd.sources.harvest import BadInput, Checkpoint, Curate, FnSource, Harvest, HarvestRun, Item, Mark, log_files
from aitherd.sources.reasoner_config import ReasonerSources
from aitherd.sources.reasoner_datasets import harvest_dataset


def ledger(engine: Engine, name: str, cfg: TeacherConfig | AugmentConfig, mark: Mark) -> Ledger:
    """What the store says was answered already, and the failures the mark keeps. Rows stored
    before prompts were keyed by digest count by their id (with the same prompt file), and so
    do the ids of an old `{"done": [...]}` mark."""
    if name == "teacher":
        sql = ("SELECT json_extract(provenance, '$.key'), json_extract(provenance, '$.id'), "
               "json_extract(provenance, '$.prompts') FROM example WHERE source = 'teacher'")
        path = getattr(cfg, "prompts", "")
    else:
        sql = ("SELECT json_extract(provenance, '$.key'), json_extract(provenance, '$.id') || ':' || "
               "json_extract(provenance, '$.strategy'), json_extract(provenance, '$.seeds') FROM example "
               "WHERE source LIKE 'augment:%'")
        path = getattr(cfg, "seeds", "")
    with engine.connect() as conn:
        rows = conn.execute(text(sql)).all()
    return Ledger(answered={k for k, _, _ in rows if k},
                  legacy={str(i) for k, i, p in rows if not k and i is not None and p == path}
                  | {str(i) for i in mark.get("done") or []},
                  failures={str(k): int(v) for k, v in (mark.get("failures") or {}).items()},
                  bad_lines=set(mark.get("bad_lines") or []))


def _mcts(path: Path, mark: Mark) -> Iterator[Item]:
    """A tree file is one group: read whole when it changed, marked done after its last tree."""
    st = path.stat()
    stamp = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    if mark.get("stamp") == stamp:
        return
    for out in mcts.harvest_file(path):
        yield BadInput(str(path), out) if isinstance(out, str) else out
    yield Checkpoint({"stamp": stamp})


def harvest_reasoner(ctx: JobContext, cfg: ReasonerSources, curate: Curate,
                     after_store: Callable[[], Any] | None = None) -> HarvestRun:
    h = Harvest(ctx, curate, cfg.batch_size, after_store)
    logs = ctx.loaded.config.logs
    ran: list[str] = []
    for _kind, path in log_files(logs, ("chronicle",)):
        ran.append("chronicle")
        h.run(FnSource("chronicle", str(path), functools.partial(
            chronicle.harvest_file, path, mapping=cfg.chronicle, settle=cfg.settle)))
        if h.stopped:
            break
    for _kind, path in log_files(logs, ("mcts",)):
        if h.stopped:
            break
        ran.append("mcts")
        h.run(FnSource("mcts", str(path), functools.partial(_mcts, path)))
    stalled: list[str] = []
    for name, gen_cfg, fn in (("teacher", cfg.teacher, teacher), ("augment", cfg.augment, augment)):
        if gen_cfg is None or h.stopped:
            continue
        ran.append(name)
        outcome = Outcome()

        def generated(mark: Mark, name: str = name, fn: Any = fn, gen_cfg: Any = gen_cfg,
                      outcome: Outcome = outcome) -> Iterator[Item]:
            return fn(gen_cfg, ledger(ctx.engine, name, gen_cfg, mark), outcome)

        # Batches of one: a reply was paid for, so it is stored (and its mark moved) at once.
        paid = Harvest(ctx, curate, 1, after_store)
        paid.errors = h.errors
        paid.run(FnSource(name, "prompts", generated))
        h.stopped = h.stopped or paid.stopped
        if outcome.stopped:
            h.errors.append(f"{name}: {outcome.stopped}")
            ctx.count(f"errors.{name}")
        if outcome.stalled:
            stalled.append(f"{name} made no progress: {outcome.stalled}")
        _count_generation(ctx, name, outcome)
    for name, src in cfg.datasets.items():
        if not src.enabled or h.stopped:
            continue
        ran.append(f"hf:{name}")
        h.run(FnSource(f"hf:{name}", name, functools.partial(harvest_dataset, name, src, stop=ctx.should_stop)))
    if not h.stopped:  # direct questions: configured files, then generated to reach the share
        non_reasoning.harvest(h, ctx.engine, cfg.non_reasoning)
    if h.stopped:
        return HarvestRun("interrupted", message="stopped after a checkpoint; the next run continues")
    if not ran and not cfg.non_reasoning.derive:
        return HarvestRun("skipped", message="not configured: no reasoner source is configured")
    note = f"sources: {', '.join(dict.fromkeys(ran)) or 'none configured'}"
    if stalled:
        note = "; ".join(stalled) + "; " + note
    if h.errors:
        note += "; problems: " + "; ".join(h.errors[:5])
    if stalled and not any(k.startswith("stored.") and v for k, v in ctx.counts.items()):
        return HarvestRun("failed", message=note, error="; ".join(stalled), sources=tuple(dict.fromkeys(ran)))
    return HarvestRun("ok", message=note, sources=tuple(dict.fromkeys(ran)))


def _count_generation(ctx: JobContext, name: str, outcome: Outcome) -> None:
    """Generation in the run's counts: replies, failed requests, retries, tokens."""
    client = outcome.client
    for key, value in (("generated", outcome.generated), ("failed_requests", outcome.failed),
                       ("gave_up", outcome.gave_up), ("failed_before", outcome.failed_before),
                       ("requests", client.requests if client else 0),
                       ("retries", client.retries if client else 0),
                       ("tokens", client.spent_tokens if client else 0)):
        if value or key == "generated":
            ctx.count(f"{key}.{name}", value)


def content_digest(engine: Engine) -> str:
    """A digest of the stored examples' hashes (for comparing stores in tests and tools)."""
    with engine.connect() as conn:
        hashes = [r[0] for r in conn.execute(text("SELECT content_hash FROM example ORDER BY 1"))]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()
