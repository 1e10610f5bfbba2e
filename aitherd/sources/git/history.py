"""The history a batch of bugfixes is blamed against: the commits of the fixed files back to the
window's start, as a graph, with each commit's diff of those files as git's -U0 hunks.

One `git log --parents --diff-merges=first-parent -p -U0 --since=... FIXES -- PATHS`: the
commits that touch the files and, since --diff-merges makes git walk the full history, every
merge in the window, parents rewritten to the nearest such commits; a merge's diff is against
its first parent. A commit's patch is cut into file sections only when the walk first reaches
it, and a section is parsed only when the walk needs that file's changes there.

Why not reuse the miner's own diffs of the commits it mines: they are printed with context
(-U10), and git diffs the files whole only then. With no context git first trims the common
tail of the two files (xdiff-interface.c, trim_common_tail), which can move where a change is
placed (on vuejs/core 41 of 21,157 file diffs differ); blame's -U0 hunks must be git's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from aitherd.sources.git.gitio import git
from aitherd.sources.git.parse import GIT_CONFIG, SEP, Commit, FileDiff, parse_commit, split_log
from aitherd.sources.git.settings import Settings

SLACK = 30 * 86400  # walk this much further back than the window (commit dates can be skewed)
_OPTIONS = ["--no-renames", "--no-color", "--no-ext-diff", "--no-textconv"]
_FORMAT = f"--format={SEP}%H %P%x1f%at{SEP}"

# One change: (first old line, first new line, removed rows, added rows), rows with their mark.
# A side of length 0 starts where the change goes in: the line after the one git's header names.
Group = tuple[int, int, list[str], list[str]]


def groups(fd: FileDiff | None) -> list[Group]:
    """git's -U0 hunks of a file's diff, whatever context it was printed with: each run of
    changed lines between context lines (two changes never touch: a kept line parts them)."""
    if fd is None:
        return []
    out: list[Group] = []
    for h in fd.hunks:
        rows = h.lines
        old = h.old_start + (len(rows) == h.added)
        new = h.new_start + (len(rows) == h.removed)
        if h.added + h.removed == len(rows):  # no context: one change, as -U0 prints it
            cut = h.removed
            if all(r[0] == "-" for r in rows[:cut]):
                out.append((old, new, rows[:cut], rows[cut:]))
                continue
        removed: list[str] = []
        added: list[str] = []
        at_old = at_new = 0
        for row in rows:
            mark = row[0]
            if mark == "-" or mark == "+":
                if not removed and not added:
                    at_old, at_new = old, new
                if mark == "-":
                    removed.append(row)
                    old += 1
                else:
                    added.append(row)
                    new += 1
                continue
            if removed or added:
                out.append((at_old, at_new, removed, added))
                removed, added = [], []
            old += 1
            new += 1
        if removed or added:
            out.append((at_old, at_new, removed, added))
    return out


# skip_path for parse_commit where every file counts
def keep_all(_path: str) -> str | None:
    return None


def _section_path(sec: str) -> str | None:
    """The path of a `diff --git a/P b/P` section from its first line (no renames: both sides
    name the same path), or None when that line is quoted or not of that shape."""
    end = sec.find("\n")
    first = sec if end < 0 else sec[:end]
    n = (len(first) - 5) // 2
    if n <= 0 or first[0] == '"' or first[2 + n:5 + n] != " b/" or first[2:2 + n] != first[5 + n:]:
        return None
    return first[2:2 + n]


class Sections:
    """A patch's file sections by path, each parsed when first asked for. A path with several
    sections (a type change: one removes the file, one adds it) is the first or the last of
    them that has hunks, as `parse_commit(...).files` would give it first or last."""

    __slots__ = ("_by_path", "_parsed", "last")

    def __init__(self, patch: str, last: bool) -> None:
        self.last = last
        self._by_path: dict[str, list[str]] = {}
        self._parsed: dict[str, FileDiff | None] = {}
        for sec in patch.split("\ndiff --git ")[1:]:
            path = _section_path(sec)
            if path is None:  # quoted, or of another shape: its own parse names it
                found = parse_commit("", "\ndiff --git " + sec, keep_all).files
                path = found[0].path if found else None
            if path is not None:
                self._by_path.setdefault(path, []).append(sec)

    def __contains__(self, path: str) -> bool:
        return path in self._by_path

    def __len__(self) -> int:
        return len(self._by_path)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_path)

    def get(self, path: str) -> FileDiff | None:
        if path in self._parsed:
            return self._parsed[path]
        got = None
        for sec in reversed(self._by_path.get(path, [])) if self.last else self._by_path.get(path, []):
            found = parse_commit("", "\ndiff --git " + sec, keep_all).files
            if found:
                got = found[0]
                break
        self._parsed[path] = got
        return got


class Node:
    """A commit of the walked history: its time, its (rewritten) parents and its diffs by path."""

    __slots__ = ("_files", "_groups", "_patch", "parents", "sha", "side", "time")

    def __init__(self, sha: str, time: int, parents: list[str]) -> None:
        self.sha, self.time, self.parents = sha, time, parents
        self.side: dict[tuple[int, str], list[Group]] = {}  # merges: diffs against later parents
        self._files: Sections | None = None
        self._patch = ""  # the -U0 patch (against the first parent), cut per file on first use
        self._groups: dict[str, list[Group]] = {}

    def use_patch(self, patch: str) -> None:
        self._patch = patch

    def files(self) -> Sections:
        """The files this commit's patch has a section for (a section is parsed on first use)."""
        if self._files is None:
            self._files = Sections(self._patch, last=True)
            self._patch = ""
        return self._files

    def groups(self, path: str) -> list[Group]:
        """The changes of `path` in this commit (empty: it leaves the file alone)."""
        got = self._groups.get(path)
        if got is None:
            got = self._groups[path] = groups(self.files().get(path))
        return got


