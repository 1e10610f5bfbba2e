"""Turning neutral examples into a family's training records: think tags and FIM."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aitherd.export.families import Family, Fim
from aitherd.export.sample import unit

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
MIN_FIM_LINES = 3


@dataclass(frozen=True)
class FimSplit:
    prefix: str
    middle: str
    suffix: str


def extract_code(text: str) -> str | None:
    """The first fenced code block with enough lines, or the whole text if it is Python."""
    for match in _FENCE.finditer(text):
        code = match.group(1)
        if code.count("\n") >= MIN_FIM_LINES:
            return code
    if text.count("\n") >= MIN_FIM_LINES:
        import ast

        try:
            ast.parse(text)
        except (SyntaxError, ValueError):
            return None
        return text
    return None


def split_fim(code: str, key: str, seed: int | str) -> FimSplit:
    """Split at line boundaries: a middle of 1 to a third of the lines, placed by the key."""
    lines = code.splitlines(keepends=True)
    n = len(lines)
    span = 1 + int(unit(seed, key, "fim-len") * max(1, n // 3))
    start = int(unit(seed, key, "fim-start") * (n - span + 1))
    prefix = "".join(lines[:start])
    middle = "".join(lines[start:start + span])
    suffix = "".join(lines[start + span:])
    return FimSplit(prefix, middle, suffix)


def _last_assistant(messages: list[dict[str, Any]]) -> int | None:
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "assistant":
            return i
    return None


def chat_record(ex: dict[str, Any], family: Family) -> list[dict[str, str]]:
    """The example's conversation, its final answer wrapped with the family's think markup."""
    messages = [{"role": str(m.get("role")), "content": str(m.get("content") or "")}
                for m in ex["messages"]]
    idx = _last_assistant(messages)
    reasoning = ex.get("reasoning")
    thinking_example = ex["specialist"] == "reasoner" or bool(reasoning)
    if idx is not None and thinking_example:
        messages[idx]["content"] = family.wrap(reasoning, messages[idx]["content"])
        if reasoning and family.think_system:
            if messages and messages[0]["role"] == "system":
                messages[0]["content"] = f"{family.think_system}\n{messages[0]['content']}"
            else:
                messages.insert(0, {"role": "system", "content": family.think_system})
    return messages


def fim_code(ex: dict[str, Any]) -> str | None:
    messages = ex["messages"]
    idx = _last_assistant(messages)
    if idx is None:
        return None
    return extract_code(str(messages[idx].get("content") or ""))


def fim_record(code: str, ex: dict[str, Any], fim: Fim, seed: int | str) -> tuple[list[dict[str, str]], FimSplit]:
    split = split_fim(code, ex["content_hash"], seed)
    messages = [{"role": "user", "content": fim.prompt(split.prefix, split.suffix)},
                {"role": "assistant", "content": split.middle}]
    return messages, split
