"""Review pairs: a bugfix's fixed lines, blamed against its parent, name the change under review.

For each code file a bugfix modifies, the lines it removes or rewrites are blamed (not trivial
lines like `)`, `else:`, `try:` or a comment, and not lines only re-indented or given a comma,
or moved: they come back among the commit's added lines once whitespace and commas are set
aside; not a hunk of comments or documentation only, `Part.doc`). The commit that
last wrote those lines, within `review_days` before the fix, is the change under review, shown
as its hunks that hold them (with three lines of context); the fix is the finding. A line the
culprit only moved into a file it added (or renamed) is not its fault: no pair.

Blame is computed here the way `git blame -w` does, for a whole batch of fixes from one
`git log -p -U0` of the files they touch, back to the window's start (`history`: `--parents`,
and with --diff-merges git walks the full history: every merge in the window is a commit of
the walk, its diff against its first parent). Lines are carried back commit by commit, newest
(author date) first; a line a commit adds is that commit's, unless a line it removes in the
same change equals it but for whitespace. The lines of the files a commit leaves alone go on
to its parent together, untouched, so a commit costs what it changes, not what is pending. At
a merge, the lines its first parent lacks are carried into the other parents through the
merge's diffs against them, read for all waiting merges in one `git diff-tree --stdin`. A line
changed by a merge against every parent, or older than the window (dropped at the first commit
of the walk older than its fix's window), is nobody's. So a batch costs a few git processes,
not one `git blame` per fixed file.

No memory is kept between commits or runs: git's history is the memory. A fix mined in a later
run, after a resume, or in another worker process finds the change it fixes all the same, and
the answer for a fix does not depend on which batch it was mined in.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections import defaultdict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from aitherd.candidate import Candidate
from aitherd.sources.git import files, history
from aitherd.sources.git.examples import Part, fence_for, intent, masked_pins, vague
from aitherd.sources.git.gitio import GitError, git
from aitherd.sources.git.history import SLACK, Group, Node
from aitherd.sources.git.parse import (
    GIT_CONFIG,
    LOG_OPTIONS,
    Commit,
    Hunk,
    header_fields,
    parse_commit,
    split_log,
)
from aitherd.sources.git.settings import Settings

_NOISE = re.compile(r"[ \t\n\r\f\v,]+")
# An import, include or use line (Python, JS/TS, Java/Kotlin/Scala, Go's, C's, Rust's, C#'s, Ruby's, PHP's)
_IMPORT = re.compile(r"\s*(?:from\s+\S+\s+import\b|import\b|#\s*include\b|use\b|using\b|require(?:_relative)?\b|"
                     r"(?:const|let|var)\s+.*=\s*require\()")
_WORDS = re.compile(r"\w+")
# A subject's first word that is an ordinary word ("Fix", "Don't"), lowercased after "There is a
# problem: "; not a name or an acronym: commons-csv's "CSVParser.getRecords() now throws ...",
# llm.c's "WIP support for FP16", peft's "FSDP cpu offloading fix" read "cSVParser", "wIP", "fSDP"
# (8, 13 and 32 of their review pairs). Nor a person's first name or a title's first word,
# told by the capital of the word after it: curl's "Larry Lansing fixed ...", "Gisle Vanem's
# patch ...", maybe's "User Onboarding" (about 600 of curl's review pairs read "larry Lansing").
# A verb stays lowered before a name all the same ("fixed Blueprint.app_url_value_preprocessor").
_PLAIN_FIRST = re.compile(r"[A-Z][a-z]+(?:['\u2019-][a-z]+)?\b(?![\w.(\[_-])(?![ \t]+[A-Z][a-z])|"
                          r"(?:Fix|Add|Update|Modifie|Modify|Remove|Change|Use|Make|Made|Move|Rename|Handle|Allow|"
                          r"Support|Correct|Avoid|Prevent|Improve|Refactor|Replace|Clean|Implement|Introduce|"
                          r"Enable|Disable|Ensure|Restore|Set|Return|Check|Convert|Match|Adjust|Revert|Don't)"
                          r"(?:e?[sd]|ed|ing)?\b(?![\w.(\[_-])")
MAX_LINES = 40  # fixed lines blamed per fix


@dataclass
class Request:
    """The lines one fix changes in one file, numbered as in the fix's parent."""

    fix: Commit
    path: str
    lines: dict[int, str]  # line number -> text
    hunks: dict[int, Hunk]  # line number -> the fix's hunk that changes it


