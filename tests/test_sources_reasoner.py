"""The reasoner harvest end to end: every source, watermarks, crash safety, key hygiene."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from aitherd.config import Loaded, Paths, parse_config
from aitherd.logs import get_logger
from aitherd.runs import JobContext
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


def teacher_only(tmp: Path, standin, rows: list[dict], state: str = "state") -> tuple[JobContext, ReasonerSources]:
    (tmp / "prompts.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (tmp / state).mkdir(exist_ok=True)
    loaded = Loaded(parse_config({}), None, Paths(tmp / state, tmp / "c.sock"), ())
    ctx = JobContext(job="harvest_reasoner", run_id=1, trigger="manual", loaded=loaded,
                     engine=open_store(tmp / state / "aitherd.db"), log=get_logger("test"))
    cfg = ReasonerSources.model_validate({"non_reasoning": {"derive": False}, "teacher": {
        "prompts": str(tmp / "prompts.jsonl"), "max_attempts": 2, "endpoint": {
            "base_url": standin.base_url, "model": "t", "api_key_env": "TEACHER_KEY", "backoff": 0}}})
    return ctx, cfg


def asked(standin, since: int = 0) -> list[str]:
    return [r["messages"][-1]["content"] for r in standin.requests()[since:]]


def test_bad_replies_are_counted_per_prompt_and_never_block_the_teacher(tmp_path, standin, monkeypatch):
    from aitherd.sources.harvest import get_mark

    monkeypatch.setenv("TEACHER_KEY", KEY)
    standin.script({"key": KEY, "queue": [{"status": 429, "retry_after": "0"}], "rules": [
        {"match": "bad", "raw": "{not json"}], "default": {"content": "Answer: 4", "reasoning": "2+2"}})
    ctx, cfg = teacher_only(tmp_path, standin, [{"id": "1", "prompt": "first"}, {"id": "2", "prompt": "bad one"},
                                                {"id": "3", "prompt": "third"}])
    runs, messages = [], []
    for _ in range(3):
        ctx.counts.clear()
        before = len(standin.requests())
        result = harvest_reasoner(ctx, cfg, lambda batch: batch)
        runs.append((result.status, asked(standin, before), dict(ctx.counts)))
        messages.append(result.message)
    (s1, a1, c1), (s2, a2, c2), (s3, a3, c3) = runs
    assert s1 == "ok" and a1 == ["first", "first", "bad one", "third"]  # a 429 retried, then on
    assert c1["stored.teacher"] == 2 and c1["errors.teacher"] == 1 and c1["retries.teacher"] == 1
    assert c1["failed_requests.teacher"] == 1 and c1["requests.teacher"] == 4 and c1["tokens.teacher"] == 60
    assert a2 == ["bad one"] and c2["gave_up.teacher"] == 1 and s2 == "failed"
    assert messages[1].startswith("teacher made no progress: 1 request failed, 1 prompt recorded as failed")
    assert a3 == [] and c3.get("failed_before.teacher") == 1 and s3 == "ok"
    mark = get_mark(ctx.engine, "teacher", "prompts")
    assert list(mark) == ["failures"] and list(mark["failures"].values()) == [2]  # failures only
    from aitherd.metrics import Metrics

    metrics = Metrics()
    metrics.observe_counts("harvest_reasoner", c1)  # what the daemon does with a finished run's counts
    got = {name: metrics.registry.get_sample_value(name, {"job": "harvest_reasoner", "source": "teacher"})
           for name in ("aitherd_input_errors_total", "aitherd_llm_retries_total", "aitherd_llm_requests_total",
                        "aitherd_llm_tokens_total")}
    assert got == {"aitherd_input_errors_total": 1, "aitherd_llm_retries_total": 1,
                   "aitherd_llm_requests_total": 4, "aitherd_llm_tokens_total": 60}


def test_nothing_is_paid_for_twice_when_the_prompt_file_is_rewritten(tmp_path, standin, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 4", "reasoning": "2+2"}})
    ctx, cfg = teacher_only(tmp_path, standin, [{"id": "a", "prompt": "alpha"}, {"id": "b", "prompt": "beta"}])
    assert harvest_reasoner(ctx, cfg, lambda batch: batch).status == "ok"
    # Rewritten: reordered, renumbered, one prompt added at the top.
    (tmp_path / "prompts.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"id": "x", "prompt": "gamma"}, {"id": "b2", "prompt": "beta"}, {"id": "a2", "prompt": "alpha"}]) + "\n")
    before = len(standin.requests())
    harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert asked(standin, before) == ["gamma"]


def test_an_old_done_mark_and_old_rows_still_count_as_answered(tmp_path, standin, monkeypatch):
    from aitherd.candidate import Candidate
    from aitherd.sources.harvest import set_mark
    from aitherd.store.examples import insert_candidates

    monkeypatch.setenv("TEACHER_KEY", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 4", "reasoning": "2+2"}})
    ctx, cfg = teacher_only(tmp_path, standin, [{"id": "a", "prompt": "alpha"}, {"id": "b", "prompt": "beta"},
                                                {"prompt": "gamma"}])
    set_mark(ctx.engine, "teacher", "prompts", {"done": ["a"]})  # a mark written by an older version
    insert_candidates(ctx.engine, [Candidate(  # a row stored by an older version: no prompt key
        "reasoner", "math", [{"role": "user", "content": "beta"}, {"role": "assistant", "content": "4"}],
        source="teacher", provenance={"prompts": cfg.teacher.prompts, "id": "b", "model": "t"})])
    harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert asked(standin) == ["gamma"]


def test_a_teacher_that_makes_no_progress_fails_the_run_and_says_why(tmp_path, standin, monkeypatch):
    monkeypatch.setenv("TEACHER_KEY", KEY)
    standin.script({"key": "another-key"})  # the provider echoes the key it was sent in its 401
    ctx, cfg = teacher_only(tmp_path, standin, [{"id": "a", "prompt": "alpha"}])
    result = harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert result.status == "failed" and result.message.startswith("teacher made no progress: ")
    assert "HTTP 401" in result.error and ctx.counts["errors.teacher"] == 1
    assert KEY[:12] not in json.dumps([result.message, result.error, ctx.counts])
