"""Serving through the real daemon: aitherctl serve/adapters/deploy/rollback/status, metrics, the
deploy job, the train job's GPU hand-off through the worker, reload, and a stop that leaves no
process of vLLM's group behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from serve_support import alive_in_group, make_adapter, serve_section
from train_fixtures import coder_records, write_export

from aitherd.store import open_store

NO_SCHEDULE = {name: {"enabled": False} for name in ("harvest_coder", "harvest_reasoner", "export", "star", "train")}


def serve_status(d) -> dict:
    return d.api("GET", "/v1/serve")


def wait_up(d) -> dict:
    return d.wait_for(lambda: (st := serve_status(d))["state"] == "up" and st["ready"] and st, 30, "vLLM up")


def proxy_chat(st: dict, model: str) -> tuple[int, dict, dict]:
    req = urllib.request.Request(f"{st['proxy']['url']}/chat/completions", method="POST",
                                 data=json.dumps({"model": model, "max_tokens": 8, "messages": [
                                     {"role": "user", "content": "hi"}]}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read()), dict(err.headers)


def test_operate_serving_with_aitherctl_and_stop_leaves_no_vllm_process(make_daemon):
    d = make_daemon({"serve": serve_section(extra_args=["--standin-child"])}).start()
    st = wait_up(d)
    engine = open_store(d.state / "aitherd.db")
    for v in ("v0001", "v0002"):
        make_adapter(d.state, engine, "coder", v, scores={"humaneval": 0.71})
    make_adapter(d.state, engine, "coder", "v0003", modules=["lm_head"])

    out = d.ctl("deploy", "coder", "v0001")
    assert out.returncode == 0, out.stderr
    assert "coder -> coder@v0001" in out.stdout and "differs from the base" in out.stdout
    assert d.ctl("deploy", "coder", "v0002").returncode == 0
    bad = d.ctl("deploy", "coder", "v0003")
    assert bad.returncode == 1 and "coder stays on coder@v0002" in bad.stderr

    table = d.ctl("adapters").stdout
    lines = {line.split()[1]: line for line in table.splitlines()[1:]}
    assert "live" in lines["v0002"] and "serving" in lines["v0002"] and "humaneval=0.71" in lines["v0002"]
    assert "retired" in lines["v0001"] and "rejected" in lines["v0003"]

    status, _body, headers = proxy_chat(st, "coder")
    assert status == 200 and headers["x-aitherd-model"] == "coder@v0002"
    rolled = d.ctl("rollback", "coder")
    assert rolled.returncode == 0 and "coder -> coder@v0001 (was v0002)" in rolled.stdout
    assert proxy_chat(st, "coder")[2]["x-aitherd-model"] == "coder@v0001"

    text = d.ctl("status").stdout
    assert "serving: vLLM up" in text and "coder        -> coder@v0001" in text
    assert "orchestrator -> /models/base-14b" in text
    assert "starting:" in d.ctl("serve", "logs", "--lines", "200").stdout
    metrics_url = d.api("GET", "/v1/status")["metrics"]
    scrape = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    assert 'aitherd_serve_live_version{alias="coder",version="v0001"} 1.0' in scrape
    assert 'aitherd_serve_state{state="up"} 1.0' in scrape
    # vLLM's output stays out of the daemon's log stream
    assert "stand-in vLLM pid" not in d.log_text()

    out = d.ctl("serve", "restart")
    assert out.returncode == 0
    st2 = d.wait_for(lambda: (s2 := serve_status(d))["pid"] != st["pid"] and s2["state"] == "up"
                     and s2["ready"] and s2, 30, "restarted")
    assert alive_in_group(st["pid"]) == [] and st2["aliases"]["coder"]["served"] == "coder@v0001"
    assert "serving: vLLM stopped" in d.ctl("serve", "stop").stdout
    assert d.ctl("serve", "start").returncode == 0
    st = wait_up(d)
    pgid = st["pid"]
    assert len(alive_in_group(pgid)) == 2
    assert d.stop() == 0
    assert alive_in_group(pgid) == []
    engine.dispose()


def test_a_daemon_killed_by_sigkill_takes_its_vllm_server_with_it(make_daemon):
    # Outside systemd nothing else would stop it, and an orphan vLLM keeps the GPU from the next one.
    d = make_daemon({"serve": serve_section()}).start()
    st = wait_up(d)
    server = st["pid"]
    assert alive_in_group(server)
    d.stop(signal.SIGKILL)
    deadline = time.monotonic() + 20
    while alive_in_group(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive_in_group(server) == [], "the vLLM server outlived its daemon"


def test_restart_loads_what_was_live_and_reload_restarts_vllm_only_when_its_flags_change(make_daemon):
    cfg = {"serve": serve_section()}
    d = make_daemon(cfg).start()
    wait_up(d)
    engine = open_store(d.state / "aitherd.db")
    make_adapter(d.state, engine, "reasoner", "v0001")
    assert d.ctl("deploy", "reasoner", "v0001").returncode == 0
    d.stop()
    d.start()
    st = wait_up(d)
    assert st["aliases"]["reasoner"]["served"] == "reasoner@v0001" and st["loaded"] == ["reasoner@v0001"]
    pid = st["pid"]

    d.write_config({"serve": serve_section(verify={"max_tokens": 12})})
    out = d.ctl("reload")
    assert out.returncode == 0 and serve_status(d)["pid"] == pid

    d.write_config({"serve": serve_section(extra_args=["--standin-token-delay", "0.001"])})
    out = d.ctl("reload")
    assert "vLLM restarted: its settings changed" in out.stdout
    st = d.wait_for(lambda: (s := serve_status(d))["pid"] != pid and s["state"] == "up" and s["ready"] and s,
                    30, "vLLM restarted")
    assert st["aliases"]["reasoner"]["served"] == "reasoner@v0001"
    engine.dispose()


def test_the_train_job_lends_the_gpu_through_the_daemon_and_records_it(make_daemon):
    cfg = {"serve": serve_section(), "jobs": NO_SCHEDULE,
           "train": {"base_model": "/no/such/base-model"}}
    d = make_daemon(cfg, fake_jobs=False).start()
    wait_up(d)
    engine = open_store(d.state / "aitherd.db")
    make_adapter(d.state, engine, "coder", "v0001")
    assert d.ctl("deploy", "coder", "v0001").returncode == 0
    write_export(d.state, "coder", coder_records(8), engine=engine)

    d.ctl("train", "coder", "--wait", timeout=120)  # fails fast: the base model is missing

    run = d.runs(job="train")[0]
    assert "base model /no/such/base-model not found" in run["error"]
    assert "GPU lent to train: vLLM asleep (level 1)" in run["message"]
    assert "GPU handed back (training finished): vLLM woke; coder@v0001 verified" in run["message"]
    assert run["counts"]["gpu_arbitration_daemon"] == 1
    st = serve_status(d)
    assert st["state"] == "up" and st["gpu"]["lent"] is None
    assert [h["step"] for h in st["gpu"]["history"]] == ["acquire", "release"]
    engine.dispose()


def test_the_deploy_job_deploys_through_the_daemon(make_daemon):
    d = make_daemon({"serve": serve_section(), "jobs": NO_SCHEDULE}, fake_jobs=False).start()
    wait_up(d)
    engine = open_store(d.state / "aitherd.db")
    make_adapter(d.state, engine, "coder", "v0001")
    make_adapter(d.state, engine, "reasoner", "v0001", scores={"gate": {"passed": True}})

    out = d.ctl("run", "deploy", "--arg", "specialist=coder", "--arg", "version=v0001", "--wait")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "coder@v0001 live" in d.runs(job="deploy")[0]["message"]
    out = d.ctl("run", "deploy", "--wait")  # no arguments: the candidates that passed the gate
    assert out.returncode == 0 and "reasoner@v0001 live" in d.runs(job="deploy")[0]["message"]
    out = d.ctl("run", "deploy", "--wait")
    assert d.runs(job="deploy")[0]["status"] == "skipped"
    assert serve_status(d)["aliases"]["reasoner"]["served"] == "reasoner@v0001"
    engine.dispose()


def test_with_serving_off_commands_say_so_and_the_deploy_job_is_skipped(make_daemon):
    d = make_daemon({"jobs": NO_SCHEDULE}, fake_jobs=False).start()
    assert "serving: disabled" in d.ctl("serve").stdout
    out = d.ctl("deploy", "coder", "v0001")
    assert out.returncode != 0 and "serving is disabled" in out.stderr
    d.ctl("run", "deploy", "--wait")
    run = d.runs(job="deploy")[0]
    assert run["status"] == "skipped" and "[serve] enabled = false" in run["message"]


def test_the_daemon_with_serving_on_stays_light(make_daemon):
    code = ("import sys, aitherd.daemon, aitherd.serve.service, aitherd.serve.routes, aitherd.serve.ctl, "
            "aitherd.serve.worker, aitherd.ctl\n"
            "heavy = [m for m in ('torch', 'transformers', 'peft', 'trl', 'datasets', 'vllm', 'numpy') "
            "if m in sys.modules]\nassert not heavy, heavy\nprint('light')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "light", out.stderr
    d = make_daemon({"serve": serve_section()}).start()
    wait_up(d)
    maps = Path(f"/proc/{d.proc.pid}/maps").read_text()
    assert "torch" not in maps and "numpy" not in maps and "vllm" not in maps
    # the endpoint's HTTP machinery lives in the relay process, not in the daemon
    # (the proxy starts beside vLLM, and may come up after it on a loaded machine)
    relay = d.wait_for(lambda: ((serve_status(d)["proxy"] or {}).get("relay") or {}).get("pid"), 30, "the relay")
    assert relay != d.proc.pid
    d.wait_for(lambda: "httptools" in Path(f"/proc/{relay}/maps").read_text(), 30, "the relay's HTTP parser")
    assert "httptools" not in maps and "uvloop" not in maps
    d.stop(signal.SIGTERM)
    assert not os.path.exists(d.socket)
    assert not Path(f"/proc/{relay}").exists() or "Z" in Path(f"/proc/{relay}/stat").read_text().split(")")[1][:3]
