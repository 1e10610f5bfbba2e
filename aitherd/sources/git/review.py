"""Review pairs: a bugfix's fixed lines, blamed against its parent, name the change under review.

For each code file a bugfix modifies, the lines it removes or rewrites are blamed (not trivial
lines like `)`, `else:`, `try:` or a comment, and not lines only re-indented or given a comma:
they come back among the added lines once whitespace and commas are set aside). The commit that
last wrote those lines, within `review_days` before the fix, is the change under review, shown
as its hunks that hold them (with three lines of context); the fix is the finding.

Blame is computed here the way `git blame -w` does, for a whole batch of fixes from one
`git log` of the files they touch: `--parents` with git's default history simplification (a
merge identical to one parent for those files is followed through that parent only), merges
that changed the files against every parent with one diff per parent (`--diff-merges=separate`),
whitespace ignored (`-w`). Lines are carried back commit by commit, newest first; a line added
by a commit is that commit's; a line changed by a merge against every parent, or older than the
window, is nobody's. One git process per batch instead of one `git blame` per fixed file.

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
from aitherd.sources.git.parse import GIT_CONFIG, LOG_OPTIONS, SEP, Commit, FileDiff, Hunk, parse_commit
from aitherd.sources.git.settings import Settings

_NOISE = re.compile(r"[\s,]+")
MAX_LINES = 40  # fixed lines blamed per fix
SLACK = 30 * 86400  # walk this much further back than the window (commit dates can be skewed)
_DIFF = ["-p", "-U0", "-w", "--no-renames", "--no-color", "--no-ext-diff", "--no-textconv"]


@dataclass
class Request:
    """The lines one fix changes in one file, numbered as in the fix's parent."""

    fix: Commit
    path: str
    lines: dict[int, str]  # line number -> text
    hunks: dict[int, Hunk]  # line number -> the fix's hunk that changes it


@dataclass
class Node:
    sha: str
    time: int
    parents: list[str]
    diffs: list[dict[str, FileDiff]] = field(default_factory=list)  # against the first parent
    commit: Commit | None = None
    side: dict[tuple[int, str], FileDiff | None] = field(default_factory=dict)  # merges: other parents


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
    the kept ones renumbered as in the parent."""
    if diff is None or not diff.hunks:
        return {}, dict(lines)
    added: dict[int, list] = {}
    kept: dict[int, list] = {}
    todo = sorted(lines)
    i, delta = 0, 0
    for h in diff.hunks:
        while i < len(todo) and todo[i] < h.new_start:
            kept[todo[i] + delta] = lines[todo[i]]
            i += 1
        old, new = h.old_start, h.new_start
        for row in h.lines:
            mark = row[0]
            if mark == "+":
                if new in lines:
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
    """The history of the requested files back to the window's start, as a graph of nodes.
    A merge comes with its diff against its first parent; against the others it is read when a
    line needs it (`_side_diff`). git's medium format is read for its "commit SHA PARENTS" line."""
    since = min(r.fix.time for r in reqs) - cfg.review_days * 86400 - SLACK
    fixes = list(dict.fromkeys(r.fix.sha for r in reqs))
    paths = list(dict.fromkeys(r.path for r in reqs))
    raw = git(cfg.repo, *GIT_CONFIG, "log", "--parents", "--diff-merges=first-parent", *_DIFF, "--date=unix",
              "--pretty=medium", "--no-notes", "--encoding=UTF-8", f"--since=@{max(since, 0)}", *fixes, "--",
              *paths).decode("utf-8", "replace")
    nodes: dict[str, Node] = {}
    for rec in ("\n" + raw).split("\ncommit ")[1:]:
        head, _, patch = rec.partition("\ndiff --git ")
        first, _, meta = head.partition("\n")
        ids = first.partition(" (from ")[0]
        sha, *parents = ids.split()
        node = nodes.get(sha)
        if node is None:
            when = re.search(r"^Date:\s+(\d+)", meta, re.M)
            message = "\n".join(ln[4:] for ln in meta.split("\n") if ln.startswith("    "))
            subject, _, body = message.partition("\n")
            commit = Commit(sha=sha, parents=parents, author="", time=int(when.group(1)) if when else 0,
                            subject=subject, body=body.strip())
            node = nodes[sha] = Node(sha, commit.time, parents, [{}], commit=commit)
        diffs = parse_commit("", "\ndiff --git " + patch, lambda _p: False).files if patch else []
        node.diffs[0] = {f.path: f for f in diffs}
    return nodes


def _side_diff(cfg: Settings, node: Node, parent: int, path: str) -> FileDiff | None:
    """A merge's diff against a later parent for one file, read once."""
    key = (parent, path)
    if key not in node.side:
        raw = git(cfg.repo, *GIT_CONFIG, "diff", *_DIFF, node.parents[parent], node.sha, "--", path)
        files_ = parse_commit("", "\n" + raw.decode("utf-8", "replace"), lambda _p: False).files
        node.side[key] = files_[0] if files_ else None
    return node.side[key]


def blame(cfg: Settings, reqs: list[Request]) -> tuple[dict[int, dict[str, set[tuple[int, int]]]], dict[str, Node]]:
    """For each request (by index): culprit sha -> {(line in the culprit, line in the fix's
    parent)}; and the history graph read."""
    if not reqs:
        return {}, {}
    nodes = _graph(cfg, reqs)
    pending: dict[str, dict[str, dict[int, list[tuple[int, int]]]]] = defaultdict(lambda: defaultdict(dict))
    heap: list[tuple[int, str]] = []

    def push(sha: str, path: str, lines: dict[int, list[tuple[int, int]]]) -> None:
        if not lines or sha not in nodes:
            return  # older than the window: nobody's
        if sha not in pending:
            heapq.heappush(heap, (-nodes[sha].time, sha))
        slot = pending[sha][path]
        for n, owners in lines.items():
            slot.setdefault(n, []).extend(owners)

    for k, r in enumerate(reqs):
        node = nodes.get(r.fix.sha)
        if node is not None and node.parents:
            push(node.parents[0], r.path, {n: [(k, n)] for n in r.lines})
    found: dict[int, dict[str, set[tuple[int, int]]]] = defaultdict(lambda: defaultdict(set))
    while heap:
        _t, sha = heapq.heappop(heap)
        node = nodes[sha]
        for path, lines in pending.pop(sha).items():
            if len(node.parents) <= 1:
                added, kept = _carry(node.diffs[0].get(path) if node.diffs else None, lines)
                for n, owners in added.items():
                    for k, orig in owners:
                        if node.time >= reqs[k].fix.time - cfg.review_days * 86400:
                            found[k][sha].add((n, orig))
                if node.parents:
                    push(node.parents[0], path, kept)
                continue
            left = lines
            for i, parent in enumerate(node.parents):
                diff = node.diffs[0].get(path) if i == 0 else _side_diff(cfg, node, i, path)
                added, kept = _carry(diff, left)
                push(parent, path, kept)
                left = added
                if not left:
                    break  # what is left was changed against every parent: an evil merge's
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
    pieces = raw.split(SEP)
    commits = (parse_commit(pieces[i], pieces[i + 1], lambda _p: False) for i in range(1, len(pieces) - 1, 2))
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