def _plain(line: str) -> str:
    """A line without whitespace and commas: re-indenting or adding a trailing comma is no fix."""
    return _NOISE.sub("", line)


def docstring_rows(hunk: Hunk) -> set[int]:
    """The rows of a Python hunk, on its old side, inside a docstring that opens in it: triple
    quotes at the start of a row right below a line that ends in ':' (a `def` or `class`), to
    the row that closes them. A fix that rewrites a docstring beside its code blamed the prose
    (werkzeug's "Order rules by complexity.", rich's one-line docstrings: about 1% of their
    review pairs). A docstring that opens above the hunk is not seen here."""
    out: set[int] = set()
    opened = False
    prev = ""
    for i, ln in enumerate(hunk.lines):
        if ln[0] == "+":
            continue
        text = ln[1:]
        if opened:
            out.add(i)
            opened = files.triple_quotes(text) % 2 == 0
        elif files.opens_docstring(text, prev):
            out.add(i)
            opened = files.triple_quotes(text) % 2 == 1
        if text.strip():
            prev = text
    return out


def fixed_lines(hunk: Hunk, moved: frozenset[str] = frozenset(), docs: AbstractSet[int] = frozenset()
                ) -> list[tuple[int, str]]:
    """(line number in the parent, text) of the lines this hunk really changes: not a line
    that comes back with only another version number or checksum in it (`{:plug, "~> 0.8.2"}`
    for 0.8.1 is an upgrade, not the fault of the change that wrote it), nor one that comes
    back elsewhere in the commit (`moved`: the `_plain` lines it adds), nor an import that
    comes back with more names (rich's "from functools import lru_cache" blamed for a fix
    that needed `reduce` too), nor one of the rows `docs` (`docstring_rows`)."""
    added = {_plain(ln[1:]) for ln in hunk.lines if ln[0] == "+"} | moved
    pinned = {_plain(masked_pins(ln[1:], sure=True)) for ln in hunk.lines if ln[0] == "+"}
    out, old = [], hunk.old_start
    for i, ln in enumerate(hunk.lines):
        if ln[0] == "+":
            continue
        if (ln[0] == "-" and i not in docs and not files.trivial(ln[1:]) and _plain(ln[1:]) not in added
                and _plain(masked_pins(ln[1:], sure=True)) not in pinned and not _grown_import(i, hunk)):
            out.append((old, ln[1:]))
        old += 1
    return out


# A row of names an import written over several lines lists ("    Type, CallableType, AnyType,",
# "  foo as bar,"), under the line that opens its bracket ("from mypy.types import (", "import {")
_NAME = r"[\w.$]+(?:[ \t]+as[ \t]+\w+)?"
_NAME_ROW = re.compile(rf"[ \t]*(?:{_NAME}[ \t]*,[ \t]*)*{_NAME}[ \t]*,?[ \t]*$")


