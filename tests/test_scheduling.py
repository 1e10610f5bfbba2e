"""Scheduling rules: no overlap, catch-up within grace, anchors kept, pauses persisted, chains."""

from __future__ import annotations

import pickle
import sqlite3
import time
from datetime import UTC, datetime, timedelta


def _shift_next_run(db_path, job: str, when: datetime) -> None:
    """Move a stored APScheduler job's next run time, as if the daemon had been down."""
    with sqlite3.connect(db_path) as db:
        (blob,) = db.execute("SELECT job_state FROM apscheduler_jobs WHERE id=?", (job,)).fetchone()
        state = pickle.loads(blob)
        state["next_run_time"] = when
        db.execute("UPDATE apscheduler_jobs SET job_state=?, next_run_time=? WHERE id=?",
                   (pickle.dumps(state), when.timestamp(), job))


def test_a_job_never_overlaps_itself(make_daemon):
    d = make_daemon()
    d.plan({"export": {"steps": 100, "sleep": 0.05}})
    d.start()
    first = d.api("POST", "/v1/jobs/export/run")["run_id"]
    second = d.ctl("run", "export")
    assert second.returncode == 1
    assert f"already running as run {first}" in second.stderr
    st = {j["name"]: j for j in d.api("GET", "/v1/jobs")["jobs"]}
    assert st["export"]["running"]["run_id"] == first
    assert len(d.runs(job="export")) == 1


def test_missed_run_within_grace_runs_once_at_start_as_catch_up(make_daemon):
    d = make_daemon({"scheduler": {"misfire_grace": "6h"}}).start()
    d.stop()
    _shift_next_run(d.state / "aitherd.db", "harvest_coder",
                    datetime.now(UTC) - timedelta(hours=2))
    d.start()
    runs = d.wait_for(lambda: d.runs(job="harvest_coder"), what="catch-up run")
    assert [r["trigger"] for r in runs] == ["catch-up"]
    d.wait_run(runs[0]["id"])
    time.sleep(0.5)
    assert len(d.runs(job="harvest_coder")) == 1  # coalesced: one run, not one per missed slot
    nxt = datetime.fromisoformat(d.api("GET", "/v1/jobs/harvest_coder")["next_run"])
    assert nxt > datetime.now(UTC)


def test_missed_run_beyond_grace_is_recorded_as_skipped(make_daemon):
    d = make_daemon({"scheduler": {"misfire_grace": "1h"}}).start()
    d.stop()
    _shift_next_run(d.state / "aitherd.db", "harvest_reasoner",
                    datetime.now(UTC) - timedelta(hours=5))
    d.start()
    runs = d.wait_for(lambda: d.runs(job="harvest_reasoner"), what="missed record")
    assert runs[0]["status"] == "skipped" and runs[0]["message"].startswith("missed:")


def test_interval_anchor_survives_restart(make_daemon):
    d = make_daemon().start()
    before = d.api("GET", "/v1/jobs/harvest_coder")["next_run"]
    d.stop()
    time.sleep(1.1)
    d.start()
    assert d.api("GET", "/v1/jobs/harvest_coder")["next_run"] == before


def test_pause_and_resume_persist_across_restart(make_daemon):
    d = make_daemon().start()
    assert d.ctl("pause").stdout.strip() == "scheduler: paused"
    assert d.ctl("pause", "train").stdout.strip() == "train: paused"
    d.stop()
    d.start()
    st = d.api("GET", "/v1/status")
    assert st["scheduler"]["paused"] is True
    train = next(j for j in st["jobs"] if j["name"] == "train")
    assert train["paused"] is True and train["next_run"] is None
    assert "STATUS=scheduler paused" in next(n for n in d.notifications if "READY=1" in n)
    assert d.ctl("resume").returncode == 0
    assert d.ctl("resume", "train").returncode == 0
    st = d.api("GET", "/v1/status")
    assert st["scheduler"]["paused"] is False
    assert next(j for j in st["jobs"] if j["name"] == "train")["next_run"] is not None
    assert d.ctl("pause", "deploy").returncode == 1  # chained job: nothing to pause


def test_manual_run_works_while_paused_and_train_chains_benchmark_and_deploy(make_daemon):
    d = make_daemon().start()
    d.ctl("pause")
    out = d.ctl("run", "train", "--wait")
    assert out.returncode == 0, out.stderr
    runs = d.wait_for(lambda: len(r := d.runs()) == 3 and all(x["status"] != "running" for x in r) and r,
                      what="chain")
    by_job = {r["job"]: r for r in runs}
    assert by_job["benchmark"]["trigger"] == "chain"
    assert by_job["benchmark"]["parent_run_id"] == by_job["train"]["id"]
    assert by_job["deploy"]["parent_run_id"] == by_job["benchmark"]["id"]


def test_a_failing_or_crashing_job_fails_its_run_not_the_daemon(make_daemon):
    d = make_daemon()
    d.plan({"star": {"raise": "boom at step 3"}, "export": {"exit": 7}})
    d.start()
    out = d.ctl("run", "star", "--wait")
    assert out.returncode == 1 and "RuntimeError: boom at step 3" in out.stdout
    out = d.ctl("run", "export", "--wait")
    assert out.returncode == 1 and "exit code 7" in out.stdout
    assert d.api("GET", "/v1/health")["status"] == "ok"
    failed = d.runs(status="failed")
    assert {r["job"] for r in failed} == {"star", "export"}


def test_disabled_and_cron_jobs_follow_config(make_daemon):
    d = make_daemon({"jobs": {"star": {"enabled": False},
                              "export": {"cron": "15 3 * * 0"}},
                     "scheduler": {"timezone": "Europe/Paris"}}).start()
    jobs = {j["name"]: j for j in d.api("GET", "/v1/jobs")["jobs"]}
    assert jobs["star"]["schedule"] is None and jobs["star"]["next_run"] is None
    nxt = datetime.fromisoformat(jobs["export"]["next_run"])
    local = nxt.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    assert (local.weekday(), local.hour, local.minute) == (6, 3, 15)  # crontab 0 = Sunday


def test_cancel_stops_a_run_at_its_checkpoint_and_args_reach_the_job(make_daemon):
    d = make_daemon()
    d.plan({"export": {"steps": 400, "sleep": 0.05}, "train": {"echo_args": True}})
    d.start()
    run_id = d.api("POST", "/v1/jobs/export/run")["run_id"]
    d.wait_for(lambda: d.api("GET", f"/v1/runs/{run_id}")["progress"], what="progress")
    out = d.ctl("cancel", "export")
    assert out.returncode == 0 and f"run {run_id}" in out.stdout
    run = d.wait_run(run_id)
    assert run["status"] == "interrupted" and run["message"].startswith("cancelled: checkpointed at step")
    assert d.ctl("cancel", "export").returncode == 1  # nothing running now
    out = d.ctl("train", "reasoner", "--wait")
    assert out.returncode == 0 and '{"specialist": "reasoner"}' in out.stdout
    assert d.ctl("run", "star", "--arg", "k=v", "--arg", "x=1", "--wait").returncode == 0
    assert "train is not running" in d.ctl("train", "status").stdout
