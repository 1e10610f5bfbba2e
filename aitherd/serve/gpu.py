"""Lending the GPU to training (daemon side); the train worker asks over the control socket.

Policy `sleep`: new requests get 503, the ones in flight get `drain_timeout` to finish, then vLLM
sleeps (level 1 keeps the weights in CPU RAM, level 2 drops them); a sleep that fails falls back
to a stop. `stop`: the same drain, then the process group is stopped. `none`: training has its own
GPU, nothing changes. Handing back wakes (or starts) vLLM and verifies every live adapter again
(a wake has been seen to stop applying an adapter silently); one that fails is reloaded, then
dropped to the base model with the reason in status. While lent, vLLM is not restarted after a
crash, deploys are refused, and a lease whose holder process died is handed back by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aitherd.logs import get_logger
from aitherd.serve.adapters import ServeError
from aitherd.serve.upstream import UpstreamError

if TYPE_CHECKING:
    from aitherd.serve.service import Serving

log = get_logger("aitherd.serve.gpu")


@dataclass
class Lease:
    run_id: int | None
    pid: int | None
    purpose: str
    policy: str
    was_wanted: bool
    since: float = field(default_factory=time.time)

    def describe(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pid": self.pid, "purpose": self.purpose,
                "policy": self.policy, "since": self.since}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
        return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] != b"Z"
    except OSError:
        return True


class GpuHandoff:
    def __init__(self, serving: Serving) -> None:
        self.s = serving
        self.lease: Lease | None = None
        self.history: deque[dict[str, Any]] = deque(maxlen=10)
        self._watch: asyncio.Task[None] | None = None

    def start_watch(self) -> None:
        self._watch = asyncio.create_task(self._watch_holder())

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch

    async def _watch_holder(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            lease = self.lease
            if lease is not None and lease.pid is not None and not _alive(lease.pid):
                log.warning("gpu_holder_gone", run_id=lease.run_id, pid=lease.pid)
                try:
                    await self.release(lease.run_id, reason=f"its holder (pid {lease.pid}) exited")
                except Exception as err:  # keep watching: a later check retries
                    log.error("gpu_auto_release_failed", run_id=lease.run_id, error=str(err))

    async def acquire(self, run_id: int | None, pid: int | None, purpose: str) -> str:
        cfg = self.s.cfg.gpu
        sup, ad = self.s._sup(), self.s.adapters
        async with ad.lock:
            if self.lease is not None:
                if self.lease.run_id == run_id and run_id is not None:
                    return f"the GPU was already lent to run {run_id}"
                raise ServeError(409, f"the GPU is already lent to run {self.lease.run_id} "
                                      f"({self.lease.purpose})")
            t0 = time.monotonic()
            lease = Lease(run_id, pid, purpose, cfg.policy, was_wanted=sup.wanted)
            if cfg.policy == "none":
                note = "GPU policy none: vLLM keeps serving (training uses another GPU)"
            elif not sup.wanted:
                note = f"vLLM was {sup.state}: nothing to free"
            else:
                self.s.accepting = False
                drained = await self.s.inflight.drained(None, cfg.drain_timeout)
                waited = "" if drained else (f" ({self.s.inflight.total} requests still in flight "
                                             f"after {cfg.drain_timeout:g}s were cut off)")
                note = await self._free(lease) + waited
            sup.hold = cfg.policy != "none"
            self.lease = lease
            note = f"GPU lent to {purpose}: {note} in {time.monotonic() - t0:.1f}s"
            self._record("acquire", lease, "ok", note)
        await self.s.sync_relay()
        return note

    async def _free(self, lease: Lease) -> str:
        sup = self.s._sup()
        if lease.policy == "sleep" and sup.state == "up":
            level = self.s.cfg.gpu.sleep_level
            try:
                await sup.sleep(level)
                return f"vLLM asleep (level {level})"
            except UpstreamError as err:
                log.warning("vllm_sleep_failed", error=str(err))
                lease.policy = "stop"
                await sup.stop()
                return f"sleep failed ({err}), so vLLM was stopped instead"
        lease.policy = "stop"
        await sup.stop()
        return "vLLM stopped, no process of its group left"

    async def release(self, run_id: int | None, reason: str = "training finished") -> str:
        sup, ad = self.s._sup(), self.s.adapters
        wait_start = False
        async with ad.lock:
            lease = self.lease
            if lease is None:
                return "the GPU was not lent: nothing to hand back"
            if run_id is not None and lease.run_id is not None and lease.run_id != run_id:
                raise ServeError(409, f"the GPU is lent to run {lease.run_id}, not run {run_id}")
            t0 = time.monotonic()
            self.lease = None
            sup.hold = False
            try:
                if lease.policy == "none":
                    note = "nothing to hand back (policy none)"
                elif sup.state == "asleep":
                    try:
                        await sup.wake()
                        checks = await ad.reverify()
                        note = "vLLM woke" + ("; " + "; ".join(checks) if checks else "")
                    except UpstreamError as err:
                        note = f"wake failed ({err}); restarting vLLM"
                        ad.ready.clear()
                        sup.restart()
                        wait_start = True
                elif lease.was_wanted:
                    ad.ready.clear()
                    sup.start()
                    wait_start = True
                    note = "vLLM restarted"
                else:
                    note = "vLLM was not running before: left stopped"
            finally:
                self.s.accepting = True
        if wait_start:
            note += "; " + await self._await_ready()
        note = f"GPU handed back ({reason}): {note} in {time.monotonic() - t0:.1f}s"
        self._record("release", lease, "ok" if "NOT served" not in note else "degraded", note)
        await self.s.sync_relay()
        return note

    async def _await_ready(self) -> str:
        sup, ad = self.s._sup(), self.s.adapters
        deadline = time.monotonic() + self.s.cfg.startup_timeout + 60
        while not (sup.state == "up" and ad.ready.is_set()):
            if sup.state in ("failed", "stopped") and not sup.wanted:
                return f"vLLM did not come back: {sup.gave_up or sup.last_error}"
            if time.monotonic() > deadline:
                return f"vLLM is still {sup.state}; it keeps starting in the background"
            await asyncio.sleep(0.05)
        served = [f"{a} -> {v['served']}" + (f" ({v['problem']})" if v["problem"] else "")
                  for a, v in ad.describe()["aliases"].items()]
        return "up; " + ", ".join(served)

    def _record(self, step: str, lease: Lease, outcome: str, note: str) -> None:
        self.s.metrics.handoffs.labels(policy=lease.policy, step=step, outcome=outcome).inc()
        self.history.append({"step": step, "at": time.time(), **lease.describe(), "note": note})
        log.info("gpu_handoff", step=step, run_id=lease.run_id, policy=lease.policy, note=note)

    def describe(self) -> dict[str, Any]:
        return {"policy": self.s.cfg.gpu.policy,
                "lent": self.lease.describe() if self.lease else None,
                "history": list(self.history)}
