"""One relayed request: written to vLLM on a kept-alive connection, the answer written to the
client from the parser callback that read it (server-sent events chunk by chunk, never
buffered), the upstream request closed when the client leaves, a stale kept-alive connection
retried once before any answer, the request timeout enforced by a timer. In-flight count and
metrics are settled exactly once, before the last byte goes to the client.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

from aitherd.serve.h1 import Pool, ServerConn, UpConn

if TYPE_CHECKING:
    from aitherd.serve.relay_app import Relay, Target

_RELAYED = {b"content-type", b"cache-control"}


class Exchange:
    """A `Sink` for the upstream answer, written to the client as it comes."""

    __slots__ = (
        "conn",
        "data",
        "extra",
        "headers",
        "over",
        "parts",
        "pool",
        "r",
        "retried",
        "status",
        "stream",
        "t0",
        "target",
        "timer",
        "up",
    )

    def __init__(self, relay: Relay, pool: Pool, conn: ServerConn, target: Target, t0: float, data: bytes,
                 extra: list[tuple[bytes, bytes]]) -> None:
        self.r, self.pool, self.conn, self.target, self.t0 = relay, pool, conn, target, t0
        self.data, self.extra = data, extra
        self.up: UpConn | None = None
        self.status = 0
        self.stream = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.parts: list[bytes] = []
        self.over = False
        self.retried = False
        self.timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self.r.enter(self.target.name)
        self.conn.on_lost = self.client_gone
        st = self.r.state
        self.timer = asyncio.get_running_loop().call_later(st.request_timeout if st else 600.0, self.timeout)
        self.go()

    def go(self) -> None:
        up = self.pool.take()
        if up is not None:
            self.send(up)
        else:
            asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        try:
            up = await self.pool.connect()
        except OSError as err:
            if not self.over:
                self.failed(f"cannot connect to {self.pool.authority}: {err.strerror or err}", True, False)
            return
        if self.over:  # the client left or time ran out while connecting
            self.pool.release(up)
            return
        self.send(up)

    def send(self, up: UpConn) -> None:
        self.up = up
        self.conn.on_pause = up.pause
        up.send(self.data, self)

    def finish(self, kind: str | None = None) -> bool:
        if self.over:
            return False
        self.over = True
        if self.timer is not None:
            self.timer.cancel()
        self.r.leave(self.target.name)
        self.r.account(self.target, self.status, self.t0, kind)
        return True

    # -- Sink ----------------------------------------------------------------------------------------
    def head(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.status = status
        self.r.metrics.proxy_requests.labels(alias=self.target.label, code=str(status)).inc()
        hdrs = [(k, v) for k, v in headers if k in _RELAYED]
        hdrs.extend(self.extra)
        self.headers = hdrs
        ctype = next((v for k, v in headers if k == b"content-type"), b"")
        if ctype.startswith(b"text/event-stream"):
            self.stream = True
            self.conn.start_stream(status, hdrs)

    def body(self, data: bytes) -> None:
        if self.stream:
            self.conn.chunk(data)
        else:
            self.parts.append(data)

    def done(self) -> None:
        if not self.finish():
            return
        if self.stream:
            self.conn.end_stream()
        else:
            self.conn.respond(self.status, self.headers, b"".join(self.parts))

    def failed(self, why: str, before_head: bool, reused: bool) -> None:
        if self.over:
            return
        if before_head and reused and not self.retried:  # a kept-alive connection the server had closed
            self.retried = True
            self.up = None
            self.go()
            return
        if before_head:
            self.status = 503
            self.finish("upstream")
            self.r.metrics.proxy_requests.labels(alias=self.target.label, code="503").inc()
            gone = self.r.gone() or (f"the model server did not answer: {why}", 5)
            self.r.down(self.conn, gone, self.extra)
        elif self.stream:
            self.finish("upstream")
            event = {"error": {"message": f"the model server broke off: {why}", "type": "BadGatewayError",
                               "code": 502}}
            self.conn.end_stream(f"data: {json.dumps(event)}\n\n".encode())
        else:
            self.status = 502
            self.finish("upstream")
            self.r.error(self.conn, 502, f"the model server broke off its answer: {why}", "BadGatewayError")

    def client_gone(self) -> None:
        if self.up is not None:
            self.up.abort()
        self.finish()

    def timeout(self) -> None:
        self.timer = None
        if self.up is not None:
            self.up.abort()
        self.failed("the response did not finish within the request timeout", self.status == 0, False)
