"""The OpenAI-compatible endpoint users call: `model: coder` reaches the version that is live now.

vLLM has no aliases, so this small proxy in the daemon maps an alias to the versioned name
(`coder` -> `coder@v0003`) on each request and relays vLLM's answer; server-sent events pass
through chunk by chunk as they arrive. While vLLM is starting, down, asleep or lent to training,
a request gets 503 with Retry-After and a message that says why, at once, never a hang. Each
request is counted in flight under the name it was sent to, so a deploy can unload the old
version once its requests are done. The name mapping is a `Backend` method, so a router (effort,
task type) can replace it without touching the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aitherd.logs import get_logger
from aitherd.serve.metrics import ServeMetrics
from aitherd.serve.upstream import Upstream, UpstreamError

log = get_logger("aitherd.serve.proxy")

_RELAYED = {b"content-type", b"cache-control"}


@dataclass(frozen=True)
class Target:
    name: str  # the model name vLLM knows (a versioned adapter, or the base)
    label: str  # for metrics: the alias asked for, or "other"


@dataclass(frozen=True)
class Unavailable:
    message: str
    retry_after: int


class Backend(Protocol):
    """What the proxy needs from the serving service."""

    @property
    def request_timeout(self) -> float: ...

    def unavailable(self) -> Unavailable | None: ...

    def upstream(self) -> Upstream | None: ...

    def resolve(self, model: str | None) -> Target | None:
        """The served name for a requested model; None: no such model (404)."""
        ...

    def alias_cards(self) -> list[dict[str, Any]]: ...


class InFlight:
    """Requests in progress per served name."""

    def __init__(self, metrics: ServeMetrics | None = None) -> None:
        self.by_name: dict[str, int] = {}
        self.total = 0
        self._metrics = metrics

    def enter(self, name: str) -> None:
        self.by_name[name] = self.by_name.get(name, 0) + 1
        self.total += 1
        if self._metrics:
            self._metrics.in_flight.set(self.total)

    def leave(self, name: str) -> None:
        n = self.by_name.get(name, 0) - 1
        if n > 0:
            self.by_name[name] = n
        else:
            self.by_name.pop(name, None)
        self.total = max(self.total - 1, 0)
        if self._metrics:
            self._metrics.in_flight.set(self.total)

    async def drained(self, name: str | None, timeout: float) -> bool:
        """Wait until no request is in flight for `name` (None: for any name)."""
        deadline = time.monotonic() + timeout
        while (self.by_name.get(name, 0) if name is not None else self.total) > 0:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True


def openai_error(status: int, message: str, kind: str, *, retry_after: int | None = None,
                 param: str | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": status}},
                        status_code=status, headers=headers)


def build_proxy(backend: Backend, inflight: InFlight, metrics: ServeMetrics) -> Starlette:
    def down(u: Unavailable) -> JSONResponse:
        return openai_error(503, u.message, "ServiceUnavailableError", retry_after=u.retry_after)

    async def relay(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return openai_error(400, "the request body must be a JSON object", "BadRequestError")
        requested = body.get("model")
        target = backend.resolve(requested if isinstance(requested, str) else None)
        if target is None:
            metrics.proxy_requests.labels(alias="other", code="404").inc()
            return openai_error(404, f"The model `{requested}` does not exist.", "NotFoundError",
                                param="model")
        upstream = backend.upstream()
        gone = backend.unavailable()
        if gone is not None or upstream is None:
            metrics.proxy_requests.labels(alias=target.label, code="503").inc()
            return down(gone or Unavailable("the model server is not running", 30))
        if body.get("model") != target.name:
            body["model"] = target.name
            raw = json.dumps(body).encode()
        inflight.enter(target.name)
        done = _Once(lambda: inflight.leave(target.name))
        try:
            stream = await upstream.stream(
                "POST", request.url.path, raw, headers=[("Content-Type", "application/json")],
                timeout=backend.request_timeout)
        except UpstreamError as err:
            done()
            metrics.proxy_requests.labels(alias=target.label, code="503").inc()
            gone = backend.unavailable()
            return down(gone or Unavailable(f"the model server did not answer: {err}", 5))
        except BaseException:
            done()
            raise
        metrics.proxy_requests.labels(alias=target.label, code=str(stream.status)).inc()
        headers = [(k, v) for k, v in stream.headers if k.lower() in _RELAYED]
        headers.append((b"x-aitherd-model", target.name.encode()))
        if (stream.header(b"content-type") or b"").startswith(b"text/event-stream"):
            return _Relay(stream.status, headers, stream.chunks(), done)  # type: ignore[return-value]
        try:
            data = await stream.read()
        except UpstreamError as err:
            return openai_error(502, f"the model server broke off its answer: {err}", "BadGatewayError")
        finally:
            done()
        return Response(data, status_code=stream.status, headers={
            k.decode("latin-1"): v.decode("latin-1") for k, v in headers})

    async def models(_: Request) -> Response:
        upstream, gone = backend.upstream(), backend.unavailable()
        if gone is not None or upstream is None:
            return down(gone or Unavailable("the model server is not running", 30))
        try:
            resp = await upstream.request("GET", "/v1/models", timeout=10)
            data = resp.json()
        except (UpstreamError, ValueError) as err:
            return openai_error(502, f"the model server did not list its models: {err}",
                                "BadGatewayError")
        data["data"] = [*backend.alias_cards(), *data.get("data", [])]
        return JSONResponse(data)

    async def health(_: Request) -> Response:
        gone = backend.unavailable()
        if gone is not None:
            return JSONResponse({"status": "unavailable", "reason": gone.message}, status_code=503,
                                headers={"Retry-After": str(gone.retry_after)})
        return JSONResponse({"status": "ok"})

    async def not_found(request: Request, _exc: Exception) -> Response:
        return openai_error(404, f"no such endpoint: {request.method} {request.url.path}",
                            "NotFoundError")

    routes = [Route("/v1/chat/completions", relay, methods=["POST"]),
              Route("/v1/completions", relay, methods=["POST"]),
              Route("/v1/models", models), Route("/health", health)]
    return Starlette(routes=routes, exception_handlers={404: not_found})


class _Once:
    def __init__(self, fn: Callable[[], None]) -> None:
        self._fn: Callable[[], None] | None = fn

    def __call__(self) -> None:
        fn, self._fn = self._fn, None
        if fn is not None:
            fn()


class _Relay:
    """An ASGI response that relays upstream chunks as they come, stops reading upstream when
    the client leaves, and always runs `done` (the in-flight count) exactly once."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]],
                 chunks: AsyncIterator[bytes], done: Callable[[], None]) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks
        self.done = done

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        listen = asyncio.ensure_future(self._listen(receive))
        try:
            await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (pump, listen):
                task.cancel()
            with contextlib.suppress(BaseException):
                await pump
            with contextlib.suppress(BaseException):
                await self.chunks.aclose()  # type: ignore[attr-defined]
            self.done()

    async def _pump(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as err:
            event = {"error": {"message": f"the model server broke off: {err}",
                               "type": "BadGatewayError", "code": 502}}
            await send({"type": "http.response.body", "more_body": True,
                        "body": f"data: {json.dumps(event)}\n\n".encode()})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _listen(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


class ProxyServer:
    """The proxy on a TCP address of its own (loopback by default)."""

    def __init__(self, app: Any, address: str, port: int) -> None:
        self.app = app
        self.address = address
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> int:
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.address, self.port))
        except OSError:
            sock.close()
            raise
        sock.listen(512)
        sock.setblocking(False)
        self._sock = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(self.app, log_config=None, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=5)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise OSError("the serving proxy stopped during start")
            await asyncio.sleep(0.005)
        log.info("proxy_listening", address=self.address, port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._task, timeout=10)
        if self._sock is not None:
            self._sock.close()
        self._server = self._task = self._sock = None
