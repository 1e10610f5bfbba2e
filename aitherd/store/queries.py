"""Read queries behind the control API and the daemon's own state: runs, exports, examples, meta.

Plain functions over an engine that return rows (detached, safe to use after the session closes)
or tuples; callers decide how to present them. Run them off the event loop: each is one short,
indexed SQLite query, but SQLite calls block.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Engine, func, text
from sqlmodel import col, select

from aitherd.store.db import session
from aitherd.store.models import Example, Export, Meta, Run

# The filters `list_examples` accepts, each an exact match on the column of the same name.
EXAMPLE_FILTERS = ("status", "reason", "specialist", "category", "source")


def latest_runs(engine: Engine) -> list[Run]:
    """The newest run of each job that has run."""
    with session(engine) as s:
        latest = select(func.max(Run.id)).group_by(Run.job)
        return list(s.exec(select(Run).where(col(Run.id).in_(latest))).all())


def run_status_counts(engine: Engine) -> dict[str, int]:
    """Runs per status over the whole history."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM run GROUP BY status"))
        return {str(status): int(n) for status, n in rows}


def list_runs(engine: Engine, *, limit: int, job: str | None = None, status: str | None = None,
              before: int | None = None) -> list[Run]:
    """Runs, newest first; `before` pages back from a run id."""
    stmt = select(Run).order_by(col(Run.id).desc()).limit(limit)
    if job:
        stmt = stmt.where(Run.job == job)
    if status:
        stmt = stmt.where(Run.status == status)
    if before is not None:
        stmt = stmt.where(col(Run.id) < before)
    with session(engine) as s:
        return list(s.exec(stmt).all())


def get_run(engine: Engine, run_id: int) -> Run | None:
    with session(engine) as s:
        return s.get(Run, run_id)


def list_exports(engine: Engine, *, limit: int, specialist: str | None = None) -> list[Export]:
    """Exports, newest first."""
    stmt = select(Export).order_by(col(Export.created_at).desc()).limit(limit)
    if specialist:
        stmt = stmt.where(Export.specialist == specialist)
    with session(engine) as s:
        return list(s.exec(stmt).all())


def get_export(engine: Engine, export_id: str) -> Export | None:
    with session(engine) as s:
        return s.get(Export, export_id)


def list_examples(engine: Engine, *, limit: int, filters: Mapping[str, str]) -> list[Example]:
    """Examples, newest first, matching every given filter (keys from EXAMPLE_FILTERS)."""
    stmt = select(Example).order_by(col(Example.id).desc()).limit(limit)
    for key, value in filters.items():
        if key not in EXAMPLE_FILTERS:
            raise ValueError(f"no example filter named {key!r}")
        stmt = stmt.where(getattr(Example, key) == value)
    with session(engine) as s:
        return list(s.exec(stmt).all())


def corpus_counts(engine: Engine) -> list[tuple[str, str, str, str, int]]:
    """(specialist, source, category, status, count) over the store."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT specialist, source, category, status, count(*) FROM example "
            "GROUP BY specialist, source, category, status"))
        return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]


def get_meta(engine: Engine, key: str) -> str | None:
    with session(engine) as s:
        row = s.get(Meta, key)
        return row.value if row is not None else None


def set_meta(engine: Engine, key: str, value: str) -> None:
    with session(engine) as s:
        s.merge(Meta(key=key, value=value))
        s.commit()


__all__ = [
    "EXAMPLE_FILTERS", "corpus_counts", "get_export", "get_meta", "get_run", "latest_runs",
    "list_examples", "list_exports", "list_runs", "run_status_counts", "set_meta",
]
