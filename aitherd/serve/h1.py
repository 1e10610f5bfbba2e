"""HTTP/1.1 on raw asyncio Protocols with httptools (the C parser uvicorn uses), for the relay.

`ServerConn`: one accepted client connection; it parses requests (keep-alive, pipelined ones
answered in order) and hands each complete `Request` to a handler, which answers through the
connection's write helpers (`respond`, or `start_stream` / `chunk` / `end_stream` for chunked
bodies). `Pool`: keep-alive connections to one upstream; `Pool.send` writes a request on an idle
connection and feeds the response to a `Sink` from the parser's callbacks: no task and no copy
per chunk, so a relay can write each upstream chunk to its client in the callback that read it.
Back-pressure: a client that reads slowly pauses reading from its upstream (`on_pause`).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httptools

MAX_BODY = 32 * 1024 * 1024
# uvicorn (vLLM's server) closes idle keep-alive connections after 5 s: reuse well before that.
IDLE_REUSE = 3.0
_REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found",
            405: b"Method Not Allowed", 413: b"Payload Too Large", 500: b"Internal Server Error",
            502: b"Bad Gateway", 503: b"Service Unavailable", 504: b"Gateway Timeout"}


def nodelay(transport: asyncio.BaseTransport) -> None:
    """Nagle off: a stream's header and first chunk are two small writes; with Nagle on, the
    second waits for the peer's delayed ACK (40 ms on Linux)."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def head(status: int, headers: list[tuple[bytes, bytes]], *, length: int | None = None,
         keep_alive: bool = True) -> bytes:
    """A response head; without `length` the body is chunked."""
    out = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Status"))]
    for k, v in headers:
        out.append(k + b": " + v + b"\r\n")
    out.append(b"content-length: %d\r\n" % length if length is not None else b"transfer-encoding: chunked\r\n")
    if not keep_alive:
        out.append(b"connection: close\r\n")
    out.append(b"\r\n")
    return b"".join(out)


@dataclass(slots=True)
class Request:
    method: bytes
    path: str
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    keep_alive: bool


Handler = Callable[["ServerConn", Request], None]


