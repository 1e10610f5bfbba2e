"""ASGI middleware around the API: count requests, cap bodies, and admit a few requests at a time.

Order, outside in: `CountRequests` -> `LimitBody` -> `Admission` -> the router. A body is read
(and capped) before admission, so a client trickling its body holds no handler slot; `Admission`
lets `concurrent` requests run and queues the rest in arrival order, which bounds the work per
event-loop turn, so /v1/health (exempt) answers in milliseconds while hundreds of clients hammer
/v1/status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
ASGIApp = Callable[..., Any]

# Request bodies held in memory at once, over all connections; past it, 503.
BODY_BUDGET = 32 << 20


async def send_error(send: Callable[..., Any], status: int, message: str, *, close: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class CountRequests:
    """Counts requests by method and status code (`aitherd_api_requests_total`)."""

    def __init__(self, app: ASGIApp, count: Callable[[str, str], None]) -> None:
        self.app = app
        self.count = count

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = ["500"]

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                code[0] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.count(scope["method"], code[0])


class LimitBody:
    """Refuses a body over `max_bytes` with 413 (by Content-Length before reading any of it, or
    as it streams in), then hands the app the whole body at once."""

    def __init__(self, app: ASGIApp, max_bytes: int, budget: int = BODY_BUDGET) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.budget = budget
        self.held = 0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length_header = headers.get(b"content-length")
        if length_header is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                await send_error(send, 400, "Content-Length is not a number", close=True)
                return
            if length > self.max_bytes:
                await send_error(send, 413, f"request body of {length} bytes is over the "
                                 f"{self.max_bytes}-byte limit", close=True)
                return
        chunks: list[bytes] = []
        try:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    await send_error(send, 413, f"request body is over the {self.max_bytes}-byte limit",
                                     close=True)
                    return
                if self.held + len(chunk) > self.budget:
                    await send_error(send, 503, "too many request bodies in flight; retry shortly",
                                     close=True)
                    return
                self.held += len(chunk)
                chunks.append(chunk)
                if not message.get("more_body"):
                    break
            body = b"".join(chunks)
            delivered = False

            async def replay() -> dict[str, Any]:
                nonlocal delivered
                if not delivered:
                    delivered = True
                    return {"type": "http.request", "body": body, "more_body": False}
                return dict(await receive())

            await self.app(scope, replay, send)
        finally:  # the budget covers a body from its first byte until its request is answered
            self.held -= sum(len(c) for c in chunks)


class Admission:
    """At most `concurrent` requests in the app at once; the rest wait their turn in order.

    Paths in `exempt` (the health check) skip the queue: they are cheap and must stay fast.
    """

    def __init__(self, app: ASGIApp, concurrent: int, exempt: frozenset[str]) -> None:
        self.app = app
        self.exempt = exempt
        self.slots = asyncio.Semaphore(concurrent)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self.app(scope, receive, send)
