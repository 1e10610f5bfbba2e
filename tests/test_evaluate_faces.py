"""Evaluation's faces on a real daemon: `aitherctl bench` runs the benchmark job in a worker,
`aitherctl compare` shows the paired test and the flipped items, the metrics show pass rates and
verdicts; and the daemon side imports nothing heavy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from evaluate_support import BASE, BenchServer
from sqlmodel import Session

from aitherd.evaluate.suites import Gsm8k, sample
from aitherd.store import open_store
from aitherd.store.models import Adapter


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BenchServer]:
    srv = BenchServer(tmp_path)
    yield srv
    srv.close()


def seed_adapters(state: Path) -> None:
    state.mkdir(parents=True, exist_ok=True)
    engine = open_store(state / "aitherd.db")
    with Session(engine) as s:
        for version, status in (("v0001", "live"), ("v0002", "candidate")):
            path = state / "adapters" / "reasoner" / version
            path.mkdir(parents=True)
            (path / "aitherd_adapter.json").write_text(json.dumps({"base_model": BASE}))
            s.add(Adapter(specialist="reasoner", version=version, path=str(path), state=status))
        s.commit()
    engine.dispose()


def test_bench_compare_and_metrics_through_the_daemon(make_daemon, server: BenchServer, tmp_path: Path) -> None:
    fixed = [item.id for item in sample(Gsm8k().load(), 12, 1234)][:3]
    server.script({BASE: {"wrong_share": 0.5, "seed": 1}, "eval:reasoner@v0001": {"wrong": fixed},
                   "eval:reasoner@v0002": {}})
    d = make_daemon({"evaluate": {"sample_size": 12, "heldout_max_items": 0,
                                  "endpoint": {"base_url": server.base_url, "concurrency": 4}},
                     "train": {"base_model": BASE}}, fake_jobs=False)
    seed_adapters(d.state)
    d.start()

    out = d.ctl("bench", "reasoner", "v0002", timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"gsm8k +base 0\.\d{3} -> live v0001 0\.750 -> v0002 1\.000 on 12 items", out.stdout)
    assert "verdict: deploy" in out.stdout

    report = d.ctl("bench", "reasoner", "v0002", "--report")
    assert report.returncode == 0 and "recorded by run" in report.stdout and "deploy" in report.stdout
    assert "gsm8k" in report.stdout and "gate" in report.stdout

    cmp = d.ctl("compare", "reasoner@v0001", "reasoner@v0002")
    assert cmp.returncode == 0, cmp.stderr
    assert "0.750 -> 1.000 on 12 items: 0 newly failed, 3 newly passed" in cmp.stdout
    assert all(f"{item}" in cmp.stdout for item in fixed) and "fixed" in cmp.stdout
    data = json.loads(d.ctl("compare", "reasoner@base", "reasoner@v0002", "--json").stdout)
    assert data["suites"][0]["comparable"] and data["suites"][0]["b"] == 1.0

    bad = d.ctl("compare", "reasoner", "reasoner@v0002")
    assert bad.returncode == 2 and "SPECIALIST@VERSION" in bad.stderr
    missing = d.ctl("bench", "reasoner", "v0404", "--report")
    assert missing.returncode == 2 and "no adapter reasoner v0404" in missing.stderr

    quick = d.ctl("bench", "reasoner", "v0002", "--limit", "3", "--json", timeout=120)
    assert quick.returncode == 0 and "quick run" in json.loads(quick.stdout)["message"]

    metrics = urllib.request.urlopen(d.api("GET", "/v1/status")["metrics"], timeout=10).read().decode()
    assert 'aitherd_adapter_pass_rate{specialist="reasoner",suite="gsm8k",version="v0002"} 1.0' in metrics
    assert 'aitherd_adapter_pass_rate{specialist="reasoner",suite="gsm8k",version="v0001"}' not in metrics
    assert re.search(r'aitherd_adapter_pass_rate\{specialist="reasoner",suite="gsm8k",version="base"\} 0\.\d+', metrics)
    assert 'aitherd_deploy_verdicts_total{specialist="reasoner",verdict="deploy"} 1.0' in metrics
    assert 'aitherd_deploy_verdicts_total{specialist="coder",verdict="reject"} 0.0' in metrics


def test_the_daemon_side_of_evaluation_imports_nothing_heavy() -> None:
    code = ("import sys, aitherd.evaluate.routes, aitherd.evaluate.metrics, aitherd.evaluate.ctl, "
            "aitherd.evaluate.config, aitherd.evaluate.gate, aitherd.evaluate.job, aitherd.api, aitherd.config\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets', 'vllm', 'numpy', "
            "'openai', 'pyarrow') if m in sys.modules]\n"
            "assert not heavy, heavy\nprint('light')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr


def test_a_store_the_collector_cannot_read_is_counted_and_the_scrape_goes_on(tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry, generate_latest
    from sqlalchemy import create_engine

    from aitherd.evaluate.metrics import EvaluationCollector

    errors: list[str] = []
    registry = CollectorRegistry()
    registry.register(EvaluationCollector(create_engine(f"sqlite:///{tmp_path / 'empty.db'}"), errors.append))
    text = generate_latest(registry).decode()
    assert errors == ["evaluation_pass_rate", "evaluation_verdicts"]  # no tables in that file
    assert "# TYPE aitherd_adapter_pass_rate gauge" in text and "# TYPE aitherd_deploy_verdicts_total counter" in text


def test_the_benchmark_uses_the_daemons_vllm_and_the_deploy_path_obeys_the_gate(make_daemon) -> None:
    """Serving on, no endpoint configured: the job asks the daemon where vLLM listens, loads the
    candidate there under its hidden name, and the daemon's deploy refuses what the gate rejected
    (unless forced); the deploy job leaves it alone."""
    from serve_support import make_adapter, serve_section

    d = make_daemon({"serve": serve_section(), "train": {"base_model": "/models/base-14b"},
                     "evaluate": {"sample_size": 3, "heldout_max_items": 0}}, fake_jobs=False).start()
    d.wait_for(lambda: (st := d.api("GET", "/v1/serve"))["state"] == "up" and st["ready"], 30, "vLLM up")
    engine = open_store(d.state / "aitherd.db")
    make_adapter(d.state, engine, "reasoner", "v0001", gate=False)

    out = d.ctl("bench", "reasoner", "v0001", timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verdict: reject" in out.stdout  # the stand-in does no arithmetic
    report = json.loads(d.ctl("bench", "reasoner", "v0001", "--report", "--json").stdout)
    (result,) = report["results"]
    port = d.api("GET", "/v1/serve")["port"]
    assert result["settings"]["served_as"] == "eval:reasoner@v0001"
    assert f"127.0.0.1:{port}/v1" in result["settings"]["generator"]
    assert report["state"] == "rejected"

    refused = d.ctl("deploy", "reasoner", "v0001")
    assert refused.returncode == 1 and "the deploy gate refuses reasoner v0001 (reject)" in refused.stderr
    assert "below the threshold" in refused.stderr
    assert d.api("GET", "/v1/serve")["aliases"]["reasoner"]["version"] is None  # still the base model
    assert d.ctl("run", "deploy", "--wait").returncode == 0
    assert d.runs(job="deploy")[0]["status"] == "skipped"
    forced = d.ctl("deploy", "reasoner", "v0001", "--force")
    assert forced.returncode == 0 and "reasoner -> reasoner@v0001" in forced.stdout
    engine.dispose()
