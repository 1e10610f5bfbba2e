"""The blame walk for review pairs gives what the plain line-by-line walk gives: same culprits,
same lines, through skewed author dates, merges, re-indented lines and windows that close."""

from __future__ import annotations

import heapq
import random
import subprocess
from collections import defaultdict
from pathlib import Path

from test_git_review import _one
from test_sources_gitmine import commit, new_repo

from aitherd.sources.git import files, review
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.git.examples import parts
from aitherd.sources.git.history import SLACK, groups
from aitherd.sources.git.parse import GIT_CONFIG, SEP, FileDiff, Hunk, parse_commit, split_log
from aitherd.sources.gitmine import _skip_path, settings

DAY = 86400
T0 = 1_700_000_000
_DIFF = ["-p", "-U0", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv"]


def _git(repo: str, *args: str, input: bytes | None = None) -> str:
    return subprocess.run(["git", "-C", repo, *args], input=input, capture_output=True, check=True).stdout.decode()


def _carry(diff: FileDiff | None, lines: dict) -> tuple[dict, dict]:
    """One commit's diff applied to lines numbered in the child, a -U0 hunk at a time."""
    if diff is None or not diff.hunks:
        return {}, dict(lines)
    added, kept, todo, i, delta = {}, {}, sorted(lines), 0, 0
    for h in diff.hunks:
        old = h.old_start + (len(h.lines) == h.added)
        new = h.new_start + (len(h.lines) == h.removed)
        while i < len(todo) and todo[i] < new:
            kept[todo[i] + delta] = lines[todo[i]]
            i += 1
        removed: dict[str, list[int]] = {}
        for j, row in enumerate(r for r in h.lines if r[0] == "-"):
            removed.setdefault("".join(files.words(row[1:])), []).append(old + j)
        for row in (r for r in h.lines if r[0] == "+"):
            if new in lines:
                same = removed.get("".join(files.words(row[1:])))
                if same:
                    kept[same.pop(0)] = lines[new]
                else:
                    added[new] = lines[new]
            new += 1
        old += h.removed
        while i < len(todo) and todo[i] < new:
            i += 1
        delta = old - new
    for n in todo[i:]:
        kept[n + delta] = lines[n]
    return added, kept


def reference(cfg, reqs: list) -> dict:
    """The walk as first written: every line of every file pushed commit by commit."""
    since = min(r.fix.time for r in reqs) - cfg.review_days * DAY - SLACK
    raw = _git(cfg.repo, *GIT_CONFIG, "log", "--parents", "--diff-merges=first-parent", *_DIFF,
               f"--format={SEP}%H %P%x1f%at{SEP}", f"--since=@{since}", *dict.fromkeys(r.fix.sha for r in reqs),
               "--", *dict.fromkeys(r.path for r in reqs))
    nodes = {}
    for header, patch in split_log(raw):
        ids, _, when = header.partition("\x1f")
        sha, *parents = ids.split()
        nodes[sha] = (int(when), parents, {f.path: f for f in parse_commit("", patch, lambda _p: None).files})
    window, newest = cfg.review_days * DAY + SLACK, max(r.fix.time for r in reqs)
    pending: dict = defaultdict(lambda: defaultdict(dict))
    heap: list = []
    found: dict = defaultdict(lambda: defaultdict(set))

    def push(sha: str, path: str, lines: dict) -> None:
        if sha not in nodes or not lines:
            return
        t = nodes[sha][0]
        if t < newest - window:
            lines = {n: kept for n, owners in lines.items()
                     if (kept := [o for o in owners if t >= reqs[o[0]].fix.time - window])}
            if not lines:
                return
        if sha not in pending:
            heapq.heappush(heap, (-t, sha))
        for n, owners in lines.items():
            pending[sha][path].setdefault(n, []).extend(owners)

    def side(merge: str, parent: str, path: str) -> FileDiff | None:  # from the parent to the merge
        out = _git(cfg.repo, *GIT_CONFIG, "diff-tree", *_DIFF, parent, merge, "--", path)
        return next(iter(parse_commit("", "\n" + out, lambda _p: None).files), None)

    def through_merge(sha: str, first: int, path: str, lines: dict) -> None:
        parents = nodes[sha][1]
        for i in range(first, len(parents)):
            if i > 0 and first == 0:  # other parents' diffs are read once the walk has run dry
                waiting.append((sha, i, path, lines))
                return
            added, kept = _carry(nodes[sha][2].get(path) if i == 0 else side(sha, parents[i], path), lines)
            push(parents[i], path, kept)
            lines = added
            if not lines:
                return

    for k, r in enumerate(reqs):
        if r.fix.sha in nodes and nodes[r.fix.sha][1]:
            push(nodes[r.fix.sha][1][0], r.path, {n: [(k, n)] for n in r.lines})
    waiting: list = []
    while heap or waiting:
        if not heap:
            resumed, waiting[:] = list(waiting), []
            for sha, i, path, lines in resumed:
                through_merge(sha, i, path, lines)
            continue
        _t, sha = heapq.heappop(heap)
        t, parents, diffs = nodes[sha]
        for path, lines in pending.pop(sha).items():
            if len(parents) > 1:
                through_merge(sha, 0, path, lines)
                continue
            added, kept = _carry(diffs.get(path), lines)
            for n, owners in added.items():
                for k, orig in owners:
                    if t >= reqs[k].fix.time - cfg.review_days * DAY:
                        found[k][sha].add((n, orig))
            if parents:
                push(parents[0], path, kept)
    return {k: dict(v) for k, v in found.items()}


def _checkout(r: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(r), "checkout", "-q", *args], check=True)