def read(cfg: Settings, fixes: list[Commit], paths: list[str]) -> dict[str, Node]:
    """The history of `paths` from the `fixes` back to the window's start (see the module doc)."""
    since = min(c.time for c in fixes) - cfg.review_days * 86400 - SLACK
    raw = git(cfg.repo, *GIT_CONFIG, "log", "--parents", "--diff-merges=first-parent", "-p", "-U0", *_OPTIONS,
              _FORMAT, f"--since=@{max(since, 0)}", *dict.fromkeys(c.sha for c in fixes), "--",
              *paths).decode("utf-8", "replace")
    nodes: dict[str, Node] = {}
    for header, patch in split_log(raw):
        ids, _, when = header.partition("\x1f")
        sha, *parents = ids.split()
        node = nodes[sha] = Node(sha, int(when) if when.isdigit() else 0, parents)
        node.use_patch(patch)
    return nodes


def side_diffs(cfg: Settings, wanted: list[tuple[Node, int, str]]) -> None:
    """Read merges' diffs against their later parents, for one file each, in one
    `git diff-tree --stdin` (its --always output: one record per pair, in order)."""
    pairs = list(dict.fromkeys((n.sha, n.parents[i]) for n, i, _p in wanted))
    paths = list(dict.fromkeys(p for _n, _i, p in wanted))
    raw = git(cfg.repo, *GIT_CONFIG, "diff-tree", "--stdin", "--always", "-p", "-U0", *_OPTIONS, "--", *paths,
              input="".join(f"{m} {p}\n" for m, p in pairs).encode()).decode("utf-8", "replace")
    records = re.split(r"^[0-9a-f]{40}\n", raw, flags=re.M)[1:]
    got = {pair: {f.path: f for f in parse_commit("", "\n" + rec, keep_all).files}
           for pair, rec in zip(pairs, records, strict=False)}
    for node, i, path in wanted:
        node.side[(i, path)] = groups(got.get((node.sha, node.parents[i]), {}).get(path))
