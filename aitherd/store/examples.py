"""Storing candidates: one row per content hash, so re-harvesting after a crash adds nothing twice.

`insert_candidates` is the one way examples reach the store, and every field of every candidate
passes the secret redaction on the way (messages, reasoning, answer, provenance such as a git
hunk header, curation notes, and any field added later): curation has redacted already, this
is the structural guarantee, and it counts what it still found under curation's `redactions`.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine, text
from sqlalchemy.dialects.sqlite import insert

from aitherd.candidate import Candidate
from aitherd.curate.redact import scrub_candidate
from aitherd.store.models import Example, utcnow


def example_counts(engine: Engine) -> list[tuple[str, str, int]]:
    """(specialist, status, count) over the store."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT specialist, status, count(*) FROM example GROUP BY specialist, status"))
        return [(r[0], r[1], int(r[2])) for r in rows]


def insert_candidates(engine: Engine, candidates: Iterable[Candidate],
                      run_id: int | None = None) -> tuple[int, int]:
    """Insert in one transaction, every field redacted; returns (inserted, already_present)."""
    candidates = list(candidates)
    for c in candidates:
        found = scrub_candidate(c)
        if found:
            seen = c.curation.setdefault("redactions", {})
            for kind, n in found.items():
                seen[kind] = seen.get(kind, 0) + n
    rows = [{**c.to_row(), "run_id": run_id, "created_at": utcnow()} for c in candidates]
    if not rows:
        return 0, 0
    stmt = insert(Example).on_conflict_do_nothing(index_elements=["content_hash"])
    with engine.begin() as conn:  # one executemany; its rowcount counts only new rows
        inserted = conn.execute(stmt, rows).rowcount
    return inserted, len(rows) - inserted
