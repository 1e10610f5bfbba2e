"""How aitherctl shows things to people: ages, spans, tables, count summaries, progress lines,
and its exit codes.

A run's counts can hold dozens of keys (`stored.git`, `rejected.duplicate`, `curation.judge.kept`,
`coder_loss`, ...): tables show a short summary (totals of the headline groups), and
`aitherctl runs show ID` or `--json` show all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3

# Count groups worth a column, in this order; a group sums `group` and `group.*`.
HEADLINE = ("stored", "exported", "accepted", "rejected", "errors", "already_present", "skipped")
SUMMARY_WIDTH = 48


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def ago(ts: str | None) -> str:
    if not ts:
        return "-"
    when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    secs = (datetime.now(UTC) - when).total_seconds()
    return span(abs(secs)) + (" ago" if secs >= 0 else " from now")


def span(secs: float) -> str:
    if secs < 60:
        return f"{secs:.0f}s" if secs >= 10 else f"{secs:.1f}s"
    if secs < 3600:
        return f"{secs / 60:.0f}m"
    if secs < 86400:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def table(headers: list[str], rows: Iterable[list[Any]]) -> str:
    cells = [[str(c) if c is not None else "-" for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def summarize(counts: dict[str, Any] | None, width: int = SUMMARY_WIDTH) -> str:
    """Headline totals first (stored=4592 rejected=120), then plain top-level keys, cut to `width`
    with how many were left out."""
    counts = counts or {}
    groups: dict[str, float] = {}
    for key, value in counts.items():
        head = key.split(".", 1)[0]
        if head in HEADLINE and _number(value):
            groups[head] = groups.get(head, 0) + value
    parts = [f"{g}={_fmt(groups[g])}" for g in HEADLINE if g in groups]
    parts += [f"{k}={_fmt(v)}" for k, v in counts.items()
              if "." not in k and k not in HEADLINE and (_number(v) or isinstance(v, str))]
    shown: list[str] = []
    used = 0
    for i, part in enumerate(parts):
        rest = len(parts) - i
        if shown and used + len(part) + 1 > width - (len(f" +{rest} more") if rest > 1 else 0):
            shown.append(f"+{rest} more")
            break
        shown.append(part)
        used += len(part) + 1
    return " ".join(shown) or "-"


def summarize_run(run: dict[str, Any], width: int = SUMMARY_WIDTH) -> str:
    """A run's outputs (`adapter.coder=v0003`: what it made or decided), then its counts."""
    made = " ".join(f"{k}={v}" for k, v in sorted((run.get("outputs") or {}).items()))
    if not made:
        return summarize(run.get("counts"), width)
    rest = summarize(run.get("counts"), max(width - len(made) - 1, 12))
    return made if rest == "-" else f"{made} {rest}"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) else str(int(value))
    return str(value)


def all_counts(counts: dict[str, Any] | None) -> list[str]:
    """Every count, one `key value` line each, sorted, for `runs show`."""
    counts = counts or {}
    width = max((len(k) for k in counts), default=0)
    return [f"{k:{width}}  {_fmt(v)}" for k, v in sorted(counts.items())]


class Progress:
    """Follows a run's progress samples and says how fast it goes and how long is left."""

    WINDOW = 30.0  # seconds of samples the rate is measured over

    def __init__(self) -> None:
        self._stage: str | None = None
        self._samples: list[tuple[float, float]] = []

    def observe(self, progress: dict[str, Any], now: float | None = None) -> tuple[float | None, float | None]:
        """Record a sample; (rate per second, seconds left) once there is enough to tell."""
        now = time.monotonic() if now is None else now
        stage, done, total = progress.get("stage"), progress.get("done"), progress.get("total")
        if not isinstance(done, int | float) or isinstance(done, bool):
            return None, None
        if stage != self._stage or (self._samples and done < self._samples[-1][1]):
            self._stage, self._samples = stage, []
        self._samples.append((now, float(done)))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.WINDOW:
            self._samples.pop(0)
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.5 or d1 <= d0:
            return None, None
        rate = (d1 - d0) / (t1 - t0)
        left = (total - d1) / rate if isinstance(total, int | float) and total >= d1 else None
        return rate, left

    def line(self, run: dict[str, Any], width: int = 24, now: float | None = None) -> str:
        p = run.get("progress") or {}
        stage, done, total = p.get("stage") or "starting", p.get("done"), p.get("total")
        rate, left = self.observe(p, now)
        if done is not None and total:
            filled = int(width * min(done / total, 1.0))
            bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
        elif done is not None:
            bar = f"{done} done"
        else:
            bar = ""
        pace = ""
        if rate is not None:
            pace = f"  {rate:.3g}/s" + (f"  ETA {span(left)}" if left is not None else "")
        return f"{run['job']} run {run['id']}: {stage} {bar}{pace}  {span(run.get('elapsed_s') or 0.0)}"
