"""Git mining throughput against the floor of `git log -p` over the same commits.

    python bench/git_mining.py [--repo PATH] [--ref main] [--commits 2500]

Without --repo, builds a repository with real history (an evolving Python package, thousands of
commits with bugfix, refactor, feature and test messages) through `git fast-import`. Prints
commits/s of aitherd's miner beside `git log -p` with the same options, the ratio (target: at
most 3x the floor's time), and the miner's peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.sources.gitmine import GitMiningConfig, log_command, mine

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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo")
    ap.add_argument("--ref", default="main")
    ap.add_argument("--commits", type=int, default=2500)
    args = ap.parse_args()
    if args.repo:
        repo = Path(args.repo)
    else:
        repo = Path(tempfile.mkdtemp(prefix="aitherd-bench-git-")) / "repo"
        t0 = time.perf_counter()
        build_repo(repo, args.commits)
        print(f"built {repo} with {args.commits} commits in {time.perf_counter() - t0:.1f} s")
    cfg = GitMiningConfig(first_run_commits=10**9)
    floor_cmd = log_command(str(repo), args.ref, cfg, None)
    n_commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--no-merges", "--count", args.ref],
                                   capture_output=True, text=True, check=True).stdout)
    floors = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run(floor_cmd, stdout=subprocess.DEVNULL, check=True)
        floors.append(time.perf_counter() - t0)
    runs = []
    for _ in range(3):
        counts: dict = {}
        t0 = time.perf_counter()
        produced = sum(1 for _ in mine(str(repo), args.ref, {}, cfg, counts))
        runs.append(time.perf_counter() - t0)
    floor, ours = min(floors), min(runs)
    pygit2_time = None
    try:
        import pygit2
    except ImportError:
        pygit2 = None
    if pygit2 is not None:  # the other candidate library: same walk, patches with 10 lines of context
        best = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = pygit2.Repository(str(repo))
            for c in r.walk(r.revparse_single(args.ref).id, pygit2.enums.SortMode.TOPOLOGICAL):
                if len(c.parents) == 1:
                    _ = r.diff(c.parents[0], c, context_lines=10).patch
            best.append(time.perf_counter() - t0)
        pygit2_time = min(best)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n_commits} commits, {produced} candidates/skips, classes: "
          + ", ".join(f"{k[6:]} {v}" for k, v in sorted(counts.items()) if k.startswith("class.")))
    print(f"{'':28}{'seconds':>9}{'commits/s':>11}")
    print(f"{'git log -p (floor)':28}{floor:>9.2f}{n_commits / floor:>11.0f}")
    print(f"{'aitherd miner (git CLI)':28}{ours:>9.2f}{n_commits / ours:>11.0f}")
    if pygit2_time is not None:
        print(f"{'pygit2 walk + patches only':28}{pygit2_time:>9.2f}{n_commits / pygit2_time:>11.0f}")
    ratio = ours / floor
    print(f"ratio {ratio:.2f}x the floor (target <= 3x): {'ok' if ratio <= 3 else 'MISSED'}; "
          f"peak RSS of this process {peak:.0f} MB (best of 3 runs each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
