"""The quality judge: cheap checks give a score and reasons; an optional LLM judge over HTTP."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_curate_support import CLEAN_CODE, coder, reasoner

from aitherd.curate import JudgeConfig, LLMJudgeConfig
from aitherd.curate.judge import Judge


def _judge(c, **kw):  # type: ignore[no-untyped-def]
    Judge(JudgeConfig(**kw)).judge(c)
    return c


def test_clean_examples_score_full_marks() -> None:
    for u, a in CLEAN_CODE:
        c = _judge(coder(u, a))
        assert (c.status, c.quality, c.quality_reasons) == ("accepted", 1.0, [])
    c = _judge(reasoner("2+2?", "<think>two and two</think> is four", "4"))
    assert c.status == "accepted"


@pytest.mark.parametrize(("cand", "reason"), [
    (coder("fix it", "```python\ndef f(:\n    return 1\n```"), "code_syntax"),
    (coder("write a sort", "I'm sorry, but I can't help with that."), "refusal"),
    (coder("write a sort", "As an AI language model I think sorting is nice."), "refusal"),
    (reasoner("What is 3*7?", "<think>3*7 is 21", "21"), "think_unbalanced"),
    (reasoner("What is 3*7?", "3*7 = 21", ""), "no_answer"),
    (coder("rename foo to bar", "Just rename it.", category="editing"), "edit_missing"),
    (coder("rename", "<<<<<<< SEARCH\nfoo\n=======\nbar\n", category="editing"), "edit_malformed"),
    (coder("dump", "\x00\x01\x02\x03" * 100 + "ok"), "non_text"),
    (coder("hi", ""), "empty_response"),
])
def test_bad_examples_are_rejected_low_quality(cand, reason) -> None:  # type: ignore[no-untyped-def]
    c = _judge(cand)
    assert reason in c.quality_reasons
    assert c.status == "rejected" and c.reason == "low_quality"
    assert 0 <= c.quality < 0.5


def test_edits_with_search_replace_or_diff_pass() -> None:
    sr = "<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE"
    diff = "--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-x = 1\n+x = 2"
    for reply in (sr, diff):
        assert _judge(coder("set x to 2", reply, category="editing")).status == "accepted"


def test_length_budget_per_specialist() -> None:
    long = "word " * 7000  # ~8750 tokens at 4 chars/token
    c = _judge(coder("explain", long))
    assert c.reason == "too_long" and c.curation["too_long"]["budget"] == 8192
    assert _judge(coder("explain", long), max_tokens={"coder": 20000}).status == "accepted"


class _Handler(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict]] = []
    score = 8

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Handler.calls.append({"path": self.path, "body": body,
                               "auth": self.headers.get("Authorization")})
        out = json.dumps({"choices": [{"message": {"role": "assistant",
                                                   "content": json.dumps({"score": _Handler.score})}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(out.encode())

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def standin() -> Iterator[str]:
    srv = HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_llm_judge_through_an_openai_compatible_endpoint(standin: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JUDGE_KEY", "k-123")
    llm = LLMJudgeConfig(base_url=standin, model="qwen-judge", api_key_env="JUDGE_KEY")
    _Handler.score = 10
    c = _judge(coder(*CLEAN_CODE[0]), llm=llm)
    assert c.curation["llm_judge"] == {"score": 1.0, "model": "qwen-judge"}
    call = _Handler.calls[-1]
    assert call["path"] == "/v1/chat/completions" and call["body"]["model"] == "qwen-judge"
    assert call["auth"] == "Bearer k-123"
    _Handler.score = 1  # the LLM hates it: 0.5 * 1.0 + 0.5 * 0.0 = 0.5, threshold 0.6 rejects
    c = _judge(coder(*CLEAN_CODE[0]), llm=llm, threshold=0.6)
    assert c.reason == "low_quality" and c.quality == 0.5


def test_llm_judge_failure_keeps_the_heuristic_score() -> None:
    llm = LLMJudgeConfig(base_url="http://127.0.0.1:9/v1", timeout_s=2)
    c = _judge(coder(*CLEAN_CODE[0]), llm=llm)
    assert c.status == "accepted" and "error" in c.curation["llm_judge"]


def test_an_edit_given_as_a_rewrite_of_the_code_is_an_edit():
    from aitherd.candidate import Candidate
    from aitherd.curate.judge import heuristic_reasons

    def edit(before: str, after: str) -> Candidate:
        return Candidate("coder", "editing", [
            {"role": "user", "content": f"Rename s to subtotal:\n```python\n{before}```"},
            {"role": "assistant", "content": f"```python\n{after}```"}], source="git")

    assert "edit_missing" not in heuristic_reasons(edit("s = 0\nreturn s\n", "subtotal = 0\nreturn subtotal\n"))
    assert "edit_missing" in heuristic_reasons(edit("s = 0\n", "s = 0\n"))  # nothing changed
    no_code = Candidate("coder", "editing", [{"role": "user", "content": "Make it faster"},
                                             {"role": "assistant", "content": "```python\nx = 1\n```"}],
                        source="session")
    assert "edit_missing" in heuristic_reasons(no_code)


def test_text_share_counts_exactly_what_isalnum_and_isspace_count() -> None:
    """The share of letters, digits and spaces is one regex pass, and agrees with the per-character
    definition on every code point (Unicode digits, combining marks, "_" and NBSP included)."""
    from aitherd.curate.judge import texty_share

    def by_chars(text: str) -> float:
        return sum(ch.isalnum() or ch.isspace() for ch in text) / len(text)

    every = [chr(i) for i in range(sys.maxunicode + 1)]
    assert [hex(ord(ch)) for ch in every if texty_share(ch) != by_chars(ch)] == []
    for one in ("_", "\u00a0", "\u0663", "\u00b2", "\u2167", "\u0301", "a_b c!", "{}();"):
        assert texty_share(one) == by_chars(one), repr(one)
    assert texty_share("") == 1.0