def _grown_import(i: int, hunk: Hunk) -> bool:
    """Is the hunk's removed row `i` an import, include or use line, or a row of the names an
    import lists over several lines, whose names the hunk's added rows of imports repeat with
    more? (mypy: "Type, CallableType, AnyType, UnboundType," blamed for a fix that imported
    EllipsisType too.)"""
    row = hunk.lines[i]
    if _IMPORT.match(row, 1):
        words = set(_WORDS.findall(row, 1))
        return any(words <= set(_WORDS.findall(a, 1)) for a in hunk.lines if a[0] == "+" and _IMPORT.match(a, 1))
    if not _NAME_ROW.match(row, 1) or not _in_import(hunk.lines, i, "+"):
        return False
    names = set(_WORDS.findall(row, 1))
    listed = set()
    for j, a in enumerate(hunk.lines):
        if a[0] == "+" and (_IMPORT.match(a, 1) or (_NAME_ROW.match(a, 1) and _in_import(hunk.lines, j, "-"))):
            listed.update(_WORDS.findall(a, 1))
    return names <= listed and bool(listed - names)


def _in_import(lines: list[str], i: int, other: str) -> bool:
    """Is row `i` of a hunk inside the brackets of an import (rows marked `other` aside: the
    other side's)? Only rows of names may stand between it and the import's line."""
    for j in range(i - 1, -1, -1):
        ln = lines[j]
        if ln[0] == other:
            continue
        if _IMPORT.match(ln, 1):
            return ln.count("(") + ln.count("{") > ln.count(")") + ln.count("}")
        if not _NAME_ROW.match(ln, 1):
            return False
    return False


def requests(fix: Commit, code: list[Part]) -> list[Request]:
    out = []
    moved: frozenset[str] | None = None
    for part in code:
        if part.new:
            continue
        if moved is None:
            # A line the fix removes and adds again elsewhere, in any of its files, was moved: no
            # fault of the change that wrote it (OpenZeppelin's "fix: solium errors -
            # function-order only" moved whole functions down, and blamed their lines).
            moved = frozenset(_plain(ln[1:]) for fd in fix.files for h in fd.hunks for ln in h.lines
                              if ln[0] == "+" and not files.trivial(ln[1:]))
        req = Request(fix, part.path, {}, {})
        for i, h in enumerate(part.hunks):
            if part.doc(i):
                continue  # a hunk of comments, a docstring, POD: no fault of the code under review
            docs = docstring_rows(h) if part.lang == "python" and any(
                '"""' in ln or "'''" in ln for ln in h.lines) else frozenset()
            for n, text in fixed_lines(h, moved, docs):
                if len(req.lines) < MAX_LINES:
                    req.lines[n], req.hunks[n] = text, h
        if req.lines:
            out.append(req)
    return out


Owner = tuple[int, int]  # (request, line in the fix's parent)
Lines = dict[int, list[Owner]]  # line number -> the requests' lines it is
Packet = tuple[int, Lines]  # lines on their way, with the latest window start among their owners


def _key(row: str) -> str:
    text = row[1:]
    if ("#" in text or "//" in text or "/*" in text) and (m := _PRAGMAS.search(text)) is not None:
        text = text[:m.start()]
    return "".join(files.words(text))


# A checker's suppression at a line's end: a line that only gains or loses one is the same code
# (alembic's "Fix mypy errors" added `# type:ignore[attr-defined]` to a line a later fix changed,
# and was blamed for it; rich's "Typing ignore", structlog's "Fix type hint ignore").
_PRAGMAS = re.compile(
    r"(?:\s*(?:#\s*(?:type:\s*ignore(?:\[[\w, -]*\])?|noqa(?::\s*[\w, ]+)?|pragma:\s*no\s*(?:cover|branch)|"
    r"pylint:\s*disable=[\w, -]+|nosec\b[\w, -]*|fmt:\s*(?:skip|off|on)|pyright:\s*ignore(?:\[[\w, -]*\])?|"
    r"mypy:\s*ignore\S*)|//\s*(?:eslint-disable(?:-next)?-line\b[^\n]*|@ts-(?:ignore|expect-error)\b[^\n]*|"
    r"nolint\b[^\n]*|NOLINT\b[^\n]*)|/\*\s*(?:eslint-disable(?:-next)?-line|istanbul ignore)[^*]*\*/))+\s*$", re.I)


