"""Durations in config: '8h', '1h30m', '45s', '250ms' or a number of seconds."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """'8h', '1h30m', '45s', '250ms' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '8h', '30m' or '45s'")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration must not be negative")
        return float(value)
    if not isinstance(value, str):
        raise ValueError("expected a duration like '8h', '30m' or '45s'")
    text = value.strip().lower().replace(" ", "")
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"expected a duration like '8h', '30m' or '45s', got {value!r}")
    return total


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for whole units: 28800 -> '8h', 5400 -> '1h30m'."""
    if seconds <= 0 or seconds != int(seconds):
        return f"{seconds:g}s"
    out, rest = "", int(seconds)
    for unit in ("w", "d", "h", "m", "s"):
        size = int(_UNIT_SECONDS[unit])
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


Duration = Annotated[float, BeforeValidator(parse_duration)]

__all__ = ["Duration", "format_duration", "parse_duration"]
