"""Review pairs: a bugfix's fixed lines, blamed against its parent, name the change under review.

For each code file a bugfix modifies, the lines it removes or rewrites are blamed (not trivial
lines like `)`, `else:`, `try:` or a comment, and not lines only re-indented or given a comma:
they come back among the added lines once whitespace and commas are set aside). The commit that
last wrote those lines, within `review_days` before the fix, is the change under review, shown
as its hunks that hold them (with three lines of context); the fix is the finding.

Blame is computed here the way `git blame -w` does, for a whole batch of fixes from one
`git log -p -U0` of the files they touch, back to the window's start: `--parents` with git's
default history simplification (a merge identical to one parent for those files is followed
through that parent only), merges with their diff against the first parent. Lines are carried
back commit by commit, newest first; a line a commit adds is that commit's, unless a line it
removes equals it but for whitespace. At a merge, the lines its first parent lacks are carried
into the other parents through the merge's diffs against them, read for all waiting merges in
one `git diff-tree --stdin`. A line changed by a merge against every parent, or older than the
window, is nobody's. So a batch costs a few git processes, not one `git blame` per fixed file.

No memory is kept between commits or runs: git's history is the memory. A fix mined in a later
run, after a resume, or in another worker process finds the change it fixes all the same, and
the answer for a fix does not depend on which batch it was mined in.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from dataclasses import dataclass, field

from aitherd.candidate import Candidate
from aitherd.sources.git import files
from aitherd.sources.git.examples import Part, intent
from aitherd.sources.git.gitio import GitError, git
from aitherd.sources.git.parse import GIT_CONFIG, LOG_OPTIONS, SEP, Commit, FileDiff, Hunk, parse_commit, split_log
from aitherd.sources.git.settings import Settings

_NOISE = re.compile(r"[ \t\n\r\f\v,]+")
MAX_LINES = 40  # fixed lines blamed per fix
SLACK = 30 * 86400  # walk this much further back than the window (commit dates can be skewed)
_DIFF = ["-p", "-U0", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv"]


@dataclass
class Request:
    """The lines one fix changes in one file, numbered as in the fix's parent."""

    fix: Commit
    path: str
    lines: dict[int, str]  # line number -> text
    hunks: dict[int, Hunk]  # line number -> the fix's hunk that changes it


@dataclass
class Node:
    """A commit of the history walked: its (simplified) parents and its patch, parsed on use."""

    sha: str
    time: int
    parents: list[str]
    patch: str = ""  # against the first parent
    side: dict[tuple[int, str], FileDiff | None] = field(default_factory=dict)  # merges: other parents
    _files: dict[str, FileDiff] | None = None

    def diff(self, path: str) -> FileDiff | None:
        if self._files is None:
            found = parse_commit("", self.patch, lambda _p: False).files if self.patch else []
            self._files = {f.path: f for f in found}
        return self._files.get(path)


def _plain(line: str) -> str:
    """A line without whitespace and commas: re-indenting or adding a trailing comma is no fix."""
    return _NOISE.sub("", line)


def fixed_lines(hunk: Hunk) -> list[tuple[int, str]]:
    """(line number in the parent, text) of the lines this hunk really changes."""
    added = {_plain(ln[1:]) for ln in hunk.lines if ln[0] == "+"}
    out, old = [], hunk.old_start
    for ln in hunk.lines:
        if ln[0] == "+":
            continue
        if ln[0] == "-" and not files.trivial(ln[1:]) and _plain(ln[1:]) not in added:
            out.append((old, ln[1:]))
        old += 1
    return out


def requests(fix: Commit, code: list[Part]) -> list[Request]:
    out = []
    for part in code:
        if part.new:
            continue
        req = Request(fix, part.path, {}, {})
        for h in part.hunks:
            for n, text in fixed_lines(h):
                if len(req.lines) < MAX_LINES:
                    req.lines[n], req.hunks[n] = text, h
        if req.lines:
            out.append(req)
    return out


