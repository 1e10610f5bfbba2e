"""The vLLM child: start in its own session, wait for /health, watch it, restart with backoff, stop.

vLLM opens its port only once the engine is ready, so readiness is `GET /health` answering 200
while the process is still alive. A crash (exit, or `health_failures` failed checks in a row) is
followed by a restart after an exponential backoff that resets after a stable run; after
`max_crashes` crashes within `crash_window` the supervisor gives up and says so. Stopping sends
SIGTERM to the whole process group, waits `stop_timeout`, then SIGKILLs the group: killing only
the API process leaves vLLM's EngineCore and worker processes holding GPU memory. The child's
stdout and stderr go to a rotating log file, never into the daemon's own log stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aitherd import children
from aitherd.children import describe_exit
from aitherd.logs import get_logger
from aitherd.lora import LoraSection
from aitherd.serve.config import ServeConfig
from aitherd.serve.launch import RotatingLog, free_port, group_members, vllm_args, vllm_env
from aitherd.serve.metrics import ServeMetrics
from aitherd.serve.upstream import Upstream, UpstreamError

log = get_logger("aitherd.serve")

STATES = ("disabled", "stopped", "starting", "up", "asleep", "backoff", "failed", "stopping")


class Supervisor:
    """Keeps one vLLM process running while wanted; `on_ready` runs after each successful start."""

    def __init__(self, cfg: ServeConfig, model: str, log_path: Path, metrics: ServeMetrics,
                 on_ready: Callable[[], Coroutine[Any, Any, None]], *, lora: LoraSection) -> None:
        self.cfg = cfg
        self.lora = lora  # [lora]: --max-lora-rank
        self.model = model
        self.metrics = metrics
        self.on_ready = on_ready
        self.log = RotatingLog(log_path, cfg.log_max_bytes, cfg.log_backups)
        self.state = "stopped"
        self.pid: int | None = None
        self.port: int | None = None
        self.upstream: Upstream | None = None
        self.generation = 0  # moves at each start and wake: cached base outputs go stale
        self.starts = 0
        self.crash_times: deque[float] = deque()
        self.consecutive_crashes = 0
        self.last_error: str | None = None
        self.gave_up: str | None = None
        self.ready_at: float | None = None
        self.state_since = time.monotonic()
        self.hold = False  # the GPU is lent: a crash does not restart vLLM
        self._want = False
        self._restart = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready_task: asyncio.Task[None] | None = None
        self._set_state("stopped")

    # -- control ------------------------------------------------------------------------------
    @property
    def wanted(self) -> bool:
        return self._want

    def start(self) -> None:
        """Want vLLM running; clears an earlier give-up."""
        self._want = True
        if self.gave_up:
            self.gave_up = None
            self.crash_times.clear()
            self.consecutive_crashes = 0
            self.metrics.gave_up.set(0)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="vllm-supervisor")
        self._wake.set()

    async def stop(self) -> None:
        """Stop vLLM and wait until no process of its group is left."""
        self._want = False
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def restart(self) -> None:
        if self._task is None or self._task.done():
            self.start()
            return
        self._restart = True
        self._wake.set()

    async def wait_state(self, states: tuple[str, ...], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.state not in states:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def close(self) -> None:
        if self.upstream is not None:
            self.upstream.close()
        self.log.close()

    # -- sleep mode ---------------------------------------------------------------------------
    async def sleep(self, level: int) -> None:
        up = self._require_up()
        resp = await up.request("POST", f"/sleep?level={level}", timeout=self.cfg.startup_timeout)
        if resp.status == 404:
            raise UpstreamError("vLLM has no /sleep endpoint: it needs --enable-sleep-mode and "
                                "VLLM_SERVER_DEV_MODE=1 (set [serve.gpu] policy = \"sleep\")")
        if resp.status != 200:
            raise UpstreamError(f"POST /sleep answered {resp.status}: {resp.text[:300]}")
        check = await up.request("GET", "/is_sleeping", timeout=self.cfg.health_timeout)
        if check.status != 200 or check.json().get("is_sleeping") is not True:
            raise UpstreamError(f"vLLM does not report sleeping after /sleep: {check.text[:200]}")
        self._set_state("asleep")

    async def wake(self) -> None:
        if self.state != "asleep" or self.upstream is None:
            raise UpstreamError(f"vLLM is {self.state}, not asleep")
        up = self.upstream
        resp = await up.request("POST", "/wake_up", timeout=self.cfg.startup_timeout)
        if resp.status != 200:
            raise UpstreamError(f"POST /wake_up answered {resp.status}: {resp.text[:300]}")
        check = await up.request("GET", "/is_sleeping", timeout=self.cfg.health_timeout)
        if check.status != 200 or check.json().get("is_sleeping") is not False:
            raise UpstreamError(f"vLLM still reports sleeping after /wake_up: {check.text[:200]}")
        self.generation += 1
        self._set_state("up")

    def _require_up(self) -> Upstream:
        if self.state != "up" or self.upstream is None:
            raise UpstreamError(f"vLLM is {self.state}")
        return self.upstream

    # -- the loop -----------------------------------------------------------------------------
    def _set_state(self, state: str) -> None:
        if state != self.state:
            log.info("vllm_state", state=state, previous=self.state, pid=self.pid)
        self.state = state
        self.state_since = time.monotonic()
        for s in STATES:
            self.metrics.state.labels(state=s).set(1 if s == state else 0)

    async def _loop(self) -> None:
        try:
            while self._want:
                self._restart = False
                outcome = await self._run_once()
                if outcome is None or not self._want:
                    continue  # a stop or an asked-for restart
                self._crashed(outcome)
                if self.hold:
                    self._want = False
                    self.last_error = f"{outcome}; not restarted while the GPU is lent to training"
                    break
                if self.gave_up:
                    break
                delay = min(self.cfg.restart_backoff_max,
                            self.cfg.restart_backoff * 2 ** (self.consecutive_crashes - 1))
                self._set_state("backoff")
                log.warning("vllm_restart_backoff", delay_s=delay, error=outcome)
                await self._pause(delay)
        finally:
            if self.state != "failed":
                self._set_state("stopped")

    def _crashed(self, reason: str) -> None:
        now = time.monotonic()
        self.last_error = reason
        self.metrics.crashes.inc()
        self.consecutive_crashes += 1
        self.crash_times.append(now)
        while self.crash_times and now - self.crash_times[0] > self.cfg.crash_window:
            self.crash_times.popleft()
        log.error("vllm_crashed", error=reason, crashes_in_window=len(self.crash_times))
        if len(self.crash_times) >= self.cfg.max_crashes:
            self.gave_up = (f"gave up after {len(self.crash_times)} crashes within "
                            f"{self.cfg.crash_window:g}s; last: {reason}. Fix the cause, then "
                            "`aitherctl serve start`")
            self._want = False
            self.metrics.gave_up.set(1)
            self._set_state("failed")
            log.error("vllm_gave_up", reason=self.gave_up)

    async def _pause(self, seconds: float) -> None:
        if not self._want:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _run_once(self) -> str | None:
        """One process lifetime. None: stopped or restarted on request; else why it crashed."""
        self._set_state("starting")
        port = self.cfg.port or free_port(self.cfg.host)
        argv = vllm_args(self.cfg, self.model, port, self.lora)
        self.log.note(f"starting: {' '.join(argv)}")
        try:
            proc = await children.start(
                *argv, env=vllm_env(self.cfg), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, new_session=True,
                dies_with_parent=True)
        except OSError as err:
            return f"cannot start {argv[0]!r}: {err.strerror or err} (set [serve] command)"
        self.pid, self.port = proc.pid, port
        self.starts += 1
        if self.starts > 1:
            self.metrics.restarts.inc()
        if self.upstream is not None:
            self.upstream.close()
        self.upstream = Upstream(self.cfg.host if self.cfg.host != "0.0.0.0" else "127.0.0.1", port)
        log.info("vllm_started", pid=proc.pid, port=port, argv=argv)
        drain = asyncio.create_task(self._drain(proc))
        try:
            return await self._watch(proc)
        finally:
            if self._ready_task is not None:
                self._ready_task.cancel()
                self._ready_task = None
            self._set_state("stopping")
            await self._terminate(proc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(drain, 5)
            code = proc.returncode
            self.log.note(f"process group {proc.pid} gone (leader exit {code})")
            self.upstream.close()
            self.ready_at = None

    async def _watch(self, proc: asyncio.subprocess.Process) -> str | None:
        exited = asyncio.ensure_future(proc.wait())
        try:
            deadline = time.monotonic() + self.cfg.startup_timeout
            while True:  # starting
                if not self._want or self._restart:
                    return None
                if exited.done():
                    return f"exited with {describe_exit(proc.returncode)} during start: {self.log.last_lines()}"
                if time.monotonic() > deadline:
                    return (f"not ready within the startup allowance ({self.cfg.startup_timeout:g}s; "
                            "raise [serve] startup_timeout for a large model)")
                if await self._healthy():
                    break
                await self._wait(exited, self.cfg.startup_poll)
            self.generation += 1
            self.ready_at = time.monotonic()
            self._set_state("up")
            log.info("vllm_ready", pid=proc.pid, port=self.port)
            self._ready_task = asyncio.create_task(self.on_ready())
            failures = 0
            while True:  # running
                await self._wait(exited, self.cfg.health_interval)
                if not self._want or self._restart:
                    return None
                if exited.done():
                    return f"exited with {describe_exit(proc.returncode)}: {self.log.last_lines()}"
                if await self._healthy():
                    failures = 0
                    if (self.consecutive_crashes and self.ready_at is not None
                            and time.monotonic() - self.ready_at >= self.cfg.stable_after):
                        self.consecutive_crashes = 0
                    continue
                failures += 1
                log.warning("vllm_health_failed", failures=failures, limit=self.cfg.health_failures)
                if failures >= self.cfg.health_failures:
                    return f"health check failed {failures} times in a row"
        finally:
            exited.cancel()

    async def _wait(self, exited: asyncio.Future[Any], seconds: float) -> None:
        if not self._want or self._restart or exited.done():
            return  # checked before clearing, so a request made meanwhile is not lost
        self._wake.clear()
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({exited, waker}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waker.cancel()

    async def _healthy(self) -> bool:
        assert self.upstream is not None
        try:
            resp = await self.upstream.request("GET", "/health", timeout=self.cfg.health_timeout)
        except UpstreamError:
            return False
        return resp.status == 200

    async def _drain(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            data = await proc.stdout.read(65536)
            if not data:
                return
            try:
                self.log.write(data)
            except OSError as err:  # a full disk must not stop the drain (the child would block)
                log.warning("vllm_log_write_failed", error=str(err))

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        pgid = proc.pid
        if group_members(pgid) or proc.returncode is None:
            with contextlib.suppress(PermissionError):
                children.signal_group(pgid, signal.SIGTERM)
            if not await self._gone(proc, pgid, self.cfg.stop_timeout):
                left = group_members(pgid)
                log.warning("vllm_killed", pgid=pgid, processes=left)
                self.log.note(f"SIGKILL to process group {pgid} after {self.cfg.stop_timeout:g}s: {left}")
                with contextlib.suppress(PermissionError):
                    children.signal_group(pgid, signal.SIGKILL)
                if not await self._gone(proc, pgid, 10):
                    log.error("vllm_group_survived_sigkill", pgid=pgid, processes=group_members(pgid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 5)

    @staticmethod
    async def _gone(proc: asyncio.subprocess.Process, pgid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.returncode is not None and not group_members(pgid):
                return True
            await asyncio.sleep(0.05)
        return proc.returncode is not None and not group_members(pgid)

    def describe(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "state": self.state, "pid": self.pid if self.state not in ("stopped", "failed") else None,
            "port": self.port, "model": self.model, "since_s": round(now - self.state_since, 3),
            "uptime_s": round(now - self.ready_at, 3) if self.ready_at else None,
            "starts": self.starts, "restarts": max(self.starts - 1, 0),
            "crashes_in_window": len(self.crash_times), "last_error": self.last_error,
            "gave_up": self.gave_up, "log": str(self.log.path),
        }

