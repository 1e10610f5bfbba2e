"""Reading a source's item stream in tests: what it produced, and the mark it reached."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aitherd.candidate import Candidate
from aitherd.sources.items import BadInput, Checkpoint, Skip


def outputs(items: Iterable[Any]) -> list[Any]:
    """Candidates as they are, skips as 'skip:REASON', bad input as 'WHERE: WHY'; no checkpoints."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, Skip):
            out.append(f"skip:{item.reason}")
        elif isinstance(item, BadInput):
            out.append(str(item))
        elif isinstance(item, Candidate):
            out.append(item)
        else:
            assert isinstance(item, Checkpoint), item
    return out


def last_mark(items: Iterable[Any]) -> dict[str, Any] | None:
    """The newest checkpoint's mark in a (materialised) stream."""
    marks = [i.mark for i in items if isinstance(i, Checkpoint)]
    return marks[-1] if marks else None
