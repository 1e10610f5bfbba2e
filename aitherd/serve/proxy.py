"""The OpenAI-compatible endpoint users call: `model: coder` reaches the version that is live now.

vLLM has no aliases, so this small proxy in the daemon maps an alias to the versioned name
(`coder` -> `coder@v0003`) on each request and relays vLLM's answer; server-sent events pass
through chunk by chunk as they arrive. While vLLM is starting, down, asleep or lent to training,
a request gets 503 with Retry-After and a message that says why, at once, never a hang. Each
request is counted in flight under the name it was sent to, so a deploy can unload the old
version once its requests are done. The name mapping is a `Backend` method: the
effort router (`router`) decides there which alias answers `model: "auto"`, from the request's
body and headers, and says why in the response header `X-Aitherd-Route`; the relay stays one.
With `[serve.proxy] api_keys_file` set, every request but /health needs a bearer key (`auth`).
Each request is counted and timed, to its last byte, by route and adapter version
(`aitherd_router_*`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aitherd.logs import get_logger
from aitherd.serve.auth import Denied
from aitherd.serve.effort import BadRequest
from aitherd.serve.metrics import ServeMetrics
from aitherd.serve.router import RouteRequest
from aitherd.serve.upstream import Upstream, UpstreamError

log = get_logger("aitherd.serve.proxy")

_RELAYED = {b"content-type", b"cache-control"}
_VERSIONED = re.compile(r"^[a-z_]+@(v\d+)$")


@dataclass(frozen=True)
class Target:
    name: str  # the model name vLLM knows (a versioned adapter, or the base)
    label: str  # for metrics: the alias asked for, or "other"
    route: str | None = None  # the X-Aitherd-Route header: which route and why
    base: bool = False  # the name is the base model

    @property
    def version(self) -> str:
        """A bounded metrics label: the adapter version, `base`, or `other`."""
        if self.base:
            return "base"
        m = _VERSIONED.match(self.name)
        return m.group(1) if m else "other"


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

    def authorize(self, headers: Mapping[str, str]) -> Denied | None: ...

    def resolve(self, model: str | None, request: RouteRequest) -> Target | None:
        """The served name for a requested model; None: no such model (404). Raises
        effort.BadRequest for a request the router cannot read (400)."""
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


class _Handlers:
    """The endpoint's handlers over one backend, in-flight count and metrics registry."""

    def __init__(self, backend: Backend, inflight: InFlight, metrics: ServeMetrics) -> None:
        self.backend = backend
        self.inflight = inflight
        self.metrics = metrics

    def down(self, u: Unavailable) -> JSONResponse:
        return openai_error(503, u.message, "ServiceUnavailableError", retry_after=u.retry_after)

    def refused(self, denied: Denied) -> JSONResponse:
        self.metrics.errors.labels(route="none", version="none", kind="unauthorized").inc()
        self.metrics.requests.labels(route="none", version="none", code=str(denied.status)).inc()
        resp = openai_error(denied.status, denied.message,
                            "invalid_request_error" if denied.status == 401 else "ServiceUnavailableError")
        if denied.status == 401:
            resp.headers["WWW-Authenticate"] = "Bearer"
        return resp

    def account(self, target: Target | None, code: int, t0: float, kind: str | None = None) -> None:
        route, version = (target.label, target.version) if target is not None else ("none", "none")
        self.metrics.requests.labels(route=route, version=version, code=str(code)).inc()
        self.metrics.request_seconds.labels(route=route, version=version).observe(time.perf_counter() - t0)
        if kind is None and code >= 500:
            kind = "upstream_status"
        if kind is not None:
            self.metrics.errors.labels(route=route, version=version, kind=kind).inc()

    async def relay(self, request: Request) -> Response:
        t0 = time.perf_counter()
        denied = self.backend.authorize(request.headers)
        if denied is not None:
            return self.refused(denied)
        raw = await request.body()
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self.account(None, 400, t0, "bad_request")
            return openai_error(400, "the request body must be a JSON object", "BadRequestError")
        requested = body.get("model")
        try:
            target = self.backend.resolve(requested if isinstance(requested, str) else None,
                                     RouteRequest(request.url.path, body, request.headers))
        except BadRequest as err:
            self.account(None, 400, t0, "bad_request")
            return openai_error(400, str(err), "BadRequestError", param=err.param)
        if target is None:
            self.metrics.proxy_requests.labels(alias="other", code="404").inc()
            self.account(None, 404, t0)
            return openai_error(404, f"The model `{requested}` does not exist.", "NotFoundError",
                                param="model")
        extra = [(b"x-aitherd-model", target.name.encode())]
        if target.route is not None:
            extra.append((b"x-aitherd-route", target.route.encode("latin-1", "replace")))
        upstream = self.backend.upstream()
        gone = self.backend.unavailable()
        if gone is not None or upstream is None:
            self.metrics.proxy_requests.labels(alias=target.label, code="503").inc()
            self.account(target, 503, t0, "unavailable")
            return _with(self.down(gone or Unavailable("the model server is not running", 30)), extra)
        if body.get("model") != target.name:
            body["model"] = target.name
            raw = json.dumps(body).encode()
        self.inflight.enter(target.name)
        status = 0

        def finish(kind: str | None = None) -> None:
            self.inflight.leave(target.name)
            self.account(target, status, t0, kind)

        done = _Once(finish)
        try:
            stream = await upstream.stream(
                "POST", request.url.path, raw, headers=[("Content-Type", "application/json")],
                timeout=self.backend.request_timeout)
        except UpstreamError as err:
            status = 503
            done("upstream")
            self.metrics.proxy_requests.labels(alias=target.label, code="503").inc()
            gone = self.backend.unavailable()
            return _with(self.down(gone or Unavailable(f"the model server did not answer: {err}", 5)), extra)
        except BaseException:
            done("upstream")
            raise
        status = stream.status
        self.metrics.proxy_requests.labels(alias=target.label, code=str(stream.status)).inc()
        headers = [(k, v) for k, v in stream.headers if k.lower() in _RELAYED]
        headers.extend(extra)
        if (stream.header(b"content-type") or b"").startswith(b"text/event-stream"):
            return _Relay(stream.status, headers, stream.chunks(), done)  # type: ignore[return-value]
        try:
            data = await stream.read()
        except UpstreamError as err:
            status = 502
            done("upstream")
            return openai_error(502, f"the model server broke off its answer: {err}", "BadGatewayError")
        finally:
            done()
        return Response(data, status_code=stream.status, headers={
            k.decode("latin-1"): v.decode("latin-1") for k, v in headers})

    async def models(self, request: Request) -> Response:
        denied = self.backend.authorize(request.headers)
        if denied is not None:
            return self.refused(denied)
        upstream, gone = self.backend.upstream(), self.backend.unavailable()
        if gone is not None or upstream is None:
            return self.down(gone or Unavailable("the model server is not running", 30))
        try:
            resp = await upstream.request("GET", "/v1/models", timeout=10)
            data = resp.json()
        except (UpstreamError, ValueError) as err:
            return openai_error(502, f"the model server did not list its models: {err}",
                                "BadGatewayError")
        data["data"] = [*self.backend.alias_cards(), *data.get("data", [])]
        return JSONResponse(data)

    async def health(self, _: Request) -> Response:
        gone = self.backend.unavailable()
        if gone is not None:
            return JSONResponse({"status": "unavailable", "reason": gone.message}, status_code=503,
                                headers={"Retry-After": str(gone.retry_after)})
        return JSONResponse({"status": "ok"})


