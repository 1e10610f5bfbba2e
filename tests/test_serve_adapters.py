"""Adapters behind aliases, through the real proxy and the vLLM stand-in: deploy verifies then
flips, a failed verify keeps the old alias, rollback, requests in flight during swaps, restore
after a restart, and 503 with Retry-After while the server is away."""

from __future__ import annotations

import asyncio
import json

import pytest
from serve_support import (
    adapter_state,
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


def test_deploy_loads_verifies_and_flips_the_alias(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            make_adapter(tmp_path / "state", s.engine, "coder", "v0001")
            await ready(s)
            up = proxy(s)
            status, body, headers = await chat(up, "coder")
            assert status == 200 and headers[b"x-aitherd-model"] == b"/models/base-14b"  # base until deployed

            out = await s.deploy("coder", "v0001")

            assert out["ok"] and out["name"] == "coder@v0001" and "differs from the base" in out["message"]
            status, body, headers = await chat(up, "coder")
            assert status == 200 and headers[b"x-aitherd-model"] == b"coder@v0001"
            assert body["choices"][0]["message"]["content"].startswith("coder/v0001:")
            assert adapter_state(s.engine, "coder", "v0001") == ("live", None)
            assert sample_metric(s, "aitherd_serve_live_version", {"alias": "coder", "version": "v0001"}) == 1
            assert sample_metric(s, "aitherd_serve_adapter_loads_total", {"specialist": "coder", "outcome": "ok"}) == 1
            models = (await up.request("GET", "/v1/models")).json()["data"]
            cards = {m["id"]: m for m in models}
            assert cards["coder"]["root"] == "coder@v0001" and cards["coder@v0001"]["parent"] == "/models/base-14b"
            assert s.status()["aliases"]["coder"]["version"] == "v0001"

    asyncio.run(go())


def test_an_adapter_vllm_silently_ignores_fails_verify_and_the_live_alias_stays(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            state = tmp_path / "state"
            make_adapter(state, s.engine, "coder", "v0001")
            make_adapter(state, s.engine, "coder", "v0002", modules=["lm_head"])  # matches no served module
            await ready(s)
            await s.deploy("coder", "v0001")

            with pytest.raises(ServeError) as err:
                await s.deploy("coder", "v0002")

            assert err.value.http_status == 422
            assert "answers exactly like the base model" in str(err.value)
            assert "coder stays on coder@v0001" in str(err.value)
            assert s.adapters.live["coder"] == "coder@v0001"
            assert "coder@v0002" not in s.adapters.loaded
            state_, note = adapter_state(s.engine, "coder", "v0002")
            assert state_ == "rejected" and "answers exactly like the base" in note
            assert adapter_state(s.engine, "coder", "v0001")[0] == "live"
            names = [m["id"] for m in (await s.supervisor.upstream.request("GET", "/v1/models")).json()["data"]]
            assert "coder@v0002" not in names
            _status, _body, headers = await chat(proxy(s), "coder")
            assert headers[b"x-aitherd-model"] == b"coder@v0001"

    asyncio.run(go())


def test_an_adapter_above_the_rank_limit_is_refused_with_vllms_reason(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            make_adapter(tmp_path / "state", s.engine, "reasoner", "v0001", r=64)
            await ready(s)
            with pytest.raises(ServeError, match="greater than max_lora_rank 32"):
                await s.deploy("reasoner", "v0001")
            assert adapter_state(s.engine, "reasoner", "v0001")[0] == "rejected"

    asyncio.run(go())


def test_rollback_returns_to_the_previous_live_version(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            state = tmp_path / "state"
            for v in ("v0001", "v0002", "v0003"):
                make_adapter(state, s.engine, "coder", v)
            await ready(s)
            for v in ("v0001", "v0002", "v0003"):
                await s.deploy("coder", v)
            assert adapter_state(s.engine, "coder", "v0002")[0] == "retired"

            out = await s.rollback("coder")

            assert out["name"] == "coder@v0002" and out["previous"] == "v0003"
            assert adapter_state(s.engine, "coder", "v0003") == ("rejected", "rolled back to v0002")
            assert (await chat(proxy(s), "coder"))[2][b"x-aitherd-model"] == b"coder@v0002"
            out = await s.rollback("coder")
            assert out["name"] == "coder@v0001"
            with pytest.raises(ServeError, match="no earlier live version"):
                await s.rollback("coder")
            assert adapter_state(s.engine, "coder", "v0001")[0] == "live"

    asyncio.run(go())


def test_requests_in_flight_during_swaps_all_complete_and_the_old_version_unloads_after(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.03"]) as s:
            state = tmp_path / "state"
            for v in ("v0001", "v0002", "v0003"):
                make_adapter(state, s.engine, "coder", v)
            await ready(s)
            await s.deploy("coder", "v0001")
            up = proxy(s)
            results: list[tuple[int, str, list[str]]] = []

            async def client(i: int) -> None:
                for j in range(4):
                    results.append(await stream_chat(up, "coder", f"q{i}-{j}"))

            clients = [asyncio.create_task(client(i)) for i in range(8)]
            await until(lambda: s.inflight.by_name.get("coder@v0001"), 10, "requests on v0001")
            first = await s.deploy("coder", "v0002")
            await until(lambda: s.inflight.by_name.get("coder@v0002"), 10, "requests on v0002")
            second = await s.deploy("coder", "v0003")
            assert first["in_flight_on_previous"] > 0 and second["in_flight_on_previous"] > 0
            await asyncio.gather(*clients)

            assert len(results) == 32
            assert all(status == 200 and events[-1] == "[DONE]" for status, _, events in results)
            tags = {text.split(":")[0] for _, text, _ in results}
            assert tags <= {"coder/v0001", "coder/v0002", "coder/v0003"} and "coder/v0001" in tags
            await until(lambda: sorted(s.adapters.loaded) == ["coder@v0003"], 10, "old versions unloaded")
            names = [m["id"] for m in (await s.supervisor.upstream.request("GET", "/v1/models")).json()["data"]]
            assert "coder@v0001" not in names and "coder@v0002" not in names
            # the relay process reports its count every 50 ms
            await until(lambda: s.inflight.total == 0, 2, "the in-flight count to drop")

    asyncio.run(go())


def test_after_a_vllm_restart_the_live_adapters_are_loaded_and_verified_again(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            make_adapter(tmp_path / "state", s.engine, "reasoner", "v0004")
            await ready(s)
            await s.deploy("reasoner", "v0004")
            first_pid = s.supervisor.pid

            await s.server_restart()
            await until(lambda: s.supervisor.pid != first_pid, 10, "a new process")
            await ready(s)

            assert s.adapters.loaded == {"reasoner@v0004": str(tmp_path / "state/adapters/reasoner/v0004")}
            status, _body, headers = await chat(proxy(s), "reasoner")
            assert status == 200 and headers[b"x-aitherd-model"] == b"reasoner@v0004"

    asyncio.run(go())


def test_a_live_adapter_that_fails_its_check_after_restart_falls_back_to_the_base_with_a_reason(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            row = make_adapter(tmp_path / "state", s.engine, "coder", "v0001")
            await ready(s)
            await s.deploy("coder", "v0001")
            (tmp_path / "state/adapters/coder/v0001/adapter_config.json").unlink()  # gone from disk
            await s.server_restart()
            await until(lambda: s.adapters.problems.get("coder"), 20, "a problem")
            assert "coder" not in s.adapters.live and row.path
            status, _, headers = await chat(proxy(s), "coder")
            assert status == 200 and headers[b"x-aitherd-model"] == b"/models/base-14b"
            assert "No adapter found" in s.status()["aliases"]["coder"]["problem"]

    asyncio.run(go())


def test_the_proxy_answers_503_with_retry_after_at_once_while_vllm_is_away(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            up = proxy(s)
            await s.server_stop()
            t0 = asyncio.get_running_loop().time()
            resp = await up.request("POST", "/v1/chat/completions",
                                    {"model": "coder", "messages": [{"role": "user", "content": "x"}]})
            assert asyncio.get_running_loop().time() - t0 < 1.0
            assert resp.status == 503 and dict(resp.headers)[b"retry-after"] == b"7"
            assert "the model server is stopped" in resp.json()["error"]["message"]
            health = await up.request("GET", "/health")
            assert health.status == 503
            assert sample_metric(s, "aitherd_serve_proxy_requests_total", {"alias": "coder", "code": "503"}) == 1

    asyncio.run(go())


def test_while_the_live_adapters_load_after_a_start_requests_get_503_not_404(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            make_adapter(tmp_path / "state", s.engine, "coder", "v0001")
            await ready(s)
            await s.deploy("coder", "v0001")
            s.adapters.ready.clear()  # as at the start of a restore
            await s.sync_relay()  # the relay process is told (within 25 ms on its own)
            status, body, headers = await chat(proxy(s), "coder")
            assert status == 503 and headers[b"retry-after"] == b"5"
            assert "loading the live adapters" in body["error"]["message"]
            s.adapters.ready.set()
            await s.sync_relay()
            assert (await chat(proxy(s), "coder"))[0] == 200

    asyncio.run(go())


def test_a_model_that_is_not_loaded_is_404_like_vllm_and_bad_bodies_are_400(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            up = proxy(s)
            status, body, _ = await chat(up, "coder@v0099")
            assert status == 404 and body["error"]["message"] == "The model `coder@v0099` does not exist."
            resp = await up.request("POST", "/v1/chat/completions")
            assert resp.status == 400
            status, body, _ = await chat(up, "orchestrator")
            assert status == 200 and body["choices"][0]["message"]["content"].startswith("base:")
            with pytest.raises(ServeError, match="no adapter coder v0042"):
                await s.deploy("coder", "v0042")
            with pytest.raises(ServeError, match="no alias"):
                await s.deploy("painter", "v0001")

    asyncio.run(go())


def test_streaming_relays_chunks_as_they_arrive(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.2"]) as s:
            await ready(s)
            body = json.dumps({"model": "orchestrator", "stream": True, "max_tokens": 6,
                               "messages": [{"role": "user", "content": "hi"}]}).encode()
            stream = await proxy(s).stream("POST", "/v1/chat/completions", body,
                                           headers=[("Content-Type", "application/json")], timeout=30)
            loop = asyncio.get_running_loop()
            arrivals = []
            async for _chunk in stream.chunks():
                arrivals.append(loop.time())
            # six words 0.2 s apart: chunks arrive spread out, not all at the end
            assert len(arrivals) >= 5 and arrivals[-1] - arrivals[0] > 0.6

    asyncio.run(go())


def test_a_v1_store_gains_the_serving_columns_and_one_live_adapter_per_specialist(tmp_path):
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    from aitherd.store import SCHEMA_VERSION, open_store, session
    from aitherd.store.models import Adapter

    db = tmp_path / "aitherd.db"
    open_store(db).dispose()
    with sqlite3.connect(db) as conn:  # back to what a v1 daemon left
        conn.execute("DROP INDEX ux_adapter_one_live")
        conn.execute("ALTER TABLE adapter DROP COLUMN deployed_at")
        conn.execute("ALTER TABLE adapter DROP COLUMN note")
        conn.execute("INSERT INTO adapter (specialist, version, path, scores, state, created_at) "
                     "VALUES ('coder', 'v0001', '/a', '{}', 'live', '2026-01-01 00:00:00')")
        conn.execute("UPDATE meta SET value='1' WHERE key='schema_version'")

    engine = open_store(db)

    with sqlite3.connect(db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(adapter)")}
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    assert {"deployed_at", "note"} <= columns and int(version) == SCHEMA_VERSION >= 2
    with session(engine) as s:
        assert s.get(Adapter, 1).state == "live"
        s.add(Adapter(specialist="coder", version="v0002", path="/b", state="live"))
        with pytest.raises(IntegrityError):
            s.commit()
    engine.dispose()


def test_a_client_that_leaves_mid_stream_is_no_longer_counted_in_flight(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.5"]) as s:
            await ready(s)
            body = json.dumps({"model": "orchestrator", "stream": True, "max_tokens": 10,
                               "messages": [{"role": "user", "content": "hi"}]}).encode()
            stream = await proxy(s).stream("POST", "/v1/chat/completions", body,
                                           headers=[("Content-Type", "application/json")], timeout=30)
            chunks = stream.chunks()
            await chunks.__anext__()
            await until(lambda: s.inflight.total == 1, 2, "the request in the relay's in-flight report")
            stream.close()  # the client goes away; the answer would take 5 s more
            await until(lambda: s.inflight.total == 0, 2, "the request to leave the in-flight count")

    asyncio.run(go())
