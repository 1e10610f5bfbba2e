"""STaR's faces through the real daemon: the job runs in a real worker, `aitherctl star` shows the
curve across iterations, the gauges are scraped; the daemon side imports nothing heavy. And the
train job Sunday starts from the base model, not from the adapter that produced the rationales."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from star_support import reply, write_jsonl


def test_star_runs_in_the_daemon_and_aitherctl_shows_the_curve(make_daemon, standin: Any, tmp_path: Path) -> None:
    standin.script({"rules": [{"match": "plus", **reply("Adding the two numbers gives seven.", "7")},
                              {"match": "times", **reply("I am not sure, maybe six.", "6")}]})
    problems = write_jsonl(tmp_path / "math.jsonl", [
        {"id": "p", "problem": "What is 3 plus 4?", "answer": "7"},
        {"id": "t", "problem": "What is 3 times 4?", "answer": "12"}])
    d = make_daemon({"star": {"endpoint": {"base_url": standin.base_url, "max_retries": 0}, "samples": 2, "enough_rationales": 1,
                              "sources": {"gsm8k_train": False, "store_reasoner": False,
                                          "math_problems": str(problems)}}}, fake_jobs=False)
    d.start()
    for _ in range(2):
        out = d.ctl("run", "star", "--wait", timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr

    shown = d.ctl("star", "--sources")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["ITERATION", "ADAPTER", "TRIED", "SOLVED", "RATE", "RATIONALIZED", "KEPT",
                                "ACCEPTED", "TOKENS", "ENDED"]
    assert re.match(r"1 +base +2 +1 +50\.0% +0 +1 +1 +\d+ +done", lines[1])
    assert re.match(r" +math +2 +1 +50\.0% +0 +1 +1", lines[2])
    assert re.match(r"2 +base +1 +0 +0\.0% +0 +0 +0 +\d+ +done", lines[3])  # the solved one is not asked again
    assert "math/t (2x)" in shown.stdout
    data = json.loads(d.ctl("star", "--json").stdout)
    assert [e["iteration"] for e in data["curve"]] == [1, 2] and data["in_progress"] is None
    metrics = urllib.request.urlopen(d.api("GET", "/v1/status")["metrics"], timeout=10).read().decode()
    assert 'aitherd_star_problems_tried{source="all"} 1.0' in metrics
    assert 'aitherd_star_iteration{specialist="reasoner"} 2.0' in metrics
    runs = d.runs(job="star")
    assert {r["status"] for r in runs} == {"ok"} and "iteration 2 (base): 1 problems tried" in runs[0]["message"]


def test_the_daemon_side_of_star_imports_nothing_heavy() -> None:
    code = ("import sys, aitherd.star.routes, aitherd.star.ctl, aitherd.star.config, aitherd.api, aitherd.config\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'datasets', 'numpy', 'openai', 'sympy') "
            "if m in sys.modules]\nassert not heavy, heavy\nprint('light')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr


def test_sundays_training_starts_from_the_base_even_with_a_live_adapter(tmp_path: Path) -> None:
    """STaR: each iteration fine-tunes the ORIGINAL base on the rationales, never the previous
    adapter (default `[train] start_from = "base"`); "live" is the opt-in that continues."""
    from sqlmodel import Session
    from train_fixtures import make_ctx, reasoner_records, write_export

    from aitherd.store.models import Adapter
    from aitherd.train.config import TrainConfig
    from aitherd.train.job import run_train
    from aitherd.train.spec import TrainSpec

    base = tmp_path / "base-model"
    base.mkdir()
    live = tmp_path / "adapters" / "v0001"
    live.mkdir(parents=True)
    specs = {}
    for start_from in ("base", "live"):
        # a trainer that fails at once: the job has decided and written its spec by then
        cfg = TrainConfig(base_model=str(base), python="/bin/false", start_from=start_from)  # type: ignore[arg-type]
        ctx = make_ctx(tmp_path / f"state-{start_from}", cfg)
        write_export(ctx.loaded.paths.state_dir, "reasoner", reasoner_records(8), engine=ctx.engine)
        with Session(ctx.engine) as s:
            s.add(Adapter(specialist="reasoner", version="v0001", path=str(live), state="live"))
            s.commit()
        assert run_train(ctx, ["reasoner"]).status == "failed"
        spec_file = next((ctx.loaded.paths.state_dir / "train" / "reasoner").glob("*/spec.json"))
        specs[start_from] = TrainSpec.read(spec_file)
    assert TrainConfig().start_from == "base"
    assert specs["base"].init_adapter is None and specs["base"].init_adapter_version is None
    assert specs["live"].init_adapter_version == "v0001"  # the check can fail: "live" does continue
