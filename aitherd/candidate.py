"""The neutral record that flows from sources through curation into the store.

A source yields `Candidate`s; curation marks each accepted or rejected (with a reason, never
dropped); `aitherd.store.examples.insert_candidates` stores them idempotently by content hash.
Every field is a column of the store's `example` table of the same name: `to_row` and `from_row`
are the one mapping between the two.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, fields
from typing import Any

from aitherd.specialists import CODER, REASONER, SPECIALISTS

CODER_CATEGORIES = CODER.categories
REASONER_CATEGORIES = REASONER.categories
CATEGORIES = {s.name: s.categories for s in SPECIALISTS.values()}

_WS = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Whitespace-insensitive form used for the content hash."""
    return _WS.sub(" ", text).strip()


@dataclass
class Candidate:
    specialist: str
    category: str
    messages: list[dict[str, Any]]
    source: str
    provenance: dict[str, Any] = field(default_factory=dict)
    reasoning: str | None = None
    answer: str | None = None
    license: str | None = None
    weight: float = 1.0
    quality: float | None = None
    quality_reasons: list[str] = field(default_factory=list)
    status: str = "accepted"
    reason: str | None = None
    curation: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.specialist not in CATEGORIES:
            raise ValueError(f"unknown specialist {self.specialist!r}")
        if self.category not in CATEGORIES[self.specialist]:
            raise ValueError(f"unknown {self.specialist} category {self.category!r}")

    @classmethod
    def from_row(cls, row: Any) -> Candidate:
        """The candidate a stored row (an `Example`, or any object with its columns) holds."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})

    def to_row(self) -> dict[str, Any]:
        """The `example` columns this candidate fills: every field, and the content hash."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["content_hash"] = self.content_hash
        return row

    def verdict(self) -> dict[str, Any]:
        """The columns curation decides: status, reason, quality and the curation notes."""
        return {"status": self.status, "reason": self.reason, "quality": self.quality,
                "quality_reasons": self.quality_reasons, "curation": self.curation}

    def reopened(self, notes: tuple[str, ...] = ()) -> Candidate:
        """This candidate with its verdict cleared for curating again (accepted, no quality), its
        curation notes kept except those named and the LLM judge's; returns itself."""
        self.status, self.reason, self.quality, self.quality_reasons = "accepted", None, None, []
        self.curation = {k: v for k, v in (self.curation or {}).items() if k not in notes and k != "llm_judge"}
        return self

    def reject(self, reason: str, **detail: Any) -> None:
        self.status, self.reason = "rejected", reason
        if detail:
            self.curation[reason] = detail

    @property
    def content_hash(self) -> str:
        """Stable across re-harvests: same conversation and reasoning -> same hash."""
        body = {
            "specialist": self.specialist,
            "messages": [[m.get("role"), normalise(str(m.get("content") or ""))]
                         for m in self.messages],
            "reasoning": normalise(self.reasoning) if self.reasoning else None,
            "answer": normalise(self.answer) if self.answer else None,
        }
        raw = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(raw.encode()).hexdigest()

    def text(self) -> str:
        """All the text of the example, for scanning (secrets, contamination, duplicates)."""
        parts = [str(m.get("content") or "") for m in self.messages]
        if self.reasoning:
            parts.append(self.reasoning)
        if self.answer:
            parts.append(self.answer)
        return "\n".join(parts)
