"""What review pairs cost the git miner, ours against a baseline commit of this repository.

    python bench/review_pairs.py --repo PATH [--baseline 53448a6] [--jobs 1,2] [--runs 2]

Mines every non-merge commit of the repository's HEAD with `review_days` 365 and with 0 (no
review pairs), with this checkout's code and with the baseline's (`git archive` of its
`aitherd/` into a temporary folder), each run in a fresh process, alternating. Prints, per
`jobs`, the wall and CPU seconds (the process and its children: git and the worker processes)
of both, best of `--runs`; the cost of review pairs (with minus without); and whether every
item mined (examples, their messages and provenance, skips, checkpoints) and the counts are
the same as the baseline's and across `jobs`, by a digest of all of them in order. CPU seconds
hold better than wall on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(code: str, repo: str, jobs: int, days: int) -> None:
    """One mining run in this process (code from `code`): prints wall, CPU, digest as JSON."""
    sys.path.insert(0, code)
    from aitherd.candidate import Candidate
    from aitherd.sources.git.config import GitMiningConfig
    from aitherd.sources.gitmine import mine

    def cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    counts: dict = {}
    c0, t0 = cpu(), time.perf_counter()
    items = list(mine(repo, "HEAD", {}, GitMiningConfig(first_run_commits=10**9, jobs=jobs, review_days=days), counts))
    wall, used = time.perf_counter() - t0, cpu() - c0
    rows = [{"type": type(i).__name__, **dataclasses.asdict(i)} for i in items]
    digest = hashlib.sha256(json.dumps({"items": rows, "counts": counts}, sort_keys=True).encode()).hexdigest()
    reviews = sum(1 for i in items if isinstance(i, Candidate) and i.category == "review")
    print(json.dumps({"wall": wall, "cpu": used, "digest": digest, "items": len(items), "reviews": reviews}))


def run(code: str, repo: str, jobs: int, days: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", code, repo, str(jobs), str(days)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="a real repository, e.g. a clone of pallets/flask")
    ap.add_argument("--baseline", default="53448a6", help="a commit of this repository to compare with")
    ap.add_argument("--jobs", default="1,2", help="worker processes to measure, comma-separated")
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    repo = str(Path(args.repo).resolve())
    tmp = tempfile.TemporaryDirectory(prefix="aitherd-bench-review-")
    base = tmp.name
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "aitherd"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
    codes = {f"baseline {args.baseline}": base, "ours": str(ROOT)}
    n = subprocess.run(["git", "-C", repo, "rev-list", "--no-merges", "--count", "HEAD"], capture_output=True,
                       text=True, check=True).stdout.strip()
    print(f"repository {repo}: {n} non-merge commits; {os.cpu_count()} CPUs; best of {args.runs}; "
          f"load average {os.getloadavg()[0]:.1f}")
    digests: dict[tuple[str, int], str] = {}
    print(f"{'':22}{'jobs':>5}{'no reviews':>18}{'with reviews':>18}{'review cost':>18}{'reviews':>9}")
    print(f"{'':27}{'wall s':>9}{'cpu s':>9}{'wall s':>9}{'cpu s':>9}{'wall s':>9}{'cpu s':>9}")
    for jobs in [int(j) for j in args.jobs.split(",")]:
        best: dict[tuple[str, int], dict] = {}
        for _ in range(args.runs):
            for name, code in codes.items():
                for days in (0, 365):
                    got = run(code, repo, jobs, days)
                    key = (name, days)
                    if key in best and best[key]["digest"] != got["digest"]:
                        print(f"  {name}, review_days {days}: output differs between runs")
                    if key not in best or got["wall"] < best[key]["wall"]:
                        got["cpu"] = min(got["cpu"], best.get(key, got)["cpu"])
                        best[key] = got
                    else:
                        best[key]["cpu"] = min(best[key]["cpu"], got["cpu"])
        for name in codes:
            off, on = best[(name, 0)], best[(name, 365)]
            digests[(name, jobs)] = on["digest"]
            print(f"{name:22}{jobs:>5}{off['wall']:>9.2f}{off['cpu']:>9.2f}{on['wall']:>9.2f}{on['cpu']:>9.2f}"
                  f"{on['wall'] - off['wall']:>9.2f}{on['cpu'] - off['cpu']:>9.2f}{on['reviews']:>9}")
    tmp.cleanup()
    same = len(set(digests.values())) == 1
    print(f"every item and count the same, baseline and ours, every jobs: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
