"""What the control API needs from the daemon, as a Protocol: no handler imports the daemon.

`build_app` puts the daemon in `app.state.control`; handlers reach it with `control(request)`.
The daemon satisfies this structurally; a test can hand in anything that does. Members marked
blocking touch the store and run in the API's thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from aitherd.config import Loaded
from aitherd.metrics import Metrics


class RunningJob(Protocol):
    """A run in progress, as the runner tracks it."""

    run_id: int
    trigger: str
    started: float  # time.monotonic() when it started
    progress: dict[str, Any]


class StartResult(Protocol):
    started: bool
    run_id: int | None
    reason: str | None


@dataclass(frozen=True)
class JobTiming:
    """A job's place in the scheduler."""

    schedule: str | None  # "every 8h", "cron 30 0 * * *"; None when not scheduled
    enabled: bool
    paused: bool
    next_run: datetime | None


@dataclass(frozen=True)
class SchedulerState:
    running: bool
    paused: bool
    timezone: str


class Control(Protocol):
    engine: Engine
    metrics: Metrics
    loaded: Loaded
    started_at: float  # Unix time
    socket_path: Path
    metrics_address: str | None
    reloads: int
    last_reload_error: str | None

    @property
    def uptime(self) -> float: ...

    @property
    def generation(self) -> int:
        """Moves whenever a run starts or finishes or the schedule changes: cached views refresh."""
        ...

    def running(self) -> Mapping[str, RunningJob]: ...

    def job_timings(self) -> dict[str, JobTiming]:
        """Every job's place in the scheduler. Blocking (reads the job store): call it off the loop."""
        ...

    def scheduler_state(self) -> SchedulerState: ...

    def watcher_states(self) -> list[dict[str, Any]]: ...

    async def start_job(self, name: str, args: dict[str, Any]) -> StartResult: ...

    def cancel_job(self, name: str) -> int | None:
        """Ask a running job to stop at its next checkpoint; its run id, None when idle."""
        ...

    def pause_job(self, name: str, pause: bool) -> bool:
        """Pause or resume one job's schedule; False when the job has no schedule.
        Blocking (writes the job store): call it off the loop."""
        ...

    async def set_paused(self, paused: bool) -> None: ...

    async def reload(self) -> dict[str, Any]: ...
