"""What every harvest shares: batches go curate -> store -> watermark, errors are counted.

Sources yield (watermark, item) pairs, the item a Candidate, 'skip:REASON' or an error text
that says what and where. A batch is curated, inserted (idempotent by content hash) and only
then is the source's watermark written, so a crash repeats work but never loses or doubles it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from aitherd.candidate import Candidate
from aitherd.jobs.context import JobContext
from aitherd.store import Watermark, utcnow
from aitherd.store.examples import insert_candidates

Curate = Callable[[Iterable[Candidate]], Iterable[Candidate]]
_DEFAULT_PATTERN = {"aider": ".aider.chat.history.md", "openai": "*.jsonl", "claude": "*.jsonl",
                    "codex": "*.jsonl", "chronicle": "*.jsonl"}


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
Item = tuple[dict[str, Any], "Candidate | str"]


def get_mark(engine: Engine, source: str, key: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT value FROM watermark WHERE source = :s AND key = :k"),
                           {"s": source, "k": key}).first()
    if row is None:
        return {}
    return json.loads(row[0]) if isinstance(row[0], str) else dict(row[0])


def set_mark(engine: Engine, source: str, key: str, value: dict[str, Any]) -> None:
    from sqlalchemy.dialects.sqlite import insert

    stmt = insert(Watermark).values(source=source, key=key, value=value, updated_at=utcnow())
    stmt = stmt.on_conflict_do_update(index_elements=["source", "key"],
                                      set_={"value": value, "updated_at": utcnow()})
    with engine.begin() as conn:
        conn.execute(stmt)


class Harvest:
    """Runs sources through curate -> store -> watermark, counting everything."""

    def __init__(self, ctx: JobContext, curate: Curate, batch_size: int,
                 after_store: Callable[[], Any] | None = None) -> None:
        self.ctx, self.curate, self.batch_size = ctx, curate, batch_size
        self.after_store = after_store
        self.errors: list[str] = []
        self.stopped = False

    def _flush(self, source: str, key: str, batch: list[Candidate], mark: dict[str, Any] | None) -> None:
        curated = list(self.curate(batch))
        inserted, present = insert_candidates(self.ctx.engine, curated, self.ctx.run_id)
        if self.after_store is not None:
            self.after_store()
        self.ctx.count(f"stored.{source}", inserted)
        self.ctx.count("already_present", present)
        for c in curated:
            self.ctx.count(f"{c.status}.{c.reason}" if c.reason else c.status)
        if mark is not None:
            set_mark(self.ctx.engine, source, key, mark)

    def run(self, source: str, key: str, items: Iterator[Item]) -> None:
        batch: list[Candidate] = []
        mark: dict[str, Any] | None = None
        try:
            for mark, item in items:
                if isinstance(item, str):
                    if item.startswith("skip:"):
                        self.ctx.count(f"skipped.{item[5:]}")
                    else:
                        self.ctx.count(f"errors.{source}")
                        self.ctx.log.warning("bad_input", source=source, where=item)
                        if len(self.errors) < 20:
                            self.errors.append(item)
                    continue
                batch.append(item)
                if len(batch) >= self.batch_size:
                    self._flush(source, key, batch, mark)
                    batch, mark = [], None
                    self.ctx.progress(f"harvesting {source}", self.ctx.counts.get(f"stored.{source}", 0))
                    if self.ctx.should_stop():
                        self.stopped = True
                        return
            self._flush(source, key, batch, mark)
        except Exception as exc:
            self._flush(source, key, batch, None)  # keep what was read; the mark stays put
            self.ctx.count(f"errors.{source}")
            message = f"{source} {key}: {type(exc).__name__}: {exc}"
            self.errors.append(message)
            self.ctx.log.error("source_failed", source=source, key=key, error=message)
