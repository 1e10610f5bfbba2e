"""Teacher and augmentation sources against a stand-in OpenAI-compatible server process."""

from __future__ import annotations

import json
from pathlib import Path

from items_util import last_mark, outputs

from aitherd.candidate import Candidate
from aitherd.llm import ChatClient, EndpointConfig
from aitherd.sources.generate import AugmentConfig, Ledger, Outcome, TeacherConfig, augment, teacher
from aitherd.sources.items import BadInput, Checkpoint

KEY = "sk-teacher-abcdef0123456789"


def prompts(tmp: Path, rows: list[dict]) -> str:
    path = tmp / "prompts.jsonl"
    path.write_text("{broken\n" + "\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def answered(items) -> dict:
    """{prompt id (or id:strategy): candidate} of a pass's output."""
    out = {}
    for c in outputs(items):
        if isinstance(c, Candidate):
            pid = c.provenance["id"]
            out[f"{pid}:{c.provenance['strategy']}" if "strategy" in c.provenance else pid] = c
    return out


def endpoint(standin, **kw) -> EndpointConfig:
    return EndpointConfig(base_url=standin.base_url, model="teacher-x", api_key_env="TK", **kw)


def test_teacher_traces_are_weighted_checked_and_resumable(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "rules": [
        {"match": "2+2", "content": "So the answer is \\boxed{4}.", "reasoning": "2 and 2 make 4"},
        {"match": "3*3", "content": "Answer: 10", "reasoning": "3 times 3..."},
        {"match": "long", "content": "and then", "reasoning": "a", "finish_reason": "length"}]})
    path = prompts(tmp_path, [{"id": "a", "prompt": "What is 2+2?", "answer": "4"},
                              {"id": "b", "prompt": "What is 3*3?", "answer": "9"},
                              {"id": "c", "prompt": "A long one", "category": "logic"},
                              {"id": "d", "prompt": "What is 2+2 again?"}])
    cfg = TeacherConfig(endpoint=endpoint(standin), prompts=path, per_run=3)
    out, ledger = Outcome(), Ledger()
    items = list(teacher(cfg, ledger, out))
    got = answered(items)
    assert list(got) == ["a", "b", "c"] and out.bad_lines == 1  # the broken line, counted
    assert "prompts.jsonl:1: unusable prompt line" in outputs(items)[0]
    a, b, c = got["a"], got["b"], got["c"]
    assert (a.status, a.weight, a.source, a.answer, a.reasoning) == ("accepted", 1.3, "teacher", "4", "2 and 2 make 4")
    assert b.reason == "wrong_answer" and b.curation["wrong_answer"] == {"expected": "9", "got": "10"}
    assert c.reason == "truncated" and c.category == "logic"
    rest = answered(teacher(cfg, ledger, Outcome()))  # the next run resumes after a, b, c
    assert list(rest) == ["d"] and len(standin.requests()) == 4
    assert all(KEY not in json.dumps(r) for r in standin.requests())


def test_spend_cap_and_a_failing_endpoint_stop_cleanly(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 1", "reasoning": "r",
                                            "usage": {"total_tokens": 600}}})
    path = prompts(tmp_path, [{"id": str(i), "prompt": f"q{i}"} for i in range(5)])
    out = Outcome()
    got = answered(teacher(TeacherConfig(endpoint=endpoint(standin, spend_cap_tokens=1000),
                                         prompts=path), Ledger(), out))
    assert len(got) == 2 and "spend cap of 1000 tokens" in out.stopped
    standin.script({"key": KEY, "queue": [{"status": 503}] * 3})
    out, ledger = Outcome(), Ledger()
    cfg = TeacherConfig(endpoint=endpoint(standin, max_retries=2, backoff=0), prompts=path)
    assert answered(teacher(cfg, ledger, out)) == {}
    assert out.stopped.startswith("teacher endpoint failed") and out.client.retries == 2
    assert ledger.failures == {}  # an endpoint that is down is not the prompt's failure


def test_three_augmentation_strategies_give_differently_structured_prompts(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "rules": [
        {"match": "verify your solution", "content": "Answer: 12", "reasoning":
            "Step 1: 3 km/min for 4 min is 3*4. Step 2: that is 12.\nNow verify each step.\n"
            "Step 1 holds: distance is rate times time.\nStep 2 is correct: 3*4 = 12."},
        {"match": "sub-goals", "content": "1. Find the rate.\n2. Multiply by the time.\nAnswer: 12",
         "reasoning": "Sub-goal 1: rate is 3. Sub-goal 2: time is 4, so 12."},
        {"match": "SEARCH TREE", "content": "Answer: 12", "reasoning":
            "Option A: add 3 and 4. Option B: multiply 3 by 4. Adding is not promising, prune it. "
            "Continue with B: 12."}]})
    seeds = prompts(tmp_path, [{"id": "s1", "problem": "A train goes 3 km/min for 4 min.", "answer": "12"}])
    custom = tmp_path / "tmpl"
    custom.mkdir()
    (custom / "tree_search.txt").write_text("SEARCH TREE PLEASE: {problem}")
    cfg = AugmentConfig(endpoint=endpoint(standin), seeds=seeds, prompts_dir=str(custom))
    ledger = Ledger()
    got = answered(augment(cfg, ledger, Outcome()))
    assert list(got) == ["s1:verification", "s1:decomposition", "s1:tree_search"]
    assert [c.source for c in got.values()] == ["augment:verification", "augment:decomposition",
                                               "augment:tree_search"]
    # A math seed stays math through every strategy, and says why.
    assert [c.category for c in got.values()] == ["math", "math", "math"]
    assert {c.provenance["category_from"] for c in got.values()} == {"numeric reference answer"}
    sent = [r["messages"][-1]["content"] for r in standin.requests()]
    assert "verify your solution" in sent[0] and "sub-goals" in sent[1]
    assert sent[2] == "SEARCH TREE PLEASE: A train goes 3 km/min for 4 min."
    assert [c.status for c in got.values()] == ["accepted"] * 3, [c.curation for c in got.values()]
    assert answered(augment(cfg, ledger, Outcome())) == {}


