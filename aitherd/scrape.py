"""Scrape-time metrics: what the store, the state filesystem and the schedule say when Prometheus asks.

Read at scrape, never stale, durable across restarts (they come from the store, not from counters
in memory). Cheap reads run on every scrape: examples per specialist, category and status (a
covering index), run streaks, the latest exports, disk space. Examples per source and rejections
per reason need a full table scan, so a background thread refreshes them at most every
`SCAN_MAX_AGE_S` seconds and a scrape serves the last result; a scrape never waits for it.
Each read that fails is counted in `aitherd_errors_total{component="metrics"}` and skipped.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, text

SCAN_MAX_AGE_S = 300.0

_STREAKS = text("""
    SELECT r.job, count(*) FROM run r
    WHERE r.status = 'failed'
      AND r.id > coalesce((SELECT max(o.id) FROM run o WHERE o.job = r.job AND o.status = 'ok'), 0)
    GROUP BY r.job""")
_LATEST_EXPORTS = text("""
    SELECT e.id, e.specialist, e.base_family, e.path, e.counts, e.created_at FROM export e
    WHERE e.created_at = (SELECT max(created_at) FROM export x
                          WHERE x.specialist = e.specialist AND x.base_family = e.base_family)""")


def epoch(value: datetime | str | None) -> float | None:
    """Unix time of a store timestamp (stored as naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def last_successes(engine: Engine) -> dict[str, float]:
    """Unix time of each job's latest ok run, from the store."""
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT job, max(ended_at) FROM run WHERE status = 'ok' GROUP BY job"))
        return {job: t for job, ended in rows if (t := epoch(ended)) is not None}


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def schedule_interval_s(every: float | None, cron: str | None, tz: Any, now: datetime | None = None) -> float:
    """Seconds between two scheduled runs: `every`, or the longest gap among a cron's next fires."""
    if every is not None:
        return float(every)
    from aitherd.config import JobSchedule
    from aitherd.schedule import build_trigger

    trigger = build_trigger(JobSchedule(cron=cron), tz)
    previous, fire = None, trigger.get_next_fire_time(None, now or datetime.now(tz))
    gaps: list[float] = []
    for _ in range(12):  # enough to see a weekly or "twice a day at odd hours" pattern
        if fire is None:
            break
        if previous is not None:
            gaps.append((fire - previous).total_seconds())
        previous, fire = fire, trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return max(gaps) if gaps else 0.0


class _Scan:
    """The expensive store reads, refreshed in a background thread at most every max_age s."""

    def __init__(self, engine: Engine, max_age: float, on_error: Callable[[], None]) -> None:
        self.engine, self.max_age, self.on_error = engine, max_age, on_error
        self.rows: list[tuple[str, str, str, str | None, int]] | None = None
        self.at = 0.0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def refresh(self) -> None:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(text(
                    "SELECT specialist, source, status, reason, count(*) FROM example "
                    "GROUP BY specialist, source, status, reason")).all()
            self.rows = [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]
        except Exception:
            self.on_error()
        finally:
            self.at = time.monotonic()

    def current(self) -> list[tuple[str, str, str, str | None, int]] | None:
        """The last result; starts a refresh when it is older than max_age and none runs."""
        with self._lock:
            stale = self.rows is None or time.monotonic() - self.at >= self.max_age
            if stale and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self.refresh, name="aitherd-metrics-scan", daemon=True)
                self._thread.start()
        return self.rows

    def wait(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


class StateCollector(Collector):
    """Collects everything the daemon knows from its state: store, exports, disk, schedule."""

    def __init__(self, engine: Engine, state_dir: Path, db: Path, jobs: Iterable[str],
                 schedule_facts: Callable[[], dict[str, float]], on_error: Callable[[str], None],
                 scan_max_age: float = SCAN_MAX_AGE_S) -> None:
        self.engine, self.state_dir, self.db = engine, state_dir, db
        self.jobs = tuple(jobs)
        self.schedule_facts = schedule_facts
        self.on_error = on_error
        self.scan = _Scan(engine, scan_max_age, lambda: on_error("store_scan"))
        self._export_cache: dict[str, tuple[int, dict[str, float]]] = {}

    def collect(self) -> Iterator[Metric]:
        for name, part in (("examples", self._examples), ("scan", self._scanned), ("runs", self._runs),
                           ("exports", self._exports), ("disk", self._disk), ("schedule", self._schedule)):
            try:
                yield from list(part())
            except Exception:
                self.on_error(name)

    def describe(self) -> Iterator[Metric]:
        return iter(())  # computed at scrape; nothing to check at registration

    # -- every scrape ----------------------------------------------------------------------------
    def _examples(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("aitherd_examples", "Examples in the store by specialist, category and status",
                                   labels=["specialist", "category", "status"])
        with self.engine.connect() as conn:
            for specialist, category, status, n in conn.execute(text(
                    "SELECT specialist, category, status, count(*) FROM example "
                    "GROUP BY specialist, status, category")):
                family.add_metric([specialist, category, status], n)
        yield family

    def _runs(self) -> Iterator[Metric]:
        streak = GaugeMetricFamily(
            "aitherd_job_consecutive_failures",
            "Failed runs of the job since its last ok run (skipped and interrupted runs neither count nor reset)",
            labels=["job"])
        with self.engine.connect() as conn:
            failed: dict[str, int] = {job: int(n) for job, n in conn.execute(_STREAKS)}
        for job in self.jobs:
            streak.add_metric([job], failed.get(job, 0))
        yield streak

    def _exports(self) -> Iterator[Metric]:
        labels = ["specialist", "family"]
        rows = GaugeMetricFamily("aitherd_export_rows", "Rows (all splits) in the latest export", labels=labels)
        size = GaugeMetricFamily("aitherd_export_bytes", "Bytes on disk of the latest export", labels=labels)
        when = GaugeMetricFamily("aitherd_export_timestamp_seconds", "Unix time the latest export was written",
                                 labels=labels)
        share = GaugeMetricFamily("aitherd_export_category_share", "Share of the latest export's rows per category",
                                  labels=[*labels, "category"])
        target = GaugeMetricFamily("aitherd_export_target_share",
                                   "Share per category the latest export aimed for (its plan's targets)",
                                   labels=[*labels, "category"])
        with self.engine.connect() as conn:
            latest = conn.execute(_LATEST_EXPORTS).all()
        for export_id, specialist, family, path, counts, created in latest:
            counts = json.loads(counts) if isinstance(counts, str) else (counts or {})
            key = [specialist, family]
            total = int(counts.get("rows") or 0)
            rows.add_metric(key, total)
            if (t := epoch(created)) is not None:
                when.add_metric(key, t)
            if total:
                for category, n in sorted((counts.get("categories") or {}).items()):
                    share.add_metric([*key, category], n / total)
            nbytes, targets = self._export_files(export_id, Path(path))
            size.add_metric(key, nbytes)
            for category, value in sorted(targets.items()):
                target.add_metric([*key, category], value)
        latest_ids = {row[0] for row in latest}
        self._export_cache = {k: v for k, v in self._export_cache.items() if k in latest_ids}
        yield from (rows, size, when, share, target)

    def _export_files(self, export_id: str, path: Path) -> tuple[int, dict[str, float]]:
        """Size and target shares of an export; exports are immutable, so each is read once."""
        if export_id not in self._export_cache:
            targets: dict[str, float] = {}
            try:
                meta = json.loads((path / "export.json").read_text())
                planned = {k: float(v) for k, v in ((meta.get("plan") or {}).get("targets") or {}).items()}
                whole = sum(planned.values())
                targets = {k: v / whole for k, v in planned.items()} if whole else {}
            except (OSError, ValueError, AttributeError):
                pass  # an export written before export.json existed, or removed by pruning
            self._export_cache[export_id] = (dir_bytes(path), targets)
        return self._export_cache[export_id]

    def _disk(self) -> Iterator[Metric]:
        st = os.statvfs(self.state_dir)
        yield GaugeMetricFamily("aitherd_state_filesystem_avail_bytes",
                                "Bytes available to the daemon on the state directory's filesystem",
                                value=st.f_bavail * st.f_frsize)
        yield GaugeMetricFamily("aitherd_state_filesystem_size_bytes",
                                "Size in bytes of the state directory's filesystem", value=st.f_blocks * st.f_frsize)
        store = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                store += os.stat(f"{self.db}{suffix}").st_size
        yield GaugeMetricFamily("aitherd_store_bytes", "Bytes of the SQLite store (database, WAL and shared memory)",
                                value=store)

    def _schedule(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "aitherd_job_interval_seconds",
            "Seconds between scheduled runs of the job (for cron, the longest gap); absent while paused or disabled",
            labels=["job"])
        for job, seconds in sorted(self.schedule_facts().items()):
            family.add_metric([job], seconds)
        yield family

    # -- refreshed in the background -------------------------------------------------------------
    def _scanned(self) -> Iterator[Metric]:
        by_source = GaugeMetricFamily(
            "aitherd_examples_by_source",
            f"Examples in the store by specialist, source and status (refreshed every {SCAN_MAX_AGE_S:g} s at most)",
            labels=["specialist", "source", "status"])
        rejected = GaugeMetricFamily(
            "aitherd_examples_rejected",
            f"Rejected examples kept in the store, by reason (refreshed every {SCAN_MAX_AGE_S:g} s at most)",
            labels=["specialist", "reason"])
        rows = self.scan.current()
        sources: dict[tuple[str, str, str], int] = {}
        reasons: dict[tuple[str, str], int] = {}
        for specialist, source, status, reason, n in rows or ():
            sources[(specialist, source, status)] = sources.get((specialist, source, status), 0) + n
            if status == "rejected":
                key = (specialist, reason or "unknown")
                reasons[key] = reasons.get(key, 0) + n
        for source_key, n in sorted(sources.items()):
            by_source.add_metric(list(source_key), n)
        for reason_key, n in sorted(reasons.items()):
            rejected.add_metric(list(reason_key), n)
        yield by_source
        yield rejected
