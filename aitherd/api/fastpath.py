"""The control socket's fast path: `GET /v1/health` and a fresh `GET /v1/status`, answered in the
protocol's own data callback, without the ASGI stack.

Why: under a flood of `/v1/status` clients the event loop's turns grow with the requests in
flight, and each one through h11, uvicorn's request cycle, five middleware layers and starlette's
router cost about 190 us of CPU; a health probe waited behind hundreds of them. Here a plain,
complete `GET` of one of the two paths (HTTP/1.1, a Host header, no body, no query, nothing
pipelined behind it) is answered with one write, about 20 us of CPU in all.

- `/v1/health` is computed on every request from state the daemon keeps in memory (the
  scheduler's running flag): the same answer as the ASGI route, which calls `health_answer` too.
- `/v1/status` is served from `StatusCache`, the body rendered last (here or by the ASGI route),
  while it is fresh: at most `STATUS_BODY_TTL` old and rendered at the daemon's current
  `generation` (which moves when a run starts or ends, on reload, pause and schedule changes).
  Otherwise one render is started and every request that finds the cache stale waits for it.

Anything else, or anything unusual about the request, goes the normal way: the fast path only
ever declines. `AITHERD_API_FAST_PATH=0` turns it off (the old path, for comparisons).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aitherd.api.control import Control

# A rendered /v1/status is served again for this long while the daemon's generation is unchanged
# (a run starting or finishing, a reload or a schedule change makes a new one at once).
STATUS_BODY_TTL = 0.5
# Fast /v1/status answers per event-loop turn (the rest wait for a later turn, in order).
ANSWERS_PER_TURN = 16

HEALTH = b"/v1/health"

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST = re.compile(rb"GET (/v1/health|/v1/status) HTTP/1\.1\r\n((?:" + _TOKEN
                      + rb":[ \t]*[\t\x20-\x7e\x80-\xff]*\r\n)*)\r\n")
# Headers that mean more than a plain GET: a body, an upgrade, a 100-continue.
_DECLINE = frozenset({b"content-length", b"transfer-encoding", b"upgrade", b"expect", b"te"})
_REASONS = {200: b"OK", 503: b"Service Unavailable"}


def health_answer(d: Control) -> tuple[int, bytes]:
    """/v1/health: 200 `{"status": "ok"}` while the scheduler runs, else 503 `degraded`."""
    ok = d.scheduler_state().running
    return (200, b'{"status":"ok"}') if ok else (503, b'{"status":"degraded"}')


@dataclass
class StatusCache:
    """The last rendered /v1/status body, with the generation it was rendered at."""

    ttl: float = STATUS_BODY_TTL
    clock: Callable[[], float] = time.monotonic
    body: bytes | None = None
    generation: int = -1
    at: float = 0.0

    def fresh(self, generation: int) -> bytes | None:
        if self.body is None or generation != self.generation or self.clock() - self.at >= self.ttl:
            return None
        return self.body

    def store(self, generation: int, body: bytes, rendered_at: float) -> None:
        """Keep `body`, rendered from state read at `rendered_at` (a `clock()` time) and
        `generation`; an older render never replaces a newer one."""
        if self.body is None or generation > self.generation or rendered_at >= self.at:
            self.body, self.generation, self.at = body, generation, rendered_at


def parse(data: bytes) -> tuple[bytes, bool] | None:
    """(path, close) for a request the fast path may answer; None to leave it to the normal path."""
    m = _REQUEST.fullmatch(data)
    if m is None:
        return None
    host = close = False
    for line in m.group(2).split(b"\r\n")[:-1]:
        name, _, value = line.partition(b":")
        name = name.lower()
        if name in _DECLINE:
            return None
        if name == b"host":
            host = True
        elif name == b"connection":
            token = value.strip().lower()
            if token == b"close":
                close = True
            elif token != b"keep-alive":
                return None
    return (m.group(1), close) if host else None


def frame(status: int, body: bytes, default_headers: Sequence[tuple[bytes, bytes]], close: bool) -> bytes:
    """A complete HTTP/1.1 response with a JSON body and the server's default headers."""
    head = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])]
    head += [b"%s: %s\r\n" % (k, v) for k, v in default_headers]
    head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
    if close:
        head.append(b"connection: close\r\n")
    head.append(b"\r\n")
    return b"".join(head) + body


class FastPath:
    """Answers the requests it can; counts them like the API does; answers `/v1/status` a few
    per loop turn.

    Health is answered in the data callback that read it. A status request waits in a FIFO
    (anything its client sends meanwhile is held) and `per_turn` are answered per loop turn:
    with hundreds of clients asking back to back, a turn then stays short (a few dozen reads and
    writes), so the health probe that arrives in the next one is answered within milliseconds
    instead of behind every client's request. Throughput is the same: the loop is never idle
    while requests wait.
    """

    def __init__(self, d: Control, cache: StatusCache, count: Callable[[str, str], None],
                 render: Callable[[], Awaitable[bytes]], per_turn: int = ANSWERS_PER_TURN) -> None:
        self.d = d
        self.cache = cache
        self.per_turn = per_turn
        self._count = count
        self._render = render
        self._parked: list[Callable[[bytes | None], None]] = []
        self._rendering: asyncio.Task[None] | None = None
        self._waiting: deque[Callable[[], None]] = deque()
        self._draining = False

    @staticmethod
    def request(data: bytes) -> tuple[bytes, bool] | None:
        """(path, close) when `data` is one complete request the fast path may take; else None."""
        if not data.startswith(b"GET /v1/"):  # the cheap test first: most requests stop here
            return None
        return parse(data)

    def health(self) -> tuple[int, bytes]:
        status, body = health_answer(self.d)
        self._count("GET", str(status))
        return status, body

    def status(self) -> bytes | None:
        """The cached /v1/status body while fresh; None: the ASGI route must render it."""
        body = self.cache.fresh(self.d.generation)
        if body is not None:
            self._count("GET", "200")
        return body

    def render_then(self, answer: Callable[[bytes | None], None]) -> None:
        """Render /v1/status once for every request waiting on a stale cache, then call each
        `answer` with the body (None if rendering failed: the normal path will say why)."""
        self._parked.append(answer)
        if self._rendering is None:
            self._rendering = asyncio.get_running_loop().create_task(self._render_parked())

    async def _render_parked(self) -> None:
        body: bytes | None = None
        try:
            body = await self._render()
        except Exception:  # the ASGI route, given the same request, reports it
            body = None
        finally:
            parked, self._parked, self._rendering = self._parked, [], None
            for answer in parked:
                if body is not None:
                    self._count("GET", "200")
                self.later(functools.partial(answer, body))

    def later(self, answer: Callable[[], None]) -> None:
        """Call `answer` in a coming loop turn, in arrival order, `per_turn` a turn."""
        self._waiting.append(answer)
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        try:
            for _ in range(min(self.per_turn, len(self._waiting))):
                self._waiting.popleft()()
        finally:
            if self._waiting:
                asyncio.get_running_loop().call_soon(self._drain)
            else:
                self._draining = False
