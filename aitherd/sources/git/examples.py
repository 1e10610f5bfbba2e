"""One commit -> examples a model can answer.

A commit's kept files fall in three groups: code (and configuration), tests, documentation.
Each group becomes one example holding all its files' changes, so the task is the commit's
whole intent ("Eliminate some resource warnings" with every hunk it needed); a group over
`max_example_chars` or `max_example_files` falls back to one example per file, told it is part
of a larger change, at most `max_split_examples` of them (chosen by a hash of commit and path).
The intent is the subject without its conventional prefix and PR number, with the body's prose
(trailers and a coding assistant's appended chat dropped). An edit, a new file or a docs update
whose intent names no change ("copy", "wip") is skipped as vague_intent; an answer with no code
at all as empty_answer; a change that only sets version numbers or checksums the task does not
give ("Update Plug dep", a brew formula's new sha256) as version_only; a file the commit
moves or splits off another as files.moved.

Categories: code of a bugfix -> debugging (but editing when it changes comments or
documentation only), other code -> editing (instruction when it only adds files), tests ->
test_generation (with the code change as context), documentation -> editing (with the code
change as context too) at `docs_weight`, a `docs_keep` share of them (sampled by commit, so
re-runs agree), never debugging. Fences carry the file's language; a Python snippet is cut to
whole statements and labelled python only when it parses (the judge parses
python fences).
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aitherd.candidate import Candidate
from aitherd.sources.git import files
from aitherd.sources.git.classify import conventional
from aitherd.sources.git.message import (
    CI_DIRECTIVE,
    CVS_TEMPLATE,
    clean_body,
    log_messages,
    named_commits,
    split_subject,
)
from aitherd.sources.git.parse import Commit, FileDiff, Hunk, unexpanded
from aitherd.sources.git.settings import Settings
from aitherd.sources.items import Skip

CATEGORY = {"bugfix": "debugging", "refactor": "editing", "feature": "editing", "test": "test_generation",
            "docs": "editing", "chore": "editing"}
# "(#12)", "(org/repo#12)", "(#12, #13)"; a backport's "(#2582) (#2583)" too
# CPython's "(GH-105000)" and "(gh-105000)" too
_PR_REF = re.compile(r"(?:\s*\((?:#\d+|[\w.-]+/[\w.-]+#\d+|[Gg][Hh]-\d+)(?:,\s*#\d+)*\))+\s*$")
# An issue the subject closes, said at its end or its start: "Fixing cookie header. Closes #166",
# "Support for lists in context macro (fixes #56)", "... move, Fix #4487" (900 of 34,000 subjects
# over 90 histories), "Fix #2682: Cancel all requests on session invalidation" (fmt, Alamofire).
# The number says nothing to a model; the words around it are the task.
# ... Launchpad's bugs too, by number with or without "#" (python-novaclient: "... Fixes bug 904182.",
# "... in create server. bug 893183")
_LP_BUG = r"(?:lp\s*:?\s*)?bugs?\s*:?\s*(?:lp\s*:?\s*)?#?\d{4,}"
_CLOSING = r"(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?|refs?|see)"
_ISSUE_ONE = (rf"(?:{_CLOSING}\s+(?:issues?\s+)?#\d+(?:(?:\s*,\s*|\s+and\s+)#\d+)*|"
              rf"(?:(?:partially\s+|helps\s+)?{_CLOSING}\s+)?{_LP_BUG})")
_ISSUE_WORD = rf"{_ISSUE_ONE}(?:[\s,;]+(?:and\s+)?{_ISSUE_ONE})*"  # flask's "closes #2267, closes #1433"
_ISSUE_TAIL = re.compile(rf"(?:[\s,;.:-]*\(\s*{_ISSUE_WORD}\s*\)|[\s,;:-]+(?:this\s+(?:commit\s+|change\s+)?)?"
                         rf"{_ISSUE_WORD})\s*\.?\s*$", re.I)  # flask's 21 "...  This fixes #58."
# A bare number at the end, the pull request's without brackets: nvim-lspconfig's "fix(flow):
# resolve project-local binary before npx fallback #4431" (2,400 of 71,000 subjects over 100
# histories); not where the number is what a word names ("Adding failing test for #169").
_BARE_REF = re.compile(r"(\w+)[\s.:;,]*\s#\d+\s*$")
_NAMES_THE_REF = frozenset({"for", "of", "in", "to", "on", "at", "by", "from", "with", "into", "about", "after",
                            "since", "per", "re", "and", "or", "vs", "than", "issue", "issues", "pr", "bug", "ticket",
                            "fix", "fixes", "fixed", "close", "closes", "closed", "resolve", "resolves", "resolved",
                            "see", "ref", "refs", "address", "addresses", "revert", "reverts"})
_ISSUE_HEAD = re.compile(rf"^{_ISSUE_WORD}\s*(?::|\s-|,)\s*(?=\S)", re.I)
# An issue tracker's key (Jira's, as Apache's projects and many teams write it): "[CSV-329] Fix
# byte tracking ...", "CSV-320: Remove ...", "CSV-60 CSVParser.iterator() ...", Spark's
# "[SPARK-123][SQL] ...", and at the end "Header support (CSV-65)" (commons-csv: 479 examples'
# tasks began or ended so). Not a standard's or an encoding's name ("UTF-8 support", "SHA-256
# digests", "RFC-7230 ...", "CVE-2021-44228 ...").
_NOT_KEYS = (r"(?!(?:UTF|UCS|ISO|SHA|MD|AES|RSA|RFC|CVE|GPT|PEP|ES|ECMA|HTTP|IE|COVID|CP|WIN|TLS|SSL|IPV|IEEE|ANSI|"
             r"BASE|DDR|USB|ARM|JSR|JEP|KIP|FLIP|SIP|PSR)-)")
_KEY = rf"{_NOT_KEYS}[A-Z][A-Z0-9_]+-\d+"
# In square brackets a key is a ticket's whatever its letters: gorilla/mux's "[GPT-95] Update go
# version ..." (its Jira project, not a model's name)
_BRACKETED_KEY = r"[A-Z][A-Z0-9_]+-\d+"
_TICKET_HEAD = re.compile(rf"^(?:\[{_BRACKETED_KEY}(?:,\s*{_BRACKETED_KEY})*\]|{_KEY}(?:(?:,\s*|\s+){_KEY})*(?=[\s:.]))"
                          rf"(?:\[[\w .-]+\])*\s*[:.-]?\s*(?=\S)")
_KEY_ANYWHERE = re.compile(rf"\b{_KEY}\b")
# Python's own conventions, which its tools and many of its projects follow: an issue on GitHub
# or on the old bug tracker before the subject ("gh-1309: Document ...", "bpo-45122: Remove
# ...", older "Issue #12345: ..."), a number alone ("#4897: allow ..."), and a backport's target
# branch ("[3.12] gh-104584: Fix ..."). devguide: 96 of its 2,278 subjects. Other projects write
# the issue first too: puppetlabs-stdlib's "(#7657) Add basic validate_re function" (198 of its
# 2,688 tasks), cats' "#500 add derived foldMap ...", typeorm's "#62 and #61 - removed ...",
# devise's "[#22] Fix generators ...", rich's "[2464] Add print_json ..." and "Issue 2688: add ...",
# AutoMapper's "Issue #274 - Reopened ...", pipx's "GH1229 Update ...". A number alone is a
# reference only in square brackets or after "Issue" ("3 fixes for ...", "(2015) ..." keep theirs).
_ISSUE_REF = r"(?:(?:gh|GH|bpo)-\d+|GH\d+|[Ii]ssue[\s-]*#?\d+|#\d+)"
_ISSUE_REFS = rf"{_ISSUE_REF}(?:(?:\s*,\s*|\s+and\s+|\s*&\s*){_ISSUE_REF})*"
_BRACKETED_REFS = (r"\[\s*(?:#?\d+|(?:gh|GH|bpo)-\d+)(?:\s*,\s*(?:#?\d+|(?:gh|GH|bpo)-\d+))*\s*\]|"
                   r"\(\s*(?:#\d+|(?:gh|GH|bpo)-\d+)(?:\s*,\s*(?:#\d+|(?:gh|GH|bpo)-\d+))*\s*\)")
# After a space alone, the reference is the sentence's subject when a verb that tells of it
# follows ("#12 is broken on Windows", "#7 fails ...", "#407 and gofmt ..."): kept.
_TELLS = (r"(?!(?i:is|was|were|are|has|had|have|should|would|could|can|cannot|will|does|did|may|must|and|or)\b"
          r"|\w+(?<!s)s\b|&)")
_ISSUE_REF_HEAD = re.compile(rf"^(?:\[\d+\.(?:\d+|x)\]\s*(?=\S))?(?:(?:{_ISSUE_REFS}|{_BRACKETED_REFS})"
                             rf"(?:\s*[:.-]\s*|\s+{_TELLS})(?=\S))?(?<=.)")
_TICKET_TAIL = re.compile(rf"\s*(?:\(\s*{_KEY}(?:,\s*{_KEY})*\s*\)|\[{_BRACKETED_KEY}\])\s*\.?\s*$")


def intent(commit: Commit) -> tuple[str, str]:
    """(the subject as a task: no conventional prefix, no PR number; the body's prose)."""
    return _intent(commit.subject, commit.body)


_LIST_START = re.compile(r"[ \t]*(-(?!-)|\*(?!\*)|•)[ \t]*(?=\S)")  # "-Fixed", "- Add", "* Use", not "--raw-input"
# A subject whose first word is a plain word ("re-enable" too), not a name: "app.add_url_rule()",
# "rename_at()", magit's "magit-log-wash-rev: Set ...", a scope's "cli: ..."
_WORD_FIRST = re.compile(r"[^\W\d_A-Z]+(?:-[^\W\d_A-Z]+)?\b(?![-.(\[:_])")
_AUTHOR_MARK = re.compile(r"^aider:\s*", re.I)  # "aider: Added ...": who wrote it, not what it is


# A subject that only says a branch was merged, on a commit with one parent: GitHub's security
# advisories land as "Merge commit from fork" and "Merge pull request from GHSA-..." (hono: 45 and
# 2 commits, 102 examples whose task was that line), a merge redone by hand ("Merge branch
# 'master' of github.com:..."), "Merge main into next". It names no change: the task is empty
# (the body, if any, says what it is). "Merge BasicArgFormatter and ArgFormatter" is a change.
_SQUASHED = re.compile(r"\s*Squashed commit of the following:?\s*$")
_MERGE_SUBJECT = re.compile(r"\s*Merge (?:(?:remote-tracking |remote )?branch\b|pull request\b|commit\b|tag\b|"
                            r"[0-9a-f]{7,40} into [0-9a-f]{7,40}\s*$|"  # a pull request exported (googletest: 10)
                            r"(?:main|master|develop|development|dev|next|trunk|stable|canary|beta|upstream|"
                            r"origin/\S+) into \S+\s*$)")


# The CVS template of Apache's early commits, in the first paragraph, which git joins into the
# subject: commons-io's "Copy and Paste Errors PR: Obtained from: Submitted by: Michael A. Smith
# [...] Reviewed by:". Two of its keys or more: the subject ends before the first.
_TEMPLATE_KEY = rf"(?:{CVS_TEMPLATE}):"
_TEMPLATE_TAIL = re.compile(rf"\s+{_TEMPLATE_KEY}(?=.*\s{_TEMPLATE_KEY}).*$")


# ... and a sign-off with no blank line before it, so in the first paragraph: laravel's "Make the
# key optional ... method Signed-off-by: Colin Viebrock <colin@...>" (26 of its tasks held a mail
# address so), GitHub's "... workflow file on-behalf-of: @Azure opensource@microsoft.com".
# A key and a person's address or handle, or a Gerrit id: "Fix the Signed-off-by: parser" keeps its words.
# A subject that is only one names no change (junit4's "Signed-off-by: KentBeck <kent@...>": "Bug
# fix: Signed-off-by: ...").
_JOINED_TRAILER = re.compile(r"(?:^|\s+)(?:(?:[A-Z][a-z]+-)+by|[Ss]igned-off-by|[Cc]o-authored-by|Change-Id|"
                             r"on-behalf-of):\s*(?=.*(?:@|\bI[0-9a-f]{8,})).*$")
_SPACES = re.compile(r"[ \t]{2,}|\t")


@functools.lru_cache(maxsize=64)  # asked once per example group of the same commit
def _intent(subject: str, body: str) -> tuple[str, str]:
    if "  " in subject or "\t" in subject:
        # a first paragraph git joined keeps each line's indentation: curl's "... which might
        # contain non-SRV answers, skipping over potential non-SRV   ones"
        subject = _SPACES.sub(" ", subject)
    if _MERGE_SUBJECT.match(subject):
        return _body_of("", body)
    if _SQUASHED.match(subject) and (messages := [m for m in log_messages(body) if not _MERGE_SUBJECT.match(m)]):
        # `git merge --squash`: the squashed commits' subjects, oldest first, are the task (moshi's
        # "Bug fix: Squashed commit of the following" asked to find a bug it did not name); not
        # their merges' (urfave/cli's "Merge pull request #1636 from dearchap/issue_1071; Fix tests")
        subject = "; ".join(m.split("\n", 1)[0].rstrip(" .;") for m in reversed(messages))
        body = "\n\n".join(rest for m in reversed(messages) if (rest := m.partition("\n")[2].strip()))
    if ":" in subject:
        subject = _JOINED_TRAILER.sub("", _TEMPLATE_TAIL.sub("", subject))
    _kind, rest = conventional(subject)
    if (head := _ISSUE_REF_HEAD.match(rest)) is not None:
        rest = rest[head.end():]
    rest = _PR_REF.sub("", CI_DIRECTIVE.sub("", _AUTHOR_MARK.sub("", rest))).strip() or subject.strip()
    if "-" in rest:
        rest = _TICKET_TAIL.sub("", _TICKET_HEAD.sub("", rest)).strip() or rest
    if "#" in rest or "bug" in rest or "Bug" in rest:
        cut = _ISSUE_HEAD.sub("", _ISSUE_TAIL.sub("", rest)).strip()
        if cut and cut.lower().rstrip(".:") not in _NAMES_THE_REF:  # "Fix bug 1234567" alone: as it is
            rest = cut
        if (bare := _BARE_REF.search(rest)) is not None and bare.group(1).lower() not in _NAMES_THE_REF:
            rest = rest[:bare.start()] + bare.group(0).split("#")[0].rstrip()
    if (start := _LIST_START.match(rest)) is not None:
        # A first paragraph that is a list, joined by git into one subject: Newtonsoft.Json's
        # "-Changed X -Added Y -Fixed Z" (1,285 of its 1,746 commits), sinatra's "- Add a - Remove b".
        # Its items are cut where the same mark starts another before a word or a number
        # ("- 1、调度中心迁移到 springboot； - 2、...").
        split = re.compile(r"[ \t]+" + re.escape(start.group(1)) + r"(?![-*])[ \t]*(?=[^\W\d_]|\d+[、.)])")
        items = [i.rstrip(" \t;；,，。.") for i in split.split(rest[start.end():])]
        rest = "; ".join(i for i in items if i.strip()) or subject.strip()
    rest = rest.rstrip(" \t;,") or rest  # axios' "fix(fetch): optimize signals composing logic; (#6582)"
    if rest.endswith(":") and rest[-2:-1].isalnum():
        rest = rest[:-1]  # a first line that opened a list below it: curl's "Adjust GCC warnings:" read "warnings:."
    if _WORD_FIRST.match(rest):  # not a name: "app.add_url_rule() should look ...", "make_test_environ_builder"
        rest = rest[:1].upper() + rest[1:]
    return _body_of(rest, body)


def _body_of(rest: str, body: str) -> tuple[str, str]:
    """(the task's subject, the body's prose) from the subject as a task and the raw body."""
    body = clean_body(body)
    rest, more = split_subject(rest)  # git joined a first paragraph of sentences: the first is the task
    if more:
        more = named_commits(more)  # (the body's prose, as `clean_body` leaves it)
        body = f"{more}\n\n{body}" if body else more
    if body.startswith("* "):
        body = _without_repeat(body, rest)
    if len(body) > 1500:
        body = body[:1500].rsplit("\n", 1)[0].strip()
    if "@" in rest or "@" in body:
        rest, body = _MAIL.sub("", rest), _MAIL.sub("", body)
    return rest, body


# A person's mail address in angle brackets beside a name: how to reach them, not the change
# (gunicorn's "Apply patch from Chris Lamb <lamby@...> with minor changes", libuv's credits "* Sam
# Roberts <sam@...>")
_MAIL = re.compile(r"[ \t]*<[\w.+-]+@[\w-]+(?:\.[\w-]+)+>")


def _without_repeat(body: str, subject: str) -> str:
    """The body without a bullet that only repeats the subject (a squash of one commit:
    "Speed up content-length" over "* perf: Speed up content-length")."""
    def plain(text: str) -> str:
        return _PR_REF.sub("", conventional(text.strip().removeprefix("* "))[1]).strip().rstrip(".").lower()

    want = plain(subject)
    return "\n\n".join(p for p in re.split(r"\n[ \t]*\n", body) if plain(p) != want)


@dataclass
class Snippet:
    line: int  # first line of the snippet on the new side (1-based)
    before: str | None  # None: a new file
    after: str
    lang: str


@dataclass
class Part:
    """One file's change, ready to render: its kept hunks, cut into snippets only when an
    example shows them (a file left out of a split group, or too large for any example, is
    never windowed: 13% of the windows on flask's history)."""

    path: str
    role: str  # code | test | docs
    hunks: list[Hunk]  # the hunks kept, for review diffs
    fd: FileDiff
    lang: str
    limit: int  # max_example_chars: a snippet longer is not parsed
    blob: Callable[[str], bytes | None] | None = None  # a blob's content by its id (gitio.Heads.blob)
    around: int = 0  # the file's lines read around a Python hunk with no window of its own (0: none)
    _docs: dict[int, bool] = field(default_factory=dict, repr=False, compare=False)  # `doc`'s answers

    @functools.cached_property
    def snippets(self) -> list[list[Snippet]]:
        """Each hunk's snippets: one, or a Python hunk's windows around each run of its
        changes (`_pieces`)."""
        # a notebook's hunks are its cells' (notebook.py), not its blob's lines
        wider = self.blob is not None and self.around > 0 and not self.fd.path.endswith(".ipynb")
        more = (lambda: self.new_blob) if wider else None
        return [_snippet(self.fd, h, self.lang, self.limit, more, self.around) for h in self.hunks]

    @functools.cached_property
    def new_blob(self) -> bytes | None:
        """The new file's content, read once, when a Python hunk with no window of its own asks."""
        return self.blob(self.fd.blob) if self.blob is not None else None

    @property
    def new(self) -> bool:
        return self.fd.status == "A"  # every snippet's `before` is None

    def blank(self) -> bool:
        """Would its snippets' new side be blank? A window shows new-side text whenever the
        hunk has any (files.python_window), so the hunks answer without cutting them."""
        return all(files.blank_side(h.lines, "-") for h in self.hunks)

    def doc(self, i: int) -> bool:
        """Does its `i`th hunk change comments or documentation only (`docs_only`)? Asked by the
        example's framing (up to the first hunk that does not) and again by the review pairs'
        blame: told once."""
        if i not in self._docs:
            self._docs[i] = docs_only(self, i)
        return self._docs[i]

    @functools.cached_property
    def rows_chars(self) -> int:
        """Characters of its hunks' rows, marks included: at least `least_chars`' sum."""
        return sum(sum(map(len, h.lines)) for h in self.hunks)

    @functools.cached_property
    def least_chars(self) -> int:
        """Characters its rendered before and after hold at least: every changed row is in
        any window, with its newline (the removed ones only when it is no new file)."""
        removed = added = 0
        for h in self.hunks:
            for ln in h.lines:
                if ln[0] == "-":
                    removed += len(ln)
                elif ln[0] == "+":
                    added += len(ln)
        return (0 if self.new else removed) + added


def _squashed(rows: list[str], mark: str) -> str:
    return "".join("".join([ln[1:] for ln in rows if ln[0] == mark]).split())


def _whitespace_only(hunk: Hunk, prose: bool) -> bool:
    rows = hunk.lines
    # Cheap and necessary: whitespace-only, the removed and the added lines hold the same text
    # once whitespace is taken out (str.split() splits at more characters than ASCII
    # whitespace: still necessary).
    if not hunk.added or not hunk.removed:
        # One side has no rows, hence no words: the other side's rows must all be blank. A third
        # of real hunks only add or only remove lines; this answers them without sorting words.
        mark = "-" if hunk.removed else "+"
        if any(not ln[1:].isspace() and len(ln) > 1 for ln in rows if ln[0] == mark):
            return False
    elif _squashed(rows, "-") != _squashed(rows, "+"):
        return False
    return files.whitespace_only(*hunk.sides(), prose=prose)


def _snippet(fd: FileDiff, hunk: Hunk, lang: str, limit: int,
             new_blob: Callable[[], bytes | None] | None = None, around: int = 0) -> list[Snippet]:
    """The hunk as before/after code; a Python hunk cut to whole statements (see
    files.python_window), where the hunk's rows hold none from the file's lines around it
    (`new_blob`: the new file's content, see `_around`), or else cut into one window around each
    run of its changes (`_pieces`). Snippets too long for any example are not parsed."""
    rows = hunk.lines
    if fd.status == "A":
        after = "\n".join(ln[1:] for ln in rows) + "\n"
        if lang == "python" and (len(after) > limit or not files.parses(after)):
            lang = "python2" if files.python2(rows) else ""
        return [Snippet(1, None, after, lang)]
    first = hunk.new_start
    if lang == "python":
        found = _python_rows(fd, hunk, limit, new_blob, around)
        if found is None:
            fits = _chars(rows) <= limit
            if fits and (pieces := _pieces(rows, first)):
                return pieces
            return [_cut(rows, first, "python2" if files.python2(rows) else "")]
        rows, first, (s, e) = found
        first += sum(1 for ln in rows[:s] if ln[0] != "-")
        rows = rows[s:e]
    return [_cut(rows, first, lang)]


def _chars(rows: list[str]) -> int:
    return sum(map(len, rows))


def _python_rows(fd: FileDiff, hunk: Hunk, limit: int, new_blob: Callable[[], bytes | None] | None,
                 around: int) -> tuple[list[str], int, tuple[int, int]] | None:
    """`_snippet`'s search for a Python hunk's window: the rows it lies in (the hunk's own, or
    those with the file's lines read around them), the first row's new-side line, and the
    window (`files.python_window`); None when none parses."""
    rows, first = hunk.lines, hunk.new_start
    own = _chars(rows)
    fits = own <= limit  # (the hunk's own rows: a wider window that parses replaces them)
    if fits and (window := files.python_window(rows, from_top=first == 1)) is not None:
        return rows, first, window
    data = new_blob() if new_blob is not None else None
    wider = _around(fd, hunk, data, around)
    if wider is not None:
        more, pre = wider
        if _chars(more) <= limit and (
                window := files.python_window(more, narrow=True, from_top=first - pre == 1)) is not None:
            return more, first - pre, window
        top, most = _in_string(more, pre), limit
        if top is None and pre == around and not _quoted(more[:pre]) and _quoted(more[pre:]):
            # A docstring longer than the lines read (jsonschema's, werkzeug's parameter lists:
            # a quarter to a third of the Python lines still shown unlabelled lay in fences that
            # start inside a string): its opening is looked for further up. Taken where it at
            # most triples the hunk's own rows: a window from a `def` 100 lines up cost more
            # files their place in an example than it labelled.
            further = _around(fd, hunk, data, around, LONG_STRING_LINES)
            if further is not None and (top := _in_string(*further)) is not None:
                more, pre = further
                most = min(limit, LONG_STRING_GROWTH * own)
        if top is not None:
            more, pre = more[top:], pre - top
            window = files.python_window(more, narrow=True, top=True, strings=True) if _chars(more) <= limit else None
            if window is not None and _chars(more[window[0]:window[1]]) <= most:
                return more, first - pre, window
        elif pre == around and files.closes_above(wider[0]):
            # A bracket that opens above the lines read (a signature or a call of many arguments:
            # attrs' stubs of `define(...)`, alembic's and rich's long parameter lists: 1.1 to 1.8
            # points of their Python lines were shown unlabelled): its opening is looked for
            # further up, with the same cap as a long docstring's.
            further = _around(fd, hunk, data, around, LONG_STRING_LINES)
            if further is not None and _chars(further[0]) <= limit:
                more, pre = further
                window = files.python_window(more, narrow=True, from_top=first - pre == 1)
                if window is not None and _chars(more[window[0]:window[1]]) <= min(limit, LONG_STRING_GROWTH * own):
                    return more, first - pre, window
    # Rows inside a triple-quoted string, at a column left of the code around it (client_python's
    # expected metrics text at the first column in a test method: 3.1 points of its Python lines
    # were shown unlabelled), end no block (see `files.python_window(strings=True)`), told by the
    # quotes' count from the first row. That count is wrong where the rows start inside a
    # string: asked after the other tries.
    if fits and _quoted(rows) and (window := files.python_window(rows, strings=True, from_top=first == 1)) is not None:
        return rows, first, window
    if wider is not None and _chars(wider[0]) <= limit and _quoted(wider[0]) and (
            window := files.python_window(wider[0], narrow=True, strings=True,
                                          from_top=first - wider[1] == 1)) is not None:
        return wider[0], first - wider[1], window
    if fits and (window := files.python_window(rows, elements=True, from_top=first == 1)) is not None:
        return rows, first, window  # the last resort: a list's elements
    return None


LONG_STRING_LINES = 150  # file lines read above a hunk that lies in a docstring whose opening the first read missed
LONG_STRING_GROWTH = 3  # ... and how many times the hunk's own rows' characters its window may hold


def _quoted(rows: list[str]) -> bool:
    """Does any of the rows hold triple quotes?"""
    return any('"""' in ln or "'''" in ln for ln in rows)


def _cut(rows: list[str], first: int, lang: str) -> Snippet:
    before = "\n".join([ln[1:] for ln in rows if ln[0] != "+"]) + "\n"
    after = "\n".join([ln[1:] for ln in rows if ln[0] != "-"]) + "\n"
    return Snippet(first, before, after, lang)


PIECE_GAP = 3  # unchanged rows between two runs of a hunk's changes that may part them


def _pieces(rows: list[str], first: int) -> list[Snippet]:
    """A Python hunk with no window is often two changes far apart that git's context joined:
    the end of one method and the module's `if __name__` block, an `__init__` and a property
    added below (rich: 47 of its 398 hunks with no window, flask 50). It is cut in the middle of
    each run of at least `PIECE_GAP` unchanged rows between its changes, and each part gets its
    own window; a part that has none is shown whole, unlabelled (TheAlgorithms' new function
    under a module docstring, then a docstring whose end lies past the hunk). [] when the hunk
    has one part, or no part has a window (the hunk is then shown whole)."""
    changed = [i for i, ln in enumerate(rows) if ln[0] != " "]
    cuts = [(a + b + 1) // 2 for a, b in itertools.pairwise(changed) if b - a - 1 >= PIECE_GAP]
    if dedents := _dedents(rows, changed):
        kept: list[int] = []  # no part without a change of its own (a cut of each kind in one unchanged run)
        for c in sorted({*cuts, *dedents}):
            if any((kept[-1] if kept else 0) <= i < c for i in changed):
                kept.append(c)
        cuts = kept
    if not cuts:
        return []
    out = []
    bounds = [0, *cuts, len(rows)]
    for lo, hi in itertools.pairwise(bounds):
        part = rows[lo:hi]
        window = files.python_window(part)
        s, e = window if window is not None else (0, len(part))
        lang = "python" if window is not None else "python2" if files.python2(part) else ""
        out.append(_cut(part[s:e], first + sum(1 for ln in rows[:lo + s] if ln[0] != "-"), lang))
    return out if any(p.lang == "python" for p in out) else []


_HEAD = re.compile(r"[ \t]*(?:(?:async[ \t]+)?def[ \t]|class[ \t]|@)")


def _dedents(rows: list[str], changed: list[int]) -> list[int]:
    """The rows, between a hunk's changes, where a `def`, a `class` or a decorator starts left of
    every line above it in the hunk: the end of one method and the next one's start, whose
    changes lie a row or two apart (httpx's `return Response(...)` and the `_body_iter` renamed
    below it). No window holds both (it would start inside the first method and end outside it)."""
    out = []
    low = 1 << 20
    for i, ln in enumerate(rows):
        t = ln[1:]
        u = t.lstrip()
        if not u or u[0] == "#":
            continue
        k = len(t) - len(u)
        if k < low and changed[0] < i <= changed[-1] and _HEAD.match(t):
            out.append(i)
        low = min(low, k)
    return out


def _in_string(rows: list[str], pre: int) -> int | None:
    """The row that owns the docstring a hunk starts in, among the file's lines read around the
    hunk (`_around`: `rows`, `pre` of them before the hunk's first row), when no window was found
    there: its narrowest search took the docstring's own rows for starts and spent its tries on
    them before the `def` was reached (more-itertools' doctests: 9.8% of its Python lines were
    shown unlabelled, 4.6% now; flask 6.3% -> 3.9%). A window then starts at that row
    (`python_window(top=True)`). The docstring opens on the nearest row above the hunk that holds
    triple quotes, an odd count of them: a row that starts with them right below a line that
    ends in ':' (the `def` or `class`, found up to the first line left of the quotes, and its
    decorators above it), or a string at the first column (`T = '''`, a module's docstring),
    that row itself. Told from these lines alone (polars' Python files run to 228 KB; scanning
    them from the start cost 2% of its miner): a closing quote taken for an opening one gives
    windows that do not parse. None when no such row is found."""
    q = next((k for k in range(pre - 1, -1, -1) if '"""' in rows[k] or "'''" in rows[k]), None)
    if q is None:
        return None
    text = rows[q][1:]
    if files.triple_quotes(text) % 2 == 0:
        return None  # a string that closes on its row (or none opens)
    indent = len(text) - len(text.lstrip())
    if indent == 0:
        return q  # a string at the first column: from its own row
    above = next((k for k in range(q - 1, -1, -1) if rows[k][1:].strip()), None)
    if above is None:
        return None  # nothing read above it: no statement to name
    if not files.opens_docstring(text, rows[above][1:]):
        if text.strip() in files.TRIPLE:
            return None  # quotes alone on their row: most often a docstring's closing ones
        return _statement_start(rows, q)  # a string assigned or passed: from its statement
    k = above
    while k >= 0:
        t = rows[k][1:]
        u = t.lstrip()
        if u and len(t) - len(u) < indent:
            if u.startswith(")"):
                # the end of a signature written over several lines (jsonschema's `    ):` under
                # `def __init__(`): its `def` is the row that opens the bracket
                depth = 0
                while k >= 0:
                    code = rows[k][1:].split("#", 1)[0]
                    depth += code.count(")") - code.count("(")
                    if depth <= 0:
                        break
                    k -= 1
                if k < 0:
                    return None
                t = rows[k][1:]
            if not _HEAD.match(t):
                return None
            while k > 0 and rows[k - 1][1:].lstrip().startswith("@"):
                k -= 1  # from its decorators
            return k
        k -= 1
    return None


_CONTINUED = ("(", "[", "{", ",", "\\", "=")


def _statement_start(rows: list[str], k: int) -> int:
    """The row that starts the statement row `k` belongs to, told from the rows above it alone:
    up past each row whose code (a comment after it aside) ends in an opening bracket, a comma,
    an `=` or a backslash (a call's arguments written over several lines, a dict's entries).
    The parse decides after: a guess that starts inside a string or a bracket gives no window."""
    while k > 0:
        above = next((j for j in range(k - 1, -1, -1) if rows[j][1:].strip()), None)
        if above is None or not rows[above][1:].split("#", 1)[0].rstrip().endswith(_CONTINUED):
            return k
        k = above
    return k


def _around(fd: FileDiff, hunk: Hunk, data: bytes | None, around: int,
            before: int | None = None) -> tuple[list[str], int] | None:
    """The hunk's rows with up to `around` more unchanged lines of the new file (`data`, its
    content) before (`before`: that many) and after them, as context rows, and how many came
    before; never into a neighbouring hunk (between hunks the old and new file agree). A tenth to a sixth of real
    Python hunks hold no window that parses: the change sits in a statement that opens above
    the hunk (a call's arguments, a docstring's def) or closes below it (rich: 1,026 of 6,320
    windows; with the lines around them, 487 of those get one). None when the lines do not
    match the hunk's own (a blob that is not the diff's new side)."""
    n = hunk.new_len
    if data is None or n == 0:
        return None
    start = hunk.new_start  # the first new-side row's line (1-based)
    prev = max((h for h in fd.hunks if h.new_start < start), key=lambda h: h.new_start, default=None)
    above = around if before is None else before
    low = max(1, start - above, prev.new_start + prev.new_len if prev is not None else 1)
    high = min([h.new_start for h in fd.hunks if h.new_start > start] + [start + n + around])
    # The file is split only up to the last line wanted (polars' Python files average 3,000
    # lines, a hunk's retry wants 60 of them): lines[high - 1], when there, is the rest unsplit.
    lines = data.split(b"\n", high - 1)
    if len(lines) < high:  # the whole file, split: not past its last line
        if lines[-1] == b"":
            lines.pop()  # the newline that ends the last line
        high = min(high, len(lines) + 1)
    # only the lines asked for are decoded (a kept file is UTF-8: parse_files)
    got = [unexpanded(ln.decode("utf-8", "replace")) for ln in lines[low - 1:high - 1]]  # as the hunk shows them
    if [ln[1:] for ln in hunk.lines if ln[0] != "-"] != got[start - low:start - low + n]:
        return None
    head = [" " + ln for ln in got[:start - low]]
    tail = [" " + ln for ln in got[start - low + n:]]
    if not head and not tail:
        return None
    return head + hunk.lines + tail, len(head)


MOVED_SHARE = 0.5  # of a new file's telling lines found in one file the commit deletes: moved there


def _moved(commit: Commit) -> set[str]:
    """The files this commit adds that are files it deletes, moved (mined with --no-renames, a
    move is a deletion and an addition): the same blob, or half or more of the new file's lines
    that are not trivial (brackets, keywords, comments) found in one deleted file. "Write
    examples/blog/blog/index.js" under express's "Refactored blog example" asked for a file the
    commit only moved from examples/blog/blog.js: no intent can give its text."""
    return _taken_from(commit, [fd for fd in commit.files if fd.status == "D"])


def _extracted(commit: Commit, only: set[str] | None = None) -> set[str]:
    """The files this commit adds whose text it took out of a file it keeps: half or more of the
    new file's telling lines are lines removed from one modified file (FSharpPlus' "Split up
    functor" wrote Control/MonadOps.fs from what it cut out of Operators.fs). Shown beside that
    file, the change is one a model can make; alone ("Write src/.../MonadOps.fs", the part of a
    larger change split per file) it cannot: `commit_examples` leaves it out there."""
    return _taken_from(commit, [fd for fd in commit.files if fd.status == "M"], only)


def _taken_from(commit: Commit, sources: list[FileDiff], only: set[str] | None = None) -> set[str]:
    """The files this commit adds (`only`: of these paths) with the blob, or half or more of the
    telling lines, of the removed side of one of `sources` (files it deletes or modifies). The
    new files' telling lines are gathered first, and only those are looked for among the removed
    lines (a sweep over a thousand files removes tens of thousands: polars)."""
    added = [fd for fd in commit.files if fd.status == "A" and (only is None or fd.path in only)]
    if not sources or not added:
        return set()
    blobs = {fd.old_blob for fd in sources if fd.status == "D" and fd.old_blob and set(fd.old_blob) != {"0"}}
    out = set()
    telling: dict[str, set[str]] = {}
    for fd in added:
        if fd.blob and fd.blob in blobs:
            out.add(fd.path)
        elif lines := {t for h in fd.hunks for ln in h.lines
                       if ln[0] == "+" and not files.trivial(t := ln[1:].strip())}:
            telling[fd.path] = lines
    if not telling:
        return out
    wanted = set().union(*telling.values())
    where: dict[str, set[int]] = {}  # a new file's telling line -> the source files it was removed from
    for i, fd in enumerate(sources):
        for h in fd.hunks:
            for ln in h.lines:
                if ln[0] == "-" and (text := ln[1:].strip()) in wanted:
                    where.setdefault(text, set()).add(i)
    for path, lines in telling.items():
        hits: Counter[int] = Counter(i for t in lines for i in where.get(t, ()))
        if hits and hits.most_common(1)[0][1] >= MOVED_SHARE * len(lines):
            out.add(path)
    return out


def parts(commit: Commit, cfg: Settings, generated: Callable[[FileDiff], bool],
          script_language: Callable[[FileDiff], str] | None = None,
          head_says: Callable[[FileDiff], str] | None = None,
          blob: Callable[[str], bytes | None] | None = None) -> list[Part]:
    """The files worth an example, each with its snippets; what is left out is counted.
    `script_language`: the language of a file without an extension, by its `#!` line;
    `head_says`: what a `.h` or `.m` file's first lines say it is (see files.shared_language);
    `blob`: a blob's content by its id, for the lines around a Python hunk (`_around`)."""
    out = []
    siblings: set[str] | None = None  # the languages of the commit's files, for a .h or .m file's
    moved = _moved(commit)
    for fd in commit.files:
        if fd.status == "D":
            commit.skip("files.deleted")
            continue
        if fd.path in moved:
            commit.skip("files.moved")
            continue
        if generated(fd):
            commit.skip("files.generated")
            continue
        if fd.conflict:  # an unresolved merge: an answer that holds one does not compile (parse.shows_conflict)
            commit.skip("files.conflict_markers")
            continue
        lang = fd.lang or files.language(fd.path)
        if not fd.lang and files.shared_extension(fd.path):
            # (first: `.v` and `.pp` have no language of their own, and their lines tell it)
            if siblings is None:
                siblings = {files.language(f.path) for f in commit.files if not files.shared_extension(f.path)}
            lang = files.shared_language(fd.path, "\n".join([ln for h in fd.hunks for ln in h.lines]), siblings,
                                         None if head_says is None else functools.partial(head_says, fd))
        elif not lang and script_language is not None:
            # tests/shtest, scripts/version, .husky/pre-commit; an extension that tells nothing:
            # git's gitweb.cgi (250 unlabelled snippets), templates/hooks--update.sample
            lang = script_language(fd)
        role = "docs" if files.docs_page(fd.path, lang) else "test" if files.is_test(fd.path) else "code"
        if role == "docs" and not lang:
            lang = "text"  # prose of no known format: curl's docs/KNOWN_BUGS (670 unlabelled snippets)
        kept = []
        for hunk in fd.hunks:
            if not cfg.min_changed_lines <= hunk.changed <= cfg.max_hunk_lines:
                commit.skip("hunks.size")
                continue
            if _whitespace_only(hunk, role == "docs"):
                commit.skip("hunks.whitespace_only")
                continue
            kept.append(hunk)
        if kept:
            out.append(Part(fd.path, role, kept, fd, lang, cfg.max_example_chars, blob, cfg.python_context_lines))
    return out


def _block(part: Part, side: str) -> str:
    chunks = []
    shown = [s for pieces in part.snippets for s in pieces]
    many = len(shown) > 1
    for s in shown:
        text = s.after if side == "after" else s.before
        if text is None:
            continue
        where = " (new file)" if s.before is None else f" (line {s.line})" if many else ""
        fence = fence_for(text)
        chunks.append(f"`{part.path}`{where}:\n{fence}{s.lang}\n{text}{fence}")
    return "\n\n".join(chunks)


_BACKTICKS = re.compile(r"`{3,}")


def fence_for(text: str) -> str:
    """A code fence the text cannot close: longer than any run of three or more backticks in it
    (CommonMark closes a fence only with one at least as long; a reader that looks for the next
    ``` anywhere, indented in a docstring too, finds none either). Documentation holds fenced
    examples of its own: 17% of fastify's examples, 8% of vite's, whose ``` fence ended at the
    first example inside it."""
    if "```" not in text:
        return "```"
    return "`" * (max(len(m) for m in _BACKTICKS.findall(text)) + 1)


def _render(ps: list[Part], side: str) -> str:
    return "\n\n".join(b for p in ps if (b := _block(p, side)))


def _names(ps: list[Part]) -> str:
    names = [f"`{p.path}`" for p in ps]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _diff(ps: list[Part]) -> str:
    """The parts' hunks as a diff, the build and CI files' last: what tests or documentation
    match is the source change (Alamofire's "Fix memory leaks" showed its test files the CI
    workflow's Xcode versions first, its Validation.swift after them)."""
    return "\n".join(h.diff() for p in sorted(ps, key=lambda p: files.is_build(p.path)) for h in p.hunks)


# A word: letters and digits of any script, CJK runs apart (they carry no spaces: "更新RM" is
# "更新" and "rm"). An ASCII-only pattern read "调度信息迁移至DB中" as "db" and a subject with no
# Latin letter at all (332 of xxl-job's 1,988: "重构枚举类和返回类型以提升代码一致性") as no word,
# hence vague: every example of a team that writes in Chinese or Russian was left out.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+(?:'[^\W_{_CJK}]+)*")
# A CJK run made only of words that name no change: "更新" (update), "优化" (optimize), "修改"
# (modify), "文档" (docs), "代码" (code) ... (xxl-job's 339 "更新RM": update the README).
_VAGUE_CJK = re.compile("(?:更新|修改|优化|调整|完善|提交|修复|代码|文档|文案|重构|整理|初始化|其他|一些|部分|细节|"
                        "升级|版本|说明|内容|若干|小|的|和|及)+")
# Words that name no change by themselves ("copy": 2,019 commits of aider's history, "wip",
# "cleanup", "updated"; xxl-job's "Update doc", "Coding", "Update rm"; not "document", a verb:
# "Document RuntimeTypeAdapter"); and the glue.
_VAGUE = frozenset({"copy", "wip", "cleanup", "cleanups", "clean", "better", "noop", "initial", "init", "works",
    "working", "work", "refac", "refactor", "refactoring", "update", "updates", "updated", "change", "changes",
    "changed", "misc", "tweak", "tweaks", "tweaked", "stuff", "tmp", "temp", "save", "sync", "fix", "fixes",
    "fixed", "minor", "improvement", "improvements", "improve", "improved", "progress", "done", "commit", "edit",
    "edits", "edited", "modify", "modified", "modifies", "modification", "modifications",  # thor's "Modify spec/x.rb"
    "todo", "asdf", "ok", "oops", "again", "rename", "renamed", "layout", "doc", "docs",
    "documentation", "readme", "rm", "md", "code", "coding", "optimize", "optimized",
    "optimise", "optimised", "optimization", "upgrade", "upgraded",
    # ... which part, the subject cannot say (typed-racket's "Simplify": two of a file's requires removed)
    "simplify", "simplified", "simplification", "simplifications", "polish", "polished",
    # what a review asked for, not what it is (flameshot's "Made changes after review of merge",
    # phoenix's "Minor tweaks after code review", "Address review comments", "Updates per PR review")
    "review", "reviews", "reviewed", "feedback", "comments", "suggestions", "suggested", "address", "addressed",
    "made", "pr", "merge", "merged", "tidy", "tidied",
    # GitHub's "Apply suggestions from code review", clap's "Address epage's remarks", junit4's
    # "Reworked based on suggestions" (a reviewer named: `vague`)
    "apply", "applied", "suggestion", "remarks", "remark", "comment", "nit", "nits", "incorporate", "incorporated",
    "rework", "reworked",
    # a merge's conflicts resolved, by hand, which the subject does not say (testify's and
    # puppetlabs-stdlib's "Resolve conflicts", cats' "Fix merge conflict.", typeorm's "Resolved
    # conflict in CHANGELOG.md file": 27 examples in 9 of 47 histories)
    "conflict", "conflicts", "resolve", "resolved", "resolves", "resolving", "rebase", "rebased", "master",
    "upstream", "file", "files",
    # a history's first commit, which names no file or feature (leakcanary's "Initial import",
    # then "Write .../Preconditions.java." with nothing else to go on)
    "import", "imported", "version", "revision",
    # a fix of nothing named: bottle's "some bugfixes" (a review's "There is a problem: some
    # bugfixes."), "Bug fixes", "fixed some bugs", "Fix issues"
    "bug", "bugs", "bugfix", "bugfixes", "issue", "issues", "problem", "problems",
    # a changelog's entry for what the request does not show (pyramid's "Changelog for #2750")
    "changelog", "entry", "entries"})
_NUMBER_REF = re.compile(r"(?:\b[\w.-]+/[\w.-]+)?#\d+\b")
_GLUE = frozenset({"new", "other", "various", "small", "some", "more", "the", "a", "an", "of", "to", "and", "in",
    "on", "for", "it", "this", "that", "with", "from", "up", "final", "after", "per", "based", "by"})
# ... unless one of these says what to do: a typo or a lint fix can be found in the code shown.
_ACTIONABLE = frozenset({"typo", "typos", "spelling", "lint", "linter", "linting", "format", "formatting",
    "formatted", "whitespace"})


_ONE_WORD = re.compile(r"\s*(?:[A-Za-z]+|\d+)[.!]?\s*")


def vague(subject: str, body: str, paths: list[str]) -> bool:
    """Does the intent (no body) name nothing but vague words and the files it touches
    ("Copy", "WIP", "Updated HISTORY", "Update ctags.md", "...")? A model asked to make that
    change cannot know what it is. Names alone are not vague ("Count up" in count.c)."""
    if body.strip():
        return False
    if "-" in subject:
        subject = _KEY_ANYWHERE.sub(" ", subject)  # an issue's key names nothing: commons-csv's "[CSV-203]"
    if "#" in subject:
        subject = _NUMBER_REF.sub(" ", subject)  # nor does a pull request's number: pyramid's "Changelog for #2750"
    words = _TOKEN.findall(subject.lower())
    if all(w in _GLUE or (len(w) == 1 and w.isascii()) for w in words):
        return True  # no word, or only glue and single letters: flameshot's subject "A"
    if _ONE_WORD.fullmatch(subject) and words[0] not in _ACTIONABLE:
        # one word alone, what it names left unsaid: spdlog's "Comment", "Example", "Bench",
        # "Delete", commons-csv's 59 "Javadoc", flask's "2012" (a "Typo" can be found in the code)
        return True
    empty = [w in _VAGUE or _VAGUE_CJK.fullmatch(w) is not None for w in words]
    if any(w in _ACTIONABLE for w in words) or not any(empty):
        return False
    named = {w for p in paths for w in _TOKEN.findall(p.lower())}
    for i, w in enumerate(words):
        # the reviewer, named ("epage's remarks", "suggestions by dsaff"), names no change
        if ((w.endswith("'s") and i + 1 < len(words) and words[i + 1] in _REVIEW_WORDS) or
                (i >= 2 and words[i - 1] in ("by", "from") and words[i - 2] in _REVIEW_WORDS)):
            empty[i] = True
    return all(e or w in _GLUE or w in named for e, w in zip(empty, words, strict=True))


_REVIEW_WORDS = frozenset({"review", "reviews", "feedback", "comments", "comment", "suggestions", "suggestion",
                           "remarks", "remark", "nits"})


# A token: words and numbers joined by dots ("0.1.4", "foo.bar"), so a version is one token.
_PIN_TOKEN = re.compile(r"[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*")
# A version number (two parts or more, PEP 440's pre-, post- and dev-release parts written on:
# marshmallow's '2.1.1dev0', '3.0.0b3') or a checksum; a sure one has three parts, a "v", or is
# a checksum ("0.10" alone may be a float a test compares with).
_PIN = re.compile(r"[vV]?\d+(?:\.\d+)+(?:[.-]?(?:a|b|c|rc|alpha|beta|pre|dev|post)\d*)*(?:[-+][\w.-]+)?|"
                  r"[0-9a-fA-F]{32,}")
_SURE_PIN = re.compile(r"[vV]\d+(?:\.\d+)+.*|\d+\.\d+\.\d+.*|[0-9a-fA-F]{32,}")
_ZEROS = re.compile(r"(?:\.0)+$")
_DIGIT = re.compile(r"\d")


def _pin_key(token: str) -> str:
    """A version as the task may write it: "v0.12.0" and "0.12" are one version."""
    return _ZEROS.sub("", token.lstrip("vV"))


# The ref a GitHub Actions step uses (`uses: actions/checkout@v6`, `@main`, `@<commit>`): a tag,
# a branch or a commit, whatever its form.
_ACTION_REF = re.compile(r"(\buses:[ \t]*['\"]?[^\s@'\"#]+@)[^\s'\"#]+")
# A comment that only names the version a checksum stands for (`@de0fac2e... # v6.0.2`, as
# pinning tools write it), once masked.
_PIN_COMMENT = re.compile(r"[ \t]+#[ \t]*(?:frozen:[ \t]*)?(?:\0|[vV]\d+)$")  # (chi's `# v5`)


def masked_pins(line: str, sure: bool = False) -> str:
    """The line with each version number or checksum in it replaced by a NUL (`sure`: only
    those of three parts, with a "v", or checksums; not "0.5", which may be a timeout), and the
    ref of an action a workflow uses; without a comment after it that only names a version.
    sqlmodel's "Pin GitHub actions by commit SHA" wrote `actions/checkout@de0fac2e... # v6.0.2`
    for `@v6`: a commit a model can only guess."""
    pin = _SURE_PIN if sure else _PIN
    out = _PIN_TOKEN.sub(lambda m: "\0" if pin.fullmatch(m.group()) else m.group(), line).rstrip()
    if "uses:" in out:
        out = _ACTION_REF.sub("\\1\0", out)
    return _PIN_COMMENT.sub("", out) if "#" in out else out


def version_only(group: list[Part], ask: str) -> bool:
    """Does the change only set version numbers or checksums that `ask` does not give? Each
    hunk's added lines are its removed lines with other versions or checksums in them ("Update
    elixir dep": 0.13.0 for 0.12.4, "Update brew formula": a new sha256, an AssemblyInfo.cs
    bump inside a larger change): the model can only guess them. A version the task names
    ("update clap to 2.29.4") is given; a line added or restructured (a new dependency) is a
    change a model can make."""
    hunks = [h for p in group for h in p.hunks]
    if any(h.added != h.removed for h in hunks):  # most groups: answered from the counts
        return False
    pins = []
    for h in hunks:
        if (got := _bump_pins(h)) is None:
            return False
        pins += got
    given = {_pin_key(t) for t in _PIN_TOKEN.findall(ask)} if pins else set()
    return any(_pin_key(t) not in given for t in pins)


def _bump_pins(h: Hunk, changes: tuple[list[str], list[str]] | None = None) -> list[str] | None:
    """The sure versions or checksums a hunk sets ([] for none), where its added lines are its
    removed lines with other versions or checksums in them; None where it changes more.
    (`changes`: `h.changes()`, where the caller has them.)"""
    if h.added != h.removed:
        return None
    plus, minus = changes or h.changes()
    # An added line that is not a removed one (trailing blanks aside, as masked_pins
    # leaves them) holds a pin, hence a digit: most hunks fail that at once, unmasked.
    if (not all(map(_DIGIT.search, set(map(str.rstrip, plus)).difference(map(str.rstrip, minus))))
            or sorted(map(masked_pins, plus)) != sorted(map(masked_pins, minus))):
        return None
    return [t for ln in plus for t in _PIN_TOKEN.findall(ln) if _SURE_PIN.fullmatch(t)]


_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_COPYRIGHT = re.compile(r"copyright|\(c\)|©", re.I)
_YEARS_SAID = re.compile(r"copyright|licen[cs]e|\byears?\b|new year", re.I)


def _year_bump(h: Hunk, changes: tuple[list[str], list[str]] | None = None) -> set[str]:
    """The years a hunk writes where it only moves the years of copyright lines on ("Copyright
    (c) 2009-2015" -> "2009-2016": lua's "storeglobal changed to setglobal" also set its
    LUA_COPYRIGHT to 1994-1997; commons-io 22 answers held a year their task did not speak of,
    7 now: the rest move it in a hunk with other changes); else none. (`changes`: as
    `_bump_pins`'.)"""
    plus, minus = changes or h.changes()
    if not plus or not all(_COPYRIGHT.search(ln) and _YEAR.search(ln) for ln in plus):
        return set()
    if sorted(_YEAR.sub("#", ln) for ln in plus) != sorted(_YEAR.sub("#", ln) for ln in minus):
        return set()
    return {y for ln in plus for y in _YEAR.findall(ln)} - {y for ln in minus for y in _YEAR.findall(ln)}


def _without_bumps(group: list[Part], task: str) -> list[Part]:
    """The group without the hunks that only set versions the task does not give, beside other
    changes: marshmallow's fixes that also set `__version__ = '2.1.1dev0'` asked the model to
    find a bug whose answer held a version it can only guess (a group of such hunks alone is
    `version_only`); nor those that only move a copyright's years on (`_year_bump`), unless the
    task speaks of years, a copyright or a licence, or names the year. The group as it is when
    it has none, or nothing else."""
    if len(group) == 1 and len(group[0].hunks) == 1:
        return group
    given: set[str] | None = None
    drop: dict[int, set[int]] = {}
    for k, p in enumerate(group):
        for i, h in enumerate(p.hunks):
            if h.added != h.removed:
                continue
            changes = h.changes()
            if pins := _bump_pins(h, changes):
                if given is None:
                    given = {_pin_key(t) for t in _PIN_TOKEN.findall(task)}
                if any(_pin_key(t) not in given for t in pins):
                    drop.setdefault(k, set()).add(i)
            elif ((years := _year_bump(h, changes)) and not _YEARS_SAID.search(task) and
                  not any(y in task for y in years)):
                drop.setdefault(k, set()).add(i)
    if not drop or all(len(drop.get(k, ())) == len(p.hunks) for k, p in enumerate(group)):
        return group
    out = []
    for k, p in enumerate(group):
        if k not in drop:
            out.append(p)
        elif kept := [h for i, h in enumerate(p.hunks) if i not in drop[k]]:
            out.append(Part(p.path, p.role, kept, p.fd, p.lang, p.limit, p.blob, p.around))
    return out


def _keep_docs(sha: str, share: float) -> bool:
    if share >= 1:
        return True
    return int(hashlib.sha256(f"{sha}:docs".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def _shown(code_context: list[Part], after: str, cfg: Settings, intro: str = "The code changed like this",
           most: int | None = None) -> str:
    """The commit's code change, for tests or documentation written to match it (when it fits,
    and is at most `most` characters)."""
    if not code_context:
        return ""
    # cheap and necessary: the diff holds at least its parts' rows (a sweep over a thousand files
    # was joined whole, for each test or new file beside it, to be found too large)
    least = sum(p.rows_chars for p in code_context)
    if least + len(after) > cfg.max_example_chars or (most is not None and least > most):
        return ""
    context = _diff(code_context)
    fence = fence_for(context)
    fits = len(context) + len(after) <= cfg.max_example_chars and (most is None or len(context) <= most)
    return f"{intro}:\n\n{fence}diff\n{context}\n{fence}\n\n" if context and fits else ""


class Label(NamedTuple):
    """A commit's class, how it was decided (prefix | llm | model | prior | rules), how sure
    that decision is (the class's share of the probability for model and prior, else 1.0),
    and whether its examples are framed as a fix: a bugfix the model or the prior is unsure
    of (under `fix_confidence`, and its subject does not say "fix", "crash", "bug" ...) is
    framed as the change it is, with no review pairs ("Bug fix: ... find the bug" and "There
    is a problem" claim what may not be so)."""

    kind: str
    how: str
    confidence: float = 1.0
    fix: bool = False


def group_examples(commit: Commit, label: Label, group: list[Part], role: str, cfg: Settings,
                   code_context: list[Part], whole: bool, needs_context: bool = False) -> Candidate | Skip | None:
    """The group's example; None when it is too large. `needs_context`: the intent is vague, so
    tests or docs stand only with the code change shown (else skipped as vague_intent)."""
    limit = cfg.max_example_chars
    if sum(p.rows_chars for p in group) > limit and sum(p.least_chars for p in group) > limit:
        return None  # too large whatever the windows: told before any is cut
    subject, body = intent(commit)
    group = _without_bumps(group, f"{subject}\n{body}")
    fix = label.fix and not (role == "code" and _comments_only(group))
    task = subject if fix or not body else f"{subject}\n\n{body}".strip()
    if not whole:
        task = f"{task}\n\n(This is the part of a larger change that concerns {_names(group)}.)".strip()
    lead = f"{task}\n\n" if task else ""  # a merge's subject names nothing: the task may be empty
    before, after = _render(group, "before"), _render(group, "after")
    weight = 1.0
    new_only = all(p.new for p in group)
    if role == "docs":
        category, weight = "editing", cfg.docs_weight
        shown = _shown(code_context, after, cfg)
        if needs_context and not shown:
            return Skip("vague_intent")
        ask = (f"{lead}{shown}Write {_names(group)}." if new_only else
               f"{lead}{shown}Update this documentation to match.\n\n{before}")
    elif role == "test":
        category = "test_generation"
        shown = _shown(code_context, after, cfg)
        if needs_context and not shown:
            return Skip("vague_intent")
        ask = (f"{lead}{shown}Write the tests in {_names(group)}." if new_only else
               f"{lead}{shown}Update these tests to match.\n\n{before}")
    elif new_only:
        category = "instruction"
        # a new file split from a larger change: the files it changed show what the new one is for
        shown = _shown(code_context, after, cfg, "The rest of the change, in files it changed",
                       cfg.max_example_chars // 2)
        ask = f"{lead}{shown}Write {_names(group)}."
    elif fix:
        category = "debugging"
        if subject and cfg.skip_vague and vague(subject, "", [p.path for p in group]):
            # "Bug fix: Fixes" (peft 16, rich 18), "Bug fix: Fix" (peft 12) say nothing the
            # request does not: the code and "find the bug" stand alone (the body, when there
            # is one, is the answer's explanation)
            note = task[len(subject):].strip()  # the part of a larger change it is, if it is
            ask = f"{note}\n\n" if note else ""
        else:
            ask = f"Bug fix: {lead}" if task else ""
        ask += f"{before}\n\nFind the bug in this code and show the corrected code."
    else:
        category = "editing"
        ask = f"{lead}Make this change to the code below.\n\n{before}"
    if version_only(group, ask):
        return Skip("version_only")
    answer = f"{body}\n\n{after}" if fix and role == "code" and body and not new_only else after
    if len(ask) + len(answer) > cfg.max_example_chars:
        # the code change shown beside tests or docs is context: without it the example may fit
        return group_examples(commit, label, group, role, cfg, [], whole, needs_context) if code_context else None
    paths = [p.path for p in group]
    prov: dict[str, Any] = {"repo": cfg.repo, "commit": commit.sha, "paths": paths, "class": label.kind,
                            "by": label.how}
    if label.how in ("model", "prior") or label.confidence < 1.0:
        prov["confidence"] = round(label.confidence, 2)
    if len(paths) == 1:
        prov["path"] = paths[0]
    return Candidate("coder", category, [{"role": "user", "content": ask},
                                        {"role": "assistant", "content": answer}],
                     source="git", weight=weight, provenance=prov)


def _comments_only(group: list[Part]) -> bool:
    """Does the change touch comments or documentation only, in every hunk (`Part.doc`)? A fix
    of a comment is no bug to find: axum's "Fix typos in service docs" (`///` lines) was "Find
    the bug in this code", 57 of its 343 debugging examples; OpenZeppelin 69 of 439; flask's
    "Fixed typo" in a docstring. It is framed as the edit it is."""
    return all(p.doc(i) for p in group for i in range(len(p.hunks)))


def _in_quotes(hunk: Hunk) -> bool:
    """Cheap and necessary (for a hunk that starts outside a string): each changed row is a
    comment, or holds triple quotes, or lies between triple quotes by their count from the
    hunk's first row on its side. Most fixes fail it at their first changed row."""
    counts = {"-": 0, "+": 0}
    for ln in hunk.lines:
        mark, text = ln[0], ln[1:]
        quotes = files.triple_quotes(text)
        if mark != " " and text.strip() and not quotes and not counts[mark] % 2 and not text.lstrip().startswith("#"):
            return False
        for side in ("-", "+"):
            if mark in (" ", side):
                counts[side] += quotes
    return True


def docs_only(part: Part, i: int) -> bool:
    """Does the part's `i`th hunk change comments or documentation only? Each changed line, on
    its side, is a comment (`files.comment_line`), blank, or documentation inside the code, or
    only the comments after code changed (`files.comments_changed_only`):
    Python's docstrings (told by parsing the snippet shown, a window that parses), Perl's POD
    (`=head1` ... `=cut`: mojo's "Fixed pod", 414 of its 2,900 debugging examples) and Elixir's
    `@doc` heredocs."""
    h = part.hunks[i]
    if all(files.comment_line(part.lang, ln[1:]) for ln in h.lines if ln[0] != " " and ln[1:].strip()):
        return True
    if files.comments_changed_only(part.lang, h.lines):
        return True  # a comment after code
    if part.new:
        return False
    if part.lang == "python" and _in_quotes(h):
        documented = files.docstring_lines
    elif part.lang == "python":
        return _in_docstring(part, i)
    elif part.lang == "perl" and any(_POD_ROW.match(ln) for ln in h.lines):
        documented = files.pod_lines
    elif part.lang == "elixir" and any('"""' in ln for ln in h.lines):
        documented = files.elixir_doc_lines  # phoenix: @doc heredocs
    else:
        return False
    return all(_documented_only(part.lang, sn, documented) for sn in part.snippets[i])


def _documented_only(lang: str, sn: Snippet, *documented: Callable[[str], set[int] | None]) -> bool:
    """Are the lines a snippet changes blank, comments, or documentation by each of `documented`
    in turn (the lines of its text that are; a cheap one first spares the next), the snippet's
    sides compared once?"""
    if sn.before is None or sn.lang != lang:
        return False
    old, new = sn.before.split("\n"), sn.after.split("\n")
    changes = None  # compared once the first of `documented` has told its lines
    for told in documented:
        docs_old, docs_new = told(sn.before), told(sn.after)
        if docs_old is None or docs_new is None:
            return False
        if changes is None:
            changes = [op for op in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
                       if op[0] != "equal"]
        for _, i1, i2, j1, j2 in changes:
            if not (all(k + 1 in docs_old or not old[k].strip() or files.comment_line(lang, old[k])
                        for k in range(i1, i2)) and
                    all(k + 1 in docs_new or not new[k].strip() or files.comment_line(lang, new[k])
                        for k in range(j1, j2))):
                return False
    return True


def _in_docstring(part: Part, i: int) -> bool:
    """Does a Python hunk with no window of its own (`_snippet`) change lines inside one
    docstring only, a docstring opened above the hunk? Told from the new file: the triple quotes
    open before the first changed row (their count is odd) stand at the start of a statement
    (only indentation before them on their line, the line before ends no expression: not a
    string assigned or passed, as a template or SQL is) and close after the last, with nothing
    but a comment after them; each added line lies between them, each removed one between two
    lines that do. Its changed rows hold no triple quotes, nor change the count of them in the
    file's hunks above it, so the old file's lines lex as the new file's up to each change.
    peft's "Fix typo in docstring" of a config's long `Args:` list, flask's "Fixed paren in
    docstring" (the hunk starts inside the docstring: `_in_quotes` cannot tell) were bugs to find."""
    h = part.hunks[i]
    if part.new or any(t in ln for ln in h.lines if ln[0] != " " for t in files.TRIPLE):
        return False
    count = files.triple_quotes
    if any(sum(count(ln[1:]) for ln in g.lines if ln[0] == "-") != sum(count(ln[1:]) for ln in g.lines if ln[0] == "+")
           for g in part.fd.hunks if g.new_start < h.new_start):
        return False
    if part.snippets[i][0].lang == "python":
        # A window of whole statements parsed around the change, which starts outside any
        # string: the parse tells, where the changed lines lie between triple quotes by their
        # count from the window's start. flask's "Fixing a word usage issue in docs." (its
        # hunk's rows hold the previous method's docstring: their count from the hunk's first
        # row said code) and the windows from the statement that owns the docstring a hunk
        # starts in (`_in_string`). 2 of flask's 431 debugging examples were such edits.
        return all(_documented_only(part.lang, sn, files.quoted_lines, files.docstring_lines)
                   for sn in part.snippets[i])
    data = part.new_blob
    if not data or (b'"""' not in data and b"'''" not in data):
        return False
    lead = next(k for k, ln in enumerate(h.lines) if ln[0] != " ")
    # the first changed row's byte in the new file (a removed row: where it was), counted in C
    above = data.split(b"\n", h.new_start - 1 + lead)[:-1]
    at = sum(map(len, above)) + len(above)
    if (data.count(b'"""', 0, at) + data.count(b"'''", 0, at)) % 2 == 0:
        return False  # cheap and necessary: no string is open there
    opener = max(data.rfind(b'"""', 0, at), data.rfind(b"'''", 0, at))
    closer = data.find(data[opener:opener + 3], opener + 3)
    if closer < 0:
        return False
    start = data.rfind(b"\n", 0, opener) + 1
    stop = data.find(b"\n", closer)
    if not _STATEMENT_OPENS.fullmatch(data[start:opener]) or not _STATEMENT_ENDS.fullmatch(
            data[closer + 3:stop if stop >= 0 else len(data)]):
        return False
    before = data[max(0, start - 2000):start].rstrip().rsplit(b"\n", 1)[-1].split(b"#", 1)[0].rstrip()
    if before.endswith(_GOES_ON):
        return False  # the line before ends an open expression: an argument, a value, not a statement
    lo, hi = data.count(b"\n", 0, opener) + 1, data.count(b"\n", 0, closer) + 1
    n = h.new_start  # the new-side line of the next row that has one
    for ln in h.lines:
        if ln[0] == "-":
            if not (lo <= n - 1 and n <= hi):
                return False
            continue
        if ln[0] == "+" and not (lo < n < hi):
            return False
        n += 1
    return True


_STATEMENT_OPENS = re.compile(rb"[ \t]*[rRuU]?")  # before a docstring's quotes on their line (not f, not b)
_STATEMENT_ENDS = re.compile(rb"[ \t]*(?:#.*)?\r?")  # after its closing quotes
_GOES_ON = tuple(c.encode() for c in "([{,=+-*/%&|^<>\\")


_POD_ROW = re.compile(r"[ +-]=[a-z]\w*")  # a hunk row that is a POD command (=head2, =item, =cut)


def _blank_answer(group: list[Part]) -> bool:
    """Would the answer show no code at all (every snippet's new side blank)?"""
    return all(p.blank() for p in group)


def _split_sample(sha: str, group: list[Part], cap: int, out: list[Candidate | Skip]) -> list[Part]:
    """At most `cap` of a group's files, in their order, chosen by a hash of commit and path (a
    re-run picks the same); the rest counted as skipped.split_cap. A sweep over 50 files (flask's
    "Happy New Year 2015", "apply pyupgrade") would give 50 near-copies of one change."""
    if len(group) <= cap:
        return group
    rank = sorted(range(len(group)), key=lambda i: hashlib.sha256(f"{sha}:{group[i].path}".encode()).digest())
    keep = set(rank[:cap])
    out.extend(Skip("split_cap") for i in range(len(group)) if i not in keep)
    return [p for i, p in enumerate(group) if i in keep]


# Languages of configuration, data and prose: a new file of them split from a larger change is
# asked alone (flask's new docs/.gitignore beside 9,000 characters of flask.py's docstrings, peft's
# example requirements.txt beside its source changes said nothing of what either holds).
_NOT_PROGRAMS = frozenset({"", "text", "gitignore", "gitattributes", "json", "json5", "yaml", "toml", "ini", "xml",
                           "csv", "properties", "markdown", "rst", "debcontrol", "diff"})


def _program(p: Part) -> bool:
    return p.lang not in _NOT_PROGRAMS and not files.is_build(p.path)


def commit_examples(commit: Commit, label: Label, ps: list[Part], cfg: Settings) -> list[Candidate | Skip]:
    """The examples of one commit, a group at a time (see the module docstring)."""
    out: list[Candidate | Skip] = []
    code = [p for p in ps if p.role == "code"]
    for role in ("code", "test", "docs"):
        group = [p for p in ps if p.role == role]
        if not group:
            continue
        if role == "docs" and not _keep_docs(commit.sha, cfg.docs_keep):
            out.append(Skip("docs_share"))
            continue
        if _blank_answer(group):
            out.append(Skip("empty_answer"))  # only removals with nothing around them to show
            continue
        context = code if role in ("test", "docs") else []
        # A fix stands as "find the bug", and tests or docs beside a code change as "match this
        # change" (when the change is shown), whatever the intent says; an edit, a new file or
        # docs alone need the intent.
        unclear = cfg.skip_vague and vague(*intent(commit), [p.path for p in group])
        if unclear and not ((role == "code" and label.fix and not all(p.new for p in group)
                             and not _comments_only(group)) or context):
            out.append(Skip("vague_intent"))
            continue
        needs_context = bool(unclear and context)
        cand = None
        if len(group) <= cfg.max_example_files:
            cand = group_examples(commit, label, group, role, cfg, context, True, needs_context)
        if cand is not None:
            out.append(cand)
            continue
        if any(p.new for p in group) and (taken := _extracted(commit, {p.path for p in group if p.new})):
            out.extend(Skip("extracted_file") for p in group if p.path in taken)
            group = [p for p in group if p.path not in taken]
        for p in _split_sample(commit.sha, group, cfg.max_split_examples, out):
            if _blank_answer([p]):
                out.append(Skip("empty_answer"))
                continue
            # a new code file alone: the code files the commit changed stand beside it (maybe-finance's
            # "Sync hierarchy updates" wrote a migration that sync.rb's change uses)
            beside = ([q for q in code if not q.new and q is not p] if role == "code" and p.new and _program(p)
                      else context)
            one = group_examples(commit, label, [p], role, cfg, beside, len(ps) == 1, needs_context)
            out.append(one if one is not None else Skip("too_large_file"))
    return out
