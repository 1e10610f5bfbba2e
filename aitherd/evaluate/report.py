"""Reports read from the store: one adapter's results and verdict, and two models compared item by
item (per-suite scores, the exact McNemar test, the items that flipped). Light: the control API
calls these (from a thread: they read SQLite)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from aitherd.errors import InputError
from aitherd.evaluate.config import EvaluateConfig
from aitherd.evaluate.gate import compare_items, gate_verdict, mcnemar_exact
from aitherd.evaluate.results import find_adapter
from aitherd.store import session
from aitherd.store.models import BenchmarkResult


class ReportError(InputError):
    """What was asked for is not in the store; `http_status` is what the control API answers."""

    def __init__(self, message: str, http_status: int = 404) -> None:
        super().__init__(message)
        self.http_status = http_status


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def result_summary(row: BenchmarkResult) -> dict[str, Any]:
    d = row.details or {}
    return {"id": row.id, "suite": row.benchmark, "pass_rate": row.pass_rate, "passed": row.passed,
            "total": row.total, "run_id": row.run_id, "created_at": _iso(row.created_at),
            "gating": bool(d.get("gating")), "key": d.get("key"), "settings": d.get("settings"),
            "metrics": d.get("metrics"), "errors": d.get("errors")}


def _rows(engine: Engine, specialist: str, version: str) -> list[BenchmarkResult]:
    """Newest first: an adapter's results, or the base model's (version "base")."""
    stmt = select(BenchmarkResult).order_by(col(BenchmarkResult.id).desc())
    if version == "base":
        stmt = stmt.where(col(BenchmarkResult.adapter_id).is_(None))
    else:
        row = find_adapter(engine, specialist, version)
        if row is None:
            raise ReportError(f"no adapter {specialist} {version} in the store")
        stmt = stmt.where(BenchmarkResult.adapter_id == row.id)
    with session(engine) as s:
        rows = list(s.exec(stmt).all())
    if version == "base":
        rows = [r for r in rows if (r.details or {}).get("specialist") == specialist
                or r.benchmark in _suites_of(specialist)]
    return rows


def _suites_of(specialist: str) -> tuple[str, ...]:
    from aitherd.evaluate.suites import SUITE_SPECIALIST

    return tuple(s for s, owner in SUITE_SPECIALIST.items() if owner == specialist)


def adapter_report(engine: Engine, specialist: str, version: str, cfg: EvaluateConfig) -> dict[str, Any]:
    """The adapter's newest result per suite, the verdict recorded by its benchmark run, and the
    verdict the gate gives now (against the adapter live now)."""
    row = find_adapter(engine, specialist, version)
    if row is None:
        raise ReportError(f"no adapter {specialist} {version} in the store")
    latest: dict[str, BenchmarkResult] = {}
    for result in _rows(engine, specialist, version):
        latest.setdefault(result.benchmark, result)
    verdict = gate_verdict(engine, specialist, version, cfg)
    return {"specialist": specialist, "version": version, "state": row.state, "path": row.path,
            "scores": row.scores, "recorded": (row.scores or {}).get("gate"),
            "now": verdict.record(), "lines": verdict.lines(),
            "results": [result_summary(r) for r in latest.values()]}


def parse_model(text: str) -> tuple[str, str]:
    """'coder@v0002' -> ('coder', 'v0002'); 'reasoner@base' for the base model."""
    specialist, sep, version = text.partition("@")
    if not sep or specialist not in ("coder", "reasoner") or not version:
        raise ReportError(f"name a model as SPECIALIST@VERSION (coder@v0002, reasoner@base), got {text!r}",
                          http_status=400)
    return specialist, version


def compare(engine: Engine, a: str, b: str, *, max_flips: int = 50) -> dict[str, Any]:
    """Per suite: both scores on the same items (same key), the paired test, the flipped items."""
    spec_a, ver_a = parse_model(a)
    spec_b, ver_b = parse_model(b)
    rows_a, rows_b = _rows(engine, spec_a, ver_a), _rows(engine, spec_b, ver_b)
    suites: list[dict[str, Any]] = []
    for suite in dict.fromkeys(r.benchmark for r in rows_b + rows_a):
        pair = _pair([r for r in rows_a if r.benchmark == suite], [r for r in rows_b if r.benchmark == suite])
        if pair is None:
            suites.append({"suite": suite, "comparable": False,
                           "note": "no results of both on the same items (same sample, prompt and decoding)"})
            continue
        ra, rb = pair
        regress, improve, flips = compare_items(ra, rb)
        suites.append({"suite": suite, "comparable": True, "items": rb.total, "a": ra.pass_rate,
                       "b": rb.pass_rate, "a_result": ra.id, "b_result": rb.id,
                       "regressions": regress, "improvements": improve,
                       "p_value": mcnemar_exact(regress, improve), "flipped": flips[:max_flips],
                       "flipped_total": len(flips)})
    return {"a": a, "b": b, "test": "exact McNemar (two-sided binomial test on the discordant pairs)",
            "suites": suites}


def _pair(rows_a: list[BenchmarkResult],
          rows_b: list[BenchmarkResult]) -> tuple[BenchmarkResult, BenchmarkResult] | None:
    """The newest result of B for which A has a result on the same items (same key)."""
    keys_a = {(r.details or {}).get("key"): r for r in reversed(rows_a)}  # newest wins
    for rb in rows_b:
        ra = keys_a.get((rb.details or {}).get("key"))
        if ra is not None:
            return ra, rb
    return None
