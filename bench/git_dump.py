"""Dump everything git mining yields on a repository, in order, as JSON: to check that a change
to the miner (a speed-up) leaves its output byte for byte the same.

    python bench/git_dump.py --repo /tmp/flask --out before.json [--jobs 1] [--review-days 0]
    cmp before.json after.json

Every item `mine()` yields from an empty mark over every non-merge commit of the ref
(Candidates: category, messages, weight, provenance; Skips: reason; BadInputs; Checkpoints:
mark), then the counts dict. Also prints the wall and CPU seconds (self, children) of the run.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.candidate import Candidate
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.gitmine import mine
from aitherd.sources.items import BadInput, Checkpoint, Skip


def _plain(item: object) -> Any:
    if isinstance(item, Candidate):
        return {"candidate": item.category, "messages": item.messages, "weight": item.weight,
                "provenance": item.provenance, "specialist": item.specialist, "source": item.source}
    if isinstance(item, Skip):
        return {"skip": item.reason}
    if isinstance(item, BadInput):
        return {"bad": str(item)}
    if isinstance(item, Checkpoint):
        return {"checkpoint": item.mark}
    raise TypeError(f"unexpected item {item!r}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=0)
    ap.add_argument("--review-days", type=int, default=0)
    args = ap.parse_args()
    cfg = GitMiningConfig(first_run_commits=10**9, jobs=args.jobs, review_days=args.review_days)
    counts: dict[str, Any] = {}
    s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    items = [_plain(it) for it in mine(args.repo, args.ref, {}, cfg, counts)]
    wall = time.perf_counter() - t0
    s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump({"items": items, "counts": counts}, fh, sort_keys=True, ensure_ascii=False, indent=0)
    print(f"{args.repo}: {len(items)} items; wall {wall:.2f} s, self "
          f"{s1.ru_utime + s1.ru_stime - s0.ru_utime - s0.ru_stime:.2f} CPU-s, children "
          f"{c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime:.2f} CPU-s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
