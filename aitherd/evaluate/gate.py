"""The deploy gate: a candidate goes live only when its score reaches the threshold and no suite
regresses against the live adapter beyond what chance explains.

Score: the mean pass@1 of the specialist's scored suites (HumanEval and MBPP for the coder,
GSM8K for the reasoner; the held-out split when `heldout_in_score`). Regression: per suite,
on the items both models answered (same key: same items, prompt and decoding), b = items the live
adapter passed and the candidate failed, c = the reverse; the exact McNemar test (a two-sided
binomial test of b against b + c at p = 1/2) gives p; the suite regressed when b > c and
p < alpha (0.05 by default, per suite, no multiplicity correction: with several suites that errs
towards keeping the live adapter). A tie (b = c) never regresses.

`gate_verdict(engine, specialist, version)` recomputes the verdict from the stored results,
against whatever is live now: the deploy path calls it (from a thread: it reads SQLite) and
serves nothing whose verdict is not "deploy".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from math import comb
from typing import Any

from sqlalchemy import Engine

from aitherd.errors import AitherdError
from aitherd.evaluate.config import EvaluateConfig
from aitherd.evaluate.results import (
    ModelRef,
    find_adapter,
    find_result,
    items_of,
    latest_results,
    live_adapter,
)
from aitherd.store import session
from aitherd.store.models import Adapter, BenchmarkResult, utcnow

TEST_NAME = "exact McNemar (two-sided binomial test on the discordant pairs)"
MAX_GENERATION_ERRORS = 0.02  # above this share of items, a suite's result says more about the server


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass
class SuiteGate:
    suite: str
    candidate: float
    items: int
    live: float | None = None
    base: float | None = None
    regressions: int = 0  # b: live passed, candidate failed
    improvements: int = 0  # c: candidate passed, live failed
    p_value: float | None = None
    regressed: bool = False
    scored: bool = True
    eval_loss: float | None = None


@dataclass
class Verdict:
    specialist: str
    version: str
    verdict: str  # deploy | reject | no_verdict
    score: float | None
    threshold: float
    alpha: float
    live_version: str | None
    suites: dict[str, SuiteGate] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    test: str = TEST_NAME

    @property
    def deploy(self) -> bool:
        return self.verdict == "deploy"

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["passed"] = self.deploy
        return out

    def lines(self) -> list[str]:
        """base -> live -> candidate per suite, then the verdict and its reasons."""
        out = []
        for name, g in self.suites.items():
            base = f"{g.base:.3f}" if g.base is not None else "n/a"
            live = f"{self.live_version} {g.live:.3f}" if g.live is not None else (self.live_version or "none")
            paired = (f"  (-{g.regressions} +{g.improvements} vs live, p={g.p_value:.3g})"
                      if g.p_value is not None else "")
            loss = f"; eval loss {g.eval_loss:.4f}" if g.eval_loss is not None else ""
            out.append(f"{name:<15} base {base} -> live {live} -> "
                       f"{self.version} {g.candidate:.3f} on {g.items} items{paired}{loss}"
                       + ("" if g.scored else " [not scored]"))
        score = f"{self.score:.3f}" if self.score is not None else "n/a"
        out.append(f"score {score} (threshold {self.threshold:.2f}); verdict: {self.verdict}")
        out += [f"  - {r}" for r in self.reasons]
        return out


def _generation_errors(row: BenchmarkResult) -> int:
    return int(((row.details or {}).get("errors") or {}).get("generation", 0))


def compare_items(live: BenchmarkResult, candidate: BenchmarkResult) -> tuple[int, int, list[dict[str, Any]]]:
    """(b, c, flipped items) on the items both results hold."""
    a, b_items = items_of(live), items_of(candidate)
    flips = []
    regress = improve = 0
    for item_id, cand in b_items.items():
        old = a.get(item_id)
        if old is None or bool(old["passed"]) == bool(cand["passed"]):
            continue
        if old["passed"]:
            regress += 1
        else:
            improve += 1
        flips.append({"id": item_id, "was": bool(old["passed"]), "now": bool(cand["passed"]),
                      "error": cand.get("error"), "was_error": old.get("error")})
    return regress, improve, flips


def decide(specialist: str, version: str, candidate: dict[str, BenchmarkResult],
           live: dict[str, BenchmarkResult | None], base: dict[str, BenchmarkResult | None],
           scored: list[str], cfg: EvaluateConfig, live_version: str | None) -> Verdict:
    section = cfg.specialist(specialist)
    verdict = Verdict(specialist, version, "deploy", None, section.threshold, cfg.alpha, live_version)
    no_verdict: list[str] = []
    broken: list[str] = []  # the server failed: nothing can be said about the model
    reject: list[str] = []
    for name in scored:
        if name not in candidate:
            no_verdict.append(f"{name}: no result for {version} (run the benchmark job)")
    for name, row in candidate.items():
        gate = SuiteGate(name, row.pass_rate, row.total, scored=name in scored,
                         eval_loss=((row.details or {}).get("metrics") or {}).get("eval_loss"))
        if base.get(name) is not None:
            gate.base = base[name].pass_rate  # type: ignore[union-attr]
        errors = _generation_errors(row)
        if row.total and errors / row.total > MAX_GENERATION_ERRORS:
            broken.append(f"{name}: {errors} of {row.total} generations failed (the server, "
                          "not the model): benchmark again")
        old = live.get(name)
        if live_version is not None and old is None:
            no_verdict.append(f"{name}: live {live_version} has no result on the same items "
                              f"(`aitherctl bench {specialist} {live_version}`)")
        elif old is not None:
            gate.live = old.pass_rate
            gate.regressions, gate.improvements, _ = compare_items(old, row)
            gate.p_value = mcnemar_exact(gate.regressions, gate.improvements)
            gate.regressed = gate.regressions > gate.improvements and gate.p_value < cfg.alpha
            if gate.regressed:
                reject.append(f"{name}: worse than live {live_version} beyond chance: "
                              f"{gate.regressions} items newly failed, {gate.improvements} newly passed, "
                              f"exact McNemar p={gate.p_value:.2g} < {cfg.alpha}")
        verdict.suites[name] = gate
    rates = [candidate[name].pass_rate for name in scored if name in candidate and candidate[name].total]
    verdict.score = sum(rates) / len(rates) if rates else None
    if verdict.score is not None and verdict.score < section.threshold:
        reject.insert(0, f"score {verdict.score:.3f} is below the threshold {section.threshold:.2f}")
    if broken:
        verdict.verdict, verdict.reasons = "no_verdict", broken + reject + no_verdict
    elif reject:
        verdict.verdict, verdict.reasons = "reject", reject + no_verdict
    elif no_verdict:
        verdict.verdict, verdict.reasons = "no_verdict", no_verdict
    else:
        verdict.reasons = [f"score {verdict.score:.3f} >= {section.threshold:.2f}"
                           + (f"; no suite worse than live {live_version} beyond chance" if live_version
                              else "; nothing live to compare with")]
    return verdict


def scored_suites(cfg: EvaluateConfig, specialist: str) -> list[str]:
    section = cfg.specialist(specialist)
    return list(section.suites) + (["heldout"] if section.heldout_in_score else [])


def gate_verdict(engine: Engine, specialist: str, version: str, cfg: EvaluateConfig | None = None) -> Verdict:
    """The verdict for one adapter from its stored gating results, against the adapter live now.
    Pass the daemon's [evaluate] section (`evaluate_config_of(config)`); None: the defaults."""
    cfg = cfg or EvaluateConfig()
    if specialist not in ("coder", "reasoner"):
        return Verdict(specialist, version, "no_verdict", None, 1.0, cfg.alpha, None,
                       reasons=[f"no specialist {specialist!r}: coder and reasoner are benchmarked"])
    row = find_adapter(engine, specialist, version)
    if row is None or row.id is None:
        return Verdict(specialist, version, "no_verdict", None, cfg.specialist(specialist).threshold,
                       cfg.alpha, None, reasons=[f"no adapter {specialist} {version} in the store"])
    return verdict_for(engine, row, latest_results(engine, row.id), cfg)


