"""The flywheel through the real daemon and real jobs: harvest with curation, a killed worker,
rerun, and a screened export."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from support import git, make_repo

from aitherd import benchmarks

# Real-looking, not AWS's documented AKIAIOSFODNN7EXAMPLE pair: documented placeholders are kept.
AWS_KEY = "AKIAZ7Q3RT5XW2ME4NPA"
AWS_SECRET = "q8Jd2Kf9LmN3pQ7rS1tU5vW0xY4zA6bC8dE2fG1h"


def world(tmp: Path) -> tuple[Path, Path]:
    repo = make_repo(tmp / "repo")
    for i in range(40):
        (repo / f"m{i}.py").write_text(f'def f{i}(x):\n    """Add {i}."""\n    y = x + {i}\n    return y\n')
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"feat: add f{i}")
    logs = tmp / "logs"
    logs.mkdir()
    gsm = benchmarks.load("gsm8k_test")[3]
    turns = [{"messages": [{"role": "user", "content": f"Write a helper number {i} that parses rows"},
                           {"role": "assistant", "content": f"```python\ndef parse_{i}(rows):\n"
                                                            f"    return [r.split(',') for r in rows if r]\n```"}]}
             for i in range(1500)]
    turns.append({"messages": [
        {"role": "user", "content": "Connect to S3 with boto3"},
        {"role": "assistant", "content": f"```python\nimport boto3\ns3 = boto3.client('s3', "
                                         f"aws_access_key_id='{AWS_KEY}',\n    aws_secret_access_key='{AWS_SECRET}')\n"
                                         "print(s3.list_buckets())\n```"}]})
    turns.append({"messages": [{"role": "user", "content": "Solve with Python: " + gsm["question"]},
                               {"role": "assistant", "content": "```python\nsprints = 3 * 3\nmeters = sprints * 60\n"
                                                                "print(meters)\n```\nHe runs 540 meters a week."}]})
    (logs / "chat.jsonl").write_text("\n".join(json.dumps(t) for t in turns) + "\n")
    return repo, logs


def config(repo: Path, logs: Path) -> dict:
    return {"repos": [{"path": str(repo), "refs": ["main"]}],
            "logs": [{"path": str(logs), "kind": "openai"}],
            "watch": {"enabled": False},
            "sources": {"coder": {"batch_size": 10}},
            "export": {"coder": {"size": 40}}}


def hashes(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT content_hash FROM example")}


def test_harvest_curate_kill_rerun_and_export(make_daemon, tmp_path):
    repo, logs = world(tmp_path)
    clean = make_daemon(config(repo, logs), fake_jobs=False).start()
    out = clean.ctl("run", "harvest_coder", "--wait", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    run = clean.runs(job="harvest_coder")[0]
    assert run["status"] == "ok" and run["counts"]["stored.session"] >= 60, run
    reference = hashes(clean.state / "aitherd.db")
    with sqlite3.connect(clean.state / "aitherd.db") as conn:
        rows = dict(conn.execute("SELECT reason, count(*) FROM example WHERE status='rejected' GROUP BY reason").fetchall())
        contaminated = conn.execute("SELECT curation FROM example WHERE reason='contaminated'").fetchone()
    assert rows.get("contaminated", 0) >= 1
    assert json.loads(contaminated[0])["contaminated"]["benchmark"] == "gsm8k"
    raw = b"".join(p.read_bytes() for p in clean.state.glob("aitherd.db*"))
    assert AWS_KEY.encode() not in raw and AWS_SECRET.encode() not in raw
    report = json.loads(clean.ctl("decontam", "--report", "--json").stdout)
    assert report["benchmarks"]["gsm8k"]["examples"] >= 1
    assert AWS_SECRET not in clean.log_text() and AWS_KEY not in clean.log_text()

    # The same harvest, its worker killed mid-run, then run again: the same store.
    crashed = make_daemon(config(repo, logs), fake_jobs=False).start()
    run_id = crashed.api("POST", "/v1/jobs/harvest_coder/run")["run_id"]
    def stored_some_sessions():
        p = crashed.api("GET", f"/v1/runs/{run_id}").get("progress") or {}
        return p.get("stage") == "harvesting session" and (p.get("done") or 0) > 0 and _pid(crashed, run_id)

    pid = crashed.wait_for(stored_some_sessions, 120, "session batches stored")
    os.kill(pid, signal.SIGKILL)
    killed = crashed.wait_run(run_id)
    assert killed["status"] == "interrupted" and "SIGKILL" in killed["error"]
    resumed = crashed.wait_for(lambda: [r for r in crashed.runs(job="harvest_coder")
                                        if r["parent_run_id"] == run_id], 30, "the resumed run")[0]
    assert resumed["trigger"] == "resume"  # resumed like after a daemon crash
    assert crashed.wait_run(resumed["id"], timeout=300)["status"] == "ok"
    assert hashes(crashed.state / "aitherd.db") == reference

    # The export of the curated store is screened again; its card says so.
    out = clean.ctl("export", "--wait", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    latest = clean.state / "exports" / "coder" / "deepseek-r1-distill-qwen" / "latest"
    card = (latest / "README.md").read_text()
    assert "Screened again at export" in card
    assert AWS_SECRET not in (latest / "data" / "train-00000-of-00001.parquet").read_bytes().decode("latin-1")


def _pid(d, run_id: int) -> int | None:
    with sqlite3.connect(d.state / "aitherd.db") as conn:
        row = conn.execute("SELECT pid FROM run WHERE id=?", (run_id,)).fetchone()
    time.sleep(0.05)
    return row[0] if row and row[0] else None


TEACHER_KEY = "sk-teacher-live-0123456789abcdefXYZ"


def test_reasoner_harvest_with_a_teacher_keeps_the_key_out_of_logs_store_and_exports(make_daemon, tmp_path, standin):
    standin.script({"key": TEACHER_KEY, "default": {"content": "So the answer is \\boxed{12}.",
                                                    "reasoning": "4 groups of 3 make 12"}})
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("\n".join(json.dumps({"id": f"p{i}", "prompt": f"A farmer has {i} rows of 3 trees and "
                                             f"plants {12 - 3 * i} more. How many trees?", "answer": "12"})
                                 for i in range(4)) + "\n")
    traces = tmp_path / "traces"
    traces.mkdir()
    (traces / "agent.jsonl").write_text("\n".join(json.dumps(
        {"prompt": f"Plan step {i} of the migration", "reasoning": f"first check {i}, then apply {i}",
         "answer": f"Apply migration {i} after the backup", "category": "planning"}) for i in range(30)) + "\n")
    cfg = {"logs": [{"path": str(traces), "kind": "chronicle"}], "watch": {"enabled": False},
           "sources": {"reasoner": {"teacher": {"prompts": str(prompts), "endpoint": {
               "base_url": standin.base_url, "model": "teacher", "api_key_env": "AITHERD_TEACHER_KEY"}}}},
           "export": {"reasoner": {"size": 20}}}
    d = make_daemon(cfg, fake_jobs=False, env={"AITHERD_TEACHER_KEY": TEACHER_KEY}).start()
    out = d.ctl("run", "harvest_reasoner", "--wait", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    run = d.runs(job="harvest_reasoner")[0]
    assert run["counts"]["stored.teacher"] == 4 and run["counts"]["stored.chronicle"] == 30, run
    with sqlite3.connect(d.state / "aitherd.db") as conn:
        weights = {r[0] for r in conn.execute("SELECT weight FROM example WHERE source='teacher'")}
        nr = conn.execute("SELECT count(*) FROM example WHERE category='non_reasoning'").fetchone()[0]
    assert weights == {1.3} and nr >= 3
    assert d.ctl("export", "--wait", timeout=300).returncode == 0
    assert all(r["key_ok"] for r in standin.requests())
    everything = b"".join(p.read_bytes() for p in d.state.rglob("*") if p.is_file())
    assert TEACHER_KEY.encode() not in everything
    assert TEACHER_KEY not in d.log_text() and TEACHER_KEY not in json.dumps(d.runs())
