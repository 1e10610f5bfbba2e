"""The store-derived part of /v1/status and /v1/jobs, kept off the event loop.

Latest run per job, runs per status, examples per specialist and status, and each job's schedule
(APScheduler keeps its jobs in the same database: every lookup is a query) are read in one
thread of their own, at most one refresh at a time: however many clients ask at once, they
share the refresh in flight. A view is reused for `ttl` seconds, and never once the daemon's
`generation` has moved (a run started or finished), so `aitherctl status` after a run shows it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy import Engine

from aitherd.api.control import JobTiming
from aitherd.store import Run
from aitherd.store import queries as q
from aitherd.store.examples import example_counts


@dataclass(frozen=True)
class StoreView:
    last_runs: dict[str, Run]
    runs: dict[str, int]
    examples: dict[str, dict[str, int]]
    timings: dict[str, JobTiming]


def read_view(engine: Engine, timings: Callable[[], dict[str, JobTiming]]) -> StoreView:
    examples: dict[str, dict[str, int]] = {}
    for specialist, status, n in example_counts(engine):
        examples.setdefault(specialist, {})[status] = n
    return StoreView(last_runs={r.job: r for r in q.latest_runs(engine)},
                     runs=q.run_status_counts(engine), examples=examples, timings=timings())


class StoreSnapshot:
    def __init__(self, read: Callable[[], StoreView], ttl: float = 1.0) -> None:
        self._read = read
        self.ttl = ttl
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="api-status")
        self._view: StoreView | None = None
        self._view_generation = -1
        self._view_at = 0.0
        self._pending: asyncio.Future[StoreView] | None = None
        self._pending_generation = -1
        self.refreshes = 0

    async def get(self, generation: int) -> StoreView:
        if (self._view is not None and self._view_generation == generation
                and time.monotonic() - self._view_at < self.ttl):
            return self._view
        if self._pending is None or self._pending_generation != generation:
            self._pending_generation = generation
            self._pending = asyncio.ensure_future(self._refresh(generation))
        return await asyncio.shield(self._pending)

    async def _refresh(self, generation: int) -> StoreView:
        started = time.monotonic()
        try:
            view = await asyncio.get_running_loop().run_in_executor(self._executor, self._read)
        finally:
            if self._pending_generation == generation:
                self._pending = None
        self.refreshes += 1
        if generation >= self._view_generation:
            self._view, self._view_generation, self._view_at = view, generation, started
        return view

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
