"""Git diff mining: before/after pairs per hunk from `git log -p`, streamed.

One `git log --reverse -p` process per repo and ref (the git CLI streams patches at thousands
of commits a second; pygit2 measured at half that with leaks on long walks, see README). Merge
commits are skipped by git; vendored, generated, lock and binary files and very large diffs are
skipped with a counted reason. Each commit is classified bugfix | refactor | feature | test
from its conventional-commit prefix, message words, touched paths and diff shape, and mapped to
a category: bugfix -> debugging, refactor and feature -> editing, test -> test_generation.

Review examples come from fixes of earlier changes: when a bugfix removes lines that a commit
in the mined window added, that earlier hunk is the change under review and the fix says what
was wrong with it.
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import re
import subprocess
import textwrap
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import Candidate
from aitherd.sources.credfiles import CREDENTIAL_FILES, is_credential_file

SEP = "\x1e"  # record separator in the format: starts each commit header
FMT = f"{SEP}%H%x1f%P%x1f%an%x1f%at%x1f%s%x1f%b{SEP}"
CATEGORY = {"bugfix": "debugging", "refactor": "editing", "feature": "editing", "test": "test_generation"}
_PREFIX = re.compile(r"^(\w+)(?:\([^)]*\))?!?:")
_CONVENTIONAL = {"fix": "bugfix", "bugfix": "bugfix", "hotfix": "bugfix", "feat": "feature",
                 "feature": "feature", "refactor": "refactor", "perf": "refactor", "style": "refactor",
                 "test": "test", "tests": "test"}
_WORDS = (("bugfix", re.compile(r"\b(fix(e[sd])?|bug|crash|broken|regression|error|wrong|issue #?\d+|"
                                r"resolve[sd]?|patch|typo)\b", re.I)),
          ("test", re.compile(r"\b(tests?|testing|coverage|spec)\b", re.I)),
          ("refactor", re.compile(r"\b(refactor\w*|rename[sd]?|clean(ed)?\s*up|simplif\w+|extract\w*|"
                                  r"move[sd]?|reorgani[sz]\w*|tidy)\b", re.I)))
_TEST_PATH = re.compile(r"(^|/)(tests?|spec|__tests__)/|(^|/)test_[^/]+\.py$|_test\.(py|go)$|"
                        r"\.(test|spec)\.[jt]sx?$")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_LANG = {".py": "python", ".js": "javascript", ".ts": "typescript", ".tsx": "tsx", ".go": "go",
         ".rs": "rust", ".java": "java", ".c": "c", ".h": "c", ".cpp": "cpp", ".rb": "ruby",
         ".sh": "bash", ".sql": "sql", ".kt": "kotlin", ".swift": "swift", ".php": "php"}


class GitMiningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    first_run_commits: int = Field(default=500, ge=1)
    context_lines: int = Field(default=10, ge=0)
    max_diff_bytes: int = Field(default=200_000, ge=1)  # a larger commit is skipped, counted
    max_hunk_lines: int = Field(default=120, ge=1)
    min_changed_lines: int = Field(default=1, ge=1)
    skip_paths: list[str] = Field(default_factory=lambda: [
        "vendor/*", "*/vendor/*", "node_modules/*", "*/node_modules/*", "third_party/*",
        "*.lock", "package-lock.json", "*/package-lock.json", "yarn.lock", "pnpm-lock.yaml",
        "go.sum", "*.min.js", "*.min.css", "*_pb2.py", "*.pb.go", "*.generated.*", "dist/*",
        "build/*", "*.svg", "*.map"])
    review_window: int = Field(default=2000, ge=0)  # added-line memory for review pairs
    # never mined, counted as skipped_files.credential_file (aitherd/sources/credfiles.py)
    credential_files: list[str] = Field(default_factory=lambda: list(CREDENTIAL_FILES))


@dataclass
class Hunk:
    path: str
    header: str
    lines: list[str] = field(default_factory=list)

    def sides(self) -> tuple[str, str]:
        before = [ln[1:] for ln in self.lines if ln[:1] in (" ", "-")]
        after = [ln[1:] for ln in self.lines if ln[:1] in (" ", "+")]
        return "\n".join(before) + "\n", "\n".join(after) + "\n"

    @property
    def changed(self) -> int:
        return sum(1 for ln in self.lines if ln[:1] in ("+", "-"))

    def diff(self) -> str:
        return "\n".join([f"--- a/{self.path}", f"+++ b/{self.path}", self.header, *self.lines])


@dataclass
class Commit:
    sha: str
    parents: list[str]
    author: str
    time: int
    subject: str
    body: str
    hunks: list[Hunk] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    size: int = 0

    @property
    def message(self) -> str:
        return (self.subject + ("\n\n" + self.body.strip() if self.body.strip() else "")).strip()


def classify(commit: Commit) -> str:
    """bugfix | refactor | feature | test, from the message, paths and the shape of the diff."""
    if (m := _PREFIX.match(commit.subject.strip())) and (kind := _CONVENTIONAL.get(m.group(1).lower())) is not None:
        return kind
    paths = commit.paths or [h.path for h in commit.hunks]
    if paths and all(_TEST_PATH.search(p) for p in paths):
        return "test"
    for kind, pattern in _WORDS:
        if pattern.search(commit.message):
            return kind
    added = sum(1 for h in commit.hunks for ln in h.lines if ln.startswith("+"))
    removed = sum(1 for h in commit.hunks for ln in h.lines if ln.startswith("-"))
    if added and removed and 0.8 <= added / removed <= 1.25:
        return "refactor"
    return "feature"


@functools.lru_cache(maxsize=16)
def _skip_regex(patterns: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns) or r"(?!)")


def _skip_path(path: str, patterns: list[str]) -> bool:
    return _skip_regex(tuple(patterns)).match(path) is not None


def parse_log(stream: Iterator[str], cfg: GitMiningConfig) -> Iterator[Commit]:
    """Commits from `git log -p --format=FMT` output, lines without their newline."""
    commit: Commit | None = None
    hunk: Hunk | None = None
    path: str | None = None
    header_buf: list[str] | None = None
    for line in stream:
        if header_buf is not None:  # inside a multi-line commit body
            if line.endswith(SEP):
                header_buf.append(line[:-1])
                fields = "\n".join(header_buf).split("\x1f")
                commit = Commit(sha=fields[0], parents=fields[1].split(), author=fields[2],
                                time=int(fields[3] or 0), subject=fields[4], body=fields[5])
                header_buf = None
            else:
                header_buf.append(line)
            continue
        if line.startswith(SEP):
            if commit is not None:
                yield commit
            commit, hunk, path = None, None, None
            rest = line[1:]
            if rest.endswith(SEP) and rest.count("\x1f") >= 5:
                fields = rest[:-1].split("\x1f")
                commit = Commit(sha=fields[0], parents=fields[1].split(), author=fields[2],
                                time=int(fields[3] or 0), subject=fields[4], body=fields[5])
            else:
                header_buf = [rest]
            continue
        if commit is None:
            continue
        commit.size += len(line) + 1
        if line.startswith("diff --git "):
            hunk, path = None, None
            continue
        if line.startswith("+++ "):
            target = line[4:]
            path = None if target == "/dev/null" else target[2:] if target.startswith("b/") else target
            if path is not None:
                commit.paths.append(path)
                if is_credential_file(path, cfg.credential_files):
                    commit.skipped["credential_file"] = commit.skipped.get("credential_file", 0) + 1
                    path = None
                elif _skip_path(path, cfg.skip_paths):
                    commit.skipped["vendored_or_generated"] = commit.skipped.get("vendored_or_generated", 0) + 1
                    path = None
            continue
        if line.startswith("Binary files "):
            commit.skipped["binary"] = commit.skipped.get("binary", 0) + 1
            continue
        if line.startswith("@@"):
            if path is not None and _HUNK.match(line):
                hunk = Hunk(path=path, header=line)
                commit.hunks.append(hunk)
            else:
                hunk = None
            continue
        if hunk is not None and line[:1] in (" ", "+", "-", ""):
            if "@generated" in line or "DO NOT EDIT" in line:
                commit.skipped["vendored_or_generated"] = commit.skipped.get("vendored_or_generated", 0) + 1
                commit.hunks = [h for h in commit.hunks if h.path != hunk.path]
                path, hunk = None, None
                continue
            hunk.lines.append(line if line else " ")
    if commit is not None:
        yield commit


def _lang(path: str, after: str) -> str:
    """The fence language for a hunk of `path`. A Python hunk is often a fragment cut
    mid-statement: it is labelled python only when its new side (the answer, which the judge
    checks; the old side is the same lines but those changed) parses after dedent."""
    dot = path.rfind(".")
    lang = _LANG.get(path[dot:], "") if dot != -1 else ""
    if lang == "python":
        code = textwrap.dedent(after)
        first = next((ln for ln in code.splitlines() if ln.strip()), "")
        if first[:1] in (" ", "\t"):  # still indented: a fragment, no need to parse
            return ""
        try:
            ast.parse(code)
        except (SyntaxError, ValueError):
            return ""
    return lang


def examples(commit: Commit, kind: str, repo: str) -> Iterator[Candidate]:
    for h in commit.hunks:
        before, after = h.sides()
        lang = _lang(h.path, after)
        category = CATEGORY[kind]
        if not before.strip():  # a new file, or code added at an empty spot: write it, not edit it
            category = "test_generation" if kind == "test" else "instruction"
            ask = f"{commit.subject}\n\nWrite `{h.path}`."
        elif kind == "bugfix":
            ask = (f"This code in `{h.path}` has a bug: {commit.subject}\n\n```{lang}\n{before}```\n\n"
                   "Fix it and show the corrected code.")
        elif kind == "test":
            ask = (f"{commit.subject}\n\nUpdate the tests in `{h.path}`:\n\n```{lang}\n{before}```")
        else:
            ask = f"{commit.subject}\n\nApply this change to `{h.path}`:\n\n```{lang}\n{before}```"
        answer = f"```{lang}\n{after}```"
        if commit.body.strip() and kind == "bugfix":
            answer = commit.body.strip() + "\n\n" + answer
        yield Candidate("coder", category, [{"role": "user", "content": ask},
                                            {"role": "assistant", "content": answer}],
                        source="git", provenance={"repo": repo, "commit": commit.sha,
                                                  "path": h.path, "hunk": h.header, "class": kind})


class ReviewMemory:
    """Lines added by recent commits, so a later fix that removes them yields a review pair."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._added: OrderedDict[tuple[str, str], tuple[Commit, Hunk]] = OrderedDict()

    def remember(self, commit: Commit) -> None:
        if not self.size:
            return
        for h in commit.hunks:
            for ln in h.lines:
                if ln.startswith("+") and len(ln.strip()) > 3:
                    self._added[(h.path, ln[1:].strip())] = (commit, h)
                    self._added.move_to_end((h.path, ln[1:].strip()))
        while len(self._added) > self.size:
            self._added.popitem(last=False)

    def reviews(self, fix: Commit, repo: str) -> Iterator[Candidate]:
        seen: set[tuple[str, str]] = set()
        for h in fix.hunks:
            for ln in h.lines:
                if not ln.startswith("-"):
                    continue
                origin = self._added.get((h.path, ln[1:].strip()))
                if origin is None or origin[0].sha == fix.sha or (origin[0].sha, h.header) in seen:
                    continue
                intro, intro_hunk = origin
                seen.add((intro.sha, h.header))
                ask = f"Review this change ({intro.subject}):\n\n```diff\n{intro_hunk.diff()}\n```"
                reply = (f"There is a problem: {fix.subject}. The line `{ln[1:].strip()}` is at "
                         f"fault" + (f". {fix.body.strip()}" if fix.body.strip() else "") +
                         f"\n\nSuggested fix:\n\n```diff\n{h.diff()}\n```")
                yield Candidate("coder", "review", [{"role": "user", "content": ask},
                                                    {"role": "assistant", "content": reply}],
                                source="git", provenance={"repo": repo, "commit": intro.sha,
                                                          "fixed_by": fix.sha, "path": h.path})


