"""The Adapter rows serving reads and writes: which version is live per specialist, what was live
before it, and why a version was rejected. Blocking (SQLite): call from a thread.

States: candidate (trained, not deployed), live (the alias serves it; one per specialist, a
unique index says so), retired (was live, replaced by a newer deploy), rejected (failed its
verification, or was rolled back).
"""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import col, select

from aitherd.store import session
from aitherd.store.models import Adapter, utcnow


def served_name(specialist: str, version: str) -> str:
    """Each version gets its own name in vLLM: a same-name reload can serve stale prefix cache."""
    return f"{specialist}@{version}"


def adapters(engine: Engine, specialist: str | None = None) -> list[Adapter]:
    stmt = select(Adapter).order_by(col(Adapter.specialist), col(Adapter.created_at).desc(),
                                    col(Adapter.id).desc())
    if specialist:
        stmt = stmt.where(Adapter.specialist == specialist)
    with session(engine) as s:
        return list(s.exec(stmt).all())


def find(engine: Engine, specialist: str, version: str) -> Adapter | None:
    with session(engine) as s:
        return s.exec(select(Adapter).where(Adapter.specialist == specialist,
                                            Adapter.version == version)).first()


def live(engine: Engine) -> list[Adapter]:
    with session(engine) as s:
        return list(s.exec(select(Adapter).where(Adapter.state == "live")).all())


def go_live(engine: Engine, adapter_id: int, *, demote_to: str = "retired",
            demote_note: str | None = None) -> Adapter | None:
    """Make one adapter the live one of its specialist in a single transaction; the one it
    replaces becomes `demote_to`. Returns the replaced row, if any."""
    with session(engine) as s:
        row = s.get(Adapter, adapter_id)
        if row is None:
            raise KeyError(adapter_id)
        old = s.exec(select(Adapter).where(Adapter.specialist == row.specialist,
                                           Adapter.state == "live",
                                           Adapter.id != adapter_id)).first()
        if old is not None:
            old.state = demote_to
            old.note = demote_note
            s.add(old)
            s.flush()  # the unique live index is checked row by row: demote first
        row.state = "live"
        row.deployed_at = utcnow()
        row.note = None
        s.add(row)
        s.commit()
        return old


def set_state(engine: Engine, adapter_id: int, state: str, note: str | None) -> None:
    with session(engine) as s:
        row = s.get(Adapter, adapter_id)
        if row is None:
            return
        row.state = state
        row.note = note
        s.add(row)
        s.commit()


def previous_live(engine: Engine, specialist: str) -> Adapter | None:
    """What a rollback returns to: the retired version that went live most recently."""
    with session(engine) as s:
        return s.exec(select(Adapter).where(Adapter.specialist == specialist,
                                            Adapter.state == "retired",
                                            col(Adapter.deployed_at).is_not(None))
                      .order_by(col(Adapter.deployed_at).desc())).first()


def gate_passed(row: Adapter) -> bool:
    """The benchmark job marks a candidate deployable with scores["gate"] = {"passed": true, ...}."""
    gate = (row.scores or {}).get("gate")
    return isinstance(gate, dict) and gate.get("passed") is True


def deployable(engine: Engine) -> list[Adapter]:
    """Per specialist, the newest candidate that passed the benchmark gate."""
    out: dict[str, Adapter] = {}
    for row in adapters(engine):
        if row.state == "candidate" and gate_passed(row) and row.specialist not in out:
            out[row.specialist] = row
    return list(out.values())