def _carry(changes: list[Group], lines: Lines) -> tuple[Lines, Lines]:
    """Split `lines` (numbered in the child) into those the changes add and those they keep,
    the kept ones renumbered as in the parent. An added line that a removed line of the same
    change equals but for whitespace is kept (re-indenting writes nothing new: `git blame -w`)."""
    if not changes:
        return {}, lines
    added: Lines = {}
    kept: Lines = {}
    todo = sorted(lines)
    last = len(todo)
    i, delta = 0, 0
    for old, new, removed_rows, added_rows in changes:
        if i == last:
            break
        while i < last and todo[i] < new:
            kept[todo[i] + delta] = lines[todo[i]]
            i += 1
        end = new + len(added_rows)
        if i < last and todo[i] < end and removed_rows and (reflow := _reflow(removed_rows, added_rows)) is not None:
            # Lines joined or split, not one changed character (clang-format, black, prettier):
            # each added line goes back to the removed row its first character came from, so
            # blame looks past "Format the code" (fmt: 26 review pairs blamed that commit).
            while i < last and todo[i] < end:
                n = todo[i]
                row = old + reflow[n - new]
                kept[row] = kept[row] + lines[n] if row in kept else lines[n]
                i += 1
        elif i < last and todo[i] < end:
            removed: dict[str, list[int]] = {}
            if removed_rows:
                for j, text in enumerate(removed_rows):
                    removed.setdefault(_key(text), []).append(old + j)
            while i < last and todo[i] < end:
                n = todo[i]
                same = removed.get(_key(added_rows[n - new])) if removed else None
                if same:
                    kept[same.pop(0)] = lines[n]
                else:
                    added[n] = lines[n]
                i += 1
        delta = old + len(removed_rows) - end
    for n in todo[i:]:
        kept[n + delta] = lines[n]
    return added, kept


def _reflow(removed_rows: list[str], added_rows: list[str]) -> list[int] | None:
    """Where the rows of a change that only moves line breaks and whitespace come from: for each
    added row, the index of the removed row that holds its first character (a blank one: the
    row of the next character); None when the change alters any character."""
    removed = [_key(row) for row in removed_rows]
    added = [_key(row) for row in added_rows]
    if "".join(removed) != "".join(added):
        return None
    starts, at = [], 0
    for key in removed:
        starts.append(at)
        at += len(key)
    out, at = [], 0
    for key in added:
        out.append(max(0, bisect.bisect_right(starts, at) - 1))
        at += len(key)
    return out


def _merged(packets: list[Packet]) -> Packet:
    """One packet of the lines of several (a line's owners put together)."""
    if len(packets) == 1:
        return packets[0]
    out: Lines = {}
    for _hi, lines in packets:
        for n, owners in lines.items():
            got = out.get(n)
            if got is None:
                out[n] = list(owners)
            else:
                got.extend(owners)
    return max(hi for hi, _l in packets), out


def _within(packet: Packet, time: int, start: list[int]) -> Packet | None:
    """The packet without the owners whose window a commit of this time is past."""
    out: Lines = {}
    top = -1 << 62
    for n, owners in packet[1].items():
        keep = []
        for o in owners:
            s = start[o[0]]
            if s <= time:
                keep.append(o)
                if s > top:
                    top = s
        if keep:
            out[n] = keep
    return (top, out) if out else None


def _all_within(paths: dict[str, list[Packet]], time: int, start: list[int]) -> tuple[dict[str, list[Packet]], int]:
    """`_within` for every packet of every file; and the latest window start left."""
    out: dict[str, list[Packet]] = {}
    top = -1 << 62
    for path, packets in paths.items():
        keep = []
        for packet in packets:
            got = packet if packet[0] <= time else _within(packet, time, start)
            if got is not None:
                keep.append(got)
                if got[0] > top:
                    top = got[0]
        if keep:
            out[path] = keep
    return out, top


