"""Watchers start harvests early; reload applies config or keeps the old one; metrics scrape."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request

import pytest
from support import git, have, make_repo


def test_new_commit_on_a_watched_repo_starts_harvest_coder(make_daemon, tmp_path):
    repo = make_repo(tmp_path / "repo")
    d = make_daemon({"repos": [{"path": str(repo), "refs": ["main"]}],
                     "watch": {"debounce": "0.3s"}}).start()
    st = d.api("GET", "/v1/status")
    assert st["watchers"][0]["state"] == "watching"
    (repo / "app.py").write_text("def add(a, b):\n    return b + a\n")
    git(repo, "commit", "-qam", "refactor: swap")
    runs = d.wait_for(lambda: d.runs(job="harvest_coder"), 15, "watch-triggered run")
    assert runs[0]["trigger"] == "watch"
    # A burst of ref updates inside the debounce window starts one run, not several.
    d.wait_run(runs[0]["id"])
    for i in range(3):
        (repo / f"f{i}.py").write_text(f"x = {i}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"feat: f{i}")
    d.wait_for(lambda: len(d.runs(job="harvest_coder")) >= 2, 15, "second run")
    d.wait_run(d.runs(job="harvest_coder")[0]["id"])
    assert len(d.runs(job="harvest_coder")) == 2
    metrics = urllib.request.urlopen(st["metrics"]).read().decode()
    assert 'aitherd_watch_triggers_total{job="harvest_coder"} 2.0' in metrics


def test_growing_logs_start_the_matching_harvest(make_daemon, tmp_path):
    coder_logs, traces = tmp_path / "claude", tmp_path / "chronicle"
    coder_logs.mkdir()
    traces.mkdir()
    d = make_daemon({"logs": [{"path": str(coder_logs), "kind": "claude", "pattern": "*.jsonl"},
                              {"path": str(traces), "kind": "chronicle"},
                              {"path": str(tmp_path / "missing"), "kind": "codex"}],
                     "watch": {"debounce": "0.2s"}}).start()
    watchers = d.api("GET", "/v1/status")["watchers"]
    assert [w["state"] for w in watchers] == ["watching", "watching", "error"]
    assert watchers[2]["error"] == "directory does not exist"
    (coder_logs / "notes.txt").write_text("ignored by the pattern\n")
    (traces / "t.jsonl").write_text('{"step": 1}\n')
    r = d.wait_for(lambda: d.runs(job="harvest_reasoner"), 15, "reasoner run")
    assert r[0]["trigger"] == "watch"
    assert d.runs(job="harvest_coder") == []
    (coder_logs / "s.jsonl").write_text('{"type": "user"}\n')
    d.wait_for(lambda: d.runs(job="harvest_coder"), 15, "coder run")


def test_paused_jobs_ignore_watch_events(make_daemon, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    d = make_daemon({"logs": [{"path": str(logs)}], "watch": {"debounce": "0.1s"}}).start()
    d.ctl("pause", "harvest_coder")
    (logs / "a.jsonl").write_text("{}\n")
    d.wait_for(lambda: "watch_ignored_paused" in d.log_text(), 10, "ignored event")
    assert d.runs() == []


def test_reload_applies_schedules_and_refuses_a_bad_config(make_daemon):
    d = make_daemon().start()
    d.write_config({"jobs": {"harvest_coder": {"every": "2h"}, "star": {"enabled": False}}})
    out = d.ctl("reload")
    assert out.returncode == 0, out.stderr
    assert "harvest_coder: every 2h" in out.stdout and "star: disabled" in out.stdout
    jobs = {j["name"]: j for j in d.api("GET", "/v1/jobs")["jobs"]}
    assert jobs["harvest_coder"]["schedule"] == "every 2h" and jobs["star"]["schedule"] is None
    # SIGHUP does the same; a broken file is refused and the running config kept.
    d.config_path.write_text(d.config_path.read_text() + "\n[jobs.train]\ncron = 'nope'\n")
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: d.api("GET", "/v1/status")["last_reload_error"], 10, "reload error")
    err = d.api("GET", "/v1/status")["last_reload_error"]
    assert "jobs.train" in err and str(d.config_path) in err
    out = d.ctl("reload")
    assert out.returncode == 1 and "keeps its current config" in out.stderr
    jobs = {j["name"]: j for j in d.api("GET", "/v1/jobs")["jobs"]}
    assert jobs["train"]["schedule"] == "cron 0 6 * * sun"
    assert d.api("GET", "/v1/health")["status"] == "ok"


def test_metrics_scrape_with_job_runs_and_process_collector(make_daemon):
    d = make_daemon()
    d.plan({"harvest_coder": {"counts": {"errors.session": 3, "stored.session": 10}}})
    d.start()
    assert d.ctl("run", "harvest_coder", "--wait").returncode == 0
    url = d.api("GET", "/v1/status")["metrics"]
    assert url.startswith("http://127.0.0.1:")
    text = urllib.request.urlopen(url).read().decode()
    for needle in ('aitherd_job_runs_total{job="harvest_coder",status="ok"} 1.0',
                   'aitherd_job_run_duration_seconds_count{job="harvest_coder"} 1.0',
                   'aitherd_job_last_success_timestamp_seconds{job="harvest_coder"}',
                   "aitherd_scheduler_paused 0.0", "process_resident_memory_bytes",
                   'aitherd_build_info{version="', "# TYPE aitherd_examples gauge",
                   'aitherd_input_errors_total{job="harvest_coder",source="session"} 3.0'):
        assert needle in text, needle
    if not have("promtool"):
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs it")
        pytest.skip("promtool not installed (.ci/run installs it)")
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_gauge_messages_reach_the_metrics_whichever_job_sends_them():
    from prometheus_client import generate_latest

    from aitherd.metrics import Metrics
    from aitherd.runner import Active, Runner

    metrics = Metrics()
    runner = Runner(engine=None, loaded=lambda: None, metrics=metrics)  # type: ignore[arg-type]
    active = Active(run_id=1, job="export", trigger="manual", started=0.0)
    for line in ({"type": "gauge", "name": "train_loss", "value": 0.75, "labels": {"specialist": "coder"}},
                 {"type": "gauge", "name": "no_such_gauge", "value": 1, "labels": {}},
                 {"type": "gauge", "name": "train_loss", "value": "high", "labels": {"specialist": "coder"}},
                 {"type": "gauge", "name": "train_step", "value": 3, "labels": {"wrong": "label"}}):
        runner._on_message(active, json.dumps(line).encode())
    text = generate_latest(metrics.registry).decode()
    assert 'aitherd_train_loss{specialist="coder"} 0.75' in text
    assert "no_such_gauge" not in text and 'wrong="label"' not in text
