"""Mining a planned list of commits: one `git log --no-walk=unsorted --stdin -p` per chunk,
chunks spread over worker processes, results handed back in commit order.

A range worth it (`parallel_min_commits` or more) is cut into chunks that worker processes
(forked from the job's worker: no imports to repeat) mine side by side, each with its own git
process, so both git and the parsing use every core. The parent yields each commit's items in
the planned order, so checkpoints still mean "everything before this is done".
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import itertools
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, fields, replace
from typing import Any

from aitherd.candidate import Candidate
from aitherd.children import die_with_parent
from aitherd.sources.git import files, notebook
from aitherd.sources.git.classify import (
    CLASSES,
    Shape,
    ci_said,
    conventional,
    decide_scored,
    framed_as_fix,
    skip_reason,
    tidy_said,
    tooling_fix,
)
from aitherd.sources.git.examples import Label, Part, commit_examples, parts
from aitherd.sources.git.gitio import GitError, Heads, Interrupted, git, git_env
from aitherd.sources.git.labels import LLMLabels
from aitherd.sources.git.parse import (
    GIT_CONFIG,
    LOG_OPTIONS,
    Commit,
    FileDiff,
    header_fields,
    parse_files,
    readable,
    records,
)
from aitherd.sources.git.review import reviews
from aitherd.sources.git.settings import ModelFailed, PendingModel, Settings
from aitherd.sources.items import BadInput, Item, Skip

BATCH = 1000  # commits whose review pairs are found together (one history read)
MAX_COMMIT_ERRORS = 20  # per worker process: more, and the run stops
PIPE_SIZE = 1 << 20  # git's output pipe (Linux allows up to /proc/sys/fs/pipe-max-size, 1 MiB by default)


@dataclass
class Result:
    """One commit's items and counts."""

    sha: str
    items: list[Item] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    fix: tuple[Commit, list[Part]] | None = None  # a bugfix waiting for its review pairs
    later: tuple[Commit, list[Part], Shape, str | None] | None = None  # waiting for the repo model


def _skipper(cfg: Settings) -> Any:
    """Why a path is not mined ('files.credential_file', 'files.translation',
    'files.vendored_or_generated'), or None."""
    from aitherd.sources.credfiles import CREDENTIAL_FILES, is_credential_file
    from aitherd.sources.gitmine import _skip_path

    credentials = cfg.credential_files if cfg.credential_files is not None else CREDENTIAL_FILES
    patterns = list(cfg.skip_paths)
    seen: dict[str, str | None] = {}  # a repo's paths repeat from commit to commit

    def why(path: str) -> str | None:
        if path in seen:
            return seen[path]
        if is_credential_file(path, credentials):
            reason: str | None = "files.credential_file"
        elif not cfg.translations and files.is_translation(path):
            reason = "files.translation"
        else:
            reason = "files.vendored_or_generated" if _skip_path(path, patterns) else None
        if len(seen) < 200_000:
            seen[path] = reason
        return reason

    return why


def _head_in_diff(fd: FileDiff) -> Iterator[str] | None:
    """The file's first lines on the new side, where its diff shows them (a new file, or a first
    hunk from line 1); None where only the file itself can tell (see `Heads`)."""
    first = fd.hunks[0] if fd.hunks else None
    if first is None or not (fd.status == "A" or first.new_start <= 1):
        return None
    return (ln[1:] for ln in first.lines if ln[:1] != "-")