def _carry(diff: FileDiff | None, lines: dict[int, list]) -> tuple[dict[int, list], dict[int, list]]:
    """Split `lines` (numbered in the child) into those the diff adds and those it keeps,
    the kept ones renumbered as in the parent. An added line that a removed line of the same
    hunk equals but for whitespace is kept (re-indenting writes nothing new: `git blame -w`)."""
    if diff is None or not diff.hunks:
        return {}, dict(lines)
    added: dict[int, list] = {}
    kept: dict[int, list] = {}
    todo = sorted(lines)
    i, delta = 0, 0
    for h in diff.hunks:
        rows = h.lines
        old_len, new_len = len(rows) - h.added, len(rows) - h.removed
        # A side of length 0 names the line before the change: the change starts after it.
        old = h.old_start + (old_len == 0)
        new = h.new_start + (new_len == 0)
        while i < len(todo) and todo[i] < new:
            kept[todo[i] + delta] = lines[todo[i]]
            i += 1
        removed: dict[str, list[int]] = {}
        if h.removed and h.added:
            at = old
            for row in rows:
                if row[0] == "-":
                    removed.setdefault("".join(files.words(row[1:])), []).append(at)
                if row[0] != "+":
                    at += 1
        for row in rows:
            mark = row[0]
            if mark == "+":
                if new in lines:
                    same = removed.get("".join(files.words(row[1:])))
                    if same:
                        kept[same.pop(0)] = lines[new]
                    else:
                        added[new] = lines[new]
                new += 1
            elif mark == "-":
                old += 1
            else:
                if new in lines:
                    kept[old] = lines[new]
                old += 1
                new += 1
        while i < len(todo) and todo[i] < new:
            i += 1
        delta = old - new
    for n in todo[i:]:
        kept[n + delta] = lines[n]
    return added, kept


def _graph(cfg: Settings, reqs: list[Request]) -> dict[str, Node]:
    """The history of the requested files back to the window's start, as a graph of nodes
    (merges with their diff against the first parent)."""
    since = min(r.fix.time for r in reqs) - cfg.review_days * 86400 - SLACK
    fixes = list(dict.fromkeys(r.fix.sha for r in reqs))
    paths = list(dict.fromkeys(r.path for r in reqs))
    raw = git(cfg.repo, *GIT_CONFIG, "log", "--parents", "--diff-merges=first-parent", *_DIFF,
              f"--format={SEP}%H %P%x1f%at{SEP}", f"--since=@{max(since, 0)}", *fixes, "--",
              *paths).decode("utf-8", "replace")
    nodes: dict[str, Node] = {}
    for header, patch in split_log(raw):
        ids, _, when = header.partition("\x1f")
        sha, *parents = ids.split()
        nodes[sha] = Node(sha, int(when) if when.isdigit() else 0, parents, patch)
    return nodes


def _side_diffs(cfg: Settings, wanted: list[tuple[Node, int, str]]) -> None:
    """Read merges' diffs against their later parents, for one file each, in one
    `git diff-tree --stdin` (its --always output: one record per pair, in order)."""
    pairs = list(dict.fromkeys((n.sha, n.parents[i]) for n, i, _p in wanted))
    paths = list(dict.fromkeys(p for _n, _i, p in wanted))
    raw = git(cfg.repo, *GIT_CONFIG, "diff-tree", "--stdin", "--always", *_DIFF, "--", *paths,
              input="".join(f"{m} {p}\n" for m, p in pairs).encode()).decode("utf-8", "replace")
    records = re.split(r"^[0-9a-f]{40}\n", raw, flags=re.M)[1:]
    got = {pair: {f.path: f for f in parse_commit("", "\n" + rec, lambda _p: False).files}
           for pair, rec in zip(pairs, records, strict=False)}
    for node, i, path in wanted:
        node.side[(i, path)] = got.get((node.sha, node.parents[i]), {}).get(path)


def blame(cfg: Settings, reqs: list[Request]) -> tuple[dict[int, dict[str, set[tuple[int, int]]]], dict[str, Node]]:
    """For each request (by index): culprit sha -> {(line in the culprit, line in the fix's
    parent)}; and the history graph read. Lines are carried back newest commit first; at a
    merge, those its first parent lacks wait for the merge's diffs against its other parents,
    read together for every merge waiting once the rest of the walk is done."""
    if not reqs:
        return {}, {}
    nodes = _graph(cfg, reqs)
    window = cfg.review_days * 86400 + SLACK
    newest = max(r.fix.time for r in reqs)
    pending: dict[str, dict[str, dict[int, list[tuple[int, int]]]]] = defaultdict(lambda: defaultdict(dict))
    heap: list[tuple[int, str]] = []
    waiting: list[tuple[Node, int, str, dict[int, list[tuple[int, int]]]]] = []

    def push(sha: str, path: str, lines: dict[int, list[tuple[int, int]]]) -> None:
        node = nodes.get(sha)
        if node is None or not lines:
            return  # older than the window: nobody's
        if node.time < newest - window:  # drop the lines whose fix's window this commit is past
            lines = {n: kept for n, owners in lines.items()
                     if (kept := [o for o in owners if node.time >= reqs[o[0]].fix.time - window])}
            if not lines:
                return
        if sha not in pending:
            heapq.heappush(heap, (-nodes[sha].time, sha))
        slot = pending[sha][path]
        for n, owners in lines.items():
            slot.setdefault(n, []).extend(owners)

    def through_merge(node: Node, start: int, path: str, left: dict[int, list[tuple[int, int]]]) -> None:
        for i in range(start, len(node.parents)):
            if i > 0 and (i, path) not in node.side:
                waiting.append((node, i, path, left))
                return
            added, kept = _carry(node.diff(path) if i == 0 else node.side[(i, path)], left)
            push(node.parents[i], path, kept)
            left = added
            if not left:
                return
        # what is left was changed against every parent: an evil merge's, nobody's

    for k, r in enumerate(reqs):
        node = nodes.get(r.fix.sha)
        if node is not None and node.parents:
            push(node.parents[0], r.path, {n: [(k, n)] for n in r.lines})
    found: dict[int, dict[str, set[tuple[int, int]]]] = defaultdict(lambda: defaultdict(set))
    while heap or waiting:
        if not heap:
            _side_diffs(cfg, [(n, i, p) for n, i, p, _l in waiting])
            resumed, waiting[:] = list(waiting), []
            for node, i, path, left in resumed:
                through_merge(node, i, path, left)
            continue
        _t, sha = heapq.heappop(heap)
        node = nodes[sha]
        for path, lines in pending.pop(sha).items():
            if len(node.parents) > 1:
                through_merge(node, 0, path, lines)
                continue
            added, kept = _carry(node.diff(path), lines)
            for n, owners in added.items():
                for k, orig in owners:
                    if node.time >= reqs[k].fix.time - cfg.review_days * 86400:
                        found[k][sha].add((n, orig))
            if node.parents:
                push(node.parents[0], path, kept)
    return found, nodes


