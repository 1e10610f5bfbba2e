"""The vLLM supervisor against the stand-in started as a real process group: readiness by /health,
restart with backoff, give-up, hung starts, unhealthy servers, and a stop that leaves nothing."""

from __future__ import annotations

import asyncio

import pytest
from serve_support import alive_in_group, ready, running, sample_metric, serving, until

from aitherd.config import ConfigError, parse_config
from aitherd.lora import LoraSection
from aitherd.serve.config import ServeConfig
from aitherd.serve.launch import vllm_args, vllm_env


def test_starts_vllm_with_the_managed_flags_and_environment_and_waits_for_health(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            sup = s.supervisor
            assert sup.pid and alive_in_group(sup.pid)
            up = sup.upstream
            # The runtime LoRA endpoint exists (VLLM_ALLOW_RUNTIME_LORA_UPDATING=True was passed):
            resp = await up.request("POST", "/v1/load_lora_adapter", {"lora_name": "x", "lora_path": "/nope"})
            assert resp.status == 404 and "No adapter found" in resp.json()["error"]["message"]
            # and the sleep endpoints (policy sleep: --enable-sleep-mode and VLLM_SERVER_DEV_MODE=1).
            assert (await up.request("GET", "/is_sleeping")).json() == {"is_sleeping": False}
            log = sup.log.path.read_text()
            assert "--enable-lora --max-lora-rank 32 --max-loras 4 --max-cpu-loras 8" in log
            assert "--enable-sleep-mode" in log and "stand-in vLLM pid" in log
            assert sample_metric(s, "aitherd_serve_state", {"state": "up"}) == 1

    asyncio.run(go())


def test_without_the_runtime_lora_variable_vllm_has_no_load_endpoint(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, env={"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "0"}) as s:
            await ready(s)
            resp = await s.supervisor.upstream.request("POST", "/v1/load_lora_adapter",
                                                       {"lora_name": "x", "lora_path": "/nope"})
            assert resp.status == 404 and resp.json() == {"detail": "Not Found"}

    asyncio.run(go())


def test_a_crash_is_restarted_after_a_backoff_and_a_stable_server_stays(tmp_path):
    marker = tmp_path / "crashed-once"

    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-crash-once", str(marker)]) as s:
            await until(lambda: s.supervisor.starts >= 2 and s.supervisor.state == "up", 20, "restart")
            first_error = s.supervisor.last_error
            await asyncio.sleep(1.0)  # several health intervals: it stays up
            assert s.supervisor.state == "up" and s.supervisor.starts == 2
            assert "exited with exit code 3" in first_error and "stand-in crashing" in first_error
            assert sample_metric(s, "aitherd_serve_crashes_total") == 1
            assert sample_metric(s, "aitherd_serve_restarts_total") == 1

    asyncio.run(go())


def test_too_many_crashes_in_the_window_give_up_and_say_so_until_started_again(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-crash-after", "0.3"]) as s:
            sup = s.supervisor
            await until(lambda: sup.state == "failed", 30, "give-up")
            assert sup.starts == 3 and "gave up after 3 crashes" in sup.gave_up
            assert sample_metric(s, "aitherd_serve_gave_up") == 1
            assert s.status()["gave_up"] and s.unavailable().message.startswith("the model server is down")
            await asyncio.sleep(0.5)
            assert sup.starts == 3  # no restart loop
            await s.server_start()  # the operator's start clears the give-up
            await until(lambda: sup.starts == 4, 10, "a fresh start")
            assert sample_metric(s, "aitherd_serve_gave_up") == 0

    asyncio.run(go())


def test_a_start_that_hangs_is_killed_after_the_startup_allowance(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, startup_timeout="1s", max_crashes=1,
                           extra_args=["--standin-hang", "--standin-child"]) as s:
            sup = s.supervisor
            await until(lambda: sup.state == "failed", 20, "give-up after a hung start")
            assert "not ready within the startup allowance (1s" in sup.gave_up
            assert alive_in_group(sup.pid) == []

    asyncio.run(go())


def test_failed_health_checks_restart_a_server_whose_engine_died(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-unhealthy-after", "0.5"]) as s:
            await until(lambda: s.supervisor.starts >= 2, 20, "restart after health failures")
            assert "health check failed 2 times in a row" in s.supervisor.last_error

    asyncio.run(go())


def test_stop_kills_the_whole_process_group_even_children_that_ignore_sigterm(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, stop_timeout="500ms",
                           extra_args=["--standin-child", "--standin-child-ignore-term"]) as s:
            await ready(s)
            pgid = s.supervisor.pid
            await until(lambda: len(alive_in_group(pgid)) == 2, 10, "server and child")
            members = alive_in_group(pgid)
            log_path = s.supervisor.log.path
            await s.server_stop()
            assert alive_in_group(pgid) == []
            assert len(members) == 2 and not any(running(pid) for pid in members)
            assert "SIGKILL to process group" in log_path.read_text()
            assert s.supervisor.state == "stopped"
            assert s.unavailable().message == "the model server is stopped"

    asyncio.run(go())


def test_a_server_that_ignores_sigterm_is_killed_with_its_group(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, stop_timeout="500ms", extra_args=["--standin-ignore-term"]) as s:
            await ready(s)
            pgid = s.supervisor.pid
        assert alive_in_group(pgid) == []

    asyncio.run(go())


def test_a_missing_command_is_a_clear_crash_not_a_daemon_failure(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, command="/no/such/python -m vllm", max_crashes=1) as s:
            await until(lambda: s.supervisor.state == "failed", 10, "give-up")
            assert "cannot start '/no/such/python'" in s.supervisor.gave_up

    asyncio.run(go())


def test_vllm_log_rotates_and_stays_out_of_the_daemon_log(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, log_max_bytes=4096, log_backups=2,
                           extra_args=["--standin-crash-after", "0.2"], max_crashes=3) as s:
            await until(lambda: s.supervisor.state == "failed", 30, "crashes")
            log = s.supervisor.log.path
        names = sorted(p.name for p in log.parent.iterdir())
        assert names[0] == "vllm.log" and all(n.startswith("vllm.log") for n in names)
        assert len(names) <= 3

    asyncio.run(go())


def test_config_refuses_a_non_loopback_host_an_unsupported_rank_and_too_few_cpu_loras():
    with pytest.raises(ConfigError, match="not loopback"):
        parse_config({"serve": {"host": "0.0.0.0"}})
    assert parse_config({"serve": {"host": "0.0.0.0", "allow_non_loopback": True}}).serve.host == "0.0.0.0"
    with pytest.raises(ConfigError, match="max_lora_rank"):
        parse_config({"serve": {"max_lora_rank": 24}})
    with pytest.raises(ConfigError, match="max_cpu_loras must be at least max_loras"):
        parse_config({"serve": {"max_loras": 4, "max_cpu_loras": 2}})


def test_stop_policy_needs_no_sleep_mode_flags():
    cfg = ServeConfig(gpu={"policy": "stop"})
    args = vllm_args(cfg, "/m", 9000, LoraSection())
    assert "--enable-sleep-mode" not in args and "--enable-lora" in args
    env = vllm_env(cfg, {"NOTIFY_SOCKET": "/run/x", "PATH": "/bin"})
    assert env == {"PATH": "/bin", "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
    assert args[:3] == ["python", "-m", "vllm.entrypoints.openai.api_server"]
