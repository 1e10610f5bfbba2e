"""Teacher and augmentation sources against a stand-in OpenAI-compatible server process."""

from __future__ import annotations

import json
from pathlib import Path

from aitherd.llm import ChatClient, EndpointConfig
from aitherd.sources.generate import AugmentConfig, Outcome, TeacherConfig, augment, teacher

KEY = "sk-teacher-abcdef0123456789"


def prompts(tmp: Path, rows: list[dict]) -> str:
    path = tmp / "prompts.jsonl"
    path.write_text("{broken\n" + "\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


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
    out = Outcome()
    got = dict(teacher(cfg, set(), out))
    assert list(got) == ["a", "b", "c"] and out.errors == 1  # the broken line, counted
    a, b, c = got["a"], got["b"], got["c"]
    assert (a.status, a.weight, a.source, a.answer, a.reasoning) == ("accepted", 1.3, "teacher", "4", "2 and 2 make 4")
    assert b.reason == "wrong_answer" and b.curation["wrong_answer"] == {"expected": "9", "got": "10"}
    assert c.reason == "truncated" and c.category == "logic"
    rest = dict(teacher(cfg, set(got), Outcome()))  # the next run resumes after a, b, c
    assert list(rest) == ["d"]
    assert all(KEY not in json.dumps(r) for r in standin.requests())


def test_spend_cap_and_a_failing_endpoint_stop_cleanly(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 1", "reasoning": "r",
                                            "usage": {"total_tokens": 600}}})
    path = prompts(tmp_path, [{"id": str(i), "prompt": f"q{i}"} for i in range(5)])
    out = Outcome()
    got = list(teacher(TeacherConfig(endpoint=endpoint(standin, spend_cap_tokens=1000),
                                     prompts=path), set(), out))
    assert len(got) == 2 and "spend cap of 1000 tokens" in out.stopped
    standin.script({"key": KEY, "queue": [{"status": 503}] * 3})
    out = Outcome()
    cfg = TeacherConfig(endpoint=endpoint(standin, max_retries=2, backoff=0), prompts=path)
    assert list(teacher(cfg, set(), out)) == []
    assert out.stopped.startswith("teacher endpoint failed") and out.errors == 2  # + the bad line


def test_three_augmentation_strategies_give_differently_structured_prompts(standin, tmp_path, monkeypatch):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 12", "reasoning": "steps"}})
    seeds = prompts(tmp_path, [{"id": "s1", "problem": "A train goes 3 km/min for 4 min.", "answer": "12"}])
    custom = tmp_path / "tmpl"
    custom.mkdir()
    (custom / "tree_search.txt").write_text("SEARCH TREE PLEASE: {problem}")
    cfg = AugmentConfig(endpoint=endpoint(standin), seeds=seeds, prompts_dir=str(custom))
    got = dict(augment(cfg, set(), Outcome()))
    assert list(got) == ["s1:verification", "s1:decomposition", "s1:tree_search"]
    assert [c.source for c in got.values()] == ["augment:verification", "augment:decomposition",
                                               "augment:tree_search"]
    assert [c.category for c in got.values()] == ["math", "planning", "planning"]
    sent = [r["messages"][-1]["content"] for r in standin.requests()]
    assert "verify your solution" in sent[0] and "sub-goals" in sent[1]
    assert sent[2] == "SEARCH TREE PLEASE: A train goes 3 km/min for 4 min."
    assert all(c.status == "accepted" for c in got.values())
    assert dict(augment(cfg, set(got), Outcome())) == {}


def test_client_can_be_shared(standin, monkeypatch, tmp_path):
    monkeypatch.setenv("TK", KEY)
    standin.script({"key": KEY, "default": {"content": "Answer: 1", "reasoning": "r"}})
    client = ChatClient(endpoint(standin))
    path = prompts(tmp_path, [{"id": "x", "prompt": "q"}])
    list(teacher(TeacherConfig(endpoint=endpoint(standin), prompts=path), set(), Outcome(), client))
    assert client.requests == 1