def log_command(repo: str, rev_range: str, cfg: GitMiningConfig, limit: int | None) -> list[str]:
    cmd = ["git", "-C", repo, "-c", "core.quotepath=off", "log", "--reverse", "--no-merges",
           "--no-color", "--no-ext-diff", "--no-renames", f"--format={FMT}", "-p",
           f"-U{cfg.context_lines}"]
    if limit:
        cmd.append(f"-n{limit}")
    return [*cmd, rev_range, "--"]


def resolve(repo: str, ref: str) -> str:
    out = subprocess.run(["git", "-C", repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"],
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{repo}: cannot resolve {ref!r}: "
                           f"{(out.stderr or 'not a git repository or no such ref').strip()}")
    return out.stdout.strip()


def is_ancestor(repo: str, old: str, new: str) -> bool:
    return subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", old, new],
                          capture_output=True, timeout=30, check=False).returncode == 0


def mine(repo: str, ref: str, mark: dict[str, Any], cfg: GitMiningConfig,
         counts: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Candidate | str]]:
    """(watermark after the commit, candidate or 'skip:reason') for each commit since `mark`."""
    head = resolve(repo, ref)
    last = mark.get("last")
    if last == head:
        return
    if last and is_ancestor(repo, last, head):
        cmd = log_command(repo, f"{last}..{head}", cfg, None)
    else:  # first run, or history was rewritten: the recent window, deduplicated by hash
        cmd = log_command(repo, head, cfg, cfg.first_run_commits)
    memory = ReviewMemory(cfg.review_window)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    lines = (raw.decode("utf-8", "replace").rstrip("\n") for raw in proc.stdout)
    try:
        for commit in parse_log(lines, cfg):
            new_mark = {"last": commit.sha, "ref": ref}
            counts["commits"] = counts.get("commits", 0) + 1
            for reason, n in commit.skipped.items():
                counts[f"skipped_files.{reason}"] = counts.get(f"skipped_files.{reason}", 0) + n
            if commit.size > cfg.max_diff_bytes:
                yield new_mark, "skip:large_diff"
                continue
            commit.hunks = [h for h in commit.hunks
                            if cfg.min_changed_lines <= h.changed <= cfg.max_hunk_lines]
            if not commit.hunks:
                yield new_mark, "skip:no_usable_hunks"
                continue
            kind = classify(commit)
            counts[f"class.{kind}"] = counts.get(f"class.{kind}", 0) + 1
            if kind == "bugfix":
                for review in memory.reviews(commit, repo):
                    yield new_mark, review
            for cand in examples(commit, kind, repo):
                yield new_mark, cand
            memory.remember(commit)
    finally:
        proc.stdout.close()
        if proc.poll() is None:
            proc.kill()
        err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        code = proc.wait()
    if code not in (0, -9) and err.strip():
        raise RuntimeError(f"{repo}: git log failed: {err.strip()[:300]}")
