"""Benchmark results in the store: one BenchmarkResult row per model and suite and run, with the
per-item outcomes in `details["items"]`, so two models compare item by item.

`details`: specialist, model {kind: base|adapter, version, base_model}, key (what makes two
results comparable: suite, prompt version, item ids, decoding), gating (made with the configured
sample, so the gate may use it), settings (decoding, seed, limit, generator, sandbox isolation),
metrics, errors by kind, items [{id, passed, answer, error, seconds, ...}]. Base-model rows have
no adapter_id; they are found again by base model and key, so a base is measured once.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import col, select

from aitherd.evaluate.suites import Outcome
from aitherd.store import session
from aitherd.store.models import Adapter, BenchmarkResult


@dataclass(frozen=True)
class ModelRef:
    kind: str  # base | adapter
    specialist: str
    base_model: str
    version: str | None = None
    adapter_id: int | None = None
    path: str | None = None
    state: str | None = None

    @property
    def label(self) -> str:
        return self.version if self.kind == "adapter" and self.version else "base"

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "version": self.version, "base_model": self.base_model,
                "state": self.state}

    @classmethod
    def of(cls, row: Adapter, base_model: str) -> ModelRef:
        return cls("adapter", row.specialist, base_model, row.version, row.id, row.path, row.state)


def suite_key(suite: str, prompt_version: str, item_ids: Sequence[str], decoding: dict[str, Any]) -> str:
    """Two results with the same key asked the same questions the same way."""
    blob = json.dumps({"suite": suite, "prompt": prompt_version, "items": list(item_ids),
                       "decoding": decoding}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def summarise(suite: str, outcomes: Sequence[Outcome]) -> tuple[dict[str, Any], dict[str, int]]:
    total = len(outcomes)
    passed = sum(o.passed for o in outcomes)
    metrics: dict[str, Any] = {"pass@1": passed / total if total else 0.0}
    if suite == "gsm8k":
        for name in ("strict_match", "flexible_match"):
            metrics[name] = sum(bool(o.extra.get(name)) for o in outcomes) / total if total else 0.0
    errors = Counter(o.error for o in outcomes if o.error)
    return metrics, dict(errors)


def save_result(engine: Engine, model: ModelRef, suite: str, outcomes: Sequence[Outcome], *, key: str,
                settings: dict[str, Any], gating: bool, run_id: int | None,
                extra: dict[str, Any] | None = None) -> BenchmarkResult:
    metrics, errors = summarise(suite, outcomes)
    if extra:
        metrics.update(extra)
    passed = sum(o.passed for o in outcomes)
    row = BenchmarkResult(
        adapter_id=model.adapter_id, benchmark=suite, passed=passed, total=len(outcomes),
        pass_rate=passed / len(outcomes) if outcomes else 0.0, run_id=run_id,
        details={"specialist": model.specialist, "model": model.record(), "key": key, "gating": gating,
                 "settings": settings, "metrics": metrics, "errors": errors,
                 "items": [o.row() for o in outcomes]})
    with session(engine) as s:
        s.add(row)
        s.commit()
        s.refresh(row)
    return row


def find_result(engine: Engine, model: ModelRef, suite: str, key: str) -> BenchmarkResult | None:
    """The newest stored result of this model on exactly these items, made this way."""
    stmt = select(BenchmarkResult).where(BenchmarkResult.benchmark == suite)
    if model.kind == "adapter":
        stmt = stmt.where(BenchmarkResult.adapter_id == model.adapter_id)
    else:
        stmt = stmt.where(col(BenchmarkResult.adapter_id).is_(None))
    with session(engine) as s:
        rows = s.exec(stmt.order_by(col(BenchmarkResult.id).desc())).all()
    for row in rows:
        d = row.details or {}
        if d.get("key") != key:
            continue
        if model.kind == "base" and (d.get("model") or {}).get("base_model") != model.base_model:
            continue
        return row
    return None


def latest_results(engine: Engine, adapter_id: int, *, gating_only: bool = True) -> dict[str, BenchmarkResult]:
    """Per suite, the adapter's newest result (the gate's: made with the configured sample)."""
    with session(engine) as s:
        rows = s.exec(select(BenchmarkResult).where(BenchmarkResult.adapter_id == adapter_id)
                      .order_by(col(BenchmarkResult.id).desc())).all()
    out: dict[str, BenchmarkResult] = {}
    for row in rows:
        if gating_only and not (row.details or {}).get("gating"):
            continue
        out.setdefault(row.benchmark, row)
    return out


def items_of(row: BenchmarkResult) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in (row.details or {}).get("items", [])}


def find_adapter(engine: Engine, specialist: str, version: str) -> Adapter | None:
    with session(engine) as s:
        return s.exec(select(Adapter).where(Adapter.specialist == specialist,
                                            Adapter.version == version)).first()


def live_adapter(engine: Engine, specialist: str) -> Adapter | None:
    with session(engine) as s:
        return s.exec(select(Adapter).where(Adapter.specialist == specialist, Adapter.state == "live")
                      .order_by(col(Adapter.id).desc())).first()
