"""The mark of the STaR iteration in progress (light: the control API reads it in the daemon)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

TALLY_KEYS = ("tried", "solved", "rationalized", "unsolved", "kept", "samples", "correct", "hint_samples",
              "hint_correct", "hint_quoted", "duplicates", "capped", "tokens")


@dataclass
class IterationMark:
    """The watermark of the iteration in progress: what a resumed run continues from."""

    iteration: int
    adapter: str
    model: str
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    after: str = ""  # the order key of the last problem done
    asked: int = 0
    tokens: int = 0
    seconds: float = 0.0
    tally: dict[str, dict[str, int]] = field(default_factory=dict)  # per problem source
    failed: list[str] = field(default_factory=list)  # problems with nothing kept in this iteration
    finished: str | None = None  # why the iteration ended: done, limit, token budget, time budget

    @classmethod
    def of(cls, mark: dict[str, Any]) -> IterationMark | None:
        try:
            return cls(**mark) if mark.get("iteration") else None
        except TypeError:
            return None

    def mark(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, source: str, **counts: int) -> None:
        tally = self.tally.setdefault(source, dict.fromkeys(TALLY_KEYS, 0))
        for key, n in counts.items():
            tally[key] = tally.get(key, 0) + n