def reviews(cfg: Settings, fixes: list[tuple[Commit, list[Part]]]) -> dict[str, list[Candidate]]:
    """Review examples for a batch of bugfixes (each with its code parts), by fix sha."""
    if cfg.review_days <= 0:
        return {}
    reqs = [r for fix, code in fixes for r in requests(fix, code)]
    if not reqs:
        return {}
    try:
        found, nodes = blame(cfg, reqs)
        culprits = sorted({sha for k in found for sha in found[k] if len(nodes[sha].parents) <= 1})
        shown = _with_context(cfg, culprits, list(dict.fromkeys(r.path for r in reqs)))
    except GitError:
        return {}
    out: dict[str, list[Candidate]] = defaultdict(list)
    for k in sorted(found):
        r = reqs[k]
        for sha, pairs in sorted(found[k].items()):
            if sha in shown:
                cand = _review(cfg, r, shown[sha], pairs)
                if cand is not None:
                    out[r.fix.sha].append(cand)
    return out


def _with_context(cfg: Settings, shas: list[str], paths: list[str]) -> dict[str, Commit]:
    """The culprits' diffs of these files with three lines of context, to show under review."""
    if not shas:
        return {}
    raw = git(cfg.repo, *GIT_CONFIG, "log", "--no-walk=unsorted", "--stdin", *LOG_OPTIONS, "-U3", "-w", "--",
              *paths, input="".join(f"{s}\n" for s in shas).encode()).decode("utf-8", "replace")
    commits = (parse_commit(header, patch, lambda _p: False) for header, patch in split_log(raw))
    return {c.sha: c for c in commits}


def _review(cfg: Settings, r: Request, intro: Commit, pairs: set[tuple[int, int]]) -> Candidate | None:
    diff = next((f for f in intro.files if f.path == r.path), None)
    if diff is None:
        return None
    blamed = {n for n, _ in pairs}
    shown = [h for h in diff.hunks if any(h.new_start <= n < h.new_start + h.new_len for n in blamed)]
    if not shown:
        return None
    origs = sorted(o for _, o in pairs)
    faulty = list(dict.fromkeys(r.lines[o].strip() for o in origs))
    fix_hunks = list(dict.fromkeys(id(r.hunks[o]) for o in origs))
    by_id = {id(h): h for h in r.hunks.values()}
    intro_subject, _ = intent(intro)
    fix_subject, fix_body = intent(r.fix)
    ask = "Review this change ({}):\n\n```diff\n{}\n```".format(
        intro_subject, "\n".join(h.diff() for h in shown))
    where = (f"The line `{faulty[0]}` is at fault." if len(faulty) == 1 else
             "These lines are at fault:\n" + "\n".join(f"- `{t}`" for t in faulty[:8]))
    reply = (f"There is a problem: {fix_subject[:1].lower() + fix_subject[1:]}. {where}" +
             (f"\n\n{fix_body}" if fix_body else "") +
             "\n\nSuggested fix:\n\n```diff\n" + "\n".join(by_id[i].diff() for i in fix_hunks) + "\n```")
    if len(ask) + len(reply) > cfg.max_example_chars:
        return None
    return Candidate("coder", "review", [{"role": "user", "content": ask}, {"role": "assistant", "content": reply}],
                     source="git", provenance={"repo": cfg.repo, "commit": intro.sha, "fixed_by": r.fix.sha,
                                               "path": r.path})
