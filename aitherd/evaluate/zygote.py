"""The sandbox's fork server: one warm interpreter that forks a fresh child per program.

Started by aitherd.evaluate.sandbox as `python -I -S -c "...zygote.serve(FD)"`, standard library
only, single-threaded (forking is safe). A Python start-up costs 30-50 ms on a loaded machine; a
fork of this small process costs about one. Each child is still one process per program, in its
own session, locked down by jail.lock_down exactly as in the `exec` mode, with the zygote's socket
and every other descriptor closed before the program runs (a program must not reach the zygote).

Protocol on a SOCK_SEQPACKET pair (one message per packet):
  parent -> zygote: {"op": "run", "id", "workdir", "settings", "env"} with two descriptors
                    (the program's stdout and stderr), or {"op": "kill", "id"}.
  zygote -> parent: "started ID PID", "exit ID CODE" (CODE < 0: killed by signal -CODE).
The zygote reaps every child itself; before reaping it kills the child's process group, so the
group id cannot be reused while stragglers live. When the parent goes (EOF) it kills every
running child and exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import sys

import jail  # type: ignore[import-not-found]  # a sibling file: zygote runs as a script

# Imported once here, inherited by every child: what benchmark programs import most.
PREIMPORT = ("collections", "functools", "heapq", "itertools", "math", "re", "typing")


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _reap(sock: socket.socket, children: dict[int, int]) -> None:
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None:
            return
        _kill_group(info.si_pid)  # stragglers of the group go while its id is still reserved
        _pid, status = os.waitpid(info.si_pid, 0)
        run_id = children.pop(info.si_pid, None)
        if run_id is not None:
            sock.send(f"exit {run_id} {os.waitstatus_to_exitcode(status)}".encode())


def _child(request: dict, fds: list[int], sock: socket.socket) -> tuple[dict, str, str]:
    """In the forked child: own session, the program's pipes as 1 and 2, nothing else open."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    sock.detach()  # closed below with the rest; the object must not close a reused number later
    os.closerange(3, max(os.sysconf("SC_OPEN_MAX"), 4096))
    os.chdir(request["workdir"])
    os.environ.clear()
    os.environ.update(request["env"])
    return jail.parse_settings(request["settings"]), request["workdir"], jail.read_program()


def serve(fd: int) -> tuple[dict, str, str]:
    """The zygote's loop. Returns only in a forked child: (settings, workdir, program source)."""
    for name in PREIMPORT:
        __import__(name)
    sock = socket.socket(fileno=fd)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    children: dict[int, int] = {}  # pid -> run id
    by_id: dict[int, int] = {}
    while True:
        try:
            ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        except InterruptedError:
            continue
        if wake_r in ready:
            os.read(wake_r, 4096)
        _reap(sock, children)
        by_id = {run_id: pid for pid, run_id in children.items()}
        if sock.fileno() not in ready:
            continue
        try:
            message, fds, _flags, _addr = socket.recv_fds(sock, 1 << 16, 2)
        except ConnectionError:
            message, fds = b"", []
        if not message:  # the parent is gone: so are its programs
            for pid in children:
                _kill_group(pid)
            os._exit(0)
        request = json.loads(message)
        if request["op"] == "kill":
            target = by_id.get(request["id"])
            if target is not None:
                _kill_group(target)
            continue
        pid = os.fork()
        if pid == 0:
            return _child(request, fds, sock)
        for f in fds:
            os.close(f)
        children[pid] = request["id"]
        sock.send(f"started {request['id']} {pid}".encode())


def main(fd: int) -> None:
    settings, workdir, source = serve(fd)
    jail.lock_down(settings, workdir)
    jail.run_program(source, workdir)


if __name__ == "__main__":
    main(int(sys.argv[1]))
