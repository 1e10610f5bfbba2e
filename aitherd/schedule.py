"""The embedded scheduler: APScheduler 3 with its job store in the daemon's SQLite database.

Jobs in the store point at `aitherd.schedule:fire`, which hands the run to the Runner; the
Runner, not APScheduler, prevents overlap so that scheduled, watched and manual runs share one
rule. Interval jobs keep their anchor across restarts (a restart must not postpone an 8 h
harvest forever), and runs missed while the daemon was down are coalesced into one at start
when they fall within the misfire grace.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.events import EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine

from aitherd.config import SCHEDULED_JOBS, Config, JobSchedule
from aitherd.logs import get_logger

log = get_logger("aitherd.schedule")

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
# First run of a newly added interval job: soon after it is first configured.
FIRST_INTERVAL_DELAY = timedelta(seconds=60)

_handler: Any = None  # the daemon's `async (job, trigger) -> None`, set by `Schedule.start`
_catch_up: set[str] = set()


async def fire(job: str, spec: str) -> None:
    """The callable every stored job points at; `spec` identifies the schedule it was made from."""
    trigger = "catch-up" if job in _catch_up else "schedule"
    _catch_up.discard(job)
    if _handler is None:
        log.warning("fire_without_daemon", job=job)
        return
    await _handler(job, trigger)


def resolve_timezone(name: str) -> tzinfo:
    if not name:
        from tzlocal import get_localzone  # APScheduler's own dependency

        return get_localzone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name like 'Europe/Paris')") from None


def _cron_dow(field: str) -> str:
    # Crontab counts 0 (and 7) as Sunday; APScheduler's numbers start at Monday. Use names.
    return re.sub(r"(?<![/\w])([0-7])(?!\w)", lambda m: _DOW_NAMES[int(m.group(1))], field)


def build_trigger(sched: JobSchedule, tz: tzinfo, anchor: datetime | None = None) -> BaseTrigger:
    if sched.cron is not None:
        minute, hour, day, month, dow = sched.cron.split()
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_cron_dow(dow), timezone=tz)
    assert sched.every is not None
    start = anchor or (datetime.now(tz) + FIRST_INTERVAL_DELAY)
    return IntervalTrigger(seconds=sched.every, start_date=start, timezone=tz)


def check_schedules(cfg: Config) -> None:
    """Validate time zone and cron fields at config load time; raises ValueError."""
    try:
        tz = resolve_timezone(cfg.scheduler.timezone)
    except ValueError as err:
        raise ValueError(f"scheduler.timezone: {err}") from None
    for name, sched in cfg.jobs.items():
        try:
            build_trigger(sched, tz)
        except ValueError as err:
            raise ValueError(f"jobs.{name}.cron: {err}") from None


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

    def next_run(self, name: str) -> datetime | None:
        job = self.scheduler.get_job(name)
        return job.next_run_time if job is not None else None

    def job_paused(self, name: str) -> bool:
        job = self.scheduler.get_job(name)
        return job is not None and job.next_run_time is None

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