def verdict_for(engine: Engine, row: Adapter, candidate: dict[str, BenchmarkResult], cfg: EvaluateConfig) -> Verdict:
    """The verdict on these results of `row`, with the base's and the live adapter's results on
    the same items (same keys) read from the store."""
    live_row = live_adapter(engine, row.specialist)
    if live_row is not None and live_row.id == row.id:
        live_row = None  # the live adapter itself: nothing to compare with
    live: dict[str, BenchmarkResult | None] = {}
    base: dict[str, BenchmarkResult | None] = {}
    for name, result in candidate.items():
        key = (result.details or {}).get("key", "")
        base_model = ((result.details or {}).get("model") or {}).get("base_model", "")
        base[name] = find_result(engine, ModelRef("base", row.specialist, base_model), name, key)
        if live_row is not None:
            live[name] = find_result(engine, ModelRef.of(live_row, base_model), name, key)
    return decide(row.specialist, row.version, candidate, live, base, scored_suites(cfg, row.specialist), cfg,
                  live_row.version if live_row is not None else None)


def record_verdict(engine: Engine, verdict: Verdict, run_id: int | None) -> None:
    """Put the verdict on the Adapter row: scores, the gate's record, and a candidate that is
    rejected leaves the candidates (state `rejected`)."""
    with session(engine) as s:
        from sqlmodel import select

        row = s.exec(select(Adapter).where(Adapter.specialist == verdict.specialist,
                                           Adapter.version == verdict.version)).first()
        if row is None:
            return
        scores = dict(row.scores or {})
        # Flat suite rates (what `aitherctl adapters` lists), then the details.
        scores.update({n: round(g.candidate, 4) for n, g in verdict.suites.items()})
        scores["suites"] = {n: g.candidate for n, g in verdict.suites.items()}
        scores["base"] = {n: g.base for n, g in verdict.suites.items() if g.base is not None}
        scores["live"] = {n: g.live for n, g in verdict.suites.items() if g.live is not None}
        scores["score"] = verdict.score
        scores["gate"] = {**verdict.record(), "run_id": run_id, "at": utcnow().isoformat()}
        row.scores = scores
        if verdict.verdict == "reject" and row.state == "candidate":
            row.state = "rejected"
        if not verdict.deploy:
            row.note = f"gate: {verdict.verdict}: {verdict.reasons[0] if verdict.reasons else ''}"[:500]
        s.add(row)
        s.commit()


class GateRefused(AitherdError):
    """The gate does not let this adapter go live; `verdict` says why."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"{verdict.specialist} {verdict.version} may not be served: {verdict.verdict}: "
                         + "; ".join(verdict.reasons))
        self.verdict = verdict


def require_deployable(engine: Engine, specialist: str, version: str, cfg: EvaluateConfig | None = None) -> Verdict:
    """For the deploy path: the verdict if it is "deploy", else GateRefused (never serve it)."""
    verdict = gate_verdict(engine, specialist, version, cfg)
    if not verdict.deploy:
        raise GateRefused(verdict)
    return verdict
