"""The embedded scheduler: APScheduler 3 with its job store in the daemon's SQLite database.

Jobs in the store point at `aitherd.schedule:fire`, which hands the run to the Runner; the
Runner, not APScheduler, prevents overlap so that scheduled, watched and manual runs share one
rule. Interval jobs keep their anchor across restarts (a restart must not postpone an 8 h
harvest forever), and runs missed while the daemon was down are coalesced into one at start
when they fall within the misfire grace.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from sqlalchemy import Engine

from aitherd.config import SCHEDULED_JOBS, Config, JobSchedule
from aitherd.logs import get_logger
from aitherd.timing import build_trigger as _trigger
from aitherd.timing import resolve_timezone

__all__ = ["Schedule", "build_trigger", "fire", "resolve_timezone"]

log = get_logger("aitherd.schedule")

_handler: Any = None  # the daemon's `async (job, trigger) -> None`, set by `Schedule.start`
_catch_up: set[str] = set()


def build_trigger(sched: JobSchedule, tz: Any, anchor: datetime | None = None) -> BaseTrigger:
    """The trigger for a configured schedule (aitherd.timing.build_trigger takes plain values)."""
    return _trigger(sched.every, sched.cron, tz, anchor)


async def fire(job: str, spec: str) -> None:
    """The callable every stored job points at; `spec` identifies the schedule it was made from."""
    trigger = "catch-up" if job in _catch_up else "schedule"
    _catch_up.discard(job)
    if _handler is None:
        log.warning("fire_without_daemon", job=job)
        return
    await _handler(job, trigger)


class Schedule:
    def __init__(self, engine: Engine, cfg: Config) -> None:
        self.tz = resolve_timezone(cfg.scheduler.timezone)
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": int(cfg.scheduler.misfire_grace) or 1},
            timezone=self.tz,
        )
        self._cfg = cfg
        self.on_missed: Any = None

    def start(self, handler: Any, *, paused: bool) -> list[str]:
        """Start; returns the jobs that were due while the daemon was down."""
        global _handler
        _handler = handler
        self.scheduler.add_listener(self._missed, EVENT_JOB_MISSED)
        self.scheduler.start(paused=True)
        self.sync(self._cfg)
        now = datetime.now(self.tz)
        due = [j.id for j in self.scheduler.get_jobs()
               if j.next_run_time is not None and j.next_run_time <= now]
        _catch_up.clear()
        _catch_up.update(due)
        if not paused:
            self.scheduler.resume()
        return due

    def _missed(self, event: JobExecutionEvent) -> None:
        if self.on_missed is not None:
            asyncio.get_running_loop().call_soon(self.on_missed, event.job_id,
                                                 event.scheduled_run_time)

    def sync(self, cfg: Config) -> list[str]:
        """Make the stored jobs match the config; unchanged schedules keep their anchor."""
        self._cfg = cfg
        changes: list[str] = []
        for name in SCHEDULED_JOBS:
            sched = cfg.jobs[name]
            existing = self.scheduler.get_job(name)
            if not sched.enabled:
                if existing is not None:
                    self.scheduler.remove_job(name)
                    changes.append(f"{name}: disabled")
                continue
            spec = sched.spec()
            if existing is not None and existing.kwargs.get("spec") == spec:
                continue
            paused = existing is not None and existing.next_run_time is None
            kwargs: dict[str, Any] = {}
            if paused:
                kwargs["next_run_time"] = None
            self.scheduler.add_job(
                "aitherd.schedule:fire", build_trigger(sched, self.tz), id=name, name=name,
                kwargs={"job": name, "spec": spec}, replace_existing=True, **kwargs)
            changes.append(f"{name}: {spec}" + (" (paused)" if paused else ""))
        for job in self.scheduler.get_jobs():
            if job.id not in SCHEDULED_JOBS:
                self.scheduler.remove_job(job.id)
        if changes:
            log.info("schedule_synced", changes=changes)
        return changes

    def stored(self) -> dict[str, tuple[str | None, datetime | None]]:
        """Every stored job's (spec, next run; None while paused), in one job-store read."""
        return {job.id: (job.kwargs.get("spec"), job.next_run_time) for job in self.scheduler.get_jobs()}

    def next_run(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    def job_paused(self, name: str) -> bool:
        job = self.scheduler.get_job(name)
        return job is not None and job.next_run_time is None

    def pause_job(self, name: str, pause: bool) -> bool:
        """Pause or resume one job's schedule; False when it has none (disabled or never scheduled)."""
        if self.scheduler.get_job(name) is None:
            return False
        (self.scheduler.pause_job if pause else self.scheduler.resume_job)(name)
        return True

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    def spec(self, name: str) -> str | None:
        job = self.scheduler.get_job(name)
        return job.kwargs.get("spec") if job is not None else None

    @property
    def paused(self) -> bool:
        from apscheduler.schedulers.base import STATE_PAUSED

        return self.scheduler.state == STATE_PAUSED

    def shutdown(self) -> None:
        global _handler
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        _handler = None
