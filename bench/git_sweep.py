"""Mine the newest commits of many real repositories and say what broke: a robustness sweep.

    python bench/git_sweep.py PATH [PATH ...] [--commits 2000] [--jobs 0]

For each repository (a clone or a bare mirror), the newest `--commits` non-merge commits are
mined as a first run would (review pairs on), and one line is printed: seconds, examples,
BadInput reports (a commit or files git could not read, a commit the miner could not handle:
the first three are shown), commits, and any exception that stopped the run (there should be
none: a bad commit is reported and passed). Prints the repository and its tip, so a run can
be repeated on the same history.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.candidate import Candidate
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.gitmine import mine
from aitherd.sources.items import BadInput, Skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("repos", nargs="+")
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--jobs", type=int, default=0)
    args = ap.parse_args()
    failed = 0
    for repo in args.repos:
        tip = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        cfg = GitMiningConfig(first_run_commits=args.commits, jobs=args.jobs, review_days=365)
        t0, counts = time.perf_counter(), {}
        items: list = []
        try:
            items.extend(mine(repo, "HEAD", {}, cfg, counts))
            stopped = ""
        except Exception as exc:  # what the sweep is for: say it, go on to the next repository
            stopped = f"  STOPPED: {type(exc).__name__}: {str(exc)[:300]}"
            failed += 1
        bad = [i for i in items if isinstance(i, BadInput)]
        skips = Counter(i.reason for i in items if isinstance(i, Skip))
        print(f"{repo} @ {tip[:12]}: {time.perf_counter() - t0:.1f} s, "
              f"{sum(isinstance(i, Candidate) for i in items)} examples, {len(bad)} BadInput, "
              f"{counts.get('commits', 0)} commits; unreadable files {counts.get('skipped_files.unreadable', 0)}, "
              f"unreadable commits {skips['unreadable_commit']}, commit errors {skips['commit_error']}{stopped}",
              flush=True)
        for b in bad[:3]:
            print(f"    {str(b)[:240]}")
    print(f"{len(args.repos)} repositories, {failed} stopped by an exception")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
