"""The daemon as a newcomer and systemd see it: start, READY, status, runs, stop, crash, restart."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import time

from support import command, have


def test_starts_ready_and_answers_status(make_daemon):
    d = make_daemon().start()
    ready = next(n for n in d.notifications if "READY=1" in n)
    assert "STATUS=scheduler running; idle" in ready
    assert f"MAINPID={d.proc.pid}" in ready
    st = d.api("GET", "/v1/status")
    assert st["pid"] == d.proc.pid
    assert st["state_dir"] == str(d.state)
    assert [j["name"] for j in st["jobs"]] == [
        "harvest_coder", "harvest_reasoner", "export", "star", "train", "curate", "benchmark", "deploy",
        "router_train"]
    sched = {j["name"]: j["schedule"] for j in st["jobs"]}
    assert sched["harvest_coder"] == "every 8h" and sched["harvest_reasoner"] == "every 12h"
    assert sched["star"] == "cron 0 22 * * sat" and sched["train"] == "cron 0 6 * * sun"
    assert st["schema_version"] >= 1
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
    assert (d.state / "aitherd.db").exists()


def test_aitherctl_and_curl_speak_the_api(make_daemon):
    d = make_daemon().start()
    out = d.ctl("status")
    assert out.returncode == 0, out.stderr
    assert "harvest_coder" in out.stdout and "scheduler running" in out.stdout
    as_json = json.loads(d.ctl("status", "--json").stdout)
    assert as_json["pid"] == d.proc.pid
    if have("curl"):
        curl = subprocess.run(["curl", "-sf", "--unix-socket", str(d.socket),
                               "http://aitherd/v1/status"], capture_output=True, text=True)
        assert curl.returncode == 0 and json.loads(curl.stdout)["pid"] == d.proc.pid
    jobs = json.loads(d.ctl("jobs", "--json").stdout)["jobs"]
    assert {j["name"] for j in jobs} >= {"harvest_coder", "train"}
    assert d.ctl("health").stdout.strip() == "ok"
    for args in (("run", "nope"), ("pause", "nope"), ("cancel", "nope")):
        out = d.ctl(*args)
        assert out.returncode == 2 and "no job named 'nope'" in out.stderr, out.stderr


def test_run_wait_records_a_not_configured_run_with_the_real_jobs(make_daemon):
    d = make_daemon(fake_jobs=False).start()
    out = d.ctl("run", "harvest_coder", "--wait")
    assert out.returncode == 0, out.stderr
    assert "skipped" in out.stdout and "not configured" in out.stdout
    runs = d.runs(job="harvest_coder")
    assert len(runs) == 1
    assert runs[0]["status"] == "skipped" and runs[0]["trigger"] == "manual"
    assert runs[0]["message"].startswith("not configured:")
    listed = d.ctl("runs")
    assert "harvest_coder" in listed.stdout and "skipped" in listed.stdout


def test_run_wait_shows_progress_and_counts(make_daemon):
    d = make_daemon()
    d.plan({"harvest_coder": {"steps": 5, "sleep": 0.15}})
    d.start()
    out = d.ctl("run", "harvest_coder", "--wait")
    assert out.returncode == 0, out.stderr
    assert "harvest_coder run 1: working" in out.stderr  # progress lines (not a tty)
    assert "ok" in out.stdout and "steps=5" in out.stdout
    run = d.api("GET", "/v1/runs/1")
    assert run["counts"] == {"steps": 5} and run["duration_s"] > 0.5
    final = json.loads(d.ctl("runs", "1", "--json").stdout)
    assert final["status"] == "ok" and final["message"] == "fake work done"


def test_sigterm_checkpoints_the_running_job_and_cleans_up(make_daemon):
    d = make_daemon()
    d.plan({"harvest_coder": {"steps": 400, "sleep": 0.05}})
    d.start()
    run_id = d.api("POST", "/v1/jobs/harvest_coder/run")["run_id"]
    d.wait_for(lambda: (d.api("GET", f"/v1/runs/{run_id}")["progress"] or {}).get("done"),
               what="progress")
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 10
    assert not d.socket.exists()
    assert any("STOPPING=1" in n for n in d.notifications)
    with sqlite3.connect(d.state / "aitherd.db") as db:
        status, message = db.execute("SELECT status, message FROM run WHERE id=?", (run_id,)).fetchone()
    assert status == "interrupted" and message.startswith("checkpointed at step")


def test_kill_9_then_restart_keeps_runs_and_resumes(make_daemon):
    d = make_daemon()
    d.plan({"harvest_coder": {"steps": 400, "sleep": 0.05}})
    d.start()
    assert d.ctl("run", "harvest_reasoner", "--wait").returncode == 0
    run_id = d.api("POST", "/v1/jobs/harvest_coder/run")["run_id"]
    d.wait_for(lambda: d.api("GET", f"/v1/runs/{run_id}")["progress"], what="progress")
    before = {r["id"] for r in d.runs()}
    worker = d.api("GET", f"/v1/runs/{run_id}")
    with sqlite3.connect(d.state / "aitherd.db") as db:
        (worker_pid,) = db.execute("SELECT pid FROM run WHERE id=?", (run_id,)).fetchone()
    assert worker["status"] == "running" and worker_pid
    d.proc.kill()
    d.proc.wait()
    assert d.socket.exists()  # stale socket left by the crash
    # The orphaned worker is told (PR_SET_PDEATHSIG), checkpoints and exits: no stray workers.
    deadline = time.monotonic() + 10
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker_pid), "the worker outlived the daemon"
    d.plan({"harvest_coder": {"steps": 1}})
    d.start()
    runs = {r["id"]: r for r in d.runs()}
    assert before <= set(runs)
    assert runs[run_id]["status"] == "interrupted"
    assert "daemon stopped" in runs[run_id]["error"]
    resumed = d.wait_for(lambda: [r for r in d.runs(job="harvest_coder") if r["trigger"] == "resume"],
                         what="resumed run")
    assert d.wait_run(resumed[0]["id"])["status"] == "ok"
    assert d.api("GET", "/v1/health")["status"] == "ok"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_second_daemon_on_the_same_state_dir_refuses(make_daemon):
    d = make_daemon().start()
    second = subprocess.run([*command("aitherd"), "--config", str(d.config_path)],
                            capture_output=True, text=True, timeout=30, env=d.env())
    assert second.returncode == 1
    assert "already running" in second.stderr and str(d.proc.pid) in second.stderr
    assert d.api("GET", "/v1/health")["status"] == "ok"


def test_aitherctl_says_clearly_when_no_daemon_runs(tmp_path):
    out = subprocess.run([*command("aitherctl"), "--socket", str(tmp_path / "none.sock"), "status"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 3
    assert "aitherd is not running" in out.stderr and "none.sock" in out.stderr
    stale = tmp_path / "stale.sock"
    import socket

    s = socket.socket(socket.AF_UNIX)
    s.bind(str(stale))
    s.close()
    out = subprocess.run([*command("aitherctl"), "--socket", str(stale), "status"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 3 and "nothing listens" in out.stderr


def test_watchdog_pings_when_systemd_asks(make_daemon):
    d = make_daemon(env={"WATCHDOG_USEC": "200000"}).start()
    d.wait_for(lambda: sum("WATCHDOG=1" in n for n in d.notifications) >= 3, 5, "watchdog pings")


def test_logs_are_json_lines_when_not_on_a_terminal(make_daemon):
    d = make_daemon().start()
    d.stop()
    events = [json.loads(line)["event"] for line in d.log_text().splitlines() if line.strip()]
    assert "ready" in events and "stopped" in events


def test_daemon_process_stays_light():
    code = ("import sys, aitherd.daemon, aitherd.api, aitherd.runner, aitherd.worker, "
            "aitherd.jobs.builtin, aitherd.ctl\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets', 'vllm', "
            "'bitsandbytes') if m in sys.modules]\n"
            "assert not heavy, heavy\nprint('light')")
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr
