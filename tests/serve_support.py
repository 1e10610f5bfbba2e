"""Helpers for the serving tests: configs that start the vLLM stand-in, adapters on disk and in the
store, and a Serving built on a real state directory, driven from asyncio.run."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aitherd.config import Loaded, Paths, parse_config
from aitherd.metrics import Metrics
from aitherd.serve.launch import group_members
from aitherd.serve.service import Serving
from aitherd.serve.upstream import Upstream
from aitherd.store import open_store, session
from aitherd.store.models import Adapter

TESTS = Path(__file__).resolve().parent
STANDIN = TESTS / "standin_vllm.py"
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def serve_section(**over: Any) -> dict[str, Any]:
    """[serve] that runs the stand-in with short timings; `extra_args` adds stand-in flags."""
    cfg: dict[str, Any] = {
        "enabled": True, "command": f"{sys.executable} {STANDIN}", "model": "/models/base-14b",
        "port": 0, "startup_timeout": "20s", "startup_poll": "50ms", "health_interval": "200ms",
        "health_timeout": "2s", "health_failures": 2, "stop_timeout": "3s",
        "restart_backoff": "100ms", "restart_backoff_max": "400ms", "max_crashes": 3,
        "crash_window": "60s", "stable_after": "30s",
        "proxy": {"port": 0, "retry_after": "7s"},
        "verify": {"timeout": "10s"},
        "gpu": {"policy": "sleep", "drain_timeout": "5s"},
    }
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def loaded_for(state: Path, serve: dict[str, Any]) -> Loaded:
    state.mkdir(parents=True, exist_ok=True)
    cfg = parse_config({"serve": serve})
    return Loaded(config=cfg, source=None, paths=Paths(state_dir=state, socket=state / "c.sock"), repos=())


def make_adapter(state: Path, engine: Any, specialist: str, version: str, *,
                 modules: list[str] | None = None, r: int = 32, state_name: str = "candidate",
                 scores: dict[str, Any] | None = None, gate: bool = True) -> Adapter:
    """An adapter on disk and in the store; `gate`: with benchmark results that pass the deploy
    gate (which the daemon's deploy checks), as every benchmarked candidate would have."""
    path = state / "adapters" / specialist / version
    path.mkdir(parents=True, exist_ok=True)
    (path / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": r, "lora_alpha": 2 * r, "target_modules": modules or ALL,
        "base_model_name_or_path": "/models/base-14b"}))
    (path / "adapter_model.safetensors").write_bytes(b"\0" * 16)
    with session(engine) as s:
        row = Adapter(specialist=specialist, version=version, path=str(path), state=state_name,
                      scores=scores or {})
        s.add(row)
        s.commit()
        s.refresh(row)
    if gate:
        from evaluate_support import record_passing_results

        record_passing_results(engine, row)
    return row


def adapter_state(engine: Any, specialist: str, version: str) -> tuple[str, str | None]:
    with session(engine) as s:
        from sqlmodel import select

        row = s.exec(select(Adapter).where(Adapter.specialist == specialist,
                                           Adapter.version == version)).one()
        return row.state, row.note


@asynccontextmanager
async def serving(tmp: Path, **over: Any) -> AsyncIterator[Serving]:
    state = tmp / "state"
    loaded = loaded_for(state, serve_section(**over))
    engine = open_store(loaded.paths.db)
    s = Serving(loaded, engine, Metrics())
    await s.start()
    try:
        yield s
    finally:
        await s.stop()
        engine.dispose()


async def until(cond: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def ready(s: Serving, timeout: float = 20.0) -> None:
    assert s.supervisor is not None
    await until(lambda: s.supervisor.state == "up" and s.adapters.ready.is_set(), timeout,
                f"vLLM up (state {s.supervisor.state}, error {s.supervisor.last_error})")
    await s.sync_relay()  # the relay process has the state that says so


def proxy(s: Serving) -> Upstream:
    assert s.proxy is not None
    return Upstream("127.0.0.1", s.proxy.port)


async def chat(up: Upstream, model: str, prompt: str = "hello", **extra: Any) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    resp = await up.request("POST", "/v1/chat/completions", {
        "model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 8, **extra})
    return resp.status, resp.json(), dict(resp.headers)


async def stream_chat(up: Upstream, model: str, prompt: str) -> tuple[int, str, list[str]]:
    """Send a streaming chat request; the concatenated content and every `data:` payload."""
    body = json.dumps({"model": model, "stream": True, "max_tokens": 10,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    stream = await up.stream("POST", "/v1/chat/completions", body,
                             headers=[("Content-Type", "application/json")], timeout=30)
    raw = (await stream.read()).decode()
    events = [line[6:] for line in raw.split("\n") if line.startswith("data: ")]
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content", "") for e in events if e != "[DONE]")
    return stream.status, text, events


def sample_metric(s: Serving, name: str, labels: dict[str, str] | None = None) -> float | None:
    return s.daemon_metrics.registry.get_sample_value(name, labels or {})


def alive_in_group(pgid: int) -> list[int]:
    return group_members(pgid)


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever reaps it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] != b"Z"