def test_client_can_be_shared(standin, monkeypatch, tmp_path):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 1", "reasoning": "r"}})
    client = ChatClient(endpoint(standin))
    path = prompts(tmp_path, [{"id": "x", "prompt": "q"}])
    list(teacher(TeacherConfig(endpoint=endpoint(standin), prompts=path), Ledger(), Outcome(), client))
    assert client.requests == 1


def test_a_malformed_reply_is_one_failure_of_its_prompt_retried_then_given_up(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "rules": [
        {"match": "q-raw", "raw": "<html>502 from a proxy</html>"},
        {"match": "q-list", "body": [1, 2]},
        {"match": "q-null", "body": {"choices": [{"message": None}]}}],
        "default": {"content": "Answer: 1", "reasoning": "r"}})
    path = prompts(tmp_path, [{"id": i, "prompt": f"{i}?"} for i in ("q-raw", "ok-1", "q-list", "q-null", "ok-2")])
    cfg = TeacherConfig(endpoint=endpoint(standin), prompts=path, max_attempts=2)
    ledger, asked = Ledger(), []
    for _run in range(3):
        before = len(standin.requests())
        out = Outcome()
        items = list(teacher(cfg, ledger, out))
        asked.append([r["messages"][-1]["content"] for r in standin.requests()[before:]])
        if _run == 0:
            assert list(answered(items)) == ["ok-1", "ok-2"]  # later prompts are still reached
            bad = [o for o in outputs(items) if isinstance(o, str) and "(id q-" in o]
            assert len(bad) == 3 and all("try 1 of 2, again next run" in b for b in bad), bad
            assert out.failed == 3 and out.generated == 2 and out.stopped is None
            assert last_mark(items)["failures"] == {k: 1 for k in ledger.failures}
            assert isinstance(items[-1], Checkpoint)
        if _run == 1:
            assert out.gave_up == 3 and "recorded as failed" in str(items[0])
            assert out.bad_lines == 0  # the broken line was reported once, on the first run
    assert asked == [["q-raw?", "ok-1?", "q-list?", "q-null?", "ok-2?"], ["q-raw?", "q-list?", "q-null?"], []]
    assert out.failed_before == 3 and len(ledger.failures) == 3 and set(ledger.failures.values()) == {2}


def test_failed_requests_in_a_row_stop_the_pass(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"raw": "not json"}})
    path = prompts(tmp_path, [{"id": str(i), "prompt": f"q{i}"} for i in range(9)])
    out = Outcome()
    items = list(teacher(TeacherConfig(endpoint=endpoint(standin), prompts=path), Ledger(), out))
    assert out.failed == 5 and len(standin.requests()) == 5
    assert out.stopped.startswith("teacher: 5 failed requests in a row")
    assert sum(isinstance(i, BadInput) for i in items) == 6  # five prompts and the broken line


def test_a_prompt_listed_twice_is_paid_for_once(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 4", "reasoning": "2+2"}})
    path = prompts(tmp_path, [{"id": "a", "prompt": "2+2?"}, {"id": "b", "prompt": "2+2?"}])
    assert list(answered(teacher(TeacherConfig(endpoint=endpoint(standin), prompts=path), Ledger(),
                                 Outcome()))) == ["a"]
    assert len(standin.requests()) == 1


def test_augmentation_without_its_promised_structure_is_rejected(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "The answer is 12.\nAnswer: 12",
                                            "reasoning": "3 times 4 is 12."}})
    seeds = prompts(tmp_path, [{"id": "s1", "problem": "Plan a 3-city trip.", "category": "planning"},
                               {"id": "s2", "problem": "Should we pick Postgres or MySQL?"}])
    got = answered(augment(AugmentConfig(endpoint=endpoint(standin), seeds=seeds), Ledger(), Outcome()))
    assert {k: c.reason for k, c in got.items()} == {
        f"{s}:{st}": "unstructured" for s in ("s1", "s2") for st in ("verification", "decomposition", "tree_search")}
    assert "verification" in got["s1:verification"].curation["unstructured"]["missing"]
    assert "sub-goals" in got["s1:decomposition"].curation["unstructured"]["missing"]
    assert "branches" in got["s1:tree_search"].curation["unstructured"]["missing"]
    assert got["s1:tree_search"].category == "planning" and got["s2:verification"].category == "math"
    assert got["s2:verification"].provenance["category_from"] == "verification default (the seed has no category)"
