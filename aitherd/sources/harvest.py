"""What every harvest shares: sources, their watermarks, and batches curate -> store -> mark.

A source is anything with a `name`, a `key` and `read(mark) -> Iterator[Item]` (the `Source`
protocol in items.py: candidates, skips, bad input, and checkpoints at group boundaries).

The harvest owns the watermarks. It reads the source's mark, stores each batch (idempotent by
content hash), and only then writes the newest checkpoint seen before the batch ended. So a
crash or kill at any moment repeats work after the last checkpoint but never loses or doubles
an example. A stop request finishes the group in hand (up to its checkpoint), stores the batch
and moves the mark there, so a run stopped every time still makes progress.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from aitherd.candidate import Candidate
from aitherd.runs import JobContext, Status
from aitherd.sources.items import BadInput, Checkpoint, FnSource, Item, Mark, Skip, Source
from aitherd.store import Watermark, utcnow
from aitherd.store.examples import insert_candidates

__all__ = ["BadInput", "Checkpoint", "Curate", "FnSource", "Harvest", "Item", "Mark", "Skip", "Source",
           "get_mark", "log_files", "set_mark"]

Curate = Callable[[Iterable[Candidate]], Iterable[Candidate]]
_DEFAULT_PATTERN = {"aider": ".aider.chat.history.md", "openai": "*.jsonl", "claude": "*.jsonl",
                    "codex": "*.jsonl", "chronicle": "*.jsonl", "continue": "*.json"}


def log_files(entries: Iterable[Any], kinds: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    """(kind, file) for every [[logs]] entry of these kinds: the file itself, or the files
    under the directory that match its pattern ('*' means the kind's usual file name)."""
    for entry in entries:
        if entry.kind not in kinds:
            continue
        root = Path(entry.path).expanduser()
        pattern = entry.pattern if entry.pattern != "*" else _DEFAULT_PATTERN.get(entry.kind, "*")
        if root.is_file():
            yield entry.kind, root
        elif root.is_dir():
            yield from ((entry.kind, p) for p in sorted(root.rglob(pattern)) if p.is_file())


def get_mark(engine: Engine, source: str, key: str) -> Mark:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT value FROM watermark WHERE source = :s AND key = :k"),
                           {"s": source, "k": key}).first()
    if row is None:
        return {}
    return json.loads(row[0]) if isinstance(row[0], str) else dict(row[0])


def set_mark(engine: Engine, source: str, key: str, value: Mark) -> None:
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(Watermark).values(source=source, key=key, value=value, updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(index_elements=["source", "key"],
                                      set_={"value": value, "updated_at": utcnow()})
    with engine.begin() as conn:
        conn.execute(stmt)


@dataclass(frozen=True)
class HarvestRun:
    """How one harvest ended: its status, a line for people, why it failed, and the sources it ran
    (aitherd.jobs turns it into the worker's RunResult)."""

    status: Status
    message: str = ""
    error: str | None = None
    sources: tuple[str, ...] = ()


class Harvest:
    """Runs sources through curate -> store -> watermark, counting everything."""

    def __init__(self, ctx: JobContext, curate: Curate, batch_size: int,
                 after_store: Callable[[], Any] | None = None, *, whole_groups: bool = False) -> None:
        self.ctx, self.curate, self.batch_size = ctx, curate, batch_size
        self.after_store = after_store
        # Store only at checkpoints, a group's candidates in one insert with the mark after them:
        # for sources that cannot read a group again the same way (sampled generations).
        self.whole_groups = whole_groups
        self.errors: list[str] = []
        self.stopped = False

    def _problem(self, source: str, message: str) -> None:
        self.ctx.count(f"errors.{source}")
        if len(self.errors) < 20:
            self.errors.append(message)

    def _store(self, source: str, batch: list[Candidate]) -> None:
        """Curate and insert a batch. One bad candidate (text that cannot be encoded, a value
        the store rejects) is counted with where it came from; the rest are still stored."""
        try:
            curated = list(self.curate(batch))
            inserted, present = insert_candidates(self.ctx.engine, curated, self.ctx.run_id)
        except Exception:
            if len(batch) == 1:
                raise
            curated, inserted, present = [], 0, 0
            for cand in batch:
                try:
                    one = list(self.curate([cand]))
                    i, p = insert_candidates(self.ctx.engine, one, self.ctx.run_id)
                except Exception as exc:
                    where = json.dumps(cand.provenance, default=str, ensure_ascii=True)[:300]
                    self._problem(source, f"{source} {where}: cannot store: {type(exc).__name__}: {exc}")
                    self.ctx.log.warning("bad_candidate", source=source, where=where,
                                         error=f"{type(exc).__name__}: {exc}")
                    continue
                curated += one
                inserted, present = inserted + i, present + p
        if self.after_store is not None:
            self.after_store()
        self.ctx.count(f"stored.{source}", inserted)
        self.ctx.count("already_present", present)
        for c in curated:
            self.ctx.count(f"{c.status}.{c.reason}" if c.reason else c.status)

    def _flush(self, src: Source, batch: list[Candidate], mark: Mark | None) -> None:
        if batch:
            self._store(src.name, batch)
        if mark is not None:
            set_mark(self.ctx.engine, src.name, src.key, mark)

    def run(self, src: Source) -> None:
        """Read `src` from its stored mark to its end (or until a stop is asked for)."""
        batch: list[Candidate] = []
        pending: Mark | None = None  # newest checkpoint not yet written
        try:
            for item in src.read(get_mark(self.ctx.engine, src.name, src.key)):
                if isinstance(item, Checkpoint):
                    pending = item.mark
                    if self.whole_groups:
                        self._flush(src, batch, pending)
                        batch, pending = [], None
                    if self.stopped:
                        break  # the group in hand is finished: stop here
                elif isinstance(item, Candidate):
                    batch.append(item)
                    if len(batch) >= self.batch_size and not self.whole_groups:
                        # The candidate just added is not covered by `pending`; it is stored
                        # now and read again (a no-op) if the run ends before the next mark.
                        self._flush(src, batch, pending)
                        batch, pending = [], None
                        self.ctx.progress(f"harvesting {src.name}",
                                          self.ctx.counts.get(f"stored.{src.name}", 0))
                elif isinstance(item, Skip):
                    self.ctx.count(f"skipped.{item.reason}")
                elif isinstance(item, BadInput):
                    self._problem(src.name, str(item))
                    self.ctx.log.warning("bad_input", source=src.name, where=item.where, why=item.why)
                else:
                    raise TypeError(f"{src.name} yielded {type(item).__name__}, not an Item")
                if not self.stopped and self.ctx.should_stop():
                    # Finish the group in hand (up to its checkpoint), so every stop makes progress.
                    self.stopped = True
            self._flush(src, batch, pending)
        except Exception as exc:
            # Keep what was read; the mark moves only to a checkpoint whose items are stored.
            try:
                self._flush(src, batch, pending)
            except Exception as again:
                self.ctx.log.error("flush_failed", source=src.name, key=src.key,
                                   error=f"{type(again).__name__}: {again}")
            message = f"{src.name} {src.key}: {type(exc).__name__}: {exc}"
            self._problem(src.name, message)
            self.ctx.log.error("source_failed", source=src.name, key=src.key, error=message)
