"""Storing candidates: one row per content hash, so re-harvesting after a crash adds nothing twice."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, text
from sqlalchemy.dialects.sqlite import insert

from aitherd.candidate import Candidate
from aitherd.store.models import Example, utcnow


def example_counts(engine: Engine) -> list[tuple[str, str, int]]:
    """(specialist, status, count) over the store."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT specialist, status, count(*) FROM example GROUP BY specialist, status"))
        return [(r[0], r[1], int(r[2])) for r in rows]


def insert_candidates(engine: Engine, candidates: Iterable[Candidate],
                      run_id: int | None = None) -> tuple[int, int]:
    """Insert in one transaction; returns (inserted, already_present)."""
    rows = [{
        "specialist": c.specialist, "category": c.category, "status": c.status,
        "reason": c.reason, "messages": c.messages, "reasoning": c.reasoning,
        "answer": c.answer, "source": c.source, "provenance": c.provenance,
        "license": c.license, "weight": c.weight, "quality": c.quality,
        "quality_reasons": c.quality_reasons, "curation": c.curation,
        "content_hash": c.content_hash, "run_id": run_id, "created_at": utcnow(),
    } for c in candidates]
    if not rows:
        return 0, 0
    stmt = insert(Example).on_conflict_do_nothing(index_elements=["content_hash"])
    with engine.begin() as conn:  # one executemany; its rowcount counts only new rows
        inserted = conn.execute(stmt, rows).rowcount
    return inserted, len(rows) - inserted
