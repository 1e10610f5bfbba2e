"""Turning neutral examples into a family's training records: chat turns with think markup, and
raw-text FIM records.

Chat: every final answer is shaped the way the family's template opens an answer at generation
time: the example's reasoning inside the think markup, or, without reasoning, the family's empty
think block (`<think>\\n\\n</think>\\n\\n` for R1 distills, `<|channel>thought\\n<channel|>` for
Gemma 4), coder answers included; families without thinking markup get the answer as is.

FIM: `prompt` is the raw `PREFIX_TOKEN prefix SUFFIX_TOKEN suffix MIDDLE_TOKEN` string an editor
sends to a completions endpoint (no chat template), `completion` the middle; the trainer adds the
end-of-sequence token and computes the loss on the completion only.
"""

from __future__ import annotations

from typing import Any

from aitherd.export.families import Family, Fim
from aitherd.export.fim import FimSplit


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
    if idx is not None:
        messages[idx]["content"] = family.wrap(reasoning, messages[idx]["content"])
        if reasoning and family.think_system:
            if messages and messages[0]["role"] == "system":
                messages[0]["content"] = f"{family.think_system}{messages[0]['content']}"
            else:
                messages.insert(0, {"role": "system", "content": family.think_system})
    return messages


def plain_answer(ex: dict[str, Any]) -> str:
    idx = _last_assistant(ex["messages"])
    return str(ex["messages"][idx].get("content") or "") if idx is not None else ""


def fim_fields(split: FimSplit, fim: Fim) -> dict[str, Any]:
    return {"format": "fim", "messages": [], "prompt": fim.prompt(split.prefix, split.suffix),
            "completion": split.middle, "fim_prefix": split.prefix, "fim_middle": split.middle,
            "fim_suffix": split.suffix, "fim_kind": split.kind}
