"""The deploy gate through the benchmark job, against a stand-in OpenAI endpoint scripted per
adapter: good deploys, bad is rejected, above-threshold-but-worse-than-live is rejected, a tie
deploys; the base is measured once; a verdict follows the adapter live now."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evaluate_support import BASE, BenchServer, adapter, add_adapter, evaluate_config, make_ctx
from sqlmodel import select

from aitherd.evaluate.config import EvaluateConfig
from aitherd.evaluate.gate import GateRefused, gate_verdict, mcnemar_exact, require_deployable
from aitherd.evaluate.job import run_benchmark
from aitherd.evaluate.suites import Gsm8k, sample
from aitherd.store import session
from aitherd.store.models import Adapter, BenchmarkResult

CANDIDATE, LIVE = "eval:reasoner@v0002", "eval:reasoner@v0001"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BenchServer]:
    srv = BenchServer(tmp_path)
    yield srv
    srv.close()


def sampled_ids(n: int = 40, seed: int = 1234) -> list[str]:
    return [item.id for item in sample(Gsm8k().load(), n, seed)]


def results(ctx: Any, version: str | None) -> list[BenchmarkResult]:
    """Stored results of one adapter version (None: the base model)."""
    with session(ctx.engine) as s:
        rows = s.exec(select(BenchmarkResult)).all()
        versions = {a.id: a.version for a in s.exec(select(Adapter)).all()}
    return [r for r in rows if (versions[r.adapter_id] if r.adapter_id is not None else None) == version]


def test_mcnemar_exact_matches_the_binomial_test() -> None:
    from scipy.stats import binomtest

    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 1024)
    for b, c in [(7, 2), (12, 3), (1, 9), (30, 18), (4, 0)]:
        assert mcnemar_exact(b, c) == pytest.approx(binomtest(b, b + c, 0.5).pvalue)


def test_a_good_candidate_is_deployed_with_base_and_candidate_recorded(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, CANDIDATE: {}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0002")
    result = run_benchmark(ctx)
    assert result.status == "ok", result.error
    assert result.verdicts["reasoner"] == "deploy"
    assert re.search(r"gsm8k +base 0\.\d{3} -> live none -> v0002 1\.000 on 40 items", result.message)
    row = adapter(ctx, "reasoner", "v0002")
    assert row.state == "candidate"  # the deploy job makes it live
    gate = row.scores["gate"]
    assert gate["passed"] is True and gate["verdict"] == "deploy" and gate["run_id"] == 1
    assert row.scores["suites"]["gsm8k"] == 1.0 and row.scores["base"]["gsm8k"] < 0.7
    (cand,) = results(ctx, "v0002")
    (base,) = results(ctx, None)
    assert cand.total == base.total == 40 and cand.passed == 40
    details = cand.details
    assert details["settings"]["decoding"] == {"max_tokens": 8192, "temperature": 0.0, "top_p": 1.0, "seed": 1234}
    assert details["settings"]["sample_seed"] == 1234 and details["gating"] is True
    item = details["items"][0]
    assert set(item) >= {"id", "passed", "answer", "error", "seconds", "strict", "flexible", "boxed", "source"}
    assert details["metrics"]["strict_match"] == 0.0 and details["metrics"]["pass@1"] == 1.0
    sent = [r for r in server.requests() if "model" in r]
    assert {r["temperature"] for r in sent} == {0.0} and {r["seed"] for r in sent} == {1234}


def test_a_bad_candidate_is_rejected_and_leaves_the_candidates(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, CANDIDATE: {"wrong_share": 0.6, "seed": 2}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0002")
    result = run_benchmark(ctx)
    assert result.status == "ok" and result.verdicts["reasoner"] == "reject"
    row = adapter(ctx, "reasoner", "v0002")
    assert row.state == "rejected" and row.scores["gate"]["passed"] is False
    assert "below the threshold 0.70" in row.scores["gate"]["reasons"][0]
    assert run_benchmark(make_ctx(tmp_path / "state", evaluate_config(server), run_id=2)).status == "skipped"


def test_above_the_threshold_but_significantly_worse_than_live_is_rejected(server: BenchServer, tmp_path: Path) -> None:
    worse = sampled_ids()[:12]  # 28 of 40 right: 0.70 meets the threshold
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, LIVE: {}, CANDIDATE: {"wrong": worse}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0001", "live")
    add_adapter(ctx, "reasoner", "v0002")
    result = run_benchmark(ctx)
    assert result.verdicts["reasoner"] == "reject", result.message
    gate = adapter(ctx, "reasoner", "v0002").scores["gate"]
    assert gate["score"] == pytest.approx(0.70)
    suite = gate["suites"]["gsm8k"]
    assert (suite["regressions"], suite["improvements"]) == (12, 0) and suite["regressed"] is True
    assert suite["p_value"] == pytest.approx(2 / 4096)
    assert any("worse than live v0001 beyond chance" in r for r in gate["reasons"])
    assert "exact McNemar" in gate["test"]
    assert re.search(r"base 0\.\d{3} -> live v0001 1\.000 -> v0002 0\.700 on 40 items", result.message)


def test_a_tie_with_live_is_deployed(server: BenchServer, tmp_path: Path) -> None:
    ids = sampled_ids()
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, LIVE: {"wrong": ids[:5]}, CANDIDATE: {"wrong": ids[5:10]}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0001", "live")
    add_adapter(ctx, "reasoner", "v0002")
    result = run_benchmark(ctx)
    assert result.verdicts["reasoner"] == "deploy", result.message
    suite = adapter(ctx, "reasoner", "v0002").scores["gate"]["suites"]["gsm8k"]
    assert (suite["regressions"], suite["improvements"], suite["p_value"]) == (5, 5, 1.0)


def test_the_base_and_live_models_are_measured_once_and_reused(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, LIVE: {}, CANDIDATE: {},
                   "eval:reasoner@v0003": {"wrong_share": 0.1, "seed": 5}})
    state = tmp_path / "state"
    ctx = make_ctx(state, evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0001", "live")
    add_adapter(ctx, "reasoner", "v0002")
    assert run_benchmark(ctx).status == "ok"
    add_adapter(ctx, "reasoner", "v0003")
    second = run_benchmark(make_ctx(state, evaluate_config(server), run_id=2))
    assert second.status == "ok" and "v0003" in second.message
    asked = Counter(r["model"] for r in server.requests() if "model" in r)
    assert asked == {BASE: 40, LIVE: 40, CANDIDATE: 40, "eval:reasoner@v0003": 40}
    # A different sample is a different question set: the base is asked again.
    third = make_ctx(state, evaluate_config(server, sample_size=20), run_id=3, args={"specialist": "reasoner",
                                                                                      "version": "v0003"})
    assert run_benchmark(third).status == "ok"
    assert Counter(r.get("model") for r in server.requests())[BASE] == 60


def test_the_verdict_follows_the_adapter_live_now(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, LIVE: {}, CANDIDATE: {}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0001", "live")
    add_adapter(ctx, "reasoner", "v0002")
    run_benchmark(ctx)
    cfg = evaluate_config(server)
    assert gate_verdict(ctx.engine, "reasoner", "v0002", cfg).deploy
    assert require_deployable(ctx.engine, "reasoner", "v0002", cfg).deploy
    with session(ctx.engine) as s:  # another adapter went live meanwhile, never benchmarked
        for row in s.exec(select(Adapter)).all():
            if row.version == "v0001":
                row.state = "retired"
                s.add(row)
        s.commit()
    add_adapter(ctx, "reasoner", "v0009", "live")
    verdict = gate_verdict(ctx.engine, "reasoner", "v0002", cfg)
    assert not verdict.deploy and verdict.verdict == "no_verdict"
    assert "live v0009 has no result on the same items" in verdict.reasons[0]
    assert not gate_verdict(ctx.engine, "reasoner", "v0404", cfg).deploy
    with pytest.raises(GateRefused, match="reasoner v0002 may not be served: no_verdict"):
        require_deployable(ctx.engine, "reasoner", "v0002", cfg)


def test_a_stricter_threshold_in_the_config_rejects(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, CANDIDATE: {"wrong_share": 0.1, "seed": 3}})
    cfg = evaluate_config(server, reasoner={"threshold": 0.99})
    ctx = make_ctx(tmp_path / "state", cfg)
    add_adapter(ctx, "reasoner", "v0002")
    assert run_benchmark(ctx).verdicts["reasoner"] == "reject"
    assert gate_verdict(ctx.engine, "reasoner", "v0002", cfg).threshold == 0.99
    assert gate_verdict(ctx.engine, "reasoner", "v0002", EvaluateConfig(sample_size=40)).deploy


def test_a_quick_run_is_reported_but_never_gates(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {}, CANDIDATE: {}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server),
                   args={"specialist": "reasoner", "version": "v0002", "limit": "5"})
    add_adapter(ctx, "reasoner", "v0002")
    result = run_benchmark(ctx)
    assert result.status == "ok" and "quick run" in result.message and "on 5 items" in result.message
    row = adapter(ctx, "reasoner", "v0002")
    assert "gate" not in row.scores and row.state == "candidate"
    assert not gate_verdict(ctx.engine, "reasoner", "v0002", evaluate_config(server)).deploy


def test_server_failures_give_no_verdict_rather_than_a_rejection(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {}})  # the candidate's name is unknown to the server: every request 404s
    state = tmp_path / "state"
    ctx = make_ctx(state, evaluate_config(server))
    add_adapter(ctx, "reasoner", "v0002")
    result = run_benchmark(ctx)
    assert result.verdicts["reasoner"] == "no_verdict"
    row = adapter(ctx, "reasoner", "v0002")
    assert row.state == "candidate" and row.scores["gate"]["passed"] is False
    assert any("generations failed (the server, not the model)" in r for r in row.scores["gate"]["reasons"])
    (cand,) = results(ctx, "v0002")
    assert cand.details["errors"] == {"generation": 40}
    assert "NotFoundError 404" in cand.details["items"][0]["generation_error"]
    server.script({BASE: {}, CANDIDATE: {}})  # the server is fixed: the next run tries again
    again = run_benchmark(make_ctx(state, evaluate_config(server), run_id=2))
    assert again.verdicts["reasoner"] == "deploy"


def test_bad_arguments_fail_with_a_message(server: BenchServer, tmp_path: Path) -> None:
    cfg = evaluate_config(server)
    state = tmp_path / "state"
    cases = [({"specialist": "painter"}, "unknown specialist 'painter'"),
             ({"version": "v0001"}, "needs specialist=NAME too"),
             ({"specialist": "coder", "version": "v0042"}, "no adapter coder v0042"),
             ({"specialist": "reasoner", "version": "v0001", "suite": "trivia"}, "unknown suite 'trivia'"),
             ({"specialist": "reasoner", "version": "v0001", "limit": "many"}, "limit must be a whole number")]
    ctx = make_ctx(state, cfg)
    add_adapter(ctx, "reasoner", "v0001")
    for args, message in cases:
        result = run_benchmark(make_ctx(state, cfg, args=args))
        assert result.status == "failed" and message in (result.error or ""), (args, result)
    assert run_benchmark(make_ctx(state, evaluate_config(None, generator="endpoint"))).error.startswith(
        "[evaluate] generator = \"endpoint\" needs")