class Miner:
    """Turns commits of one range into items; one per process (it holds a cat-file reader)."""

    def __init__(self, cfg: Settings) -> None:
        self.cfg = cfg
        self.heads = Heads(cfg.repo, cfg.tip)
        self.skip_path = _skipper(cfg)
        self.labels = LLMLabels(cfg.llm, cfg.label_cache) if cfg.llm else None
        self.errors = 0  # commits that raised (see _checked)
        # A model still being trained (PendingModel): a commit that needs it waits in `later`,
        # cut into parts, and is finished once the model has come (`_settle`).
        self.pending = cfg.model if isinstance(cfg.model, PendingModel) else None
        self.model = None if self.pending is not None else cfg.model
        self.later: list[Result] = []

    def close(self) -> None:
        self.heads.close()
        if self.labels is not None:
            self.labels.close()

    def _generated(self, fd: FileDiff) -> bool:
        if fd.path.endswith((".txt", ".in")) and any(files.pip_compiled("\n".join(h.lines)) for h in fd.hunks):
            return True
        if (head := _head_in_diff(fd)) is not None:
            # generated_head reads the first HEAD_LINES lines only: join no more (a new file's
            # hunk is the whole file).
            return files.generated_head("\n".join(itertools.islice(head, files.HEAD_LINES)))
        return self.heads.generated(fd.path, fd.blob)

    def _script_language(self, fd: FileDiff) -> str:
        if (head := _head_in_diff(fd)) is not None:
            return files.shebang_language("\n".join(itertools.islice(head, 3)))
        return self.heads.script_language(fd.path, fd.blob)

    def _head_says(self, fd: FileDiff) -> str:
        """What a `.h` or `.m` file's first lines say it is (files.lines_say): '' for a new file
        (its diff, read with its changed lines, is the whole file). A first hunk from line 1
        shows a dozen lines, often only a license: the file's head is read all the same."""
        return "" if fd.status == "A" else self.heads.shared_language(fd.path, fd.blob)

    def commit(self, header: str, patch: str | None) -> Result:
        """One commit's items, but for review pairs (see `mine`), and its counts."""
        if patch is None:
            commit = header_fields(header)
            return Result(commit.sha, [Skip("large_diff")], {"commits": 1})
        commit = header_fields(header)
        reason = skip_reason(commit.subject, commit.author)
        # A commit skipped for what it is (a dependency bump, a release, a revert) or for its
        # size has its files counted but is not cut into hunks (0: none is small enough).
        parse_files(commit, patch, self.skip_path, 0 if reason else self.cfg.max_diff_bytes)
        res = Result(commit.sha, counts={"commits": 1})
        try:
            self._items(commit, res, reason)
        finally:
            for why, n in commit.skipped.items():
                kind, _, what = why.partition(".")
                key = f"skipped_{kind}.{what}"
                res.counts[key] = res.counts.get(key, 0) + n
        return res

    def _items(self, commit: Commit, res: Result, reason: str | None) -> None:
        cfg = self.cfg
        if reason:
            res.items.append(Skip(reason))
            return
        if any(fd.path.endswith(".ipynb") for fd in commit.files):
            self._notebooks(commit)
        if commit.size > cfg.max_diff_bytes:
            res.items.append(Skip("large_diff"))
            return
        ps = parts(commit, cfg, self._generated, self._script_language, self._head_says, self.heads.blob)
        if not ps:
            res.items.append(Skip("no_usable_hunks"))
            return
        hunks = commit.hunks
        shape = Shape(commit.paths, commit.statuses, sum(h.added for h in hunks), sum(h.removed for h in hunks))
        llm = None
        prefix = conventional(commit.subject)[0]
        if self.labels is not None and prefix is None:
            llm = self.labels.label(commit, shape)
            if self.labels.last_error:
                res.counts["llm_errors"] = 1
        if (self.pending is not None and prefix not in CLASSES and llm not in CLASSES  # decide_scored asks the model
                and not self._settle(wait=False)):
            res.later = (commit, ps, shape, llm)
            self.later.append(res)
            return
        self._finish(res, commit, ps, shape, llm)

    def _settle(self, wait: bool) -> bool:
        """Has the repo model come (see PendingModel)? Once it has, the commits that waited for
        it are finished. `wait`: until it has come."""
        if self.pending is not None:
            came, model = self.pending.read(wait)
            if not came:
                return False
            self.pending, self.model = None, model
        for res in self.later:
            commit, ps, shape, llm = res.later  # type: ignore[misc]
            res.later = None
            try:
                self._finish(res, commit, ps, shape, llm)
            except (Interrupted, GitError):
                raise
            except Exception as exc:
                failed = self._failed(res.sha, exc)
                res.items, res.counts, res.fix = failed.items, failed.counts, None
        self.later = []
        return True

    def _finish(self, res: Result, commit: Commit, ps: list[Part], shape: Shape, llm: str | None) -> None:
        """A commit's class, and its examples."""
        cfg = self.cfg
        kind, how, confidence = decide_scored(commit.subject, commit.body, shape, self.model, llm, cfg.prior)
        res.counts[f"class.{kind}"] = 1
        res.counts[f"class_by.{how}"] = 1
        fix = framed_as_fix(kind, confidence, commit.subject, cfg.fix_confidence)
        if fix:
            # a notebook's hunks are its cells', which blame (of the JSON) cannot follow; an IDE's
            # project file is its list of files and references, where a fix moves or renames one
            # (hunks of comments or documentation only: review.requests leaves them out)
            blamed = [p for p in ps if p.role == "code" and not p.path.endswith(".ipynb") and
                      not files.is_ide_project(p.path)]
            # A fix of the code that also moves the CI's matrix or hooks on ("fix status text"
            # beside rich's `python-version: [3.6, 3.7, 3.8, 3.9]`) blames its code's history,
            # not the CI's lines; a fix of the CI alone, or one that says so, does.
            code = [p for p in blamed if not files.is_ci(p.path)]
            if code and len(code) < len(blamed) and not ci_said(commit.subject):
                blamed = code
            res.fix = (commit, blamed)
        elif kind == "bugfix":
            # framed as the change it is: no "find the bug", no review pairs
            subject = commit.subject
            res.counts["tooling_fixes" if tooling_fix(subject) else "tidy_fixes" if tidy_said(subject) else
                       "unsure_fixes"] = 1
        res.items.extend(commit_examples(commit, Label(kind, how, confidence, fix), ps, cfg))

    def _notebooks(self, commit: Commit) -> None:
        """A notebook's hunks as its cells' (notebook.py: both sides read whole, as scripts). One
        whose cells did not change (outputs, counts, metadata) is left out as
        `files.notebook_outputs`, one that cannot be read as `files.notebook_unreadable`."""
        kept = []
        for fd in commit.files:
            if not fd.path.endswith(".ipynb") or fd.status == "D" or not fd.hunks:
                kept.append(fd)
                continue
            new = self.heads.blob(fd.blob)
            old = b'{"cells": []}' if fd.status == "A" else self.heads.blob(fd.old_blob)
            before, after = (None if raw is None else notebook.script(raw) for raw in (old, new))
            if before is None or after is None:
                commit.skip("files.notebook_unreadable")
            elif not (cut := notebook.diff(fd.path, before[0], after[0], self.cfg.context_lines)):
                commit.skip("files.notebook_outputs")
            else:
                # Its size counts now, as the cells' (parse_files left its JSON out of the sum:
                # outputs and plots made a notebook commit too large to mine, 33 of
                # PythonDataScienceHandbook's commits).
                fd.hunks, fd.lang, fd.size = cut, after[1], sum(len(ln) + 1 for h in cut for ln in h.lines)
                commit.size += fd.size
                kept.append(fd)
        commit.files = kept

    def _with_reviews(self, batch: list[Result]) -> list[Result]:
        """A batch's results, finished (`_settle`), with their review pairs first (one history
        read per batch)."""
        self._settle(wait=True)
        found = reviews(self.cfg, [r.fix for r in batch if r.fix is not None])
        for res in batch:
            if res.fix is not None and (more := found.get(res.sha)):
                res.items[:0] = more
                res.counts["reviews"] = len(more)
            res.fix = None
        return batch

    def mine(self, shas: list[str]) -> Iterator[Result]:
        """Each commit of `shas` (non-merges, in this order), streamed from one git process and
        handed on a batch at a time, once the batch's review pairs are found. When git is
        killed (Interrupted), the commits before the batch's first bugfix are still handed on.
        When git fails on a commit (an object it cannot read: a partial or damaged clone), that
        commit is read by itself (see `_alone`) and a new stream goes on after it."""
        batch: list[Result] = []
        done = 0
        try:
            while done < len(shas):
                try:
                    for res in self._log(shas[done:]):
                        batch.append(res)
                        done += 1
                        if self.later and self.pending is not None:
                            self._settle(wait=False)  # the model may have come: finish what waited
                        if len(batch) >= BATCH:
                            yield from self._with_reviews(batch)
                            batch = []
                except _Failed as exc:
                    # Every commit before the one in hand came whole; the one in hand may be cut.
                    batch.append(self._alone(shas[done], str(exc)))
                    done += 1
            yield from self._with_reviews(batch)
        except (Interrupted, BrokenPipeError) as exc:
            # Hand on what waits for no review pair and no model: the batch up to its first
            # bugfix or its first commit still waiting for the repo model.
            for res in batch:
                if res.fix is not None or res.later is not None:
                    break
                yield res
            raise Interrupted(str(exc) or "git stopped") from None

    def _log(self, shas: list[str], paths: tuple[str, ...] = ()) -> Iterator[Result]:
        """The commits of `shas` from one `git log --stdin` stream, each once it is whole (the
        last once git has exited cleanly). `_Failed` when git exits with an error: the commit
        in hand is then not handed on. With `paths` (a pathspec) git leaves out commits that
        touch none of them."""
        cfg = self.cfg
        cmd = ["git", "-C", cfg.repo, *GIT_CONFIG, "log", "--no-walk=unsorted", "--stdin", *LOG_OPTIONS,
               f"-U{cfg.context_lines}", *(("--", *paths) if paths else ())]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=git_env())
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        with contextlib.suppress(OSError, AttributeError):  # room for git to run ahead of the parsing
            fcntl.fcntl(proc.stdout.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
        expected = iter(shas)
        try:
            try:
                proc.stdin.write("".join(f"{s}\n" for s in shas).encode())
                proc.stdin.close()
            except BrokenPipeError:  # git stopped before reading them all: its exit status says why
                with contextlib.suppress(OSError):
                    proc.stdin.close()
            pending: tuple[str, str | None] | None = None
            for rec in records(proc.stdout, max(16 << 20, 20 * cfg.max_diff_bytes)):
                if pending is not None:
                    yield self._checked(pending, expected, bool(paths))
                pending = rec
            code = proc.wait()
            if code < 0:
                raise Interrupted(f"git log killed by signal {-code}")
            if code != 0:
                raise _Failed(proc.stderr.read().decode("utf-8", "replace").strip()[:300] or f"exit {code}")
            if pending is not None:
                yield self._checked(pending, expected, bool(paths))
            if not paths and next(expected, None) is not None:
                raise GitError(f"{cfg.repo}: git log gave fewer commits than asked for")
        finally:
            for stream in (proc.stdout, proc.stderr):
                stream.close()
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    def _checked(self, rec: tuple[str, str | None], expected: Iterator[str], filtered: bool = False) -> Result:
        got = rec[0].split("\x1f", 1)[0]
        want = next(expected, None)
        while filtered and want is not None and want != got:  # a pathspec left that commit out
            want = next(expected, None)
        if got != want:
            raise GitError(f"{self.cfg.repo}: git log gave commit {got[:12]} where {str(want)[:12]} was expected")
        try:
            return self.commit(*rec)
        except (Interrupted, GitError, ModelFailed):
            raise
        except Exception as exc:
            return self._failed(got, exc)

    def _failed(self, sha: str, exc: Exception) -> Result:
        """One commit the miner cannot handle (a bug met on a real history) is reported and
        passed, not retried forever; more than MAX_COMMIT_ERRORS in one process is a bug that
        would pass everything: the run stops there (`exc` raised again)."""
        self.errors += 1
        if self.errors > MAX_COMMIT_ERRORS:
            raise exc
        return Result(sha, [BadInput(f"{self.cfg.repo}@{sha[:12]}",
                                     f"cannot mine this commit, skipped: {type(exc).__name__}: {exc}"),
                            Skip("commit_error")], {"commits": 1})

    def _alone(self, sha: str, message: str) -> Result:
        """The commit git failed on in a stream, read by itself: as it is if that works (the
        stream may have failed on the next one before showing it), else without the files
        whose blobs the repository lacks (a partial clone, a damaged one: reported as
        BadInput, those files counted as `skipped_files.unreadable`), else skipped as
        `unreadable_commit` with git's message. A repository that cannot even read the
        commit object (gone, or broken beyond one commit) is not skipped through: GitError,
        and the next run starts again from this commit."""
        cfg = self.cfg
        with contextlib.suppress(_Failed):
            got = list(self._log([sha]))
            if got:
                return got[0]
        where = f"{cfg.repo}@{sha[:12]}"
        try:
            git(cfg.repo, "cat-file", "-e", f"{sha}^{{commit}}", timeout=60)
        except GitError:
            raise GitError(f"{cfg.repo}: git failed on commit {sha[:12]}: {message}") from None
        try:
            lost = missing_files(cfg.repo, sha)
        except GitError:  # its trees cannot be read either
            lost = []
        if lost:
            with contextlib.suppress(_Failed):
                got = list(self._log([sha], (".", *(f":(exclude,literal){p}" for p in lost))))
                res = got[0] if got else Result(sha, [Skip("no_usable_hunks")], {"commits": 1})
                # A file that would be skipped anyway loses nothing and is counted as skipped
                # (spdlog's tests/.vs/ browse database and precompiled header, mirrored without them)
                unread = []
                for path in lost:
                    key = f"skipped_{why}" if (why := self.skip_path(path)) else "skipped_files.unreadable"
                    res.counts[key] = res.counts.get(key, 0) + 1
                    if not why:
                        unread.append(path)
                if unread:
                    shown = ", ".join(map(readable, unread[:5])) + (" ..." if len(unread) > 5 else "")
                    res.items.insert(0, BadInput(where, f"the repository lacks the blobs of {len(unread)} file(s), "
                                                        f"left out: {shown}"))
                return res
        return Result(sha, [BadInput(where, f"git cannot read this commit, skipped: {message}"),
                            Skip("unreadable_commit")], {"commits": 1})


class _Failed(Exception):
    """git exited with an error (not a signal) in the middle of a stream; its text is git's."""


def missing_files(repo: str, sha: str) -> list[str]:
    """Paths the commit changes (against its first parent) whose old or new blob the
    repository does not have."""
    raw = git(repo, "-c", "core.quotepath=off", "diff-tree", "-r", "--no-renames", "--root", "--no-commit-id", "-z",
              sha, timeout=120).decode("utf-8", "surrogateescape").split("\0")
    blobs: dict[str, list[str]] = {}
    for meta, path in zip(raw[0::2], raw[1::2], strict=False):
        fields_ = meta.split()
        if len(fields_) < 5 or "160000" in fields_[:2]:  # a submodule's commit is not in this repository
            continue
        for blob in fields_[2:4]:
            if set(blob) != {"0"}:
                blobs.setdefault(blob, []).append(path)
    if not blobs:
        return []
    out = git(repo, "cat-file", "--batch-check", input="".join(f"{b}\n" for b in blobs).encode(),
              timeout=120).decode("utf-8", "replace")
    gone = [ln.split()[0] for ln in out.splitlines() if ln.endswith(" missing")]
    return list(dict.fromkeys(p for b in gone for p in blobs.get(b, [])))


def _ignore(*_args: object) -> None:
    pass


def _outlive_sigterm(parent: int) -> None:
    """In a process forked from the job's worker (`parent`, its pid): outlive SIGTERM to the
    job's process group and ^C (its git processes do not: a handler, unlike SIG_IGN, is not
    inherited through exec), and die with the job's worker (PR_SET_PDEATHSIG). A worker whose
    parent died before it could ask for that (`kill -9` while the pool was starting) is gone at
    once: it was left waiting on its pool's queue for ever, which no one would ever write to."""
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent, signal.SIGKILL)


