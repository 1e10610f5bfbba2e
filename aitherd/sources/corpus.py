"""An existing JSONL corpus: its coding subset, streamed with a byte-offset watermark.

The field mapping names where the instruction and response (or a `messages` list) are. The code
detector (codedetect.py) looks at structure, not keywords, and keeps prose out: Markdown lists,
poems, math answers and `str(dict)` data are skipped as `not_code`. Blank lines are passed
over; a last record without a newline is read once the file has been quiet for `settle`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import Candidate
from aitherd.durations import Duration
from aitherd.sources.codedetect import code_score
from aitherd.sources.items import BadInput, Checkpoint, Item, Skip
from aitherd.sources.sessions import category_of
from aitherd.sources.tail import read_lines

__all__ = ["CorpusSource", "code_score", "harvest_file"]


class CorpusSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    instruction: str = "instruction"
    response: str = "response"
    messages: str = ""  # if set, a list of {role, content} under this field
    license: str | None = None
    min_code_score: float = Field(default=0.5, ge=0, le=1)
    settle: Duration = 60.0  # a last record without a newline is read after this long without a write


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def harvest_file(src: CorpusSource, mark: dict[str, Any] | None) -> Iterator[Item]:
    path = Path(src.path).expanduser()
    for line_no, raw, after in read_lines(path, mark, settle=src.settle):
        if not raw.strip():
            yield Checkpoint(after)
            continue
        try:
            record = json.loads(raw)
            if src.messages:
                messages = [{"role": m["role"], "content": m["content"]} for m in _get(record, src.messages)
                            if m.get("role") in ("system", "user", "assistant")]
            else:
                if _get(record, src.instruction) is None or _get(record, src.response) is None:
                    raise KeyError(f"{src.instruction!r} or {src.response!r}")
                messages = [{"role": "user", "content": _get(record, src.instruction)},
                            {"role": "assistant", "content": _get(record, src.response)}]
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            yield BadInput(f"{path}:{line_no}", f"malformed record: {type(err).__name__}: {err}")
            yield Checkpoint(after)
            continue
        if not all(isinstance(m["content"], str) for m in messages):
            # A structured response (a dict, a list) is data, not a code answer: str(dict) is not code.
            yield Skip("not_text")
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
