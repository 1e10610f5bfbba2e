"""The control socket's HTTP protocol: uvicorn's h11 protocol with a connection cap and a deadline.

Stock uvicorn holds a connection that trickles its request forever (its keep-alive timer stops at
the first byte) and accepts connections without limit. Here a connection past `max_connections`
is answered 503 and closed at once, and a request whose headers and body have not all arrived
within `request_timeout` (counted from the connection, or from the end of the previous response)
is answered 408 and closed. A handler that is working on a complete request is never cut off.

With a `FastPath`, a connection that is between requests hands each complete chunk it receives
to it first: `GET /v1/health` and a fresh `GET /v1/status` are answered right there, in one
write; whatever it declines goes to h11 and the ASGI app as before.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from aitherd.api.fastpath import HEALTH, FastPath, frame

MAX_BODY = 1 << 20  # 1 MiB: the API's bodies are a few hundred bytes
MAX_HELD = 1 << 16  # bytes kept from a client that sends while its fast answer is pending


@dataclass(frozen=True)
class Limits:
    max_connections: int = 1024
    request_timeout: float = 10.0
    concurrent_requests: int = 4
    max_body: int = MAX_BODY


def raw_response(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 error response with a JSON body, for the transport level."""
    body = json.dumps({"error": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n").encode() + body


# Their side is still sending the request: the deadline runs.
_RECEIVING = (h11.IDLE, h11.SEND_BODY)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with the connection cap, the request deadline and the fast path;
    `protocol_class` binds it to its limits."""

    limits: ClassVar[Limits]
    fast: ClassVar[FastPath | None] = None
    refused: ClassVar[Callable[[str], None]]

    _deadline: asyncio.TimerHandle | None = None
    _queued = False  # a fast /v1/status answer is pending
    _held = b""  # what arrived while it was pending
    _answered_at = float("-inf")  # loop time of the last answer made here

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            type(self).refused("too_many_connections")
            transport.write(raw_response(
                503, "Service Unavailable",
                f"too many connections (limit {self.limits.max_connections}); retry shortly"))
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._queued:  # a client that sends before its answer came: keep it for after
            self._held += data
            if len(self._held) > MAX_HELD:
                self.flow.pause_reading()
            return
        if self.fast is not None and self._between_requests():
            request = self.fast.request(data)
            if request is not None:
                path, close = request
                if path == HEALTH:
                    self._respond(*self.fast.health(), close)
                else:
                    self._queued = True  # a complete request: no deadline or keep-alive cut
                    self.fast.later(functools.partial(self._answer_status, data, close))
                return
        self._h11_received(data)

    def _h11_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in _RECEIVING:
            self._arm()
        else:
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state in _RECEIVING:
            self._disarm()  # a new request cycle: its own deadline
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        conn = self.conn
        return (not self._queued and conn.our_state is h11.IDLE and conn.their_state is h11.IDLE
                and (self.cycle is None or self.cycle.response_complete)
                and not conn.trailing_data[0] and not self.transport.is_closing()
                and not self.transport.get_write_buffer_size())  # a reader that keeps up

    def _answer_status(self, data: bytes, close: bool) -> None:
        """Its turn has come: the cached body if fresh, else the body of the next render."""
        assert self.fast is not None
        if self.transport.is_closing():
            self._queued = False
            return
        body = self.fast.status()
        if body is None:
            self.fast.render_then(functools.partial(self._answer_rendered, data, close))
        else:
            self._finish_status(data, close, body)

    def _answer_rendered(self, data: bytes, close: bool, body: bytes | None) -> None:
        if self.transport.is_closing():
            self._queued = False
            return
        self._finish_status(data, close, body)

    def _finish_status(self, data: bytes, close: bool, body: bytes | None) -> None:
        self._queued = False
        if body is None:  # the render failed: the ASGI route takes the request and says why
            self._h11_received(data)
        else:
            self._respond(200, body, close)
        held, self._held = self._held, b""
        if held and not self.transport.is_closing():
            self.flow.resume_reading()
            self.data_received(held)

    def _respond(self, status: int, body: bytes, close: bool) -> None:
        """Write an answer made here. As after an ASGI answer, the next request's deadline and
        the keep-alive timeout count from now; the timers already armed re-arm themselves
        when they fire early (no timer work per answer)."""
        self.transport.write(frame(status, body, self.server_state.default_headers, close))
        self.server_state.total_requests += 1
        if close:
            self._disarm()
            self.transport.close()
            return
        self._answered_at = self.loop.time()
        self._arm()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive,
                                                                self.timeout_keep_alive_handler)

    def timeout_keep_alive_handler(self) -> None:
        self.timeout_keep_alive_task = None
        wait = self._answered_at + self.timeout_keep_alive - self.loop.time()
        if self._queued or wait > 0:  # answered here since it was armed, or answering now
            self.timeout_keep_alive_task = self.loop.call_later(
                max(wait, 0.0) or self.timeout_keep_alive, self.timeout_keep_alive_handler)
            return
        super().timeout_keep_alive_handler()

    def _arm(self) -> None:
        if self._deadline is None and not self.transport.is_closing():
            self._deadline = self.loop.call_later(self.limits.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        wait = self._answered_at + self.limits.request_timeout - self.loop.time()
        if self._queued or wait > 0:  # answered here since it was armed, or answering now
            if not self.transport.is_closing():
                self._deadline = self.loop.call_later(max(wait, 0.0) or self.limits.request_timeout,
                                                      self._expire)
            return
        if self.transport.is_closing() or self.conn.their_state not in _RECEIVING:
            return
        type(self).refused("request_timeout")
        self.transport.write(raw_response(
            408, "Request Timeout",
            f"the request did not arrive within {self.limits.request_timeout:g}s"))
        self.transport.close()


def protocol_class(limits: Limits, refused: Callable[[str], None],
                   fast: FastPath | None = None) -> type[asyncio.Protocol]:
    """A `GuardedH11Protocol` bound to `limits`; `refused(reason)` counts each refusal; `fast`
    answers the requests it can before h11 sees them."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"limits": limits, "refused": staticmethod(refused), "fast": fast})
