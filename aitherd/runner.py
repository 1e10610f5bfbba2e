"""Daemon side of job execution: Run rows, worker subprocesses, no overlap, chaining, shutdown.

Every trigger (schedule, catch-up, watcher, `aitherctl run`, a chain) goes through `Runner.start`.
A Run row is committed before the worker starts and finished when it ends, so a crash of either
side leaves a row that says what happened.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import select

from aitherd import children
from aitherd.config import Loaded
from aitherd.curate.redact import scrub
from aitherd.jobs import JOBS
from aitherd.logs import get_logger
from aitherd.metrics import Metrics
from aitherd.store import Run, session, utcnow

log = get_logger("aitherd.runner")


@dataclass
class Active:
    run_id: int
    job: str
    trigger: str
    started: float
    proc: asyncio.subprocess.Process | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    stop_requested: bool = False
    cancelled: bool = False
    args: dict[str, Any] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


@dataclass
class StartOutcome:
    started: bool
    run_id: int | None
    reason: str | None = None


class Runner:
    def __init__(self, engine: Engine, loaded: Callable[[], Loaded], metrics: Metrics,
                 on_change: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self._loaded = loaded
        self.metrics = metrics
        self.active: dict[str, Active] = {}
        self._rerun: set[str] = set()
        self._on_change = on_change
        self._closing = False
        self.is_paused: Callable[[str], bool] = lambda _job: False
        self._background: set[asyncio.Task[None]] = set()

    # -- rows ---------------------------------------------------------------------------------
    def _insert(self, row: Run) -> int:
        with session(self.engine) as s:
            s.add(row)
            s.commit()
            assert row.id is not None
            return row.id

    def _update(self, run_id: int, **values: Any) -> None:
        with session(self.engine) as s:
            row = s.get(Run, run_id)
            if row is None:
                return
            for key, value in values.items():  # messages, errors, progress: never a secret
                setattr(row, key, scrub(value))
            s.add(row)
            s.commit()

    async def _record_end(self, active: Active, **values: Any) -> None:
        """Write a finished run's row. If the store fails (disk full, locked, read-only), say so,
        count it, and retry in the background: the caller frees the job either way, and a row
        still 'running' at the next start is marked interrupted and resumed."""
        try:
            await asyncio.to_thread(self._update, active.run_id, **values)
        except Exception as exc:
            self._record_failed(active, exc, 1)
            task = asyncio.create_task(self._retry_record(active, values))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _retry_record(self, active: Active, values: dict[str, Any]) -> None:
        for attempt, delay in enumerate((1.0, 5.0, 30.0), start=2):
            await asyncio.sleep(delay)
            try:
                await asyncio.to_thread(self._update, active.run_id, **values)
                log.info("run_record_written", job=active.job, run_id=active.run_id, attempt=attempt)
                return
            except Exception as exc:
                self._record_failed(active, exc, attempt)

    def _record_failed(self, active: Active, exc: Exception, attempt: int) -> None:
        self.metrics.errors.labels(component="runner", reason="store").inc()
        log.error("run_record_failed", job=active.job, run_id=active.run_id, attempt=attempt,
                  error=f"{type(exc).__name__}: {exc}")

    def recover(self) -> list[str]:
        """At start: runs left 'running' by a daemon that died are marked interrupted.
        Returns the jobs whose latest run was interrupted, to be resumed."""
        with session(self.engine) as s:
            stale = s.exec(select(Run).where(Run.status == "running")).all()
            for row in stale:
                row.status = "interrupted"
                row.ended_at = row.ended_at or utcnow()
                row.error = row.error or "the daemon stopped while this run was in progress"
                s.add(row)
                self.metrics.job_runs.labels(job=row.job, status="interrupted").inc()
            s.commit()
            resume = []
            for job in JOBS:
                last = s.exec(select(Run).where(Run.job == job, Run.status != "skipped")
                              .order_by(Run.id.desc()).limit(1)).first()  # type: ignore[union-attr]
                if last is not None and last.status == "interrupted":
                    resume.append(job)
        if stale:
            log.warning("runs_interrupted_by_restart", runs=[r.id for r in stale])
        return resume

    def record_skip(self, job: str, trigger: str, message: str) -> int:
        now = utcnow()
        run_id = self._insert(Run(job=job, trigger=trigger, status="skipped", started_at=now,
                                  ended_at=now, duration_s=0.0, message=message))
        self.metrics.job_runs.labels(job=job, status="skipped").inc()
        return run_id

    # -- starting -------------------------------------------------------------------------------
    async def start(self, job: str, trigger: str, parent: int | None = None,
                    args: dict[str, Any] | None = None) -> StartOutcome:
        if job not in JOBS:
            raise KeyError(job)
        if self._closing:
            return StartOutcome(False, None, "the daemon is shutting down")
        current = self.active.get(job)
        if current is not None:
            if trigger == "watch":
                # New input arrived while harvesting: run once more afterwards, not in parallel.
                self._rerun.add(job)
                return StartOutcome(False, current.run_id, "already running; will run again after")
            if trigger in ("schedule", "catch-up"):
                await asyncio.to_thread(self.record_skip, job, trigger,
                                        f"already running as run {current.run_id}")
            return StartOutcome(False, current.run_id, f"already running as run {current.run_id}")
        run_id = await asyncio.to_thread(
            self._insert, Run(job=job, trigger=trigger, parent_run_id=parent))
        active = Active(run_id=run_id, job=job, trigger=trigger, started=time.monotonic(),
                        args=dict(args or {}))
        self.active[job] = active
        self.metrics.job_running.labels(job=job).set(1)
        active.task = asyncio.create_task(self._execute(active), name=f"run-{run_id}")
        log.info("run_started", job=job, run_id=run_id, trigger=trigger)
        self._on_change()
        return StartOutcome(True, run_id)

    def _worker_command(self, loaded: Loaded) -> list[str]:
        python = loaded.config.daemon.worker_python or sys.executable
        return [python, "-m", "aitherd.worker"]

    async def _execute(self, active: Active) -> None:
        loaded = self._loaded()
        spec = {
            "job": active.job, "run_id": active.run_id, "trigger": active.trigger,
            "args": active.args,
            "parent_pid": os.getpid(),
            "config": loaded.config.model_dump(mode="json"),
            "config_source": str(loaded.source) if loaded.source else None,
            "state_dir": str(loaded.paths.state_dir), "socket": str(loaded.paths.socket),
            "repos": [r.model_dump() for r in loaded.repos],
        }
        status, error, message = "failed", None, None
        counts: dict[str, Any] = {}
        outputs: dict[str, str] = {}
        resume = False
        try:
            proc = await children.start(*self._worker_command(loaded), stdin=asyncio.subprocess.PIPE,
                                        stdout=asyncio.subprocess.PIPE)
            active.proc = proc
            await asyncio.to_thread(self._update, active.run_id, pid=proc.pid)
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(spec).encode())
            await proc.stdin.drain()
            proc.stdin.close()
            if active.stop_requested:  # shutdown began while the worker was starting
                self._signal(active, signal.SIGTERM)
            async for raw in proc.stdout:
                self._on_message(active, raw)
            code = await proc.wait()
            if active.result is not None:
                status = active.result.get("status", "failed")
                error, message = active.result.get("error"), active.result.get("message")
                counts = active.result.get("counts") or {}
                outputs = active.result.get("outputs") or {}
            elif active.stop_requested:
                status, error = "interrupted", f"stopped by the daemon (exit {code})"
            elif code < 0:  # killed (the OOM killer, kill -9): resumed like a daemon crash
                status, error = "interrupted", f"worker killed by {children.describe_exit(code)}"
                resume = active.trigger != "resume"  # once; a second kill waits for a restart
            else:
                error = f"worker exited with {children.describe_exit(code)} before reporting a result"
            if active.cancelled and status == "interrupted":
                message = "cancelled: " + (message or "stopped at a checkpoint")
        except Exception as exc:
            error = f"could not run the worker: {type(exc).__name__}: {exc}"
            self.metrics.errors.labels(component="runner", reason="worker_start").inc()
        duration = time.monotonic() - active.started
        try:
            await self._record_end(active, status=status, ended_at=utcnow(), duration_s=duration,
                                   counts=counts, outputs=outputs, error=error, message=message,
                                   progress=active.progress)
        finally:
            # Whatever happened while recording, the job is free again: no wedged 409s.
            self.active.pop(active.job, None)
            self.metrics.job_running.labels(job=active.job).set(0)
            self._on_change()
        self.metrics.job_runs.labels(job=active.job, status=status).inc()
        self.metrics.observe_counts(active.job, counts)
        self.metrics.job_duration.labels(job=active.job).observe(duration)
        if status == "ok":
            self.metrics.job_last_success.labels(job=active.job).set(time.time())
        log.info("run_finished", job=active.job, run_id=active.run_id, status=status,
                 duration_s=round(duration, 3), error=error, message=message, outputs=outputs or None)
        if self._closing:
            return
        if resume and not self.is_paused(active.job):
            await self.start(active.job, "resume", parent=active.run_id)
        if status == "ok":
            for nxt in JOBS[active.job].then:
                await self.start(nxt, "chain", parent=active.run_id)
        if active.job in self._rerun:
            self._rerun.discard(active.job)
            if not self.is_paused(active.job):
                await self.start(active.job, "watch")

    def _on_message(self, active: Active, raw: bytes) -> None:
        try:
            msg = json.loads(raw)
        except ValueError:
            log.warning("worker_bad_line", run_id=active.run_id, line=raw[:200].decode("replace"))
            return
        if msg.get("type") == "progress":
            active.progress = {k: msg.get(k) for k in ("stage", "done", "total", "counts")}
        elif msg.get("type") == "gauge":
            if not self.metrics.set_job_gauge(str(msg.get("name")), msg.get("value"), msg.get("labels") or {}):
                log.warning("worker_unknown_gauge", run_id=active.run_id, name=msg.get("name"))
        elif msg.get("type") == "result":
            active.result = msg

    # -- stopping -------------------------------------------------------------------------------
    def cancel(self, job: str) -> int | None:
        """Ask a running job to checkpoint and stop (SIGTERM to its worker); its run id."""
        active = self.active.get(job)
        if active is None:
            return None
        active.stop_requested = active.cancelled = True
        self._rerun.discard(job)
        self._signal(active, signal.SIGTERM)
        log.info("run_cancel_requested", job=job, run_id=active.run_id)
        return active.run_id

    def _signal(self, active: Active, sig: int) -> None:
        if active.proc is not None and active.proc.returncode is None:
            children.signal_group(active.proc.pid, sig)

    async def shutdown(self, timeout: float) -> None:
        """Ask running jobs to checkpoint and stop; kill what is still running after timeout."""
        self._closing = True
        tasks = []
        for active in list(self.active.values()):
            active.stop_requested = True
            self._signal(active, signal.SIGTERM)
            if active.task is not None:
                tasks.append(active.task)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        if pending:
            for active in list(self.active.values()):
                log.warning("run_killed_at_shutdown", job=active.job, run_id=active.run_id)
                self._signal(active, signal.SIGKILL)
            await asyncio.wait(pending, timeout=5)