class ServerConn(asyncio.Protocol):
    """One client connection. The handler answers each request exactly once, then calls nothing
    more; `on_lost` (set by the handler while it answers) runs if the client goes first."""

    connections: set[ServerConn] | None = None  # tests: the open connections, when set

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.keep_alive = True
        self.head_only = False  # a HEAD request: the head, no body
        self.queue: deque[Request] = deque()
        self.on_lost: Callable[[], None] | None = None
        self.on_pause: Callable[[bool], None] | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0

    # -- asyncio.Protocol --------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        nodelay(transport)
        if ServerConn.connections is not None:
            ServerConn.connections.add(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, b"upgrades are not supported")
        except httptools.HttpParserError:
            self._fail(400, b"malformed HTTP request")

    def connection_lost(self, exc: Exception | None) -> None:
        if ServerConn.connections is not None:
            ServerConn.connections.discard(self)
        self.transport = None
        self.queue.clear()
        lost, self.on_lost = self.on_lost, None
        if lost is not None:
            lost()

    def pause_writing(self) -> None:
        if self.on_pause is not None:
            self.on_pause(True)

    def resume_writing(self) -> None:
        if self.on_pause is not None:
            self.on_pause(False)

    # -- httptools callbacks -----------------------------------------------------------------------
    def on_message_begin(self) -> None:
        self._url, self._headers, self._body, self._size = b"", {}, [], 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        if self._headers.get("expect", "").lower() == "100-continue" and self.transport is not None:
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            raise httptools.HttpParserError("body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        path = self._url.split(b"?", 1)[0].decode("latin-1")
        req = Request(self.parser.get_method(), path, self._headers, b"".join(self._body),
                      self.parser.should_keep_alive())
        if self.busy:
            self.queue.append(req)
            if self.transport is not None:
                self.transport.pause_reading()
        else:
            self._dispatch(req)

    # -- answering ---------------------------------------------------------------------------------
    def _dispatch(self, req: Request) -> None:
        self.busy = True
        self.keep_alive = req.keep_alive
        self.head_only = req.method == b"HEAD"
        try:
            self.handler(self, req)
        except Exception:  # a handler bug must not leave the client hanging
            if self.busy:
                self.respond(500, [(b"content-type", b"text/plain")], b"internal error")
            raise

    def _fail(self, status: int, message: bytes) -> None:
        if self.transport is not None and not self.busy:
            self.transport.write(head(status, [(b"content-type", b"text/plain")], length=len(message),
                                      keep_alive=False) + message)
        if self.transport is not None:
            self.transport.close()

    def _next(self) -> None:
        self.busy = False
        self.on_lost = self.on_pause = None
        t = self.transport
        if t is None:
            return
        if not self.keep_alive:
            t.close()
        elif self.queue:
            self._dispatch(self.queue.popleft())
            if not self.queue and self.transport is not None and not self.busy:
                self.transport.resume_reading()

    def respond(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self.transport is not None:
            self.transport.write(head(status, headers, length=len(body), keep_alive=self.keep_alive)
                                 + (b"" if self.head_only else body))
        self._next()

    def start_stream(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self.transport is not None:
            self.transport.write(head(status, headers, keep_alive=self.keep_alive))

    def chunk(self, data: bytes) -> None:
        if data and self.transport is not None:
            self.transport.write(b"%x\r\n%b\r\n" % (len(data), data))

    def end_stream(self, last: bytes = b"") -> None:
        if self.transport is not None:
            self.transport.write((b"%x\r\n%b\r\n" % (len(last), last) if last else b"") + b"0\r\n\r\n")
        self._next()


# -- the client side ----------------------------------------------------------------------------------
class Sink(Protocol):
    """Where a response goes, called from the connection's parser callbacks."""

    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...

    def body(self, data: bytes) -> None: ...

    def done(self) -> None: ...

    def failed(self, why: str, before_head: bool, reused: bool) -> None: ...


class UpConn(asyncio.Protocol):
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.sink: Sink | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.got_head = False
        self.uses = 0
        self.idle_since = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        nodelay(transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as err:
            self._broke(f"malformed response: {err}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._broke(f"the connection broke: {exc}" if exc else "the server closed the connection")

    def _broke(self, why: str) -> None:
        sink, self.sink = self.sink, None
        if self.transport is not None:
            self.transport.abort()
        if sink is not None:
            sink.failed(why, not self.got_head, self.uses > 1)

    def on_message_begin(self) -> None:
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.got_head = True
        if self.sink is not None:
            self.sink.head(self.parser.get_status_code(), self.headers)

    def on_body(self, body: bytes) -> None:
        if self.sink is not None:
            self.sink.body(body)

    def on_message_complete(self) -> None:
        sink, self.sink = self.sink, None
        keep = self.parser.should_keep_alive()
        if keep:
            self.pool.release(self)
        elif self.transport is not None:
            self.transport.close()
        if sink is not None:
            sink.done()

    def send(self, data: bytes, sink: Sink) -> None:
        assert self.transport is not None
        self.sink, self.got_head = sink, False
        self.uses += 1
        self.transport.write(data)

    def abort(self) -> None:
        """Drop the request in progress (the client left): the upstream sees the close."""
        self.sink = None
        if self.transport is not None:
            self.transport.abort()

    def pause(self, paused: bool) -> None:
        if self.transport is not None:
            (self.transport.pause_reading if paused else self.transport.resume_reading)()


@dataclass
class Pool:
    """Keep-alive connections to one `host:port`."""

    host: str
    port: int
    max_idle: int = 256
    idle: list[UpConn] = field(default_factory=list)

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    def take(self) -> UpConn | None:
        """An idle connection that is still open, or None (then `connect`)."""
        now = time.monotonic()
        while self.idle:
            conn = self.idle.pop()
            if conn.transport is not None and not conn.transport.is_closing() and now - conn.idle_since < IDLE_REUSE:
                return conn
            if conn.transport is not None:
                conn.transport.close()
        return None

    async def connect(self) -> UpConn:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(lambda: UpConn(self), self.host, self.port)
        return conn

    def release(self, conn: UpConn) -> None:
        conn.idle_since = time.monotonic()
        if len(self.idle) < self.max_idle:
            self.idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def close(self) -> None:
        for conn in self.idle:
            if conn.transport is not None:
                conn.transport.close()
        self.idle.clear()

    def request_bytes(self, method: bytes, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
        out = [b"%s %s HTTP/1.1\r\nhost: %s\r\ncontent-length: %d\r\n"
               % (method, path.encode("latin-1"), self.authority.encode(), len(body))]
        for k, v in headers:
            out.append(k + b": " + v + b"\r\n")
        out.append(b"\r\n")
        out.append(body)
        return b"".join(out)


class Collect:
    """A Sink that gathers a whole response into a future: (status, headers, body, first-chunk
    time); for the bench's load generator and small calls."""

    def __init__(self, fut: asyncio.Future[Any]) -> None:
        self.fut = fut
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.parts: list[bytes] = []
        self.first: float | None = None

    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status, self.headers = status, headers

    def body(self, data: bytes) -> None:
        if self.first is None:
            self.first = time.perf_counter()
        self.parts.append(data)

    def done(self) -> None:
        if not self.fut.done():
            self.fut.set_result((self.status, self.headers, b"".join(self.parts), self.first))

    def failed(self, why: str, before_head: bool, reused: bool) -> None:
        if not self.fut.done():
            self.fut.set_exception(ConnectionError(why))


Fetched = tuple[int, list[tuple[bytes, bytes]], bytes, float | None]


async def fetch(pool: Pool, method: bytes, path: str, body: bytes = b"",
                headers: list[tuple[bytes, bytes]] | None = None) -> Fetched:
    """One request on a pooled connection; a reused connection found closed is retried once."""
    for attempt in (0, 1):
        conn = pool.take() or await pool.connect()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        conn.send(pool.request_bytes(method, path, headers or [], body), Collect(fut))
        try:
            return await fut
        except ConnectionError:
            if attempt or conn.uses == 1:
                raise
    raise AssertionError("unreachable")
