"""The non-reasoning share: direct questions (configured files, generated arithmetic, conversions,
lookups, conversational turns), answered directly and correctly, never "state the final answer"
rewrites of worked solutions; idempotent across reruns."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import text

from aitherd.candidate import Candidate
from aitherd.config import Loaded, Paths, parse_config
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.sources.non_reasoning import generated
from aitherd.sources.reasoner import harvest_reasoner
from aitherd.sources.reasoner_config import ReasonerSources
from aitherd.store import open_store
from aitherd.store.examples import insert_candidates


def ctx_with_reasoning(tmp: Path, n: int) -> JobContext:
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    engine = open_store(state / "aitherd.db")
    insert_candidates(engine, [Candidate(
        "reasoner", "math", [{"role": "user", "content": f"A train leaves at {i} o'clock; when?"},
                             {"role": "assistant", "content": f"At {i + 2}."}],
        source="teacher", reasoning=f"{i} plus two hours is {i + 2}.", answer=str(i + 2)) for i in range(n)])
    loaded = Loaded(parse_config({}), None, Paths(state, tmp / "c.sock"), ())
    return JobContext(job="harvest_reasoner", run_id=1, trigger="manual", loaded=loaded, engine=engine,
                      log=get_logger("test"))


def non_reasoning_rows(ctx: JobContext) -> list[tuple[str, list[dict], str]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT source, messages, answer FROM example "
                                 "WHERE category = 'non_reasoning' AND status = 'accepted'")).all()
    return [(s, json.loads(m) if isinstance(m, str) else m, a) for s, m, a in rows]


def test_the_share_is_topped_up_with_direct_questions_not_rewrites_of_solutions(tmp_path):
    ctx = ctx_with_reasoning(tmp_path, 180)
    cfg = ReasonerSources.model_validate({"non_reasoning": {"share": 0.10}})
    assert harvest_reasoner(ctx, cfg, lambda batch: batch).status == "ok"
    rows = non_reasoning_rows(ctx)
    assert len(rows) == 20  # 20 / (20 + 180) = 10%
    kinds = {s.removeprefix("non_reasoning:") for s, _, _ in rows}
    assert kinds == {"conversational", "arithmetic", "conversion", "lookup"}
    for _source, messages, answer in rows:
        question = messages[0]["content"]
        assert "worked solution" not in question.lower() and "final answer" not in question.lower()
        assert messages[1]["content"] == answer and len(answer) < 80  # answered directly
    with ctx.engine.connect() as conn:
        mark = conn.execute(text("SELECT value FROM watermark WHERE source = 'non_reasoning'")).scalar()
    assert json.loads(mark) == {"next": 20}

    ctx.counts.clear()
    assert harvest_reasoner(ctx, cfg, lambda batch: batch).status == "ok"  # share reached: nothing new
    assert len(non_reasoning_rows(ctx)) == 20 and not ctx.counts.get("stored.non_reasoning")
    insert_candidates(ctx.engine, [Candidate("reasoner", "logic", [
        {"role": "user", "content": f"Puzzle {i}?"}, {"role": "assistant", "content": "Yes."}],
        source="teacher", reasoning="Because.") for i in range(45)])
    harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert len(non_reasoning_rows(ctx)) == 25  # 25 / (25 + 225)


def test_generated_answers_are_computed_and_right():
    checked = 0
    for _, (_k, cand) in zip(range(600), generated(seed=3, start=0), strict=False):
        q, a = cand.messages[0]["content"], cand.answer or ""
        if m := re.fullmatch(r"(?:What is )?(\d+) ([+\-×]) (\d+)(?:\?| = \?)", q):
            x, op, y = int(m[1]), m[2], int(m[3])
            assert int(a) == {"+": x + y, "-": x - y, "×": x * y}[op], q
        elif m := re.fullmatch(r"What is (\d+) divided by (\d+)\?", q):
            assert int(a) * int(m[2]) == int(m[1])
        elif m := re.fullmatch(r"What is (\d+)% of (\d+)\?", q):
            assert float(a) == int(m[1]) * int(m[2]) / 100
        elif m := re.fullmatch(r"Convert (\d+) km to metres\.", q):
            assert a == f"{int(m[1]) * 1000} m"
        elif m := re.fullmatch(r"What is (0x[0-9a-f]+) in decimal\?", q):
            assert int(a) == int(m[1], 16)
        elif m := re.fullmatch(r"Write (\d+) in binary\.", q):
            assert int(a, 2) == int(m[1])
        elif m := re.fullmatch(r"Convert (-?\d+) °C to Fahrenheit\.", q):
            assert a == f"{int(m[1]) * 9 / 5 + 32:g} °F"
        elif "|---|---|" in q:  # a lookup: the answer is the value in the asked row
            asked = re.search(r"of (.+)\?$", q)[1]
            assert f"| {asked} | {a} |" in q
        else:
            continue
        checked += 1
    assert checked > 400


def test_configured_question_files_are_read_once_and_bad_lines_are_counted(tmp_path):
    ctx = ctx_with_reasoning(tmp_path, 0)
    facts = tmp_path / "facts.jsonl"
    facts.write_text("\n".join([
        json.dumps({"question": "Which port does our staging API listen on?", "answer": "8443", "kind": "factual"}),
        json.dumps({"prompt": "What does HTTP 404 mean?", "answer": "Not Found."}),
        "{not json",
        json.dumps({"question": "No answer here"}),
    ]) + "\n")
    cfg = ReasonerSources.model_validate({"non_reasoning": {"files": [str(facts), str(tmp_path / "gone.jsonl")]}})
    result = harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert result.status == "ok"
    assert sorted(s for s, _, _ in non_reasoning_rows(ctx)) == ["non_reasoning:factual", "non_reasoning:file"]
    assert ctx.counts["errors.non_reasoning"] == 3  # malformed, incomplete, missing file
    assert ":3: malformed line" in (result.message or "") and "gone.jsonl: no such file" in (result.message or "")
    with facts.open("a") as fh:
        fh.write(json.dumps({"question": "Default branch?", "answer": "main"}) + "\n")
    ctx.counts.clear()
    harvest_reasoner(ctx, cfg, lambda batch: batch)
    assert ctx.counts["stored.non_reasoning"] == 1 and len(non_reasoning_rows(ctx)) == 3
