"""The parent's side of the sandbox fork server (zygote.py): start it, ask it to run, kill and
report, from many threads at once. One reader thread turns its replies into futures."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
from concurrent.futures import Future
from pathlib import Path

from aitherd.errors import ServiceError

HERE = Path(__file__).resolve().parent
_START = (f"import sys; sys.path[0] = {str(HERE)!r}; import zygote; zygote.main(int(sys.argv[1]))")


class ZygoteGone(ServiceError):
    """The fork server exited; the runs it had are lost (the sandbox retries them once)."""


class ForkServer:
    def __init__(self, python: str, env: dict[str, str]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [python, "-I", "-S", "-B", "-c", _START, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env, cwd="/",
                start_new_session=True)
        finally:
            theirs.close()
        self.sock = ours
        self._lock = threading.Lock()
        self._next = 0
        self._started: dict[int, Future[int]] = {}
        self._exits: dict[int, Future[int]] = {}
        self.alive = True
        self._reader = threading.Thread(target=self._read, name="sandbox-forkserver", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(256)
            except OSError:
                data = b""
            if not data:
                break
            kind, run_id, value = data.decode().split()
            table = self._started if kind == "started" else self._exits
            with self._lock:
                future = table.setdefault(int(run_id), Future())
            future.set_result(int(value))
        with self._lock:
            self.alive = False
            pending = [f for f in (*self._started.values(), *self._exits.values()) if not f.done()]
        for future in pending:
            future.set_exception(ZygoteGone("the sandbox fork server exited"))

    def spawn(self, workdir: str, settings: str, env: dict[str, str], stdout: int,
              stderr: int) -> tuple[int, int, Future[int]]:
        """Fork a child for the program in `workdir`; returns (run id, pid, exit code future)."""
        with self._lock:
            if not self.alive:
                raise ZygoteGone("the sandbox fork server exited")
            self._next += 1
            run_id = self._next
            started = self._started.setdefault(run_id, Future())
            exited = self._exits.setdefault(run_id, Future())
            message = json.dumps({"op": "run", "id": run_id, "workdir": workdir, "settings": settings,
                                  "env": env}).encode()
            try:
                socket.send_fds(self.sock, [message], [stdout, stderr])
            except OSError as err:
                raise ZygoteGone(f"the sandbox fork server is unreachable: {err}") from None
        try:
            pid = started.result(timeout=30)
        finally:
            with self._lock:
                self._started.pop(run_id, None)
        return run_id, pid, exited

    def forget(self, run_id: int) -> None:
        with self._lock:
            self._exits.pop(run_id, None)

    def kill(self, run_id: int) -> None:
        """Kill the run's whole process group, if the zygote has not reaped it yet."""
        with self._lock, contextlib.suppress(OSError):
            self.sock.send(json.dumps({"op": "kill", "id": run_id}).encode())

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 9)
            self.proc.wait()
