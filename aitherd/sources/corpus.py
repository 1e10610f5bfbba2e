"""An existing JSONL corpus: its coding subset, streamed with a byte-offset watermark.

The field mapping names where the instruction and response (or a `messages` list) are. The code
detector looks at structure, not keywords: fenced blocks, Python that parses, or lines whose
shape (indentation, brackets, operators, statement endings) is mostly code.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import Candidate
from aitherd.sources.items import BadInput, Checkpoint, Item, Skip
from aitherd.sources.sessions import category_of
from aitherd.sources.tail import read_lines

_FENCE = re.compile(r"```[\w+-]*\n.+?```", re.DOTALL)
_CODE_LINE = re.compile(r"^\s{2,}\S|[;{}]\s*$|^\s*(def|class|return|import|from|if|for|while|fn|let|const|var|"
                        r"public|private|func|#include)\b|=>|->|::|==|!=|\w+\(.*\)\s*[;{:]?\s*$")


class CorpusSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    instruction: str = "instruction"
    response: str = "response"
    messages: str = ""  # if set, a list of {role, content} under this field
    license: str | None = None
    min_code_score: float = Field(default=0.5, ge=0, le=1)


def code_score(text: str) -> float:
    """0..1: how much of `text` is code."""
    if not text.strip():
        return 0.0
    if _FENCE.search(text):
        return 1.0
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2:
        try:
            tree = ast.parse(text)
            if any(not isinstance(n, ast.Expr) for n in tree.body):
                return 1.0
        except (SyntaxError, ValueError):
            pass
    if not lines:
        return 0.0
    return sum(bool(_CODE_LINE.search(ln)) for ln in lines) / len(lines)


def _get(record: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        record = record.get(part) if isinstance(record, dict) else None
    return record


def harvest_file(src: CorpusSource, mark: dict[str, Any] | None) -> Iterator[Item]:
    path = Path(src.path).expanduser()
    for line_no, raw, after in read_lines(path, mark):
        try:
            record = json.loads(raw)
            if src.messages:
                messages = [{"role": m["role"], "content": m["content"]} for m in _get(record, src.messages)
                            if m.get("role") in ("system", "user", "assistant")]
            else:
                messages = [{"role": "user", "content": str(_get(record, src.instruction))},
                            {"role": "assistant", "content": str(_get(record, src.response))}]
                if _get(record, src.instruction) is None or _get(record, src.response) is None:
                    raise KeyError(f"{src.instruction!r} or {src.response!r}")
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            yield BadInput(f"{path}:{line_no}", f"malformed record: {type(err).__name__}: {err}")
            yield Checkpoint(after)
            continue
        answer = next((m["content"] for m in reversed(messages) if m["role"] == "assistant"), "")
        if code_score(answer) < src.min_code_score:
            yield Skip("not_code")
            yield Checkpoint(after)
            continue
        request = next((m["content"] for m in messages if m["role"] == "user"), "")
        yield Candidate("coder", category_of(request), messages, source="corpus",
                        license=src.license, provenance={"file": str(path), "line": line_no})
        yield Checkpoint(after)
