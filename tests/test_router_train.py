"""The router_train job on a real SQLite store: the export's own validation split, held-out
accuracy beside the heuristic's, a JSON model the daemon loads without numpy or scikit-learn."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from router_support import TESTS, fill_store

from aitherd.config import Loaded, Paths, parse_config
from aitherd.export.sample import unit
from aitherd.jobs import JOBS
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.serve.classifier import LinearModel
from aitherd.serve.router_train import run_router_train
from aitherd.store import open_store


def make_ctx(tmp: Path, per_label: int = 120, labels=None, **router) -> JobContext:
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    cfg = parse_config({"serve": {"router": {"learner": "naive_bayes", "min_validation": 10, **router}},
                        "export": {"validation_fraction": 0.1, "seed": 7}})
    loaded = Loaded(config=cfg, source=None, paths=Paths(state_dir=state, socket=state / "c.sock"), repos=())
    engine = open_store(loaded.paths.db)
    if per_label:
        fill_store(engine, per_label, **({"labels": labels} if labels else {}))
    return JobContext(job="router_train", run_id=3, trigger="chain", loaded=loaded, engine=engine,
                      log=get_logger("t"))


def test_it_trains_on_the_export_split_and_reports_held_out_accuracy(tmp_path):
    ctx = make_ctx(tmp_path)

    result = run_router_train(ctx)

    path = tmp_path / "state" / "router" / "model.json"
    data = json.loads(path.read_text())
    assert result.status == "ok", result
    val = data["validation"]
    # exactly the examples the export would put in its validation split (seed 7, 10%)
    with ctx.engine.connect() as conn:
        from sqlalchemy import text

        hashes = [h for (h,) in conn.execute(text("SELECT content_hash FROM example WHERE status='accepted'"))]
    assert val["examples"] == sum(unit(7, h, "split") < 0.1 for h in hashes) > 0
    assert data["examples"]["train"] + val["examples"] == len(hashes)
    assert "coder/review" not in data["labels"]  # the rejected example is never learned from
    assert val["route_accuracy"] > 0.9 and val["label_accuracy"] > 0.8
    assert 0 <= val["heuristic_route_accuracy"] <= 1
    assert 0 < val["canary_accuracy"] <= 1 and 0 < val["heuristic_canary_accuracy"] <= 1
    assert data["use"] is (val["route_accuracy"] >= val["heuristic_route_accuracy"]
                           and val["canary_accuracy"] >= 0.75)
    assert data["run_id"] == 3 and data["learner"] == "naive_bayes"
    assert "route accuracy" in result.message and str(path) in result.message
    model = LinearModel.load(path)
    assert model.predict("Solve for x: 3x + 4 = 19. Show each step.").route == "reasoner"
    assert model.predict("Write a Go function `retry` that retries a call with backoff.").route == "coder"


def test_a_store_with_one_label_is_skipped_with_the_reason(tmp_path):
    ctx = make_ctx(tmp_path, per_label=20, labels=("reasoner/math",))

    result = run_router_train(ctx)

    assert result.status == "skipped" and "1 label(s) (reasoner/math)" in result.message
    assert not (tmp_path / "state" / "router" / "model.json").exists()


def test_too_few_validation_examples_leave_the_model_unused(tmp_path):
    ctx = make_ctx(tmp_path, per_label=20, min_validation=500)

    result = run_router_train(ctx)

    data = json.loads((tmp_path / "state" / "router" / "model.json").read_text())
    assert result.status == "ok" and data["use"] is False and "min_validation 500" in data["reason"]
    assert "not used" in result.message


def test_a_model_that_fails_the_everyday_canaries_is_not_used(tmp_path):
    ctx = make_ctx(tmp_path, per_label=60, min_canary_accuracy=1.0)

    result = run_router_train(ctx)

    data = json.loads((tmp_path / "state" / "router" / "model.json").read_text())
    assert result.status == "ok" and data["validation"]["canary_accuracy"] < 1.0
    assert data["use"] is False and "everyday canary requests" in data["reason"]


def test_logistic_regression_through_scikit_learn_writes_the_same_format(tmp_path):
    pytest.importorskip("sklearn")
    ctx = make_ctx(tmp_path, per_label=60, learner="logreg", max_features=400)

    result = run_router_train(ctx)

    data = json.loads((tmp_path / "state" / "router" / "model.json").read_text())
    assert result.status == "ok" and data["learner"] == "logreg"
    assert len(data["index"]) == 400  # pruned to max_features
    assert data["validation"]["route_accuracy"] > 0.9


def test_the_daemon_side_loads_and_predicts_without_numpy_or_sklearn(tmp_path):
    ctx = make_ctx(tmp_path, per_label=40)
    assert run_router_train(ctx).status == "ok"
    code = (
        "import sys\n"
        "from aitherd.serve import service\n"
        "from aitherd.serve.config import RouterSection\n"
        "from aitherd.serve.metrics import RelayMetrics\n"
        "from aitherd.serve.router import RouteRequest, Router\n"
        f"r = Router(lambda: RouterSection(min_validation=1), __import__('pathlib').Path({str(tmp_path / 'state')!r}), RelayMetrics())\n"
        "d = r.decide(RouteRequest('/v1/chat/completions', {'messages': [{'role': 'user', 'content': 'Solve for x: 2x = 8'}]}, {}))\n"
        "heavy = sorted(m for m in ('numpy', 'sklearn', 'scipy', 'torch') if m in sys.modules)\n"
        "print(d.by, d.route, heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=TESTS.parent, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1].split() == ["learned", "reasoner", "[]"]


def test_each_ok_export_is_followed_by_router_train():
    assert "router_train" in JOBS["export"].then
    assert JOBS["router_train"].scheduled is False
