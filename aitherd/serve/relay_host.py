"""The relay process (`relay`) from the daemon's side: start it, restart it when it dies, keep it
told, ask it to drain. Light: no httptools, no uvloop, no router model in the daemon.

`RelayHost.start()` runs `python -m aitherd.serve.relay` in a process group of its own (with
`children`), hands it where to listen and the first state, and returns the port it bound (a bind
failure raises `RelayError` with the reason). The state (`snapshot`: the alias table, vLLM's
address, why requests would get 503 now, router and key-file settings) is compared every
`PUSH_EVERY` and sent when it changed; `sync()` sends it now and waits for the relay's ack, so a
request that follows sees it. `drained(name)` sends the state first, then asks the relay: a
deploy's alias flip or a GPU hand-off's "stop accepting" is applied before the count is read, so
no request slips in between. A relay that exits unasked is restarted with backoff on the same
port (its in-flight requests are gone with it); each exit is counted as
`aitherd_errors_total{component="serve", reason="relay_exit"}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aitherd import children
from aitherd.logs import get_logger

log = get_logger("aitherd.serve.relay_host")

PUSH_EVERY = 0.025
START_TIMEOUT = 30.0
_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class RelayError(Exception):
    """The relay could not start (the message says why: a port in use, a crash at start)."""


@dataclass(frozen=True)
class Unavailable:
    message: str
    retry_after: int


class InFlight:
    """Requests in progress per served name, as the relay last reported them (at most
    `relay.REPORT_EVERY` old); `drained` asks the relay itself."""

    def __init__(self, gauge: Any = None) -> None:
        self.by_name: dict[str, int] = {}
        self.total = 0
        self.host: RelayHost | None = None
        self._gauge = gauge

    def update(self, by_name: dict[str, int], total: int) -> None:
        self.by_name, self.total = by_name, total
        if self._gauge is not None:
            self._gauge.set(total)

    async def drained(self, name: str | None, timeout: float) -> bool:
        """Wait until no request is in flight for `name` (None: for any name)."""
        host = self.host
        if host is None or not host.running:
            return True
        return await host.drained(name, timeout)


class RelayHost:
    def __init__(self, address: str, port: int, snapshot: Callable[[], dict[str, Any]], inflight: InFlight,
                 metrics_dir: str, on_exit: Callable[[], None] | None = None, *, log_level: str = "info",
                 log_format: str = "auto", grace: float = 5.0) -> None:
        self.address = address
        self.port = port
        self.snapshot = snapshot
        self.inflight = inflight
        self.metrics_dir = metrics_dir
        self.on_exit = on_exit
        self.log_level, self.log_format, self.grace = log_level, log_format, grace
        self.proc: asyncio.subprocess.Process | None = None
        self.status: dict[str, Any] = {}
        self.loop_kind: str | None = None
        self.restarts = 0
        self.last_exit: str | None = None
        self._gen = 0
        self._acked = 0
        self._ack = asyncio.Event()
        self._last: dict[str, Any] | None = None
        self._drains: dict[int, asyncio.Future[bool]] = {}
        self._ids = 0
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        inflight.host = self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.running and self.proc is not None else None

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> int:
        await self._spawn()
        self._tasks += [asyncio.create_task(self._push_loop()), asyncio.create_task(self._watch())]
        return self.port

    async def _spawn(self) -> None:
        env = children.child_env({"PROMETHEUS_MULTIPROC_DIR": self.metrics_dir,
                                  "AITHERD_PARENT_PID": str(os.getpid())})
        proc = await children.start(sys.executable, "-m", "aitherd.serve.relay", env=env,
                                    stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        snap = self.snapshot()
        self._gen += 1
        start = {"type": "start", "address": self.address, "port": self.port, "grace": self.grace,
                 "log_level": self.log_level, "log_format": self.log_format,
                 "state": {"type": "state", "gen": self._gen, **snap}}
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(start).encode() + b"\n")
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    line = await proc.stdout.readline()
                    if not line:
                        await proc.wait()
                        raise RelayError(f"the relay exited at start (code {proc.returncode}); see the log")
                    m = json.loads(line)
                    if m.get("type") == "error":
                        await proc.wait()
                        raise RelayError(m["message"])
                    if m.get("type") == "listening":
                        break
                    self._on(m)
        except TimeoutError:
            await children.stop_group(proc, 1.0)
            raise RelayError(f"the relay did not listen within {START_TIMEOUT:g}s") from None
        except BaseException:
            if proc.returncode is None:
                await children.stop_group(proc, 1.0)
            raise
        self.proc, self._last = proc, snap
        self.port, self.loop_kind = int(m["port"]), m.get("loop")
        self._tasks.append(asyncio.create_task(self._read(proc)))
        log.info("relay_started", pid=proc.pid, port=self.port, loop=self.loop_kind)

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        proc = self.proc
        if proc is not None and proc.returncode is None:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.write(b'{"type": "stop"}\n')
                    proc.stdin.close()
            try:
                await asyncio.wait_for(proc.wait(), self.grace + 2)
            except TimeoutError:
                await children.stop_group(proc, 2.0)
        self._drained_all()
        self.inflight.update({}, 0)

    async def _watch(self) -> None:
        """Restart the relay when it exits unasked, with backoff, on the port it had."""
        tries = 0
        while True:
            proc = self.proc
            assert proc is not None
            started = time.monotonic()
            code = await proc.wait()
            if self._stopping:
                return
            self.last_exit = f"the relay exited with code {code}"
            log.error("relay_exited", code=code, pid=proc.pid)
            if self.on_exit is not None:
                self.on_exit()
            self._drained_all()
            self.inflight.update({}, 0)
            tries = 0 if time.monotonic() - started > 30 else tries + 1
            while not self._stopping:
                await asyncio.sleep(_BACKOFF[min(tries, len(_BACKOFF) - 1)])
                try:
                    await self._spawn()
                    self.restarts += 1
                    break
                except RelayError as err:
                    self.last_exit = str(err)
                    log.error("relay_restart_failed", error=str(err))
                    tries += 1

    # -- talking to it -----------------------------------------------------------------------------
    def _write(self, msg: dict[str, Any]) -> bool:
        proc = self.proc
        if proc is None or proc.returncode is not None or proc.stdin is None or proc.stdin.is_closing():
            return False
        proc.stdin.write(json.dumps(msg).encode() + b"\n")
        return True

    def push(self) -> int:
        """Send the state if it changed; the generation the relay will have."""
        snap = self.snapshot()
        if snap != self._last and self.running:
            self._gen += 1
            if self._write({"type": "state", "gen": self._gen, **snap}):
                self._last = snap
        return self._gen

    async def sync(self, timeout: float = 5.0) -> bool:
        """Send the state now and wait until the relay has it."""
        gen = self.push()
        deadline = time.monotonic() + timeout
        while self._acked < gen and self.running:
            self._ack.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ack.wait(), left)
        return self._acked >= gen

    async def drained(self, name: str | None, timeout: float) -> bool:
        self.push()
        self._ids += 1
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._drains[self._ids] = fut
        if not self._write({"type": "drain", "id": self._ids, "name": name, "timeout": timeout}):
            self._drains.pop(self._ids, None)
            return True
        try:
            return await asyncio.wait_for(fut, timeout + 5)
        except TimeoutError:
            return False
        finally:
            self._drains.pop(self._ids, None)

    def _drained_all(self) -> None:
        for fut in self._drains.values():
            if not fut.done():
                fut.set_result(True)  # a relay that is gone has nothing in flight
        self._drains.clear()

    async def _push_loop(self) -> None:
        while True:
            await asyncio.sleep(PUSH_EVERY)
            try:
                self.push()
            except Exception as err:  # the loop must outlive a bad snapshot
                log.error("relay_push_failed", error=str(err))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                return
            try:
                self._on(json.loads(line))
            except (ValueError, KeyError, TypeError) as err:
                log.error("relay_bad_report", error=str(err), line=line[:200].decode("utf-8", "replace"))

    def _on(self, m: dict[str, Any]) -> None:
        kind = m.get("type")
        if kind == "report":
            self.inflight.update({str(k): int(v) for k, v in m["in_flight"].items()}, int(m["total"]))
        elif kind == "ack":
            self._acked = max(self._acked, int(m["gen"]))
            self._ack.set()
        elif kind == "drained":
            fut = self._drains.get(int(m["id"]))
            if fut is not None and not fut.done():
                fut.set_result(bool(m["ok"]))
        elif kind == "status":
            self.status = m["status"]

    def describe(self) -> dict[str, Any]:
        return {"pid": self.pid, "loop": self.loop_kind, "restarts": self.restarts, "last_exit": self.last_exit}
