"""What STaR remembers across iterations, in the store's watermark table (source `star`):

- key `iteration`: the mark of the iteration in progress (loop.IterationMark), moved per problem;
- key `ledger`: the learning curve (one entry per finished iteration: problems tried, solve rate
  before rationalization, rationalized, kept and accepted by curation, per problem source) and
  the problems that keep failing (problem id -> iterations failed), written together at once.

Closing an iteration is idempotent (an iteration already on the curve is not added twice), so a
run killed after the iteration's last mark and before the ledger write closes it next time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from aitherd.sources.harvest import get_mark, set_mark
from aitherd.star.state import TALLY_KEYS, IterationMark

SOURCE = "star"


def ledger(engine: Engine) -> dict[str, Any]:
    mark = get_mark(engine, SOURCE, "ledger")
    return {"curve": list(mark.get("curve") or []), "failures": dict(mark.get("failures") or {})}


def current(engine: Engine) -> IterationMark | None:
    return IterationMark.of(get_mark(engine, SOURCE, "iteration"))


def accepted_per_source(engine: Engine, iteration: int) -> dict[str, dict[str, int]]:
    """Per problem source: the iteration's rows accepted by curation, and rejected by reason."""
    sql = text("SELECT json_extract(provenance, '$.problem_source'), status, reason, count(*) FROM example "
               "WHERE source = 'star' AND json_extract(provenance, '$.iteration') = :it GROUP BY 1, 2, 3")
    out: dict[str, dict[str, int]] = {}
    with engine.connect() as conn:
        for src, status, reason, n in conn.execute(sql, {"it": iteration}):
            entry = out.setdefault(str(src), {"accepted": 0})
            key = "accepted" if status == "accepted" else f"rejected.{reason}"
            entry[key] = entry.get(key, 0) + int(n)
    return out


def summary(state: IterationMark, engine: Engine) -> dict[str, Any]:
    """A curve entry for an iteration (finished or in progress)."""
    stored = accepted_per_source(engine, state.iteration)
    per_source: dict[str, dict[str, Any]] = {}
    total = dict.fromkeys(TALLY_KEYS, 0)
    for src, tally in sorted(state.tally.items()):
        row: dict[str, Any] = {k: int(tally.get(k, 0)) for k in TALLY_KEYS}
        row.update(stored.get(src, {"accepted": 0}))
        row["solve_rate"] = round(row["solved"] / row["tried"], 4) if row["tried"] else None
        per_source[src] = row
        for k in TALLY_KEYS:
            total[k] += row[k]
    total_row: dict[str, Any] = dict(total)
    total_row["accepted"] = sum(int(v.get("accepted", 0)) for v in stored.values())
    total_row["solve_rate"] = round(total["solved"] / total["tried"], 4) if total["tried"] else None
    return {"iteration": state.iteration, "adapter": state.adapter, "model": state.model,
            "started": state.started, "finished": state.finished, "asked": state.asked,
            "tokens": state.tokens, "seconds": round(state.seconds, 1), "per_source": per_source,
            "total": total_row}


def close(engine: Engine, state: IterationMark) -> dict[str, Any] | None:
    """Put a finished iteration on the curve and its failures in the ledger (once)."""
    if not state.finished:
        return None
    book = ledger(engine)
    if any(e.get("iteration") == state.iteration for e in book["curve"]):
        return None
    entry = summary(state, engine)
    entry["closed"] = datetime.now(UTC).isoformat(timespec="seconds")
    failures = book["failures"]
    for pid in state.failed:
        failures[pid] = int(failures.get(pid, 0)) + 1
    book["curve"].append(entry)
    set_mark(engine, SOURCE, "ledger", {"curve": book["curve"], "failures": failures})
    return entry


def solved_enough(engine: Engine, before: int, enough: int) -> set[str]:
    """Problems with at least `enough` accepted STaR rationales from iterations before `before`."""
    sql = text("SELECT json_extract(provenance, '$.problem'), count(*) FROM example WHERE source = 'star' "
               "AND status = 'accepted' AND json_extract(provenance, '$.iteration') < :it GROUP BY 1 "
               "HAVING count(*) >= :n")
    with engine.connect() as conn:
        return {str(r[0]) for r in conn.execute(sql, {"it": before, "n": enough})}


def curve_report(engine: Engine) -> dict[str, Any]:
    """The curve across iterations, the iteration in progress, and the hardest problems."""
    book = ledger(engine)
    state = current(engine)
    running = summary(state, engine) if state is not None and not state.finished else None
    hardest = sorted(book["failures"].items(), key=lambda kv: (-int(kv[1]), kv[0]))[:20]
    return {"curve": book["curve"], "in_progress": running,
            "failing": {"problems": len(book["failures"]),
                        "hardest": [{"problem": pid, "failed_iterations": n} for pid, n in hardest]}}
