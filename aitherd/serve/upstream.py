"""A small asyncio HTTP/1.1 client for the vLLM child on loopback (h11, already under uvicorn).

`Upstream.request` returns a whole response; `Upstream.stream` hands the body over chunk by chunk
as it arrives (server-sent events pass through unbuffered). Connections are kept alive and
reused; one reused connection that the server closed while idle is retried once on a fresh one,
and only when nothing of the response had arrived. Every call has a deadline: nothing hangs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import h11

from aitherd.errors import ServiceError

_READ = 65536
# uvicorn (vLLM's server) closes idle keep-alive connections after 5 s: reuse well before that.
_IDLE_REUSE = 2.0


class UpstreamError(ServiceError):
    """The server could not be reached or did not answer in time."""


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(our_role=h11.CLIENT)
        self.idle_since = time.monotonic()
        self.reused = False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await self.reader.read(_READ)
            self.h11.receive_data(data)


class Stream:
    """A response whose body is read chunk by chunk; close() it (or read it to the end)."""

    def __init__(self, pool: Upstream, conn: _Conn, status: int,
                 headers: list[tuple[bytes, bytes]], deadline: float) -> None:
        self._pool = pool
        self._conn: _Conn | None = conn
        self.status = status
        self.headers = headers
        self._deadline = deadline

    def header(self, name: bytes) -> bytes | None:
        return next((v for k, v in self.headers if k.lower() == name), None)

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        try:
            while True:
                left = self._deadline - time.monotonic()
                if left <= 0:
                    raise UpstreamError("the response did not finish within the request timeout")
                try:
                    async with asyncio.timeout(left):  # no task per chunk, unlike wait_for
                        event = await conn.next_event()
                except TimeoutError:
                    raise UpstreamError("the response did not finish within the request "
                                        "timeout") from None
                except (OSError, h11.RemoteProtocolError) as err:
                    raise UpstreamError(f"the connection broke mid-response: {err}") from None
                if isinstance(event, h11.Data):
                    yield bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self._conn = None
                    self._pool._release(conn)
                    return
                elif isinstance(event, h11.ConnectionClosed):
                    raise UpstreamError("the server closed the connection mid-response")
        finally:
            self.close()

    async def read(self) -> bytes:
        return b"".join([c async for c in self.chunks()])

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class Upstream:
    def __init__(self, host: str, port: int, *, pool_size: int = 64) -> None:
        self.host = host
        self.port = port
        self._idle: list[_Conn] = []
        self._pool_size = pool_size

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"

    async def _connect(self, timeout: float) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if time.monotonic() - conn.idle_since < _IDLE_REUSE and not conn.reader.at_eof():
                conn.reused = True
                return conn
            conn.close()
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port, limit=1 << 20), timeout)
        except TimeoutError:
            raise UpstreamError(f"no connection to {self.authority} within {timeout:g}s") from None
        except OSError as err:
            raise UpstreamError(f"cannot connect to {self.authority}: "
                                f"{err.strerror or err}") from None
        return _Conn(reader, writer)

    def _release(self, conn: _Conn) -> None:
        h = conn.h11
        if h.our_state is h11.DONE and h.their_state is h11.DONE and len(self._idle) < self._pool_size:
            h.start_next_cycle()
            conn.idle_since = time.monotonic()
            conn.reused = False
            self._idle.append(conn)
        else:
            conn.close()

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()

    async def stream(self, method: str, path: str, body: bytes = b"", *,
                     headers: list[tuple[str, str]] | None = None,
                     timeout: float = 30.0) -> Stream:
        """Send a request and return once the status line and headers are in."""
        deadline = time.monotonic() + timeout
        for attempt in (0, 1):
            conn = await self._connect(max(0.01, deadline - time.monotonic()))
            try:
                async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
                    return await self._send(conn, method, path, body, headers or [], deadline)
            except _StaleConnection:
                conn.close()
                if attempt:
                    raise UpstreamError(f"{self.authority} closed the connection") from None
            except TimeoutError:
                conn.close()
                raise UpstreamError(f"{method} {path}: no answer from {self.authority} "
                                    f"within {timeout:g}s") from None
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    async def _send(self, conn: _Conn, method: str, path: str, body: bytes,
                    headers: list[tuple[str, str]], deadline: float) -> Stream:
        hdrs = [("Host", self.authority), ("Content-Length", str(len(body))), *headers]
        try:
            data = conn.h11.send(h11.Request(method=method, target=path, headers=hdrs))
            if body:
                data += conn.h11.send(h11.Data(data=body))
            data += conn.h11.send(h11.EndOfMessage())
            conn.writer.write(data)
            await conn.writer.drain()
            event = await conn.next_event()
        except (OSError, h11.RemoteProtocolError) as err:
            if conn.reused:
                raise _StaleConnection from None
            raise UpstreamError(f"{method} {path} to {self.authority} failed: {err}") from None
        if isinstance(event, h11.ConnectionClosed):
            if conn.reused:
                raise _StaleConnection
            raise UpstreamError(f"{self.authority} closed the connection without an answer")
        if not isinstance(event, h11.Response):
            raise UpstreamError(f"unexpected answer from {self.authority}: {event!r}")
        return Stream(self, conn, event.status_code, list(event.headers), deadline)

    async def request(self, method: str, path: str, payload: Any = None, *,
                      timeout: float = 30.0) -> Response:
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = [("Content-Type", "application/json")] if payload is not None else []
        deadline = time.monotonic() + timeout
        stream = await self.stream(method, path, body, headers=headers, timeout=timeout)
        stream._deadline = deadline
        return Response(stream.status, stream.headers, await stream.read())


class _StaleConnection(Exception):
    pass