def _init_worker(parent: int) -> None:
    """A chunk worker outlives SIGTERM to the job's process group (the job shuts the pool down
    once it has stored what it has), but its git processes do not, so the chunk ends at its
    last whole commit (`_outlive_sigterm`)."""
    _outlive_sigterm(parent)
    # A chunk builds many small objects that all live until it is handed on: the collector
    # would walk them again and again (3% of a worker's CPU on a real history). Young
    # collections come 70 times rarer, and the heap inherited from the parent is left out.
    gc.freeze()
    gc.set_threshold(50_000)


_WORKER: dict[str, Any] = {}  # in a worker: "cfg", its pool's settings; "miner"


# A chunk's results travel to the parent as plain tuples, each Candidate as its field values:
# pickling a dataclass instance goes through __reduce_ex__ and a state dict per object, which
# on a real history cost twice the CPU of the tuples (and the rebuild) on each side.
_FIELDS = tuple(f.name for f in fields(Candidate))
Packed = list[tuple[str, dict[str, int], list[Any]]]


def _pack(results: list[Result]) -> Packed:
    return [(r.sha, r.counts, [tuple([getattr(i, f) for f in _FIELDS]) if type(i) is Candidate else i
                               for i in r.items]) for r in results]


def _unpack(packed: Packed) -> list[Result]:
    return [Result(sha, [Candidate(*i) if type(i) is tuple else i for i in items], counts)
            for sha, counts, items in packed]


