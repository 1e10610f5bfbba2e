"""Running git for the miner: one-shot commands, and a `cat-file --batch` reader for file heads.

A git command killed by a signal (SIGTERM to the job's process group on cancel or shutdown)
raises `Interrupted`: the commit in hand is then incomplete and must not be checkpointed.
"""

from __future__ import annotations

import os
import subprocess
from typing import IO

from aitherd import errors
from aitherd.sources.git.files import HEAD_TELLS, generated_head, lines_say, shebang_language


class Interrupted(Exception):
    """A git process was killed by a signal: stop at the last complete commit."""


class GitError(errors.ServiceError, RuntimeError):
    """git failed for a reason other than a signal."""


def git_env() -> dict[str, str]:
    """The environment of the miner's git processes: glibc's malloc keeps up to 32 MiB of freed
    heap instead of handing it back at once (its default trims at 128 KiB). `git log -p` frees
    and grows its heap file after file; each chunk's fresh process paid that in page faults:
    on pola-rs/polars 4.0 of its 21 CPU seconds were system time, 1.0 with this. An
    environment that sets GLIBC_TUNABLES itself is left as it is; other C libraries ignore it."""
    env = dict(os.environ)
    env.setdefault("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=33554432")
    return env


def git(repo: str, *args: str, input: bytes | None = None, timeout: float = 600) -> bytes:
    """Output of `git -C repo ARGS`; Interrupted when killed by a signal, GitError on failure."""
    proc = subprocess.run(["git", "-C", repo, *args], input=input, capture_output=True, timeout=timeout,
                          check=False, env=git_env())
    if proc.returncode < 0:
        raise Interrupted(f"git {args[0] if args else ''} killed by signal {-proc.returncode}")
    if proc.returncode != 0:
        raise GitError(f"{repo}: git {' '.join(args[:3])}: "
                       f"{proc.stderr.decode('utf-8', 'replace').strip()[:300] or f'exit {proc.returncode}'}")
    return proc.stdout


class Heads:
    """Is a file generated, and what language does its `#!` line name? Read from the file's head
    at the mined range's tip (the same answer for every commit, so a resumed run agrees with a
    clean one), or from the commit's own blob where the file is gone at the tip. One `git
    cat-file --batch` per worker, the answers cached per path."""

    def __init__(self, repo: str, tip: str) -> None:
        self.repo, self.tip = repo, tip
        self._proc: subprocess.Popen[bytes] | None = None
        self._seen: dict[str, tuple[bool, str, str]] = {}

    def _read(self, name: str) -> bytes | None:
        if self._proc is None:
            self._proc = subprocess.Popen(["git", "-C", self.repo, "cat-file", "--batch"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL)
        stdin: IO[bytes] = self._proc.stdin  # type: ignore[assignment]
        stdout: IO[bytes] = self._proc.stdout  # type: ignore[assignment]
        try:
            stdin.write(name.encode() + b"\n")
            stdin.flush()
            header = stdout.readline()
        except (BrokenPipeError, OSError) as exc:
            raise Interrupted(f"git cat-file stopped: {exc}") from None
        if not header:
            raise Interrupted("git cat-file stopped")
        # "<name> missing" (or "ambiguous") echoes the name asked for, spaces and all: a path
        # "a b.png" gone at the tip answers "TIP:a b.png missing", three fields.
        if header.rstrip(b"\n").endswith((b" missing", b" ambiguous")):
            return None
        parts = header.split()
        if len(parts) != 3 or not parts[2].isdigit():
            return None
        size = int(parts[2])
        data = stdout.read(size + 1)
        if len(data) < size + 1:
            raise Interrupted("git cat-file stopped mid-object")
        return data[:size] if parts[1] == b"blob" else None

    def blob(self, blob: str) -> bytes | None:
        """A blob's content by its (abbreviated) id; None when the repository lacks it."""
        return self._read(blob) if blob and set(blob) != {"0"} and "\n" not in blob else None

    def _facts(self, path: str, blob: str) -> tuple[bool, str, str]:
        """(generated?, the language its `#!` line names, what a `.h` or `.m` file's lines say)
        from the file's first 4 KiB at the tip, or in `blob` where it is gone there; cached per
        path (the answers, not the text)."""
        facts = self._seen.get(path)
        if facts is None:
            data = None
            if "\n" not in path and "\n" not in self.tip:
                data = self._read(f"{self.tip}:{path}")
                if data is None and blob and set(blob) != {"0"}:
                    data = self._read(blob)
            head = "" if data is None else data[:4096].decode("utf-8", "replace")
            facts = self._seen[path] = (bool(head) and generated_head(head),
                                        shebang_language(head),
                                        # asked of those files.shared_language asks (HEAD_TELLS)
                                        lines_say(path, head) if path.endswith(HEAD_TELLS) else "")
        return facts

    def generated(self, path: str, blob: str) -> bool:
        return self._facts(path, blob)[0]

    def script_language(self, path: str, blob: str) -> str:
        """The language a file's `#!` line names ('' without one)."""
        return self._facts(path, blob)[1]

    def shared_language(self, path: str, blob: str) -> str:
        """What a `.h` or `.m` file's first lines show it is (files.lines_say), else ''."""
        return self._facts(path, blob)[2]

    def close(self) -> None:
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream is not None:
                    stream.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