class _Slot:
    """The lines waiting at a commit, by file, and the latest window start among their owners."""

    __slots__ = ("hi", "paths")

    def __init__(self, hi: int, paths: dict[str, list[Packet]]) -> None:
        self.hi, self.paths = hi, paths


Found = dict[int, dict[str, set[tuple[int, int]]]]  # request -> culprit sha -> {(its line, fixed line)}


class _Walk:
    """One batch's lines carried back through its history (see `blame`)."""

    def __init__(self, cfg: Settings, reqs: list[Request], nodes: dict[str, Node]) -> None:
        self.cfg, self.nodes = cfg, nodes
        window = cfg.review_days * 86400 + SLACK
        self.start = [r.fix.time - window for r in reqs]  # a line is nobody's past its fix's window
        self.since = [r.fix.time - cfg.review_days * 86400 for r in reqs]  # culprits this recent count
        self.pending: dict[str, _Slot] = {}
        self.heap: list[tuple[int, str]] = []
        self.waiting: list[tuple[Node, int, str, Packet]] = []
        self.found: Found = defaultdict(lambda: defaultdict(set))
        for k, r in enumerate(reqs):
            node = nodes.get(r.fix.sha)
            if node is not None and node.parents:
                self.push(node.parents[0], r.path, (self.start[k], {n: [(k, n)] for n in r.lines}))

    def arrive(self, sha: str, paths: dict[str, list[Packet]], hi: int) -> None:
        """Lines of some files handed to a commit (merged with those already waiting there)."""
        node = self.nodes.get(sha)
        if node is None:
            return  # older than the window: nobody's
        if node.time < hi:  # drop the lines whose fix's window this commit is past
            paths, hi = _all_within(paths, node.time, self.start)
            if not paths:
                return
        slot = self.pending.get(sha)
        if slot is None:
            self.pending[sha] = _Slot(hi, paths)
            heapq.heappush(self.heap, (-node.time, sha))
            return
        into = slot.paths
        if len(into) < len(paths):
            into, paths = paths, into
            slot.paths = into
        for path, packets in paths.items():
            got = into.get(path)
            if got is None:
                into[path] = packets
            else:
                got.extend(packets)
        if hi > slot.hi:
            slot.hi = hi

    def push(self, sha: str, path: str, packet: Packet) -> None:
        if packet[1]:
            self.arrive(sha, {path: [packet]}, packet[0])

    def through_merge(self, node: Node, first: int, path: str, packet: Packet) -> None:
        hi, left = packet
        for i in range(first, len(node.parents)):
            if i > 0 and (i, path) not in node.side:
                self.waiting.append((node, i, path, (hi, left)))
                return
            added, kept = _carry(node.groups(path) if i == 0 else node.side[(i, path)], left)
            self.push(node.parents[i], path, (hi, kept))
            left = added
            if not left:
                return
        # what is left was changed against every parent: an evil merge's, nobody's

    def run(self) -> Found:
        heap, waiting = self.heap, self.waiting
        while heap or waiting:
            if not heap:
                history.side_diffs(self.cfg, [(n, i, p) for n, i, p, _l in waiting])
                resumed, waiting[:] = list(waiting), []
                for node, i, path, packet in resumed:
                    self.through_merge(node, i, path, packet)
                continue
            _t, sha = heapq.heappop(heap)
            self.visit(self.nodes[sha], self.pending.pop(sha))
        return self.found

    def visit(self, node: Node, slot: _Slot) -> None:
        """A commit's turn: the lines of the files it changes are carried through its diff
        (those it adds are its own), the others go on to its parent as they are."""
        parents, paths = node.parents, slot.paths
        if len(parents) > 1:
            for path, packets in paths.items():
                self.through_merge(node, 0, path, _merged(packets))
            return
        changed = node.files()
        for path in list(changed if len(changed) < len(paths) else paths):
            if path not in paths or path not in changed or not (changes := node.groups(path)):
                continue
            hi, lines = _merged(paths.pop(path))
            added, kept = _carry(changes, lines)
            for n, owners in added.items():
                for k, orig in owners:
                    if node.time >= self.since[k]:
                        self.found[k][node.sha].add((n, orig))
            if parents:
                self.push(parents[0], path, (hi, kept))
        if parents and paths:  # the files this commit leaves alone: their lines go on as they are
            self.arrive(parents[0], paths, slot.hi)