def build_proxy(backend: Backend, inflight: InFlight, metrics: ServeMetrics) -> Starlette:
    h = _Handlers(backend, inflight, metrics)

    async def not_found(request: Request, _exc: Exception) -> Response:
        return openai_error(404, f"no such endpoint: {request.method} {request.url.path}",
                            "NotFoundError")

    routes = [Route("/v1/chat/completions", h.relay, methods=["POST"]),
              Route("/v1/completions", h.relay, methods=["POST"]),
              Route("/v1/models", h.models), Route("/health", h.health)]
    return Starlette(routes=routes, exception_handlers={404: not_found})


def _with(resp: Response, headers: list[tuple[bytes, bytes]]) -> Response:
    for k, v in headers:
        resp.headers[k.decode()] = v.decode("latin-1")
    return resp


class _Once:
    def __init__(self, fn: Callable[..., None]) -> None:
        self._fn: Callable[..., None] | None = fn

    def __call__(self, *args: object) -> None:
        fn, self._fn = self._fn, None
        if fn is not None:
            fn(*args)


class _Relay:
    """An ASGI response that relays upstream chunks as they come, stops reading upstream when
    the client leaves, and always runs `done` (the in-flight count, the metrics) exactly once:
    with "upstream" when the model server broke off."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]],
                 chunks: AsyncIterator[bytes], done: Callable[..., None]) -> None:
        self.status = status
        self.headers = headers
        self.chunks = chunks
        self.done = done
        self.broke = False

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
            self.done("upstream" if self.broke else None)

    async def _pump(self, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except UpstreamError as err:
            self.broke = True
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
        # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # accepted sockets inherit it; without it Nagle holds each stream's first chunk back
        # until the client's delayed ACK (40 ms on Linux).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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
