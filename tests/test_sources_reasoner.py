"""The reasoner harvest end to end: every source, watermarks, crash safety, key hygiene."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aitherd.config import Loaded, Paths, parse_config
from aitherd.jobs.context import JobContext
from aitherd.logs import get_logger
from aitherd.sources.reasoner import content_digest, harvest_reasoner
from aitherd.sources.reasoner_config import ReasonerSources
from aitherd.store import open_store

EXAMPLE_TREE = Path(__file__).resolve().parents[1] / "etc" / "examples" / "mcts-tree.json"
KEY = "sk-live-NEVER-LOG-ME-0123456789"


def setup(tmp: Path, standin=None, state: str = "state") -> tuple[JobContext, ReasonerSources]:
    traces, trees = tmp / "traces", tmp / "trees"
    if not traces.exists():
        traces.mkdir()
        trees.mkdir()
        lines = [{"prompt": f"What is {i} + {i}?", "reasoning": f"{i} plus {i}", "answer": str(2 * i),
                  "category": "math"} for i in range(25)]
        lines.append({"prompt": "cut", "reasoning": "so", "answer": None})
        (traces / "a.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{oops\n")
        shutil.copy(EXAMPLE_TREE, trees / "t.json")
        rows = [{"problem": f"p{i}", "answer": str(i), "uuid": str(i),
                 "generations": [f"<think>t{i}</think> It is {i}."], "correctness_math_verify": [True],
                 "finish_reasons": ["stop"]} for i in range(30)]
        (tmp / "r1.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        (tmp / "prompts.jsonl").write_text(json.dumps({"id": "q1", "prompt": "2+2?", "answer": "4"}) + "\n")
    cfg_dict = {"logs": [{"path": str(traces), "kind": "chronicle"}, {"path": str(trees), "kind": "mcts"}]}
    sources = {"batch_size": 10, "datasets": {"openr1_math": {"path": str(tmp / "r1.jsonl"), "rows": 20}}}
    if standin is not None:
        sources["teacher"] = {"prompts": str(tmp / "prompts.jsonl"), "endpoint": {
            "base_url": standin.base_url, "model": "t", "api_key_env": "TEACHER_KEY"}}
    state_dir = tmp / state
    state_dir.mkdir(exist_ok=True)
    loaded = Loaded(parse_config(cfg_dict), None, Paths(state_dir, tmp / "c.sock"), ())
    ctx = JobContext(job="harvest_reasoner", run_id=1, trigger="manual", loaded=loaded,
                     engine=open_store(state_dir / "aitherd.db"), log=get_logger("test"))
    return ctx, ReasonerSources.model_validate(sources)


def counts(ctx: JobContext) -> dict[tuple[str, str], int]:
    with ctx.engine.connect() as conn:
        from sqlalchemy import text

        return {(s, c): n for s, c, n in conn.execute(text(
            "SELECT source, category, count(*) FROM example GROUP BY 1, 2"))}


def test_all_sources_land_once_and_a_rerun_adds_nothing(tmp_path, standin, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 4", "reasoning": "two and two"}})
    ctx, cfg = setup(tmp_path, standin)
    result = harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert result.status == "ok", result
    got = counts(ctx)
    assert got[("chronicle", "math")] == 25
    assert got[("chronicle", "logic")] == 1  # stored as rejected (no_conclusion), default category
    assert got[("mcts", "planning")] == 1 and got[("teacher", "math")] == 1
    assert got[("hf:openr1-math-220k", "math")] == 20
    assert ctx.counts["errors.chronicle"] == 1 and ":27: malformed line" in result.message
    assert ctx.counts["rejected.no_conclusion"] == 1
    nr = sum(n for (s, c), n in got.items() if c == "non_reasoning")
    assert got[("non_reasoning:conversational", "non_reasoning")] >= 1  # direct questions, no rewrites
    assert not any(s == "derived:final_answer" for s, _ in got)
    reasoning = sum(n for (s, c), n in got.items() if c != "non_reasoning") - 1
    assert nr / (nr + reasoning) >= 0.10
    before = content_digest(ctx.engine)
    ctx.counts.clear()
    assert harvest_reasoner(ctx, cfg, lambda batch: batch).status == "ok"
    assert content_digest(ctx.engine) == before
    assert not any(k.startswith("stored.") and v for k, v in ctx.counts.items())
    assert len(standin.requests()) == 1  # the teacher prompt is not asked twice
    with open(tmp_path / "traces" / "a.jsonl", "a") as fh:
        fh.write(json.dumps({"prompt": "new one", "reasoning": "r", "answer": "1"}) + "\n")
    ctx.counts.clear()
    harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert ctx.counts["stored.chronicle"] == 1
    raw = (tmp_path / "state" / "aitherd.db").read_bytes() + b"".join(
        p.read_bytes() for p in (tmp_path / "state").glob("aitherd.db-*"))
    assert KEY.encode() not in raw


def test_a_crash_mid_harvest_then_a_rerun_gives_the_same_store(tmp_path):
    ctx, cfg = setup(tmp_path)
    harvest_reasoner(ctx, cfg, lambda batch: batch)
    reference = content_digest(ctx.engine)

    crashed, _ = setup(tmp_path, state="crashed")
    calls = 0

    def dies_on_third_batch(batch):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt("killed")  # not an Exception: it escapes like a kill would
        return batch

    with pytest.raises(KeyboardInterrupt):
        harvest_reasoner(crashed, cfg, dies_on_third_batch)
    assert content_digest(crashed.engine) != reference
    harvest_reasoner(crashed, cfg, lambda batch: batch)
    assert content_digest(crashed.engine) == reference


def test_a_broken_source_does_not_stop_the_others(tmp_path):
    ctx, cfg = setup(tmp_path)
    cfg.datasets["openr1_math"].path = str(tmp_path / "missing.jsonl")
    result = harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert result.status == "ok" and "hf:openr1_math openr1_math:" in result.message
    assert ctx.counts["errors.hf:openr1_math"] == 1 and ctx.counts["stored.mcts"] == 1
