"""Lending the GPU to training with each policy: sleep (and a wake that stops applying an
adapter), stop, none; 503 while lent; a lease whose holder died is handed back by itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from serve_support import (
    alive_in_group,
    chat,
    make_adapter,
    proxy,
    ready,
    sample_metric,
    serving,
    stream_chat,
    until,
)

from aitherd.serve.adapters import ServeError


def calls(log) -> list[str]:
    return [json.loads(line)["path"] for line in log.read_text().splitlines()] if log.exists() else []


def test_sleep_policy_sleeps_vllm_answers_503_then_wakes_and_verifies_the_live_adapters(tmp_path):
    log = tmp_path / "standin.log"

    async def go() -> None:
        async with serving(tmp_path, gpu={"policy": "sleep", "sleep_level": 2},
                           extra_args=["--standin-log", str(log)]) as s:
            make_adapter(tmp_path / "state", s.engine, "coder", "v0001")
            await ready(s)
            await s.deploy("coder", "v0001")
            pid = s.supervisor.pid

            note = await s.gpu.acquire(run_id=41, pid=os.getpid(), purpose="train")

            assert "vLLM asleep (level 2)" in note
            assert s.supervisor.state == "asleep" and s.supervisor.pid == pid
            status, body, headers = await chat(proxy(s), "coder")
            assert status == 503 and headers[b"retry-after"] == b"7"
            assert "lent its GPU to run 41 (train)" in body["error"]["message"]
            with pytest.raises(ServeError, match="lent to run 41"):
                await s.deploy("coder", "v0001")
            with pytest.raises(ServeError, match="already lent to run 41"):
                await s.gpu.acquire(run_id=42, pid=os.getpid(), purpose="train")
            before_wake = len(calls(log))

            note = await s.gpu.release(run_id=41)

            assert "vLLM woke" in note and "coder@v0001 verified" in note
            after = calls(log)[before_wake:]
            assert after[0] == "/wake_up" and "/v1/chat/completions" in after  # probes after the wake
            status, _, headers = await chat(proxy(s), "coder")
            assert status == 200 and headers[b"x-aitherd-model"] == b"coder@v0001"
            assert calls(log).count("/sleep") == 1
            assert sample_metric(s, "aitherd_serve_gpu_handoffs_total",
                                 {"policy": "sleep", "step": "release", "outcome": "ok"}) == 1

    asyncio.run(go())


def test_a_wake_that_stops_applying_an_adapter_is_caught_and_the_adapter_reloaded(tmp_path):
    log = tmp_path / "standin.log"

    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-forget-on-wake", "--standin-log", str(log)]) as s:
            make_adapter(tmp_path / "state", s.engine, "reasoner", "v0002")
            await ready(s)
            await s.deploy("reasoner", "v0002")
            await s.gpu.acquire(run_id=7, pid=os.getpid(), purpose="train")
            mark = len(calls(log))

            note = await s.gpu.release(run_id=7)

            assert "reasoner@v0002 verified" in note
            assert calls(log)[mark:].count("/v1/unload_lora_adapter") == 1  # reloaded after the check failed
            _, body, _ = await chat(proxy(s), "reasoner")
            assert body["choices"][0]["message"]["content"].startswith("reasoner/v0002:")

    asyncio.run(go())


def test_stop_policy_stops_the_group_and_restarts_with_the_live_adapters(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, gpu={"policy": "stop"}, extra_args=["--standin-child"]) as s:
            make_adapter(tmp_path / "state", s.engine, "coder", "v0001")
            await ready(s)
            await s.deploy("coder", "v0001")
            pgid = s.supervisor.pid

            note = await s.gpu.acquire(run_id=9, pid=os.getpid(), purpose="train")

            assert "vLLM stopped, no process of its group left" in note
            assert alive_in_group(pgid) == [] and s.supervisor.state == "stopped"
            status, _body, _ = await chat(proxy(s), "coder")
            assert status == 503

            note = await s.gpu.release(run_id=9)

            assert "vLLM restarted; up; coder -> coder@v0001" in note
            assert s.supervisor.pid != pgid and s.supervisor.state == "up"
            status, _, headers = await chat(proxy(s), "coder")
            assert status == 200 and headers[b"x-aitherd-model"] == b"coder@v0001"

    asyncio.run(go())


def test_none_policy_keeps_serving_during_training(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, gpu={"policy": "none"}) as s:
            await ready(s)
            pid = s.supervisor.pid
            note = await s.gpu.acquire(run_id=3, pid=os.getpid(), purpose="train")
            assert "policy none: vLLM keeps serving" in note
            assert s.supervisor.state == "up" and s.supervisor.pid == pid
            note = await s.gpu.release(run_id=3)
            assert "nothing to hand back" in note

    asyncio.run(go())


def test_sleep_falls_back_to_stop_when_vllm_has_no_sleep_mode(tmp_path):
    async def go() -> None:
        # the sleep endpoints exist (dev mode) but the engine was started without sleep mode
        async with serving(tmp_path, gpu={"policy": "stop"}, env={"VLLM_SERVER_DEV_MODE": "1"}) as s:
            await ready(s)
            s.cfg.gpu.policy = "sleep"
            note = await s.gpu.acquire(run_id=5, pid=os.getpid(), purpose="train")
            assert "sleep failed" in note and "stopped instead" in note
            assert s.supervisor.state == "stopped"
            note = await s.gpu.release(run_id=5)
            assert "vLLM restarted; up" in note

    asyncio.run(go())


def test_a_lease_whose_holder_died_is_handed_back_by_itself(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
            await s.gpu.acquire(run_id=11, pid=holder.pid, purpose="train")
            assert s.supervisor.state == "asleep"
            holder.kill()
            holder.wait()
            # the hand-back is recorded once vLLM is awake again: wait for the record, not only the state
            await until(lambda: s.gpu.lease is None and s.supervisor.state == "up"
                        and s.gpu.history[-1]["step"] == "release", 30, "auto hand-back")
            history = s.gpu.describe()["history"]
            assert "its holder (pid" in history[-1]["note"]
            status, _, _ = await chat(proxy(s), "orchestrator")
            assert status == 200

    asyncio.run(go())


def test_a_crash_while_lent_does_not_restart_vllm_until_training_ends(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            await s.gpu.acquire(run_id=12, pid=os.getpid(), purpose="train")
            os.killpg(s.supervisor.pid, 9)
            await until(lambda: s.supervisor.state == "stopped", 10, "stopped after the crash")
            await asyncio.sleep(0.5)
            assert s.supervisor.starts == 1 and "not restarted while the GPU is lent" in s.supervisor.last_error
            note = await s.gpu.release(run_id=12)
            assert "up" in note and s.supervisor.starts == 2

    asyncio.run(go())


def test_requests_in_flight_finish_before_vllm_sleeps(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.08"]) as s:
            await ready(s)
            streams = [asyncio.create_task(stream_chat(proxy(s), "orchestrator", f"q{i}")) for i in range(3)]
            await until(lambda: s.inflight.total == 3, 10, "requests in flight")

            note = await s.gpu.acquire(run_id=21, pid=os.getpid(), purpose="train")

            assert all(t.done() for t in streams) and "vLLM asleep" in note
            for status, _text, events in [t.result() for t in streams]:
                assert status == 200 and events[-1] == "[DONE]"
            await s.gpu.release(run_id=21)

    asyncio.run(go())
