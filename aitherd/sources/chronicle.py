"""Reasoning-trace logs ("chronicle"): JSONL records of an agent's reasoning, read incrementally,
mapped by a configurable field mapping into reasoner candidates.

Traces without a conclusion, or cut off, are rejected with a reason; a record with no
reasoning but a conclusion is a plain answer and tagged `non_reasoning`. Reasoning is stored
without think tags (a trace wrapped in `<think>...</think>`, or an answer that opens with its
think block, is unwrapped here), since the export wraps it in the model's own tags.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import REASONER_CATEGORIES, Candidate
from aitherd.sources.items import BadInput, Checkpoint, Item
from aitherd.sources.tail import json_objects
from aitherd.think import split as split_think
from aitherd.think import unwrap as unwrap_think

_CUT_OFF = {"truncated", "incomplete", "cut_off", "cutoff", "timeout", "error", "aborted", "length"}


class ChronicleMapping(BaseModel):
    """Where each part of a trace lives in a record; dotted paths reach into nested objects.
    A list found at `reasoning` (steps) is joined with newlines."""

    model_config = ConfigDict(extra="forbid")

    prompt: str = "prompt"
    reasoning: str = "reasoning"
    answer: str = "answer"
    category: str = "category"
    status: str = "status"
    id: str = "id"
    default_category: str = Field(default="logic")


def _get(record: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(part)
    return record


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        parts = [_text(v) for v in value]
        value = "\n".join(p for p in parts if p)
    elif isinstance(value, dict):
        value = value.get("text") or value.get("content") or json.dumps(value)
    text = str(value).strip()
    return text or None


def parse(record: dict[str, Any], m: ChronicleMapping, provenance: dict[str, Any]) -> Candidate | str:
    prompt = _text(_get(record, m.prompt))
    if not prompt:
        return f"no prompt at '{m.prompt}'"
    reasoning, answer = unwrap_think(_text(_get(record, m.reasoning))), _text(_get(record, m.answer))
    if answer is not None:
        inline, rest = split_think(answer)
        if inline is not None or rest != answer:  # the answer opens with the thinking: take it out
            reasoning, answer = reasoning or inline, rest or None
    category = _get(record, m.category)
    if reasoning is None:
        category = "non_reasoning"
    elif category not in REASONER_CATEGORIES or category == "non_reasoning":
        category = m.default_category
    cand = Candidate("reasoner", category, [{"role": "user", "content": prompt},
                                            {"role": "assistant", "content": answer or ""}],
                     source="chronicle", reasoning=reasoning, answer=answer,
                     provenance={**provenance, "trace": _get(record, m.id)})
    status = str(_get(record, m.status) or "").lower()
    if status in _CUT_OFF or (reasoning and reasoning.count("<think>") != reasoning.count("</think>")):
        cand.reject("cut_off", status=status or "unbalanced think tags")
    elif not answer:
        cand.reject("no_conclusion", detail=f"nothing at '{m.answer}'")
    return cand


def harvest_file(path: Path, mark: dict[str, Any] | None,
                 mapping: ChronicleMapping, settle: float | None = None) -> Iterator[Item]:
    """A candidate (or the reason it cannot be one, with file:line) per new record; a last
    record without a newline once the file has been quiet for `settle` seconds."""
    for got in json_objects(path, mark, settle=settle):
        if not isinstance(got, tuple):
            yield got  # a blank or malformed line's items
            continue
        line_no, record, new_mark = got
        out = parse(record, mapping, {"file": str(path), "line": line_no})
        yield BadInput(f"{path}:{line_no}", out) if isinstance(out, str) else out
        yield Checkpoint(new_mark)
