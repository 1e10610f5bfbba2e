"""Curation reports read straight from the store (light: the daemon process imports this)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import col

from aitherd.store.models import Example


def decontam_report(engine: Engine) -> dict[str, Any]:
    """Per benchmark: how many stored examples were removed and which items they matched."""
    out: dict[str, Any] = {
        "rule": "rejected when more than the threshold share of one test "
        "item's n-grams (denominator: the test item's) occur in it",
        "benchmarks": {},
    }
    with engine.connect() as conn:
        rows = conn.execute(
            select(Example.curation, Example.source).where(Example.reason == "contaminated")
        ).all()
        out["accepted"] = conn.execute(
            select(func.count()).select_from(Example).where(Example.status == "accepted")
        ).scalar_one()
    for cur, source in rows:
        hit = (cur or {}).get("contaminated") or {}
        b = out["benchmarks"].setdefault(
            hit.get("benchmark", "?"), {"examples": 0, "items": Counter(), "sources": Counter()}
        )
        b["examples"] += 1
        b["items"][hit.get("item")] += 1
        b["sources"][source] += 1
    for b in out["benchmarks"].values():
        b["distinct_items"] = len(b["items"])
        b["top_items"] = b.pop("items").most_common(10)
        b["sources"] = dict(b["sources"])
    return out


def rejected(engine: Engine, reason: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The latest rejected examples (optionally for one reason), without their text."""
    q = select(
        Example.id,
        Example.content_hash,
        Example.specialist,
        Example.category,
        Example.source,
        Example.reason,
        Example.quality,
        Example.curation,
        Example.created_at,
    ).where(Example.status == "rejected")
    if reason:
        q = q.where(Example.reason == reason)
    with engine.connect() as conn:
        rows = conn.execute(q.order_by(col(Example.id).desc()).limit(limit)).all()
    return [
        {
            "id": r.id,
            "content_hash": r.content_hash,
            "specialist": r.specialist,
            "category": r.category,
            "source": r.source,
            "reason": r.reason,
            "quality": r.quality,
            "detail": (r.curation or {}).get(r.reason),
            "created_at": r.created_at.isoformat() if r.created_at else None,
        }
        for r in rows
    ]
