"""Git mining wall time against the floor of `git log -p --no-merges` over the same commits.

    python bench/git_mining.py --repo PATH [--ref HEAD] [--jobs N] [--runs 3]
    python bench/git_mining.py [--commits 2500]      # a synthetic repository, built here
    python bench/git_mining.py --repo PATH --baseline REV   # also the miner as it was at REV

Runs, side by side and alternating, `git log -p --no-merges` (the floor the goal names, git's
default options), the same log with the miner's options (-U10, --no-renames), and aitherd's
miner over every non-merge commit of the ref, without review pairs and with them (parse,
classify, group, label fences, build examples; blame the fixes for review pairs). Prints wall
and CPU seconds (this process and its children, git included) of each, best of `--runs`, the
ratio to the floor (goal: at most 1.5x wall), what was produced, and which repository it ran
on. On a machine shared with other work the wall figures swing; the CPU seconds hold better.
With `--baseline REV` (a commit of this repository) the miner of that commit runs too, without
review pairs, in its own process and measured inside it, alternating with the others; with
`--context-off`, the miner without the file's lines read around Python hunks that hold no whole
statement (`python_context_lines = 0`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.candidate import Candidate
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.git.parse import GIT_CONFIG, LOG_OPTIONS
from aitherd.sources.gitmine import mine
from aitherd.sources.items import Skip

MESSAGES = ["fix: handle empty input in {f}", "refactor: simplify {f}", "feat: add option to {f}",
            "test: cover {f}", "Fix off-by-one in {f}", "Rename helpers in {f}", "Add caching to {f}"]


def build_repo(path: Path, n: int) -> None:
    rng = random.Random(7)
    files = {f"pkg/mod{i}.py": [f"def f{i}_{j}(x):\n    return x + {j}\n" for j in range(30)]
             for i in range(40)}
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    out = []
    t = 1_700_000_000
    for k in range(n):
        name = rng.choice(sorted(files))
        funcs = files[name]
        j = rng.randrange(len(funcs))
        op = rng.random()
        if op < 0.5:
            funcs[j] = f"def f_{k}(x):\n    y = x * {rng.randint(2, 9)}\n    return y - {k % 13}\n"
        elif op < 0.8:
            funcs.insert(j, f"def g_{k}(x, y):\n    if x > y:\n        return x\n    return y + {k}\n")
        elif len(funcs) > 5:
            funcs.pop(j)
        data = "\n\n".join(funcs).encode()
        msg = rng.choice(MESSAGES).format(f=name).encode()
        out.append(b"commit refs/heads/main\n")
        out.append(f"committer Dev <dev@example.com> {t + k * 60} +0000\n".encode())
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(out), check=True)
    subprocess.run(["git", "-C", str(path), "checkout", "-q", "main"], check=True)


def cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def drain(items: object) -> Counter[str]:
    """What the miner produced, counted as it comes and not kept (the harvest stores a batch at
    a time: a list of a whole history's items made the collector walk hundreds of thousands of
    live objects, a cost no harvest pays)."""
    out: Counter[str] = Counter()
    for item in items:  # type: ignore[attr-defined]
        if isinstance(item, Candidate):
            out[f"example.{item.category}"] += 1
        elif isinstance(item, Skip):
            out[f"skip.{item.reason}"] += 1
    return out


def timed(fn: object) -> tuple[float, float, object]:
    c0, t0 = cpu(), time.perf_counter()
    out = fn()  # type: ignore[operator]
    return time.perf_counter() - t0, cpu() - c0, out


_AT_REV = """
import json, resource, sys, time
sys.path.insert(0, ".")
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.gitmine import mine
repo, ref, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = GitMiningConfig(first_run_commits=10**9, jobs=jobs, review_days=0)
def cpu():
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
c0, t0 = cpu(), time.perf_counter()
n = sum(1 for _ in mine(repo, ref, {}, cfg, {}))  # counted, not kept, as `drain` does
print(json.dumps([time.perf_counter() - t0, cpu() - c0, n]))
"""


def at_rev(tree: Path, repo: Path, ref: str, jobs: int) -> tuple[float, float]:
    """(wall, CPU seconds) of the miner of an older checkout, measured in its own process."""
    out = subprocess.run([sys.executable, "-c", _AT_REV, str(repo), ref, str(jobs)], cwd=tree,
                         capture_output=True, text=True, check=True)
    wall, used, _n = json.loads(out.stdout.strip().splitlines()[-1])
    return wall, used


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", help="a real repository (default: build a synthetic one)")
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--commits", type=int, default=2500, help="commits of the synthetic repository")
    ap.add_argument("--jobs", type=int, default=0, help="worker processes (0: one per core, at most 4)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-reviews", action="store_true", help="only the miner without review pairs")
    ap.add_argument("--baseline", metavar="REV", help="also run the miner of this commit (no review pairs)")
    ap.add_argument("--context-off", action="store_true",
                    help="also run the miner without the file's lines around Python hunks (python_context_lines = 0)")
    args = ap.parse_args()
    made: list[Path] = []  # temporary trees, removed however the run ends
    try:
        return bench(args, made)
    finally:
        for path in made:
            shutil.rmtree(path, ignore_errors=True)


def bench(args: argparse.Namespace, made: list[Path]) -> int:
    tree = None
    if args.baseline:
        tree = Path(tempfile.mkdtemp(prefix="aitherd-bench-base-"))
        made.append(tree)
        here = Path(__file__).resolve().parents[1]
        archive = subprocess.run(["git", "-C", str(here), "archive", args.baseline], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    if args.repo:
        repo = Path(args.repo)
    else:
        made.append(Path(tempfile.mkdtemp(prefix="aitherd-bench-git-")))
        repo = made[-1] / "repo"
        build_repo(repo, args.commits)
    cfg = GitMiningConfig(first_run_commits=10**9, jobs=args.jobs, review_days=365)
    bare = cfg.model_copy(update={"review_days": 0})
    narrow = bare.model_copy(update={"python_context_lines": 0})
    n_commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--no-merges", "--count", args.ref],
                                   capture_output=True, text=True, check=True).stdout)
    plain = ["git", "-C", str(repo), "log", "-p", "--no-merges", args.ref]
    ours = ["git", "-C", str(repo), *GIT_CONFIG, "log", "--no-merges", *LOG_OPTIONS, f"-U{cfg.context_lines}",
            args.ref]
    best: dict[str, tuple[float, float]] = {}
    result: Counter[str] = Counter()
    counts: dict = {}
    runs = [("git log -p --no-merges (floor)", lambda: subprocess.run(plain, stdout=subprocess.DEVNULL, check=True)),
            ("same, with the miner's options", lambda: subprocess.run(ours, stdout=subprocess.DEVNULL, check=True)),
            ("miner, no review pairs", lambda: drain(mine(str(repo), args.ref, {}, bare, {})))]
    if args.context_off:
        runs.append(("same, python_context_lines = 0", lambda: drain(mine(str(repo), args.ref, {}, narrow, {}))))
    if tree is not None:
        runs.append((f"miner at {args.baseline[:10]}, no reviews", lambda: at_rev(tree, repo, args.ref, args.jobs)))
    if not args.no_reviews:
        runs.append(("miner, with review pairs", lambda: drain(mine(str(repo), args.ref, {}, cfg,
                                                                    counts.clear() or counts))))
    for _ in range(args.runs):
        for name, fn in runs:
            if name.startswith("miner at "):
                wall, used = fn()  # type: ignore[misc]
                out = None
            else:
                wall, used, out = timed(fn)
            if name.startswith("miner") and out is not None:
                result = out  # type: ignore[assignment]
            if name not in best or wall < best[name][0]:
                best[name] = (wall, used)
    print(f"repository {repo} ({args.ref}): {n_commits} non-merge commits; {os.cpu_count()} CPUs; "
          f"jobs {cfg.jobs or 'auto'}; best of {args.runs}; load average {os.getloadavg()[0]:.1f}")
    made_ = {k[8:]: v for k, v in result.most_common() if k.startswith("example.")}
    print(f"produced {sum(made_.values())} examples (" + ", ".join(f"{k} {v}" for k, v in made_.items()) +
          "); skipped " + ", ".join(f"{k[5:]} {v}" for k, v in result.most_common() if k.startswith("skip.")))
    if counts:
        print("classes: " + ", ".join(f"{k[6:]} {v}" for k, v in sorted(counts.items()) if k.startswith("class.")))
    floor_wall, floor_cpu = best["git log -p --no-merges (floor)"]
    print(f"{'':34}{'wall s':>8}{'cpu s':>8}{'commits/s':>11}{'x floor':>9}{'cpu x floor':>13}")
    for name, (wall, used) in best.items():
        print(f"{name:34}{wall:>8.2f}{used:>8.2f}{n_commits / wall:>11.0f}{wall / floor_wall:>9.2f}"
              f"{used / floor_cpu:>13.2f}")
    for name in [n for n in best if n.startswith("miner") or n.startswith("same, python")]:
        ratio = best[name][0] / floor_wall
        print(f"{name}: wall {ratio:.2f}x the floor (goal <= 1.5x): {'ok' if ratio <= 1.5 else 'MISSED'}")
    print(f"peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
