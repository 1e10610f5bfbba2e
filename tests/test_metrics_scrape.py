"""Metrics the dashboard and alerts need: counters from run counts, interrupted runs after a restart,
and what the store, the exports, the disk and the schedule say at scrape time (a real SQLite store)."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest
from sqlalchemy import text

from aitherd.config import parse_config
from aitherd.metrics import Metrics
from aitherd.scrape import schedule_interval_s
from aitherd.store import Export, Run, session
from aitherd.store.db import open_store


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


class FakeSchedule:
    def __init__(self, paused: bool = False, paused_jobs: tuple[str, ...] = ()) -> None:
        self.paused, self.paused_jobs = paused, paused_jobs

    def job_paused(self, name: str) -> bool:
        return name in self.paused_jobs


@pytest.fixture
def store(tmp_path: Path):
    (tmp_path / "state").mkdir()
    engine = open_store(tmp_path / "state" / "aitherd.db")
    yield engine
    engine.dispose()


def watched(tmp_path: Path, engine, config: dict | None = None, schedule: FakeSchedule | None = None) -> Metrics:
    metrics = Metrics()
    loaded = SimpleNamespace(config=parse_config(config or {}))
    collector = metrics.watch_state(engine, tmp_path / "state", tmp_path / "state" / "aitherd.db",
                                    lambda: loaded, lambda: schedule)
    collector.scan.wait(10)
    return metrics


def add_examples(engine, rows: list[tuple[str, str, str, str, str | None]]) -> None:
    with engine.begin() as conn:
        for i, (specialist, category, source, status, reason) in enumerate(rows):
            conn.execute(text(
                "INSERT INTO example (specialist, category, status, reason, messages, source, provenance, weight, "
                "quality_reasons, curation, content_hash, created_at) VALUES (:s, :c, :st, :r, '[]', :src, '{}', "
                "1.0, '[]', '{}', :h, '2024-01-01 00:00:00')"),
                {"s": specialist, "c": category, "st": status, "r": reason, "src": source, "h": f"h{i}"})


def test_run_counts_become_counters_per_source_reason_and_kind():
    metrics = Metrics()
    metrics.observe_counts("harvest_coder", {
        "stored.git": 7, "stored.session": 2, "rejected.duplicate": 3, "rejected.contaminated": 1,
        "redacted.aws_access_key": 2, "errors.session": 1, "accepted": 9, "stored.none": 0,
        "rejected.": 4, "flag": True, "curation.judge.kept": 5})
    assert value(metrics, "aitherd_examples_stored_total", job="harvest_coder", source="git") == 7
    assert value(metrics, "aitherd_examples_stored_total", job="harvest_coder", source="session") == 2
    assert value(metrics, "aitherd_examples_stored_total", job="harvest_coder", source="none") is None
    assert value(metrics, "aitherd_curation_rejections_total", job="harvest_coder", reason="duplicate") == 3
    assert value(metrics, "aitherd_curation_rejections_total", job="harvest_coder", reason="") is None
    assert value(metrics, "aitherd_redactions_total", job="harvest_coder", kind="aws_access_key") == 2
    assert value(metrics, "aitherd_input_errors_total", job="harvest_coder", source="session") == 1
    # Every job and final status exists from the start, so increase() sees a job's first run.
    assert value(metrics, "aitherd_job_runs_total", job="deploy", status="failed") == 0


def test_examples_by_category_source_and_rejection_reason_come_from_the_store(tmp_path, store):
    add_examples(store, [("coder", "editing", "git", "accepted", None)] * 3
                 + [("coder", "instruction", "session", "accepted", None),
                    ("coder", "editing", "git", "rejected", "duplicate"),
                    ("reasoner", "math", "hf:gsm", "rejected", "contaminated"),
                    ("reasoner", "math", "hf:gsm", "rejected", "contaminated")])
    metrics = watched(tmp_path, store)
    assert value(metrics, "aitherd_examples", specialist="coder", category="editing", status="accepted") == 3
    assert value(metrics, "aitherd_examples", specialist="coder", category="editing", status="rejected") == 1
    assert value(metrics, "aitherd_examples_by_source", specialist="coder", source="git", status="accepted") == 3
    assert value(metrics, "aitherd_examples_by_source", specialist="reasoner", source="hf:gsm",
                 status="rejected") == 2
    assert value(metrics, "aitherd_examples_rejected", specialist="reasoner", reason="contaminated") == 2
    assert value(metrics, "aitherd_examples_rejected", specialist="coder", reason="duplicate") == 1


def test_failure_streaks_count_failed_runs_since_the_last_ok(tmp_path, store):
    with session(store) as s:
        for job, status in [("harvest_coder", "failed"), ("harvest_coder", "ok"), ("harvest_coder", "failed"),
                            ("harvest_coder", "skipped"), ("harvest_coder", "interrupted"),
                            ("harvest_coder", "failed"), ("harvest_coder", "failed"),
                            ("train", "failed"), ("export", "failed"), ("export", "ok")]:
            s.add(Run(job=job, trigger="schedule", status=status, ended_at=datetime.now(UTC)))
        s.commit()
    metrics = watched(tmp_path, store)
    assert value(metrics, "aitherd_job_consecutive_failures", job="harvest_coder") == 3
    assert value(metrics, "aitherd_job_consecutive_failures", job="train") == 1
    assert value(metrics, "aitherd_job_consecutive_failures", job="export") == 0
    assert value(metrics, "aitherd_job_consecutive_failures", job="star") == 0


def test_last_success_survives_a_restart_from_the_store(tmp_path, store):
    ended = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with session(store) as s:
        s.add(Run(job="export", trigger="schedule", status="ok", ended_at=ended - timedelta(days=1)))
        s.add(Run(job="export", trigger="schedule", status="ok", ended_at=ended))
        s.add(Run(job="export", trigger="schedule", status="failed", ended_at=ended + timedelta(days=1)))
        s.commit()
    metrics = watched(tmp_path, store)
    assert value(metrics, "aitherd_job_last_success_timestamp_seconds", job="export") == ended.timestamp()
    assert value(metrics, "aitherd_job_last_success_timestamp_seconds", job="train") is None


def test_latest_export_rows_bytes_mix_and_target(tmp_path, store):
    root = tmp_path / "state" / "exports" / "coder" / "qwen"
    old, new = root / "e1", root / "e2"
    for path, rows in ((old, 10), (new, 40)):
        path.mkdir(parents=True)
        (path / "data.parquet").write_bytes(b"x" * rows * 100)
        (path / "export.json").write_text(json.dumps({"plan": {"targets": {"editing": 30, "review": 10}}}))
    with session(store) as s:
        s.add(Export(id="e1", specialist="coder", base_family="qwen", path=str(old),
                     created_at=datetime(2024, 1, 1, tzinfo=UTC), counts={"rows": 10, "categories": {"editing": 10}}))
        s.add(Export(id="e2", specialist="coder", base_family="qwen", path=str(new),
                     created_at=datetime(2024, 1, 2, tzinfo=UTC),
                     counts={"rows": 40, "categories": {"editing": 34, "review": 6}}))
        s.commit()
    metrics = watched(tmp_path, store)
    key = {"specialist": "coder", "family": "qwen"}
    assert value(metrics, "aitherd_export_rows", **key) == 40
    size = sum(p.stat().st_size for p in new.iterdir())
    assert value(metrics, "aitherd_export_bytes", **key) == size
    assert value(metrics, "aitherd_export_timestamp_seconds", **key) == datetime(2024, 1, 2, tzinfo=UTC).timestamp()
    assert value(metrics, "aitherd_export_category_share", **key, category="review") == pytest.approx(0.15)
    assert value(metrics, "aitherd_export_target_share", **key, category="review") == pytest.approx(0.25)


def test_state_disk_and_store_size(tmp_path, store):
    metrics = watched(tmp_path, store)
    st = os.statvfs(tmp_path / "state")
    assert value(metrics, "aitherd_state_filesystem_size_bytes") == st.f_blocks * st.f_frsize
    avail = value(metrics, "aitherd_state_filesystem_avail_bytes")
    assert avail is not None and abs(avail - st.f_bavail * st.f_frsize) < 64 * 2**20
    assert value(metrics, "aitherd_store_bytes") >= (tmp_path / "state" / "aitherd.db").stat().st_size > 0


def test_job_intervals_follow_the_schedule_and_skip_paused_jobs(tmp_path, store):
    cfg = {"jobs": {"harvest_coder": {"every": "2h"}, "star": {"enabled": False}}}
    metrics = watched(tmp_path, store, cfg, FakeSchedule(paused_jobs=("harvest_reasoner",)))
    assert value(metrics, "aitherd_job_interval_seconds", job="harvest_coder") == 7200
    assert value(metrics, "aitherd_job_interval_seconds", job="train") == 7 * 86400  # cron 0 6 * * sun
    assert value(metrics, "aitherd_job_interval_seconds", job="harvest_reasoner") is None
    assert value(metrics, "aitherd_job_interval_seconds", job="star") is None
    paused = watched(tmp_path, store, cfg, FakeSchedule(paused=True))
    assert "aitherd_job_interval_seconds{" not in generate_latest(paused.registry).decode()


def test_a_cron_interval_is_its_longest_gap():
    tz = ZoneInfo("UTC")
    now = datetime(2024, 1, 3, tzinfo=tz)
    assert schedule_interval_s(None, "0 */8 * * *", tz, now) == 8 * 3600
    assert schedule_interval_s(None, "0 6,7 * * *", tz, now) == 23 * 3600
    assert schedule_interval_s(600, None, tz, now) == 600


def test_a_failing_read_is_counted_and_the_rest_still_served(tmp_path, store):
    metrics = watched(tmp_path, store)
    with store.begin() as conn:
        conn.execute(text("DROP TABLE export"))
    generate_latest(metrics.registry)  # the error is counted during this scrape, shown from the next
    scrape = generate_latest(metrics.registry).decode()
    assert 'aitherd_errors_total{component="metrics",reason="exports"} 1.0' in scrape
    assert "aitherd_state_filesystem_avail_bytes " in scrape and "aitherd_job_consecutive_failures{" in scrape


def test_runs_left_running_by_a_dead_daemon_count_as_interrupted(make_daemon):
    d = make_daemon()
    d.state.mkdir(parents=True)
    engine = open_store(d.state / "aitherd.db")
    with session(engine) as s:
        s.add(Run(job="export", trigger="schedule", status="running"))
        s.commit()
    engine.dispose()
    d.plan({"harvest_coder": {"counts": {"stored.git": 4, "rejected.secret": 1, "redacted.github_token": 2}}})
    d.start()
    assert d.ctl("run", "harvest_coder", "--wait").returncode == 0
    url = d.api("GET", "/v1/status")["metrics"]
    scrape = urllib.request.urlopen(url).read().decode()
    for needle in ('aitherd_job_runs_total{job="export",status="interrupted"} 1.0',
                   'aitherd_examples_stored_total{job="harvest_coder",source="git"} 4.0',
                   'aitherd_curation_rejections_total{job="harvest_coder",reason="secret"} 1.0',
                   'aitherd_redactions_total{job="harvest_coder",kind="github_token"} 2.0',
                   'aitherd_job_interval_seconds{job="harvest_coder"}', "aitherd_state_filesystem_avail_bytes"):
        assert needle in scrape, needle