def _chunk(shas: list[str]) -> tuple[str, str | None]:
    """Run in a worker: the file that holds a chunk's results, and why it stopped early (None:
    it did not). The settings are the pool's (`_WORKER["cfg"]`, inherited when the worker was
    forked): sent with every chunk, a repo model's were 3 MB pickled and unpickled again per
    chunk (polars). The results go through a file in the range's own folder (0700), not back
    through the pool's pipe: 10 MB for 1,000 of polars' commits kept the worker from its next
    chunk for 80 to 100 ms while this process read them 64 KiB at a time."""
    cfg: Settings = _WORKER["cfg"]
    miner = _WORKER.get("miner")
    if miner is None:
        miner = _WORKER["miner"] = Miner(cfg)
    out: list[Result] = []
    stopped = None
    try:
        for res in miner.mine(shas):
            out.append(res)
    except Interrupted as exc:
        stopped = str(exc)
    path = os.path.join(_WORKER["folder"], f"{os.getpid()}-{shas[0]}.pickle")
    with open(path, "wb") as f:
        pickle.dump(_pack(out), f, protocol=pickle.HIGHEST_PROTOCOL)
    return path, stopped


def _load(path: str) -> Packed:
    """A chunk's results from its file, which is then removed."""
    try:
        with open(path, "rb") as f:
            return pickle.load(f)  # type: ignore[no-any-return]
    finally:
        os.unlink(path)


