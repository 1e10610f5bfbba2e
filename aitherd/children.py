"""Child processes, one way: start in their own process group with a scrubbed environment, die
with their parent, and stop the whole group (SIGTERM, a grace period, then SIGKILL).

Used for job workers (daemon -> worker), the trainer (worker -> trainer) and the model server
(daemon -> vLLM). A group is stopped as a whole because children leave children of their own
(vLLM's EngineCore, torch's data loaders) that keep GPU memory and files when only the leader dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import time
from collections.abc import Mapping

# What a child must not inherit: systemd's notify and watchdog channel (only the daemon speaks
# for the unit) and socket activation fds.
_PRIVATE = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID",
            "LISTEN_FDNAMES")
_PR_SET_PDEATHSIG = 1


def child_env(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: ours (or `base`) without systemd's private variables, plus `extra`."""
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in _PRIVATE}
    env.update(extra or {})
    return env


def die_with_parent(parent_pid: int | None = None, sig: int = signal.SIGTERM) -> bool:
    """In a child (Linux): get `sig` when the parent dies, even by SIGKILL. If the parent is
    already gone (we were reparented before asking), exit at once. False where unsupported."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    except (OSError, AttributeError):
        return False
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)
    return True


def own_group_dying_with_parent() -> None:
    """A `preexec_fn` for subprocess.Popen: a process group of its own (a terminal's ^C is not
    for it) and SIGTERM when the parent dies."""
    os.setpgrp()
    die_with_parent()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a process group; False if the group is gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


async def start(*argv: str, env: Mapping[str, str] | None = None, stdin: int | None = None,
                stdout: int | None = None, stderr: int | None = None,
                new_session: bool = False, dies_with_parent: bool = False) -> asyncio.subprocess.Process:
    """Start a child in its own process group (or its own session), with a 1 MiB line limit
    on its pipes (asyncio's 64 KiB default breaks on long log lines). `dies_with_parent`: the
    child gets SIGTERM when this process dies, even by SIGKILL (for a child that cannot ask for
    it itself, such as vLLM: an orphan would keep the GPU from the next daemon's server)."""
    kwargs: dict[str, object] = {"start_new_session": True} if new_session else {"process_group": 0}
    if dies_with_parent:
        kwargs["preexec_fn"] = die_with_parent
    return await asyncio.create_subprocess_exec(
        *argv, env=dict(env) if env is not None else child_env(), stdin=stdin, stdout=stdout,
        stderr=stderr, limit=1 << 20, **kwargs)  # type: ignore[arg-type]


async def stop_group(proc: asyncio.subprocess.Process, grace: float, *, poll: float = 0.05) -> int | None:
    """SIGTERM the child's whole group, wait up to `grace` seconds for every member to go, then
    SIGKILL the group and wait for it. Returns the leader's exit code."""
    pgid = proc.pid
    signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=poll)
        if proc.returncode is not None and not group_alive(pgid):
            return proc.returncode
        if proc.returncode is not None:
            await asyncio.sleep(poll)
    signal_group(pgid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        await proc.wait()
    for _ in range(100):  # members reparented to init are reaped by it; wait until they are
        if not group_alive(pgid):
            break
        await asyncio.sleep(poll)
    return proc.returncode


def stop_group_sync(pid: int, grace: float, *, poll: float = 0.05) -> None:
    """The same for a group whose leader is not our asyncio child (e.g. after a restart)."""
    if not signal_group(pid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and group_alive(pid):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(poll)
    signal_group(pid, signal.SIGKILL)


def describe_exit(code: int | None) -> str:
    """A child's exit status for people: `exit code 3`, `signal SIGKILL`, `no exit code`."""
    if code is None:
        return "no exit code"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