def _history(r: Path, rng: random.Random) -> list[str]:
    """Three files edited over 90 commits, author dates skewed back and forth, two side branches
    merged back (m2.py edited on both sides, at its top on main and its bottom on the branch),
    lines re-indented or given a new value, and a fix now and then."""
    main = {f"m{j}.py": [f"def f{j}_{i}(x):\n    return x + {i}\n" for i in range(12)] for j in range(3)}
    side: dict[str, list[str]] = {}
    fixes = []
    for n in range(90):
        when = T0 + n * DAY + rng.choice([0, 0, 0, -9 * DAY, 5 * DAY, -30 * DAY])
        branch = n // 30 if n % 30 < 10 and n >= 30 else None
        if n in (30, 60):
            subprocess.run(["git", "-C", str(r), "branch", f"side{branch}"], check=True)
            side = {name: list(body) for name, body in main.items()}
        text = main
        if branch is not None:
            _checkout(r, f"side{branch}" if n % 2 else "main")
            text = side if n % 2 else main
        name = "m2.py" if branch is not None and n % 2 else rng.choice(sorted(text))
        body = text[name]
        i = rng.randrange(len(body))
        if branch is not None and name == "m2.py":  # far apart on the two sides: the merge is clean
            i = len(body) - 1 - rng.randrange(3) if n % 2 else rng.randrange(3)
        op = rng.random()
        if op < 0.15:
            body[i] = body[i].replace("\n    ", "\n      ")  # re-indented: nothing new written
        elif op < 0.25:
            body.insert(i, f"def g{n}(x):\n    return (x, {n})\n")
        elif "return x" in body[i]:
            body[i] = body[i].replace("return x", f"return {n} * x", 1)
        else:
            body[i] = f"def h{n}(x):\n    return x - {n}\n"
        fix = rng.random() < 0.3
        sha = commit(r, f"Fix h{n} returning the wrong value" if fix else f"Change {name} ({n})",
                     {name: "\n".join(body)}, when=when)
        if fix:
            fixes.append(sha)
        if n % 30 == 9 and n >= 30:
            _checkout(r, "main")
            subprocess.run(["git", "-C", str(r), "merge", "-q", "--no-ff", "--no-edit", f"side{branch}"], check=True,
                           env={"GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000",
                                "PATH": "/usr/bin:/bin", "HOME": str(r.parent), "GIT_CONFIG_NOSYSTEM": "1",
                                "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com",
                                "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"})
            for name in main:  # what the merge made of each file
                parts = (r / name).read_text().split("\n\n")
                main[name] = [p + "\n" for p in parts[:-1]] + parts[-1:]
    return fixes


def test_the_walk_finds_what_the_line_by_line_walk_finds(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    fixes = _history(r, random.Random(6))
    cfg = settings(str(r), "main", GitMiningConfig(review_days=20))
    reqs = []
    for fix in fixes:
        c = parse_commit(*_one(r, fix), lambda p: _skip_path(p, []))
        reqs += review.requests(c, [p for p in parts(c, cfg, lambda _f: False) if p.role == "code"])
    assert len(reqs) >= 10
    found, _nodes = review.blame(cfg, reqs)
    ours = {k: dict(v) for k, v in found.items()}
    truth = reference(cfg, reqs)
    assert ours == truth
    culprits = {sha for v in truth.values() for sha in v}
    mainline = set(subprocess.run(["git", "-C", str(r), "rev-list", "--first-parent", "main"], capture_output=True,
                                  text=True, check=True).stdout.split())
    assert len(culprits) >= 5 and culprits - mainline  # found on main and through merges, into side branches
    assert len(truth) < len(reqs)  # and some fixes' lines are older than their window: nobody's


def test_a_hunk_with_context_is_cut_into_git_s_changes() -> None:
    rows = [" a", "-b", "+B", " c", " d", "+e", " f", "-g"]
    fd = FileDiff("p.py", "M", hunks=[Hunk("p.py", "@@ -10,7 +10,7 @@", rows, 10, 10, added=2, removed=2),
                                      Hunk("p.py", "@@ -30,0 +31,2 @@", ["+x", "+y"], 30, 31, added=2)])
    assert groups(fd) == [(11, 11, ["-b"], ["+B"]), (14, 14, [], ["+e"]), (15, 16, ["-g"], []),
                          (31, 31, [], ["+x", "+y"])]
    assert groups(None) == []
