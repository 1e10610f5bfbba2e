"""The `git log -p` stream: commits cut out of a byte stream, then files and hunks per commit.

Commits are cut at the record separator of the format (never inside a patch: every patch line
starts with ' ', '+', '-', '\\' or a header word), so a line like `++ x` added to a file is a
hunk line, never a file header. A commit is handed on only once the next one has begun or git
has exited cleanly: a stream cut by a kill never yields a half-read commit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from aitherd.sources.git.message import exported, split_message

SEP = "\x1e"  # record separator: opens and closes each commit header
FMT = f"{SEP}%H%x1f%P%x1f%an%x1f%at%x1f%B{SEP}"  # the raw message: subject and body told by split_message
_BSEP = SEP.encode()
_NEXT = b"\n" + _BSEP
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$", re.M)
_ESCAPE = re.compile(r"\\([0-7]{3}|.)")
_C_ESCAPES = {"a": "\a", "b": "\b", "t": "\t", "n": "\n", "v": "\v", "f": "\f", "r": "\r"}

# Git's own settings that would change the patch text, pinned so a user's config cannot.
GIT_CONFIG = ["-c", "core.quotepath=off", "-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false",
              "-c", "diff.suppressBlankEmpty=false", "-c", "diff.interHunkContext=0",
              "-c", "diff.relative=false", "-c", "log.showSignature=false", "-c", "color.ui=never"]
LOG_OPTIONS = ["--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", f"--format={FMT}", "-p"]


@dataclass(slots=True)
class Hunk:
    path: str
    header: str
    lines: list[str] = field(default_factory=list)
    old_start: int = 0
    new_start: int = 0
    added: int = 0
    removed: int = 0

    def sides(self) -> tuple[str, str]:
        before = [ln[1:] for ln in self.lines if ln[:1] != "+"]
        after = [ln[1:] for ln in self.lines if ln[:1] != "-"]
        return "\n".join(before) + "\n", "\n".join(after) + "\n"

    def changes(self) -> tuple[list[str], list[str]]:
        """Its added rows' texts and its removed rows' texts, in order, without the marks."""
        plus: list[str] = []
        minus: list[str] = []
        for ln in self.lines:
            if ln[0] == "+":
                plus.append(ln[1:])
            elif ln[0] == "-":
                minus.append(ln[1:])
        return plus, minus

    @property
    def changed(self) -> int:
        return self.added + self.removed

    @property
    def new_len(self) -> int:
        return sum(1 for ln in self.lines if ln[0] != "-")

    def diff(self) -> str:
        return "\n".join([f"--- a/{self.path}", f"+++ b/{self.path}", self.header, *self.lines])


@dataclass(slots=True)
class FileDiff:
    path: str
    status: str  # A (added), M (modified), D (deleted)
    blob: str = ""  # the new blob's (abbreviated) id, from the index line
    old_blob: str = ""  # and the old one's
    lang: str = ""  # the fence language where the path does not tell it (a notebook's kernel)
    hunks: list[Hunk] = field(default_factory=list)
    size: int = 0  # characters of patch text
    conflict: bool = False  # its new side shows a merge conflict's markers (`shows_conflict`)


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author: str
    time: int
    subject: str
    body: str
    files: list[FileDiff] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # every path touched, skipped ones too
    statuses: list[str] = field(default_factory=list)  # A, M or D for each of `paths`
    skipped: dict[str, int] = field(default_factory=dict)
    size: int = 0  # patch characters of the files kept (skipped files do not count)

    @property
    def message(self) -> str:
        return (self.subject + ("\n\n" + self.body.strip() if self.body.strip() else "")).strip()

    @property
    def hunks(self) -> list[Hunk]:
        return [h for f in self.files for h in f.hunks]

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def unquote(path: str) -> str:
    """A path as git prints it: C-quoted when it holds control characters or quotes."""
    if len(path) < 2 or path[0] != '"' or path[-1] != '"':
        return path
    raw = bytearray()
    pos, body = 0, path[1:-1]
    for m in _ESCAPE.finditer(body):
        raw += body[pos:m.start()].encode()
        esc = m.group(1)
        raw += bytes([int(esc, 8)]) if len(esc) == 3 else _C_ESCAPES.get(esc, esc).encode()
        pos = m.end()
    raw += body[pos:].encode()
    return raw.decode("utf-8", "replace")


def _side_path(text: str, prefix: str) -> str | None:
    if text.endswith("\t"):  # git ends a path holding a space with a tab
        text = text[:-1]
    text = unquote(text)
    if text == "/dev/null":
        return None
    return text[2:] if text.startswith(prefix) else text


def header_fields(header: str) -> Commit:
    sha, parents, author, when, raw = (header.split("\x1f", 4) + [""] * 5)[:5]
    subject, body = exported(*split_message(raw))
    return Commit(sha=sha.strip(), parents=parents.split(), author=author,
                  time=int(when) if when.isdigit() else 0, subject=subject, body=body)


def _hunk_headers(body: str, pos: int = 0) -> list[re.Match[str]]:
    """The hunk headers of a file's patch (which starts with one, at `pos`), found by `str.find`
    of a line start: the same matches as `_HUNK.finditer`, without the regex walking every byte."""
    out = []
    while True:
        m = _HUNK.match(body, pos)
        if m is not None:
            out.append(m)
        nxt = body.find("\n@@ ", m.end() if m is not None else pos)
        if nxt < 0:
            return out
        pos = nxt + 1


def parse_commit(header: str, patch: str, skip_path: Callable[[str], str | None],
                 max_bytes: int | None = None) -> Commit:
    """One commit from its header fields and its patch text (see `parse_files`)."""
    return parse_files(header_fields(header), patch, skip_path, max_bytes)


def parse_files(commit: Commit, patch: str, skip_path: Callable[[str], str | None],
                max_bytes: int | None = None) -> Commit:
    """`commit` with the files of its patch text. When the patch of the files kept is over
    `max_bytes` its files come without hunks: the miner skips such a commit as too large (and
    passes 0 for a commit it skips for what it is), so cutting them would be wasted (on real
    histories a tenth to a third of the patch text)."""
    cut: list[tuple[FileDiff, str, int]] = []
    for sec in patch.split("\ndiff --git ")[1:]:
        at = sec.find("\n@@ ")
        head = (sec if at < 0 else sec[:at]).split("\n")
        old = new = None
        status, blob, old_blob, binary, gitlink, link = "M", "", "", False, False, False
        for ln in head[1:]:
            if ln.endswith(" 160000"):  # "index a..b 160000", "new file mode 160000": a submodule's commit
                gitlink = True
            elif ln.endswith(" 120000"):  # a symbolic link: its "content" is the path it points at
                link = True
            if ln.startswith("--- "):
                old = _side_path(ln[4:], "a/")
            elif ln.startswith("+++ "):
                new = _side_path(ln[4:], "b/")
            elif ln.startswith("new file mode"):
                status = "A"
            elif ln.startswith("deleted file mode"):
                status = "D"
            elif ln.startswith("index "):
                ids = ln[6:].split(" ", 1)[0]
                old_blob, _, blob = ids.rpartition("..")
            elif ln.startswith("Binary files "):
                binary = True
        path = new or old
        if path is None:  # binary or mode-only: "a/P b/P" on the first line
            first = head[0]
            n = (len(first) - 5) // 2
            path = unquote(first[2:2 + n]) if n > 0 else first
        garbled = _not_utf8(sec)
        if garbled:  # its text, or its name, is not UTF-8 (see _patch_text)
            path = readable(path)
        commit.paths.append(path)
        commit.statuses.append(status)
        if why := skip_path(path):  # a credential file, a vendored or generated one
            commit.skip(why)
            continue
        if garbled:
            commit.skip("files.not_utf8")
            continue
        if "\x1b" in sec:  # a terminal's escape codes: recorded output (bat's highlighted test files)
            commit.skip("files.escape_codes")
            continue
        if binary:
            commit.skip("files.binary")
            continue
        if at < 0:
            continue  # a mode change or an empty file: nothing to learn
        if gitlink:  # "Subproject commit <sha>": which commit a submodule points at
            commit.skip("files.submodule")
            continue
        if link:  # drift's web/sqlite3.wasm -> ../../extras/assets/sqlite3.wasm: "Write" a path
            commit.skip("files.symlink")
            continue
        if _lfs_pointer(sec, at + 1):
            commit.skip("files.lfs_pointer")
            continue
        if _armored(sec, at + 1) or path.rpartition("/")[2] in _KEY_FILES:
            commit.skip("files.armored")
            continue
        fd = FileDiff(path=path, status=status, blob=blob, old_blob=old_blob, size=len(sec))
        cut.append((fd, sec, at + 1))
        commit.files.append(fd)
        if not path.endswith(".ipynb"):  # a notebook counts as its cells, once read (run.Miner._notebooks)
            commit.size += fd.size
    if max_bytes is None or commit.size <= max_bytes:
        for fd, sec, at in cut:
            fd.hunks = hunks(fd.path, sec, at)
            fd.conflict = shows_conflict(sec)  # (not asked of a commit too large to mine: polars' largest)
    return commit


def shows_conflict(sec: str) -> bool:
    """Does a file's patch show a merge left unresolved: a conflict's marker on its new side
    (`<<<<<<< HEAD` or `>>>>>>> branch` at the start of an added or unchanged line), in a patch
    that never speaks of conflicts? AutoMapper's TypePair.cs and IDictionary.cs (6 examples whose
    answer was code that does not compile, and 1 from a commit after it that changed the files
    around its markers), urfave/cli's flag_test.go (6), aeson's UnitTests.hs, python-novaclient's
    test_keypairs.py, dplyr's NEWS.md, curl's CHANGES. A test or a manual that shows the markers
    on purpose speaks of the conflict it makes (pnpm's "a lockfile with merge conflicts is
    autofixed", git's t/ and Documentation/, magit's manual). Told in C over the patch's text."""
    if "<<<<<<< " not in sec and ">>>>>>> " not in sec:
        return False  # cheap and necessary: most files hold neither marker anywhere
    return any(m in sec for m in _CONFLICT_MARKERS) and _CONFLICT_WORD.search(sec) is None


_CONFLICT_WORD = re.compile(r"conflict", re.I)
_CONFLICT_MARKERS = ("\n+<<<<<<< ", "\n <<<<<<< ", "\n+>>>>>>> ", "\n >>>>>>> ")


_LFS = "version https://git-lfs.github.com/spec/v1"


def _lfs_pointer(sec: str, at: int) -> bool:
    """Is the file a Git LFS pointer (its first line the spec's, the first hunk at line 1)? Its
    diff says only that an object's hash and size changed."""
    return _starts_with(sec, at, _LFS)


def _armored(sec: str, at: int) -> bool:
    """Is the file an ASCII-armored block from its first line: a PGP signature or key, a PEM
    certificate or key (`-----BEGIN PGP SIGNATURE-----`)? Base64 no model can write: jq's
    sig/*.asc, 50 "Write sig/v1.3/jq-osx-x86.asc" examples. Or an OpenSSH public key, key
    certificate or known-hosts line (`ssh-rsa AAAAB3...`): paramiko's tests/test_rsa.key.pub and
    *-cert.pub, 9 "Write ..." examples of base64."""
    return _starts_with(sec, at, "-----BEGIN ") or _starts_with(sec, at, _OPENSSH_KEY)


# Apache's list of its releasers' public keys: a line of prose, then their PGP blocks (junit4's
# "Add signing key" asked to "Write `KEYS`.")
_KEY_FILES = frozenset({"KEYS", "KEYS.txt"})


# An OpenSSH key's type and the start of its base64 (every key blob opens with the length of its
# type name: "AAAA"), a host name before it in known_hosts
_OPENSSH_KEY = re.compile(r"(?:[\w.,:\[\]*|=+/-]+ )?(?:ssh-(?:rsa|dss|ed25519|ed448)|ecdsa-sha2-nistp\d+|"
                          r"sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)(?:-cert-v0\d@openssh\.com)? AAAA")


def _starts_with(sec: str, at: int, text: str | re.Pattern[str]) -> bool:
    """Does the file's first line (its first hunk, at `at`, starting at line 1) start with `text`
    (or match it)?"""
    if not sec.startswith(("@@ -1,", "@@ -1 ", "@@ -0,0 +1"), at):
        return False
    first = sec.find("\n", at) + 1
    if first <= 0 or sec[first:first + 1] not in "+- ":
        return False
    return sec.startswith(text, first + 1) if isinstance(text, str) else text.match(sec, first + 1) is not None


def hunks(path: str, sec: str, at: int) -> list[Hunk]:
    """The hunks of a file's patch `sec`, the first header at `at`. Each hunk's text is
    sec[start:end], starting with the newline that ends its header; it is searched and counted
    in place (no copy of it but its lines)."""
    out = []
    matches = _hunk_headers(sec, at)
    for i, m in enumerate(matches):
        start, end = m.end(), matches[i + 1].start() if i + 1 < len(matches) else len(sec)
        lines = sec[start + 1:end].split("\n")
        while lines and lines[-1] == "":
            lines.pop()
        if sec.find("\n\\", start, end) >= 0 or sec.find("\n\n", start, end) >= 0:
            lines = [ln if ln else " " for ln in lines if ln[:1] != "\\"]
        if sec.find("\r\n", start, end) >= 0:
            # A file committed with Windows line endings: its rows end in a carriage return,
            # which no example should carry (ShareX: 34 examples held them). A change of line
            # endings only is then a whitespace-only hunk, as it was before.
            lines = [ln[:-1] if ln[-1:] == "\r" else ln for ln in lines]
        old_start, new_start = int(m.group(1)), int(m.group(3))
        if min(old_start, new_start) <= 1 and sec.find("\ufeff", start, end) >= 0:
            # A byte order mark opens the file (Visual Studio writes one into C# sources: 983 of
            # AutoMapper's 7,459 examples showed it): no text of the file. A change that only
            # adds or drops it is then whitespace-only.
            lines = [ln[0] + ln[1:].lstrip("\ufeff") if ln[1:2] == "\ufeff" else ln for ln in lines]  # one or two
        added, removed = sec.count("\n+", start, end), sec.count("\n-", start, end)
        if sec.find("$", start, end) >= 0 and _KEYWORD.search(sec, start, end) is not None:
            lines = _unexpanded(lines)
            added, removed = sum(1 for ln in lines if ln[0] == "+"), sum(1 for ln in lines if ln[0] == "-")
            if not added and not removed:
                continue  # it only expanded a keyword anew: no change
        header = m.group(0)
        if "$" in header:
            header = unexpanded(header)  # its function line: lua's `char *rcs_opcode="$Id: opcode.c,v 1.4 ..."`
        out.append(Hunk(path=path, header=header, lines=lines, old_start=old_start,
                        new_start=new_start, added=added, removed=removed))
    return out


# A keyword CVS, RCS or Subversion expanded in the file's text on each commit: "$Id: lobject.c,v
# 1.44 2000/08/09 19:16:57 roberto Exp roberto $" (lua: 7,412 of its 10,957 examples showed one,
# a revision and a date no model can know; commons-io 360 of 8,206, git 41; commons-io's hand-written
# "$Revision:587916 $" and lua's first files' "$Id: $" too). Shown unexpanded,
# `$Id$`, as such a file reads with expansion off; a change of the expansion alone is none.
_KEYWORD = re.compile(r"\$(Id|Revision|Date|Author|Header|Source|RCSfile|Locker|State|Name|Rev|URL|HeadURL|"
                      r"LastChangedDate|LastChangedRevision|LastChangedBy):(?:[^$\n]*?[ \t])?\$(?![\w{(])")


def unexpanded(text: str) -> str:
    """`text` with each expanded version-control keyword as it was written: `$Id$`."""
    return _KEYWORD.sub(r"$\1$", text) if "$" in text else text


def _unexpanded(lines: list[str]) -> list[str]:
    """A hunk's rows with their keywords unexpanded; a row removed and a row added that now read
    the same, at the start or the end of a run of changed rows (git writes a run's removed rows
    before its added ones), are one unchanged row there: a revision's `$Id$` bumped beside a
    change is not part of it."""
    lines = [ln[0] + unexpanded(ln[1:]) if "$" in ln else ln for ln in lines]
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        if lines[i][0] not in "+-":
            out.append(lines[i])
            i += 1
            continue
        j = i
        while j < n and lines[j][0] == "-":
            j += 1
        k = j
        while k < n and lines[k][0] == "+":
            k += 1
        gone, new = lines[i:j], lines[j:k]
        both = min(len(gone), len(new))
        head = 0
        while head < both and gone[head][1:] == new[head][1:]:
            head += 1
        tail = 0
        while tail < both - head and gone[-1 - tail][1:] == new[-1 - tail][1:]:
            tail += 1
        out += [" " + ln[1:] for ln in gone[:head]]
        out += gone[head:len(gone) - tail] + new[head:len(new) - tail]
        out += [" " + ln[1:] for ln in gone[len(gone) - tail:]]
        i = k
    return out


def split_log(raw: str) -> list[tuple[str, str]]:
    """(header, patch) per commit of a whole `git log --format=FMT -p` output, as `records`
    reads a stream: a header opens with the separator at the start of a line and closes at the
    next separator, which starts a line too when the message's body ends with a newline (as
    every body does: splitting at each separator that starts a line made those commits' headers
    swallow nothing and their patches come as headers of their own, so the review pairs of a
    commit with a body found no diff to show, and git's own history had 0 in 3,000 commits); a
    patch line never starts with the separator (it may hold one further on)."""
    out: list[tuple[str, str]] = []
    start = 0 if raw.startswith(SEP) else raw.find("\n" + SEP) + 1
    if start == 0 and not raw.startswith(SEP):
        return out
    while (end := raw.find(SEP, start + 1)) >= 0:  # else a header never closed: a cut output
        nxt = raw.find("\n" + SEP, end)
        out.append((raw[start + 1:end], raw[end + 1:] if nxt < 0 else raw[end + 1:nxt]))
        if nxt < 0:
            break
        start = nxt + 1
    return out


def _patch_text(raw: bytes | bytearray) -> str:
    """A commit's patch as text. Bytes that are not UTF-8 (a Latin-1 or GBK file) become lone
    surrogates, not U+FFFD: parse_files leaves such a file out (files.not_utf8) rather than
    teach "T\ufffdl\ufffdchargement", and a surrogate can reach no example (it cannot be stored)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape")


def readable(text: str) -> str:
    """Text read with surrogateescape (bytes that are not UTF-8 as lone surrogates), with U+FFFD
    for each such byte: fit to show and to store."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _not_utf8(sec: str) -> bool:
    if sec.isascii():
        return False
    try:
        sec.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def records(stream: IO[bytes], hard_cap: int) -> Iterator[tuple[str, str | None]]:
    """(header, patch) per commit of a `git log --format=FMT -p` byte stream, in order: a
    record starts with the separator at the start of a line (a file's text may hold the byte
    elsewhere). The last commit comes only after the stream ends; the caller keeps it only if
    git exited cleanly. A patch over `hard_cap` bytes comes as (header, None): not kept (its
    bytes are let go as they stream)."""
    buf = bytearray()  # appended to in place: a large commit arriving in small reads costs no copies
    start = 0  # where the current record's opening SEP is
    scan = 0  # how far the search for the next record has got
    dropping = False
    # read1: what git has written so far, so that git goes on writing while a record is parsed
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(1 << 18)
        if data:
            if start:
                del buf[:start]
                scan = max(scan - start, 0)
                start = 0
            buf += data
        while True:
            h_end = buf.find(_BSEP, start + 1)
            if h_end < 0:
                break
            nxt = buf.find(_NEXT, max(h_end, scan))
            if nxt < 0:
                scan = max(h_end, len(buf) - 1)  # a newline at the end may open the next record
                if len(buf) - h_end - 1 > hard_cap:  # keep the header, drop the patch as it streams
                    dropping = True
                    buf = buf[:h_end + 1] + buf[-1:]
                    scan = h_end + 1
                break
            header = buf[start + 1:h_end].decode("utf-8", "replace")
            # Over the cap whether or not it came in one read: the answer never depends on how
            # git's output was cut into reads (a resumed run agrees with a clean one).
            dropping = dropping or nxt - h_end > hard_cap
            yield header, None if dropping else _patch_text(buf[h_end + 1:nxt + 1])
            dropping = False
            start = scan = nxt + 1
        if not data:
            break
    h_end = buf.find(_BSEP, start + 1)
    if h_end > 0:
        dropping = dropping or len(buf) - h_end - 1 > hard_cap
        yield (buf[start + 1:h_end].decode("utf-8", "replace"),
               None if dropping else _patch_text(buf[h_end + 1:]))
