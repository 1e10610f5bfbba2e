"""Evaluation metrics, read from the store at scrape time (durable across restarts, never stale):

- `aitherd_adapter_pass_rate{specialist, suite, version}`: pass@1 of the live adapter, of the newest
  judged candidate (or rejected one) and of the base model ("base") on the items they were judged
  on; a few series per specialist, whatever the number of versions in the store.
- `aitherd_deploy_verdicts_total{specialist, verdict}`: gate verdicts (deploy, reject,
  no_verdict) recorded by benchmark runs, counted from the Run rows' outputs (`verdict.coder`;
  rows written before outputs existed hold it as the count `coder_verdict`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

VERDICTS = ("deploy", "reject", "no_verdict")
SPECIALISTS = ("coder", "reasoner")


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


class EvaluationCollector(Collector):
    def __init__(self, engine: Engine, on_error: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.on_error = on_error or (lambda _part: None)

    def _pass_rates(self, family: GaugeMetricFamily) -> None:
        sql = text("SELECT specialist, version, state, scores FROM adapter ORDER BY id DESC")
        with self.engine.connect() as conn:
            rows = [(s, v, st, _json(sc)) for s, v, st, sc in conn.execute(sql)]
        for specialist in SPECIALISTS:
            mine = [r for r in rows if r[0] == specialist and r[3].get("suites")]
            shown = [r for r in mine if r[2] == "live"][:1]
            judged = [r for r in mine if r[2] != "live" and "gate" in r[3]][:1]
            for _spec, version, _state, scores in shown + judged:
                for suite, rate in (scores.get("suites") or {}).items():
                    if isinstance(rate, int | float):
                        family.add_metric([specialist, suite, version], float(rate))
            newest = (judged or shown)[:1]
            for _spec, _version, _state, scores in newest:
                for suite, rate in (scores.get("base") or {}).items():
                    if isinstance(rate, int | float):
                        family.add_metric([specialist, suite, "base"], float(rate))

    def _verdicts(self, family: CounterMetricFamily) -> None:
        counts = {(s, v): 0 for s in SPECIALISTS for v in VERDICTS}
        sql = text("SELECT counts, outputs FROM run WHERE job = 'benchmark' AND status IN ('ok', 'failed')")
        with self.engine.connect() as conn:
            for raw_counts, raw_outputs in conn.execute(sql):
                legacy, outputs = _json(raw_counts), _json(raw_outputs)
                for specialist in SPECIALISTS:
                    verdict = str(outputs.get(f"verdict.{specialist}") or legacy.get(f"{specialist}_verdict"))
                    if (specialist, verdict) in counts:
                        counts[(specialist, verdict)] += 1
        for (specialist, verdict), n in counts.items():
            family.add_metric([specialist, verdict], n)

    def collect(self) -> Iterator[Metric]:
        rates = GaugeMetricFamily("aitherd_adapter_pass_rate",
                                  "pass@1 per specialist, suite and adapter version (live, newest judged "
                                  "candidate, and the base model as version=base)",
                                  labels=["specialist", "suite", "version"])
        verdicts = CounterMetricFamily("aitherd_deploy_verdicts", "Deploy gate verdicts recorded by benchmark "
                                       "runs, by specialist and verdict", labels=["specialist", "verdict"])
        for part, fill in (("pass_rate", lambda: self._pass_rates(rates)),
                           ("verdicts", lambda: self._verdicts(verdicts))):
            try:
                fill()
            except Exception:  # a broken read is counted and skipped; the scrape goes on
                self.on_error(f"evaluation_{part}")
        yield rates
        yield verdicts