def blame(cfg: Settings, reqs: list[Request]) -> tuple[Found, dict[str, Node]]:
    """For each request (by index): culprit sha -> {(line in the culprit, line in the fix's
    parent)}; and the history graph read. Lines are carried back newest commit first; at a
    merge, those its first parent lacks wait for the merge's diffs against its other parents,
    read together for every merge waiting once the rest of the walk is done. The lines of files
    a commit leaves alone are handed on to its parent together, as they are."""
    if not reqs:
        return {}, {}
    nodes = history.read(cfg, [r.fix for r in reqs], list(dict.fromkeys(r.path for r in reqs)))
    return _Walk(cfg, reqs, nodes).run(), nodes


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
        added = sorted({sha for k in found for sha in found[k] if sha in shown
                        and (fd := shown[sha][1].get(reqs[k].path)) is not None and fd.status == "A"})
        moved = _renamed(cfg, added)
        carried = _removed_lines(cfg, added)
    except GitError:
        return {}
    out: dict[str, list[Candidate]] = defaultdict(list)
    for k in sorted(found):
        r = reqs[k]
        for sha, pairs in sorted(found[k].items()):
            if sha not in shown or (sha, r.path) in moved:
                continue
            # Lines the culprit moved, not wrote: into the file it added (`carried`, from any of
            # its files: gin's "Moves errorMsg to errors.go"), or within the same file (its diff
            # of the file removes them too: fd's "walk: New WorkerState struct" moved
            # `builder.add("!.git/")` with the code around it, and was reviewed for what "stop
            # ignore .git folders by default" fixed years later).
            gone = carried.get(sha, set()) | _removed_in(shown[sha][1], r.path)
            pairs = {(n, o) for n, o in pairs if _plain(r.lines[o]) not in gone}
            if pairs:
                cand = _review(cfg, r, shown[sha], pairs)
                if cand is not None:
                    out[r.fix.sha].append(cand)
    return out


def _renamed(cfg: Settings, shas: list[str]) -> set[tuple[str, str]]:
    """(commit, path) of the files these commits renamed (git's rename detection, which the
    walk leaves off): a line blamed on such a commit was moved there, not written, and the
    change under review would be the whole file, added. 135 of phoenix's 1,709 review pairs
    blamed a rename ("Add eex suffix for generator files"). One `git diff-tree --stdin -M`."""
    if not shas:
        return set()
    out = git(cfg.repo, *GIT_CONFIG, "diff-tree", "--stdin", "-r", "-M", "--name-status", "-z",
              input="".join(f"{s}\n" for s in shas).encode()).decode("utf-8", "replace").split("\0")
    moved, sha, i = set(), "", 0
    wanted = set(shas)
    while i < len(out):
        tok = out[i]
        if tok in wanted:  # each commit's diff follows its id
            sha, i = tok, i + 1
        elif tok[:1] in ("R", "C") and i + 2 < len(out):
            moved.add((sha, out[i + 2]))
            i += 3
        else:
            i += 2 if tok else 1  # a status and its path, or the empty string at the end
    return moved


