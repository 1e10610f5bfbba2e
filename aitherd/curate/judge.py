"""Quality judge: cheap heuristics first, then an optional LLM judge over an OpenAI-compatible API.

The score is 1 minus the penalties found, clipped to [0, 1]; each penalty names its reason.
"""

from __future__ import annotations

import ast
import json
import os
import re
import textwrap
import urllib.request
from typing import Any

from aitherd.candidate import Candidate
from aitherd.curate.config import JudgeConfig, LLMJudgeConfig

# A fence of N backticks ends at the next N: a block holding ``` lines (markdown in a docstring)
# comes in a longer fence. Groups: the fence, the code.
_PY_BLOCK = re.compile(r"(`{3,})(?:python|py|python3)[ \t]*\n(.*?)\1", re.DOTALL | re.IGNORECASE)
_REFUSAL = re.compile(
    r"I'm sorry, but I (?:can't|cannot)|I am sorry, but I (?:can't|cannot)|As an AI language model|"
    r"I (?:can't|cannot) (?:help|assist) with (?:that|this)|I'm unable to (?:help|assist)",
    re.IGNORECASE,
)
_BOILERPLATE = re.compile(
    r"lorem ipsum|as of my (?:last )?knowledge cutoff|# ?TODO:\s*implement|pass  # TODO|"
    r"\[insert [^\]]*\]|<your code here>",
    re.IGNORECASE,
)
_SEARCH_REPLACE = ("<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE")
_DIFF = re.compile(r"^(?:@@ .* @@|--- \S|\+\+\+ \S)", re.MULTILINE)
# A character that is neither alphanumeric nor whitespace, exactly as str.isalnum/str.isspace say:
# `re`'s \w is str.isalnum plus "_" and its \s is str.isspace, for every code point.
_NOT_TEXTY = re.compile(r"[^\w\s]|_")

PENALTIES = {
    "code_syntax": 0.6,
    "edit_missing": 0.6,
    "edit_malformed": 0.6,
    "no_answer": 0.6,
    "empty_response": 1.0,
    "think_unbalanced": 0.6,
    "refusal": 0.8,
    "boilerplate": 0.3,
    "non_text": 0.6,
    "too_short": 0.3,
}


def _assistant_text(c: Candidate) -> str:
    return "\n".join(
        str(m.get("content") or "") for m in c.messages if m.get("role") == "assistant"
    )


_ANY_BLOCK = re.compile(r"(`{3,})[^\n`]*\n(.*?)\1", re.DOTALL)  # groups: the fence, the code


def _rewrites_code(c: Candidate) -> bool:
    """An edit given as a rewrite: the request carries code and the answer returns changed code."""
    asked = {" ".join(b.split()) for m in c.messages if m.get("role") == "user"
             for _f, b in _ANY_BLOCK.findall(str(m.get("content") or "")) if b.strip()}
    answered = {" ".join(b.split()) for _f, b in _ANY_BLOCK.findall(_assistant_text(c)) if b.strip()}
    return bool(asked) and bool(answered - asked)


def texty_share(text: str) -> float:
    """The share of `text`'s characters that are alphanumeric or whitespace (1.0 when empty)."""
    return len(_NOT_TEXTY.sub("", text)) / len(text) if text else 1.0


def heuristic_reasons(c: Candidate) -> list[str]:
    text = c.text()
    reply = _assistant_text(c)
    reasons: list[str] = []
    if not reply.strip() and not (c.answer or "").strip():
        reasons.append("empty_response")
    elif len(reply.strip()) + len((c.answer or "").strip()) < 2:
        reasons.append("too_short")
    for _fence, block in _PY_BLOCK.findall(reply):
        try:
            ast.parse(textwrap.dedent(block))
        except SyntaxError:
            reasons.append("code_syntax")
            break
    if c.category == "editing":
        marks = [text.count(m) for m in _SEARCH_REPLACE]
        if any(marks):
            if len(set(marks)) != 1:
                reasons.append("edit_malformed")
        elif not _DIFF.search(text) and not _rewrites_code(c) and not (
            c.provenance.get("before") is not None and c.provenance.get("after") is not None
        ):
            reasons.append("edit_missing")
    if c.specialist == "reasoner" and c.category == "math" and not (c.answer or "").strip():
        reasons.append("no_answer")
    if text.count("<think>") != text.count("</think>"):
        reasons.append("think_unbalanced")
    if _REFUSAL.search(reply):
        reasons.append("refusal")
    if _BOILERPLATE.search(text):
        reasons.append("boilerplate")
    if text:
        sample = text[:20000]
        texty = texty_share(sample)
        if texty < 0.55:
            reasons.append("non_text")
    return reasons


def llm_score(c: Candidate, cfg: LLMJudgeConfig) -> float:
    """Ask the configured endpoint for a 1-10 grade; returns it scaled to [0, 1]."""
    convo = "\n\n".join(f"[{m.get('role')}]\n{m.get('content')}" for m in c.messages)
    if c.reasoning:
        convo += f"\n\n[reasoning]\n{c.reasoning}"
    prompt = (
        "Grade this training example for a " + c.specialist + " model (correctness, "
        'clarity, usefulness). Reply with JSON only: {"score": <integer 1-10>}.\n\n' + convo[:24000]
    )
    body = json.dumps(
        {
            "model": cfg.model,
            "temperature": 0,
            "max_tokens": 32,
            "messages": [{"role": "user", "content": prompt}],
        }
    ).encode()
    headers = {"Content-Type": "application/json"}
    if cfg.api_key_env and os.environ.get(cfg.api_key_env):
        headers["Authorization"] = f"Bearer {os.environ[cfg.api_key_env]}"
    req = urllib.request.Request(
        cfg.base_url.rstrip("/") + "/chat/completions",  # type: ignore[union-attr]
        data=body,
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=cfg.timeout_s) as resp:
        data: dict[str, Any] = json.load(resp)
    content = data["choices"][0]["message"]["content"]
    m = re.search(r"\"score\"\s*:\s*(\d+(?:\.\d+)?)", content) or re.search(
        r"\d+(?:\.\d+)?", content
    )
    if not m:
        raise ValueError("no score in the judge's reply")
    return max(0.0, min(1.0, (float(m.group(m.lastindex or 0)) - 1) / 9))


class Judge:
    def __init__(self, cfg: JudgeConfig) -> None:
        self.cfg = cfg

    def judge(self, c: Candidate) -> None:
        """Set quality and reasons; reject `too_long` or `low_quality` where due."""
        budget = self.cfg.max_tokens.get(c.specialist)
        tokens = int(len(c.text()) / self.cfg.chars_per_token)
        reasons = heuristic_reasons(c)
        score = max(0.0, 1.0 - sum(PENALTIES[r] for r in reasons))
        if self.cfg.llm.base_url and not reasons:
            try:
                s = llm_score(c, self.cfg.llm)
                c.curation["llm_judge"] = {"score": round(s, 4), "model": self.cfg.llm.model}
                w = self.cfg.llm.weight
                score = (1 - w) * score + w * s
            except (OSError, ValueError, KeyError, IndexError) as err:
                c.curation["llm_judge"] = {"error": type(err).__name__}
        c.quality, c.quality_reasons = round(score, 4), reasons
        if budget is not None and tokens > budget:
            c.quality_reasons = [*reasons, "too_long"]
            c.reject("too_long", tokens=tokens, budget=budget)
        elif score < self.cfg.threshold:
            c.reject("low_quality", score=c.quality, reasons=reasons)
