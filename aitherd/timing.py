"""Time zones and triggers from plain values: the floor under both the config and the scheduler.

The config validates `[scheduler] timezone` and `[jobs.*] cron` with these functions at load
time, and the scheduler builds its APScheduler triggers with them, so neither imports the other.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_FIELDS = 5
# First run of a newly added interval job: soon after it is first configured.
FIRST_INTERVAL_DELAY = timedelta(seconds=60)


def resolve_timezone(name: str) -> tzinfo:
    """An IANA zone by name, or the machine's local zone for ''; raises ValueError."""
    if not name:
        from tzlocal import get_localzone  # APScheduler's own dependency

        return get_localzone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone (expected an IANA name like 'Europe/Paris')") from None


def _cron_dow(field: str) -> str:
    # Crontab counts 0 (and 7) as Sunday; APScheduler's numbers start at Monday. Use names.
    return re.sub(r"(?<![/\w])([0-7])(?!\w)", lambda m: _DOW_NAMES[int(m.group(1))], field)


def cron_trigger(cron: str, tz: tzinfo) -> CronTrigger:
    """Five crontab fields (minute hour day-of-month month day-of-week); raises ValueError."""
    fields = cron.split()
    if len(fields) != CRON_FIELDS:
        raise ValueError(f"'cron' needs five fields: minute hour day-of-month month day-of-week, got {cron!r}")
    minute, hour, day, month, dow = fields
    return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=_cron_dow(dow),
                       timezone=tz)


def build_trigger(every: float | None, cron: str | None, tz: tzinfo,
                  anchor: datetime | None = None) -> BaseTrigger:
    """The trigger for `every` seconds (first run at `anchor`, else soon) or a crontab line."""
    if cron is not None:
        return cron_trigger(cron, tz)
    assert every is not None
    start = anchor or (datetime.now(tz) + FIRST_INTERVAL_DELAY)
    return IntervalTrigger(seconds=every, start_date=start, timezone=tz)
