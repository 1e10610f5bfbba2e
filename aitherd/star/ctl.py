"""aitherctl's STaR command, registered by aitherd.ctl with `add_commands(sub, add)`:

  aitherctl star [--sources]    the learning curve, iteration by iteration (week by week)

One row per finished iteration: the adapter that answered, problems tried, solved before
rationalization (and the solve rate), rationalized, rationales kept and accepted by curation,
completion tokens, and why it ended; then the iteration in progress and the problems that keep
failing. `--sources` adds a row per problem source under each iteration.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from aitherd.ctl_format import print_json

HEADERS = ["iteration", "adapter", "tried", "solved", "rate", "rationalized", "kept", "accepted", "tokens",
           "ended"]


def _row(label: str, adapter: str, t: dict[str, Any], ended: str) -> list[str]:
    rate = f"{t['solve_rate']:.1%}" if t.get("solve_rate") is not None else "-"
    return [label, adapter, str(t.get("tried", 0)), str(t.get("solved", 0)), rate, str(t.get("rationalized", 0)),
            str(t.get("kept", 0)), str(t.get("accepted", 0)), str(t.get("tokens", 0)), ended]


def curve_lines(report: dict[str, Any], *, sources: bool = False) -> list[str]:
    rows: list[list[str]] = []
    entries = [*report.get("curve", [])]
    if report.get("in_progress"):
        entries.append({**report["in_progress"], "finished": "(in progress)"})
    for e in entries:
        rows.append(_row(str(e["iteration"]), str(e.get("adapter")), e["total"], str(e.get("finished") or "")))
        if sources:
            rows += [_row(f"  {src}", "", row, "") for src, row in e.get("per_source", {}).items()]
    if not rows:
        return ["no STaR iteration yet (the `star` job runs Saturday 22:00; `aitherctl run star`)"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(HEADERS, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    failing = report.get("failing") or {}
    if failing.get("problems"):
        hardest = ", ".join(f"{h['problem']} ({h['failed_iterations']}x)" for h in failing["hardest"][:5])
        lines.append(f"\n{failing['problems']} problem(s) failed in some iteration; hardest: {hardest}")
    return lines


def cmd_star(c: Any, args: argparse.Namespace) -> int:
    report = c.get("/v1/star")
    if args.json:
        print_json(report)
        return 0
    print("\n".join(curve_lines(report, sources=args.sources)))
    return 0


def add_commands(sub: Any, add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add("star", cmd_star, "the STaR learning curve across iterations")
    p.add_argument("--sources", action="store_true", help="a row per problem source under each iteration")