def chunked(shas: list[str], jobs: int, least: int) -> list[list[str]]:
    """`shas` cut into chunks for `jobs` workers: each a share of what is left (a `2 * jobs`th,
    at most BATCH, at least `least`), so the chunks shrink towards the end and no worker mines a
    large last chunk alone while the others wait (polars: a 1,000-commit chunk ran 2.4 s alone
    at the end)."""
    out, i = [], 0
    while i < len(shas):
        size = max(least, min(BATCH, -(-(len(shas) - i) // (2 * jobs))))
        out.append(shas[i:i + size])
        i += size
    return out


def default_jobs() -> int:
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:
        return max(1, min(4, os.cpu_count() or 1))


def _train_into(train: Callable[[], Any], into: PendingModel, parent: int) -> None:
    """Run in the trainer process: the model, or why there is none, written where the workers
    look. A SIGTERM to the job's process group lets it finish (a worker may be waiting for it;
    seconds); it dies with the job's worker (`_outlive_sigterm`)."""
    _outlive_sigterm(parent)
    try:
        value = train()
    except BaseException as exc:  # every failure must reach the waiting workers
        value = ModelFailed(f"the repo model could not be made: {type(exc).__name__}: {exc}")
    into.write(value)


def _trainer(train: Callable[[], Any], folder: str | None, cfg: Settings) -> tuple[Settings, Any]:
    """(settings to mine with, the trainer process or None). Mined by this process alone (no
    `folder`), the model is made here first; mined by workers, it is made by a process of its
    own beside them, and the settings name where it will be (PendingModel, in `folder`)."""
    if folder is None:
        return replace(cfg, model=train()), None
    pending = PendingModel(os.path.join(folder, "model.pickle"))
    proc = multiprocessing.get_context("fork").Process(target=_train_into, args=(train, pending, os.getpid()),
                                                       daemon=True, name="aitherd-repo-model")
    proc.start()
    return replace(cfg, model=pending), proc


FOLDER_PREFIX = "aitherd-mine-"


def sweep_stale_folders(where: str | None = None) -> list[str]:
    """Remove the folders of ranges whose process is gone (killed mid-range: `kill -9`, out of
    memory), which may still hold a chunk's results or a model; ours only, named by pid. The
    removed folders' paths."""
    where = where or tempfile.gettempdir()
    gone = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(where):
            pid = entry.name[len(FOLDER_PREFIX):].split("-", 1)[0]
            if not entry.name.startswith(FOLDER_PREFIX) or not pid.isdigit():
                continue
            try:
                if entry.stat(follow_symlinks=False).st_uid != os.getuid() or not entry.is_dir(follow_symlinks=False):
                    continue
                os.kill(int(pid), 0)  # alive (or another user's): left alone
            except ProcessLookupError:
                shutil.rmtree(entry.path, ignore_errors=True)
                gone.append(entry.path)
            except OSError:
                continue
    return gone


def _result(fut: Future[tuple[str, str | None]], trainer: Any, pending: Any) -> tuple[str, str | None]:
    """A chunk's result; while the trainer runs, its end is watched: gone without writing the
    model (killed, out of memory), it is written as failed, so no worker waits for it."""
    while trainer is not None and trainer.is_alive():
        try:
            return fut.result(timeout=0.2)
        except FutureTimeout:
            continue
    if trainer is not None and not os.path.exists(pending.path):
        pending.write(ModelFailed(f"the repo model's process ended (exit code {trainer.exitcode}) "
                                  "without making it"))
    return fut.result()


def mine_commits(cfg: Settings, shas: list[str], jobs: int, parallel_min: int,
                 train: Callable[[], Any] | None = None) -> Iterator[Result]:
    """Results for `shas` in order; in worker processes when the range is large enough.
    `train`: makes the repo model (classify.train_model's answer) the settings lack; run
    beside the workers where they mine (their commits that need it wait, see PendingModel)."""
    parallel = jobs > 1 and len(shas) >= parallel_min and "fork" in multiprocessing.get_all_start_methods()
    trainer = folder = None
    if parallel:  # the workers' results and the model pass through files here (mkdtemp: 0700, removed after)
        sweep_stale_folders()
        folder = tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-")
    try:
        if train is not None:
            cfg, trainer = _trainer(train, folder, cfg)
        if folder is None:
            miner = Miner(cfg)
            try:
                yield from miner.mine(shas)
            finally:
                miner.close()
        else:
            yield from _in_workers(cfg, shas, jobs, parallel_min, trainer, folder)
    finally:
        if trainer is not None:
            trainer.kill()  # done by now, or of no more use
            trainer.join()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


def _in_workers(cfg: Settings, shas: list[str], jobs: int, parallel_min: int, trainer: Any,
                folder: str) -> Iterator[Result]:
    # A worker forked by this pool finds the settings and the folder for its results here (a
    # pool per range: no worker of an earlier one is reused, so none holds a miner of other
    # settings).
    _WORKER.clear()
    _WORKER.update(cfg=cfg, folder=folder)
    chunks = iter(chunked(shas, jobs, max(1, parallel_min // 2)))
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                               initializer=_init_worker, initargs=(os.getpid(),))
    queue: deque[Future[tuple[str, str | None]]] = deque()
    finished = False
    try:
        for chunk in chunks:
            queue.append(pool.submit(_chunk, chunk))
            if len(queue) > jobs:
                break
        while queue:
            path, stopped = _result(queue.popleft(), trainer, cfg.model)
            more: list[str] | None = next(chunks, None)
            if more is not None:
                queue.append(pool.submit(_chunk, more))
            yield from _unpack(_load(path))
            if stopped is not None:
                raise Interrupted(stopped)
        finished = True
    finally:
        if not finished:  # stopped early: chunks still running are of no use
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()
        pool.shutdown(wait=finished, cancel_futures=True)
        _WORKER.clear()  # the settings (a repo model's megabytes) are not kept past the range
