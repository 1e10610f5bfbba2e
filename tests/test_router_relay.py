"""The relay's HTTP machinery (`h1`, `relay`) on real loopback sockets, in this process: pipelined
requests answered in order, HEAD without a body, a malformed request refused, an upstream that
breaks off mid-stream, and a kept-alive upstream connection the server closed while idle."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aitherd.serve.config import RouterSection
from aitherd.serve.h1 import ServerConn
from aitherd.serve.metrics import RelayMetrics
from aitherd.serve.relay import Relay, bind

CHAT = json.dumps({"model": "orchestrator", "messages": [{"role": "user", "content": "hi"}]}).encode()


def state(port: int, tmp: Path) -> dict[str, Any]:
    return {"gen": 1, "upstream": ["127.0.0.1", port], "unavailable": None,
            "served": {"coder": "base", "reasoner": "base", "orchestrator": "base"}, "base": "base",
            "router": RouterSection().model_dump(mode="json"), "api_keys_file": "", "request_timeout": 5,
            "cards": [], "state_dir": str(tmp)}


async def relay_on(tmp: Path, upstream_port: int) -> tuple[Relay, int, asyncio.AbstractServer]:
    relay = Relay(RelayMetrics(), lambda _m: None)
    relay.apply(state(upstream_port, tmp))
    sock = bind("127.0.0.1", 0)
    server = await asyncio.get_running_loop().create_server(lambda: ServerConn(relay.handle), sock=sock)
    return relay, sock.getsockname()[1], server


async def raw(port: int, data: bytes, timeout: float = 5) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    try:
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def post(path: str = "/v1/chat/completions", close: bool = False) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {len(CHAT)}\r\n"
            + ("connection: close\r\n" if close else "") + "\r\n").encode() + CHAT


def test_pipelined_requests_are_answered_in_order_and_head_gets_no_body(tmp_path):
    async def go() -> None:
        relay, port, server = await relay_on(tmp_path, 9)  # nothing listens on port 9: never used here
        relay.apply({**state(9, tmp_path), "gen": 2, "unavailable": {"message": "vLLM is starting", "retry_after": 3}})
        out = await raw(port, b"HEAD /health HTTP/1.1\r\nhost: x\r\n\r\n" + b"GET /nope HTTP/1.1\r\nhost: x\r\n\r\n"
                        + post(close=True))
        parts = out.split(b"HTTP/1.1 ")[1:]
        assert [p[:3] for p in parts] == [b"503", b"404", b"503"]
        assert parts[0].endswith(b"content-length: 55\r\n\r\n")  # the length a GET would get, no body
        assert b"no such endpoint: GET /nope" in parts[1]
        assert b"retry-after: 3" in parts[2] and b"vLLM is starting" in parts[2]
        assert b"x-aitherd-model: base" in parts[2] and b"connection: close" in parts[2]
        server.close()

    asyncio.run(go())


def test_a_malformed_request_is_refused_with_400_and_the_connection_closed(tmp_path):
    async def go() -> None:
        _relay, port, server = await relay_on(tmp_path, 9)
        out = await raw(port, b"NOT HTTP AT ALL\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 400 ") and b"connection: close" in out
        server.close()

    asyncio.run(go())


async def upstream(handler: Any) -> tuple[int, asyncio.AbstractServer]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server.sockets[0].getsockname()[1], server


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    return head + await reader.readexactly(length)


def test_an_upstream_that_breaks_off_mid_stream_ends_the_stream_with_an_error_event(tmp_path):
    async def vllm(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
                     b"e\r\ndata: {\"a\":1}\n\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()

    async def go() -> None:
        up_port, up_server = await upstream(vllm)
        relay, port, server = await relay_on(tmp_path, up_port)
        out = await raw(port, post(close=True))
        assert out.startswith(b"HTTP/1.1 200 ") and b'data: {"a":1}' in out
        assert b"the model server broke off" in out and out.endswith(b"0\r\n\r\n")
        errors = relay.metrics.errors.labels(route="orchestrator", version="base", kind="upstream")
        assert errors._value.get() == 1 and relay.total == 0
        server.close()
        up_server.close()

    asyncio.run(go())


def test_a_kept_alive_upstream_connection_closed_while_idle_is_retried_on_a_fresh_one(tmp_path):
    served: list[int] = []

    async def vllm(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        served.append(1)
        body = b'{"ok": true}'
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(body), body))
        await writer.drain()
        # keep-alive by the headers, but the next request on this connection is never answered:
        # read it, then close, as a server does that times the connection out at that moment
        with_next = await reader.read(65536)
        assert with_next
        writer.transport.abort()

    async def go() -> None:
        up_port, up_server = await upstream(vllm)
        _relay, port, server = await relay_on(tmp_path, up_port)
        first = await raw(port, post(close=True))
        second = await raw(port, post(close=True))
        assert first.startswith(b"HTTP/1.1 200 ") and second.startswith(b"HTTP/1.1 200 ")
        assert second.endswith(b'{"ok": true}') and len(served) == 2
        server.close()
        up_server.close()

    asyncio.run(go())