def _removed_lines(cfg: Settings, shas: list[str]) -> dict[str, set[str]]:
    """Per commit that added a blamed file, the lines (`_plain`) it removed anywhere: a line it
    removed in one file and wrote in the new one was moved there (gin's "Moves errorMsg to
    errors.go" was reviewed for `if msg.Type&typ > 0 {`, written long before in gin.go; git's
    rename detection does not see a part of a file moved). One `git log --no-walk -U0`."""
    if not shas:
        return {}
    raw = git(cfg.repo, *GIT_CONFIG, "log", "--no-walk=unsorted", "--stdin", *LOG_OPTIONS, "-U0",
              input="".join(f"{s}\n" for s in shas).encode()).decode("utf-8", "replace")
    out: dict[str, set[str]] = {}
    for header, patch in split_log(raw):
        commit = parse_commit(header, patch, history.keep_all)
        out[commit.sha] = {_plain(ln[1:]) for fd in commit.files for h in fd.hunks for ln in h.lines
                           if ln[0] == "-" and ln[1:].strip()}
    return out


def _removed_in(sections: history.Sections, path: str) -> set[str]:
    """The lines (`_plain`) a culprit's diff of `path` removes."""
    diff = sections.get(path)
    return set() if diff is None else {_plain(ln[1:]) for h in diff.hunks for ln in h.lines
                                       if ln[0] == "-" and ln[1:].strip()}


def _with_context(cfg: Settings, shas: list[str], paths: list[str]) -> dict[str, tuple[Commit, history.Sections]]:
    """The culprits' diffs of these files with three lines of context, to show under review
    (each culprit's message, and its files parsed when asked for). Whitespace counts here (blame
    ignores it): a line the culprit re-indented is shown removed and added, not as context at
    its new indentation, a before-side the file never had (tqdm: 52 of 316 review pairs)."""
    if not shas:
        return {}
    raw = git(cfg.repo, *GIT_CONFIG, "log", "--no-walk=unsorted", "--stdin", *LOG_OPTIONS, "-U3", "--",
              *paths, input="".join(f"{s}\n" for s in shas).encode()).decode("utf-8", "replace")
    out = {}
    for header, patch in split_log(raw):
        commit = header_fields(header)
        out[commit.sha] = (commit, history.Sections(patch, last=False))
    return out


def _review(cfg: Settings, r: Request, shown_as: tuple[Commit, history.Sections],
            pairs: set[tuple[int, int]]) -> Candidate | None:
    intro, sections = shown_as
    diff = sections.get(r.path)
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
    change = "\n".join(h.diff() for h in shown)
    fix = "\n".join(by_id[i].diff() for i in fix_hunks)
    change_fence, fix_fence = fence_for(change), fence_for(fix)
    intro_subject, fix_subject = intro_subject.rstrip(" ."), fix_subject.rstrip(" .")  # "... (#12)." then ". "
    # A subject that names no change says nothing here either: pip-tools' "There is a problem: PR
    # review feedback.", a "Review this change (WIP)"; the lines at fault and the fix say it
    intro_subject = "" if vague(intro_subject, "", [r.path]) else intro_subject
    fix_subject = "" if vague(fix_subject, "", [r.path]) else fix_subject
    named = f" ({intro_subject})" if intro_subject else ""  # a commit may have no message at all
    ask = f"Review this change{named}:\n\n{change_fence}diff\n{change}\n{change_fence}"
    where = (f"The line `{faulty[0]}` is at fault." if len(faulty) == 1 else
             "These lines are at fault:\n" + "\n".join(f"- `{t}`" for t in faulty[:8]))
    if _PLAIN_FIRST.match(fix_subject):
        fix_subject = fix_subject[:1].lower() + fix_subject[1:]
    problem = f": {fix_subject}" if fix_subject else ""
    reply = (f"There is a problem{problem}. {where}" +
             (f"\n\n{fix_body}" if fix_body else "") +
             f"\n\nSuggested fix:\n\n{fix_fence}diff\n{fix}\n{fix_fence}")
    if len(ask) + len(reply) > cfg.max_example_chars:
        return None
    return Candidate("coder", "review", [{"role": "user", "content": ask}, {"role": "assistant", "content": reply}],
                     source="git", provenance={"repo": cfg.repo, "commit": intro.sha, "fixed_by": r.fix.sha,
                                               "path": r.path})
