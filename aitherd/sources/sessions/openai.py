"""OpenAI chat JSONL: one conversation a line, `{"messages": [{role, content, tool_calls?}], ...}`.

The system, user and assistant messages are kept (content a string or a list of text parts),
tool messages and tool calls are dropped, the conversation is cut after its last assistant
message, and it is kept when an assistant message has code. Reasoning inline in the last answer
(`<think>`) or given as `reasoning_content` goes to the example's reasoning, not its answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aitherd.sources.items import BadInput, Checkpoint, Item, Skip
from aitherd.sources.sessions.common import CODE, Malformed, kind, make, split_reasoning, want_dict, want_str
from aitherd.sources.tail import read_lines


def content_text(content: Any, what: str) -> str:
    """A message's text: a string, or the text parts of a list; null is empty."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = (want_dict(p, f"a part of {what}") for p in content)
        return "\n".join(want_str(p.get("text"), f"text of a part of {what}") for p in parts
                         if p.get("type") in ("text", "input_text", "output_text"))
    raise Malformed(f"content of {what} is {kind(content)}, not a string or a list")


def conversation(record: Any) -> tuple[list[dict[str, str]], str | None]:
    """The kept messages and the last answer's reasoning."""
    record = want_dict(record, "record")
    messages = record.get("messages")
    if not isinstance(messages, list):
        raise Malformed("messages is missing" if messages is None else f"messages is {kind(messages)}, not a list")
    kept: list[dict[str, str]] = []
    extra: list[str | None] = []
    for m in messages:
        m = want_dict(m, "a message")
        role = m.get("role")
        if role not in ("system", "user", "assistant"):
            continue
        text = content_text(m.get("content"), "a message")
        if text:
            kept.append({"role": role, "content": text})
            extra.append(m.get("reasoning_content") if isinstance(m.get("reasoning_content"), str) else None)
    while kept and kept[-1]["role"] != "assistant":
        kept.pop()
        extra.pop()
    reasoning = None
    for i, m in enumerate(kept):
        if m["role"] == "assistant":
            thought, m["content"] = split_reasoning(m["content"])
            if i == len(kept) - 1:
                reasoning = thought or extra[i]
    return [m for m in kept if m["content"]], reasoning


def harvest_openai(path: Path, mark: dict[str, Any] | None) -> Iterator[Item]:
    """One candidate per conversation with code; a bad line is counted with file:line."""
    for line_no, raw, after in read_lines(path, mark):
        where = f"{path}:{line_no}"
        try:
            kept, reasoning = conversation(json.loads(raw))
        except Malformed as err:
            yield BadInput(where, f"malformed record: {err}")
            yield Checkpoint(after)
            continue
        except (ValueError, RecursionError) as err:
            yield BadInput(where, f"malformed line: {type(err).__name__}: {err}")
            yield Checkpoint(after)
            continue
        if not kept or kept[-1]["role"] != "assistant" or \
                not any(m["role"] == "assistant" and CODE.search(m["content"]) for m in kept):
            yield Skip("no_code")
        else:
            yield from make("openai", path, where, {"line": line_no}, kept, reasoning)
        yield Checkpoint(after)
