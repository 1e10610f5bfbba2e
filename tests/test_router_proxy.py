"""`model: "auto"` through the real serving proxy and the vLLM stand-in: the labelled requests
reach the live adapter of their route, explicit names pass untouched, SSE chunks arrive as the
upstream sends them, 503 with Retry-After while vLLM is away, a client leaving mid-stream
closes the upstream request, bearer-key auth on and off, and the per-route metrics."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
from pathlib import Path
from typing import Any

from router_support import labelled, request_of
from serve_support import make_adapter, proxy, ready, sample_metric, serving, until

from aitherd.serve.upstream import Upstream

ITEMS = labelled()


async def post(up: Upstream, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
               ) -> tuple[int, dict[str, Any], dict[bytes, bytes]]:
    hdrs = [("Content-Type", "application/json"), *(headers or {}).items()]
    stream = await up.stream("POST", path, json.dumps(body).encode(), headers=hdrs, timeout=30)
    data = await stream.read()
    return stream.status, json.loads(data), dict(stream.headers)


async def live(s, tmp: Path) -> None:
    state = tmp / "state"
    for spec in ("coder", "reasoner"):
        make_adapter(state, s.engine, spec, "v0001")
    await ready(s)
    for spec in ("coder", "reasoner"):
        assert (await s.deploy(spec, "v0001"))["ok"]


def log_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_auto_sends_each_labelled_request_to_the_live_adapter_of_its_route(tmp_path):
    log = tmp_path / "vllm.jsonl"
    served = {"coder": "coder@v0001", "reasoner": "reasoner@v0001", "orchestrator": "/models/base-14b"}

    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-log", str(log)]) as s:
            await live(s, tmp_path)
            up = proxy(s)
            for item in ITEMS:
                path, body, headers = request_of(item)
                status, out, hdrs = await post(up, path, body, headers)
                assert status == 200, (item["id"], out)
                route = hdrs[b"x-aitherd-route"].decode()
                assert route.split(";")[0] == item["route"], (item["id"], route)
                assert hdrs[b"x-aitherd-model"].decode() == served[item["route"]] == out["model"]
            asked = [e["model"] for e in log_lines(log) if e["path"].endswith("completions")]
            assert asked[-len(ITEMS):] == [served[i["route"]] for i in ITEMS]
            for route in served:
                n = sum(i["route"] == route for i in ITEMS)
                version = "base" if route == "orchestrator" else "v0001"
                assert sample_metric(s, "aitherd_router_requests_total",
                                     {"route": route, "version": version, "code": "200"}) == n
                assert sample_metric(s, "aitherd_router_request_seconds_count",
                                     {"route": route, "version": version}) == n
            by_request = sum(i["kind"] == "explicit" for i in ITEMS)
            assert sum(sample_metric(s, "aitherd_router_decisions_total", {"route": r, "by": "request"}) or 0
                       for r in served) == by_request
            cards = {c["id"]: c for c in (await up.request("GET", "/v1/models")).json()["data"]}
            assert cards["auto"]["routes"]["coder"] == "coder@v0001"

    asyncio.run(go())


def test_explicit_model_names_pass_through_untouched(tmp_path):
    log = tmp_path / "vllm.jsonl"

    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-log", str(log)]) as s:
            await live(s, tmp_path)
            up = proxy(s)
            math = next(i for i in ITEMS if i["kind"] == "math")
            for model, want in (("coder@v0001", "coder@v0001"), ("/models/base-14b", "/models/base-14b"),
                                ("coder", "coder@v0001"), ("orchestrator", "/models/base-14b")):
                path, body, _headers = request_of(math, model=model)  # a reasoner's request, sent by name
                status, out, hdrs = await post(up, path, body, {"X-Aitherd-Effort": "9"})
                assert status == 200 and out["model"] == want == hdrs[b"x-aitherd-model"].decode()
                assert hdrs[b"x-aitherd-route"].decode().endswith("by=model")
            assert [e["model"] for e in log_lines(log) if e["path"].endswith("completions")][-4:] == [
                "coder@v0001", "/models/base-14b", "coder@v0001", "/models/base-14b"]
            assert sum(sample_metric(s, "aitherd_router_decisions_total", {"route": r, "by": b}) or 0
                       for r in ("coder", "reasoner", "orchestrator") for b in ("request", "heuristic")) == 0
            # a bad effort matters only to auto
            status, out, _ = await post(up, "/v1/chat/completions", {
                "model": "auto", "messages": [{"role": "user", "content": "hi"}]}, {"X-Aitherd-Effort": "high"})
            assert status == 400 and out["error"]["param"] == "X-Aitherd-Effort"
            assert sample_metric(s, "aitherd_router_errors_total",
                                 {"route": "none", "version": "none", "kind": "bad_request"}) == 1

    asyncio.run(go())


def test_sse_chunks_arrive_as_the_upstream_sends_them(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.25"]) as s:
            await live(s, tmp_path)
            body = json.dumps({"model": "auto", "stream": True, "max_tokens": 6,
                               "messages": [{"role": "user", "content": "Prove that 7 is prime."}]}).encode()
            stream = await proxy(s).stream("POST", "/v1/chat/completions", body,
                                           headers=[("Content-Type", "application/json")], timeout=30)
            assert stream.header(b"x-aitherd-route").startswith(b"reasoner;")
            loop = asyncio.get_running_loop()
            arrivals: list[tuple[float, bytes]] = []
            async for chunk in stream.chunks():
                arrivals.append((loop.time(), chunk))
            words = [t for t, c in arrivals if b'"content": "' in c and b'"content": ""' not in c]
            # six words sent 0.25 s apart arrive about 0.25 s apart, not in a burst at the end
            gaps = [b - a for a, b in itertools.pairwise(words)]
            assert len(words) == 6 and all(0.12 < g < 0.6 for g in gaps), gaps
            assert b"data: [DONE]" in arrivals[-1][1] or b"data: [DONE]" in b"".join(c for _, c in arrivals[-2:])

    asyncio.run(go())


def test_auto_gets_503_with_retry_after_while_vllm_is_down(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await live(s, tmp_path)
            await s.server_stop()
            status, out, hdrs = await post(proxy(s), "/v1/chat/completions", {
                "model": "auto", "messages": [{"role": "user", "content": "Write a Python function to add two numbers."}]})
            assert status == 503 and hdrs[b"retry-after"] == b"7"
            assert hdrs[b"x-aitherd-route"].startswith(b"coder;")
            assert "the model server is" in out["error"]["message"]
            assert sample_metric(s, "aitherd_router_errors_total",
                                 {"route": "coder", "version": "v0001", "kind": "unavailable"}) == 1

    asyncio.run(go())


def test_a_client_leaving_mid_stream_closes_the_upstream_request(tmp_path):
    log = tmp_path / "vllm.jsonl"

    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.5",
                                                 "--standin-log", str(log)]) as s:
            await live(s, tmp_path)
            body = json.dumps({"model": "auto", "stream": True, "max_tokens": 10,
                               "messages": [{"role": "user", "content": "tell me a fun fact"}]}).encode()
            stream = await proxy(s).stream("POST", "/v1/chat/completions", body,
                                           headers=[("Content-Type", "application/json")], timeout=30)
            await stream.chunks().__anext__()
            stream.close()  # the answer would take 5 s more

            ends = await until(lambda: [e for e in log_lines(log) if e.get("event") == "stream_end"], 3,
                               "the stand-in to see its stream end")
            assert ends[0]["finished"] is False and ends[0]["model"] == "/models/base-14b"
            await until(lambda: s.inflight.total == 0, 2, "the in-flight count to drop")

    asyncio.run(go())


def test_bearer_keys_from_a_file_guard_every_endpoint_but_health(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nsk-alpha-0001\n\nsk-beta-0002\n")
    keys.chmod(0o600)
    chat = {"model": "auto", "messages": [{"role": "user", "content": "hi"}]}

    async def go() -> None:
        async with serving(tmp_path, proxy={"api_keys_file": str(keys)}, router={"reload_interval": "50ms"}) as s:
            await ready(s)
            up = proxy(s)
            status, out, hdrs = await post(up, "/v1/chat/completions", chat)
            assert status == 401 and hdrs[b"www-authenticate"] == b"Bearer" and "Bearer" in out["error"]["message"]
            assert (await post(up, "/v1/chat/completions", chat, {"Authorization": "Bearer sk-wrong"}))[0] == 401
            assert (await post(up, "/v1/chat/completions", chat, {"Authorization": "Bearer sk-beta-0002"}))[0] == 200
            resp = await up.stream("GET", "/v1/models", headers=[("Authorization", "Bearer nope")])
            assert resp.status == 401
            await resp.read()
            assert (await up.request("GET", "/health")).status == 200
            assert sample_metric(s, "aitherd_router_errors_total",
                                 {"route": "none", "version": "none", "kind": "unauthorized"}) == 3

            keys.write_text("sk-gamma-0003\n")  # rotated without a restart
            os.utime(keys, ns=(1, 10**18))
            # the relay process reads the file; its status reaches the daemon (the keys never do)
            await until(lambda: s.status()["auth"]["keys"] == 1, 3, "the new key file to load")
            assert (await post(up, "/v1/chat/completions", chat, {"Authorization": "Bearer sk-beta-0002"}))[0] == 401
            assert (await post(up, "/v1/chat/completions", chat, {"Authorization": "Bearer sk-gamma-0003"}))[0] == 200

            keys.unlink()  # a configured file that is gone closes the door
            await until(lambda: s.status()["auth"]["error"] is not None, 3, "the missing key file to be noticed")
            status, out, _ = await post(up, "/v1/chat/completions", chat, {"Authorization": "Bearer sk-gamma-0003"})
            assert status == 503 and "cannot read the key file" in out["error"]["message"]
            shown = json.dumps(s.status())
            assert "sk-gamma" not in shown and "sk-alpha" not in shown and str(keys) in shown

    asyncio.run(go())


def test_without_a_key_file_no_key_is_needed(tmp_path):
    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            status, _, _ = await post(proxy(s), "/v1/chat/completions",
                                      {"model": "auto", "messages": [{"role": "user", "content": "hi"}]})
            assert status == 200 and s.status()["auth"] == {"enabled": False}

    asyncio.run(go())


def test_the_endpoint_sends_small_writes_at_once_nagle_off(tmp_path):
    """Headers and the first SSE chunk are two small writes: with Nagle on, the second waits for
    the client's delayed ACK (40 ms on Linux) on every stream. The relay's own server, in this
    process, so the accepted socket can be looked at."""
    import socket

    from aitherd.serve.h1 import ServerConn
    from aitherd.serve.metrics import RelayMetrics
    from aitherd.serve.relay import Relay, bind

    async def go() -> None:
        ServerConn.connections = set()
        try:
            relay = Relay(RelayMetrics(), lambda _m: None)
            sock = bind("127.0.0.1", 0)
            server = await asyncio.get_running_loop().create_server(lambda: ServerConn(relay.handle), sock=sock)
            _reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
            await until(lambda: ServerConn.connections, 3, "the connection to be accepted")
            conn = next(iter(ServerConn.connections))
            accepted = conn.transport.get_extra_info("socket")
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            writer.close()
            server.close()
        finally:
            ServerConn.connections = None

    asyncio.run(go())


def test_a_route_with_nothing_live_and_no_fallback_goes_to_the_orchestrator(tmp_path):
    async def go() -> None:
        async with serving(tmp_path, proxy={"fallback_to_base": False}) as s:
            await ready(s)
            status, out, hdrs = await post(proxy(s), "/v1/chat/completions", {
                "model": "auto", "messages": [{"role": "user", "content": "Write a Python function to add two numbers."}]})
            assert status == 200 and out["model"] == "/models/base-14b"
            assert hdrs[b"x-aitherd-route"].startswith(b"coder;") and hdrs[b"x-aitherd-route"].endswith(
                b"; coder has no live adapter")
            assert (await post(proxy(s), "/v1/chat/completions", {
                "model": "coder", "messages": [{"role": "user", "content": "hi"}]}))[0] == 404

    asyncio.run(go())


def test_a_relay_process_that_dies_is_restarted_on_its_port_and_its_counts_survive(tmp_path):
    import signal

    async def go() -> None:
        async with serving(tmp_path) as s:
            await ready(s)
            up = proxy(s)
            chat = {"model": "orchestrator", "messages": [{"role": "user", "content": "hi"}]}
            assert (await post(up, "/v1/chat/completions", chat))[0] == 200
            port, pid = s.proxy.port, s.proxy.pid
            assert pid is not None and pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            await until(lambda: s.proxy.pid not in (None, pid), 10, "a new relay process")
            await s.sync_relay()
            assert s.proxy.port == port and s.status()["proxy"]["relay"]["restarts"] == 1
            assert (await post(Upstream("127.0.0.1", port), "/v1/chat/completions", chat))[0] == 200
            assert sample_metric(s, "aitherd_errors_total", {"component": "serve", "reason": "relay_exit"}) == 1
            # both processes' requests are on the daemon's endpoint
            assert sample_metric(s, "aitherd_router_requests_total",
                                 {"route": "orchestrator", "version": "base", "code": "200"}) == 2

    asyncio.run(go())


def test_state_changes_reach_the_relay_before_a_drain_is_answered(tmp_path):
    """The GPU hand-off stops accepting, then asks the relay to drain: a request sent after
    the hand-off began gets 503, none slips in between."""
    async def go() -> None:
        async with serving(tmp_path, extra_args=["--standin-token-delay", "0.05"]) as s:
            await ready(s)
            up = proxy(s)
            s.accepting = False  # what GpuHandoff.acquire does first
            assert await s.inflight.drained(None, 1)  # pushes the state, then asks
            status, out, hdrs = await post(up, "/v1/chat/completions",
                                           {"model": "orchestrator", "messages": [{"role": "user", "content": "x"}]})
            assert status == 503 and "lent its GPU" in out["error"]["message"] and hdrs[b"retry-after"] == b"7"
            s.accepting = True
            await s.sync_relay()
            assert (await post(up, "/v1/chat/completions",
                               {"model": "orchestrator", "messages": [{"role": "user", "content": "x"}]}))[0] == 200

    asyncio.run(go())
