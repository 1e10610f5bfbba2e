"""The OpenAI-compatible endpoint users call, in a process of its own: `model: coder` reaches the
live coder adapter, `model: auto` the route the effort router picks.

The daemon starts and supervises it (`relay_host`) as `python -m aitherd.serve.relay`, so requests
never share the daemon's event loop (its control API keeps its own latency under router load).
They speak JSON lines. Daemon -> relay on stdin: `start` (once: where to listen, log settings, the
first state), `state` (the alias table, the model server's address and why it is unavailable if
it is, the router settings, the key file; acknowledged by `ack` with its `gen`), `drain` (answered
by `drained` once no request is in flight for a name, or any). Relay -> daemon on stdout:
`listening` (the port) or `error`, `report` (requests in flight per served name, on change),
`status` (the router's and the key file's state, on change). EOF on stdin ends it; so does the
daemon's death (PR_SET_PDEATHSIG). Its metrics are prometheus_client multiprocess files that
the daemon's endpoint reads (`metrics.RelayCollector`).

Per request (raw asyncio Protocols and httptools, `h1`; uvloop where installed): the bearer key
(`auth`), the body's `model` mapped to the served name (an alias to its live version; `auto` to
the route `router` decides, said in `X-Aitherd-Route`), then the request is written on a
keep-alive connection to vLLM and the answer relayed: server-sent events chunk by chunk as they
arrive, from the callback that read them; a client that leaves closes the upstream request;
vLLM away -> 503 with Retry-After at once, never a hang. Each request is counted and timed to its
last byte by route and adapter version (`aitherd_router_*`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitherd.logs import configure_logging, get_logger
from aitherd.serve.auth import Denied, KeyFile
from aitherd.serve.config import ALIASES, RouterSection
from aitherd.serve.effort import BadRequest
from aitherd.serve.h1 import Pool, Request, ServerConn, UpConn, fetch
from aitherd.serve.metrics import RelayMetrics
from aitherd.serve.router import Router, RouteRequest

log = get_logger("aitherd.serve.relay")

_RELAYED = {b"content-type", b"cache-control"}
_VERSIONED = re.compile(r"^[a-z_]+@(v\d+)$")
_JSON = (b"content-type", b"application/json")
REPORT_EVERY = 0.05
STATUS_EVERY = 0.25


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
class State:
    """What the daemon tells the relay; see `relay_host.RelayHost.snapshot`."""

    gen: int
    upstream: tuple[str, int] | None
    unavailable: tuple[str, int] | None  # (message, retry_after)
    served: dict[str, str | None]
    base: str
    router: RouterSection
    api_keys_file: str
    request_timeout: float
    cards: list[dict[str, Any]]
    state_dir: Path

    @classmethod
    def of(cls, m: dict[str, Any]) -> State:
        up, gone = m.get("upstream"), m.get("unavailable")
        return cls(int(m["gen"]), (up[0], int(up[1])) if up else None,
                   (gone["message"], int(gone["retry_after"])) if gone else None,
                   dict(m["served"]), m["base"], RouterSection.model_validate(m["router"]),
                   m.get("api_keys_file", ""), float(m["request_timeout"]), list(m.get("cards", [])),
                   Path(m["state_dir"]))


def error_body(status: int, message: str, kind: str, param: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "param": param, "code": status}}).encode()


class Relay:
    def __init__(self, metrics: RelayMetrics, send: Callable[[dict[str, Any]], None]) -> None:
        self.metrics = metrics
        self.send = send
        self.state: State | None = None
        self.router: Router | None = None
        self.keys = KeyFile("")
        self.pool: Pool | None = None
        self.by_name: dict[str, int] = {}
        self.total = 0
        self.changed = True

    # -- the daemon's messages -------------------------------------------------------------------
    def apply(self, m: dict[str, Any]) -> None:
        st, old = State.of(m), self.state
        self.state = st
        if old is None or old.upstream != st.upstream:
            if self.pool is not None:
                self.pool.close()
            self.pool = Pool(*st.upstream) if st.upstream else None
        if old is None or old.api_keys_file != st.api_keys_file:
            self.keys = KeyFile(st.api_keys_file)
        if self.router is None:
            self.router = Router(lambda: self.state.router, st.state_dir, self.metrics)  # type: ignore[union-attr]
            self.router.start(also=lambda: self.keys.refresh())
        elif old is not None and old.router != st.router:
            asyncio.get_running_loop().create_task(self.router.refresh())
        self.send({"type": "ack", "gen": st.gen})

    async def drain(self, m: dict[str, Any]) -> None:
        name, deadline = m.get("name"), time.monotonic() + float(m.get("timeout", 0))
        while (self.by_name.get(name, 0) if name is not None else self.total) > 0:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.01)
        left = self.by_name.get(name, 0) if name is not None else self.total
        self.send({"type": "drained", "id": m["id"], "ok": left == 0, "left": left})

    def enter(self, name: str) -> None:
        self.by_name[name] = self.by_name.get(name, 0) + 1
        self.total += 1
        self.changed = True

    def leave(self, name: str) -> None:
        n = self.by_name.get(name, 0) - 1
        if n > 0:
            self.by_name[name] = n
        else:
            self.by_name.pop(name, None)
        self.total = max(self.total - 1, 0)
        self.changed = True

    def describe(self) -> dict[str, Any]:
        return {"router": self.router.describe() if self.router is not None else None,
                "auth": self.keys.describe()}

    # -- requests ----------------------------------------------------------------------------------
    def handle(self, conn: ServerConn, req: Request) -> None:
        path = req.path
        if path == "/v1/chat/completions" or path == "/v1/completions":
            if req.method != b"POST":
                return self.error(conn, 405, f"{req.method.decode()} is not allowed on {path}", "MethodNotAllowed")
            return self.relay(conn, req)
        if path == "/v1/models" and req.method in (b"GET", b"HEAD"):
            asyncio.get_running_loop().create_task(self.models(conn, req))
            return None
        if path == "/health" and req.method in (b"GET", b"HEAD"):
            return self.health(conn)
        return self.error(conn, 404, f"no such endpoint: {req.method.decode()} {path}", "NotFoundError")

    def error(self, conn: ServerConn, status: int, message: str, kind: str, *, retry_after: int | None = None,
              param: str | None = None, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        headers = [_JSON, *(extra or [])]
        if retry_after is not None:
            headers.append((b"retry-after", str(retry_after).encode()))
        conn.respond(status, headers, error_body(status, message, kind, param))

    def down(self, conn: ServerConn, gone: tuple[str, int], extra: list[tuple[bytes, bytes]] | None = None) -> None:
        self.error(conn, 503, gone[0], "ServiceUnavailableError", retry_after=gone[1], extra=extra)

    def refused(self, conn: ServerConn, denied: Denied) -> None:
        self.metrics.errors.labels(route="none", version="none", kind="unauthorized").inc()
        self.metrics.requests.labels(route="none", version="none", code=str(denied.status)).inc()
        extra = [(b"www-authenticate", b"Bearer")] if denied.status == 401 else []
        self.error(conn, denied.status, denied.message,
                   "invalid_request_error" if denied.status == 401 else "ServiceUnavailableError", extra=extra)

    def account(self, target: Target | None, code: int, t0: float, kind: str | None = None) -> None:
        route, version = (target.label, target.version) if target is not None else ("none", "none")
        self.metrics.done(route, version, code, time.perf_counter() - t0, kind)

    def gone(self) -> tuple[str, int] | None:
        st = self.state
        if st is None:
            return ("the model server is not running", 30)
        if st.unavailable is not None:
            return st.unavailable
        if self.pool is None:
            return ("the model server is not running", 30)
        return None

    def resolve(self, model: str | None, request: RouteRequest) -> Target | None:
        """The served name for a requested model; None: no such model (404). Raises
        effort.BadRequest for a request the router cannot read (400)."""
        st = self.state
        assert st is not None
        if self.router is not None and st.router.enabled and model == st.router.name:
            decision = self.router.decide(request)
            route, why = decision.route, decision.header()
            name = st.served.get(route)
            if name is None:  # nothing live and no fallback to the base: the orchestrator answers
                route, why = "orchestrator", f"{why}; {route} has no live adapter"
                name = st.served.get("orchestrator") or st.base
            return Target(name, route, why, base=name == st.base)
        if model is None or model == st.base:
            return Target(st.base, "other", "other; by=model", base=True)
        if model in ALIASES:
            served = st.served.get(model)
            if served is None:
                return None
            return Target(served, model, f"{model}; by=model", base=served == st.base)
        return Target(model, "other", "other; by=model")

    def relay(self, conn: ServerConn, req: Request) -> None:
        t0 = time.perf_counter()
        if self.state is None:
            return self.down(conn, ("the relay has no configuration yet", 1))
        denied = self.keys.check(req.headers)
        if denied is not None:
            return self.refused(conn, denied)
        try:
            body = json.loads(req.body)
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            self.account(None, 400, t0, "bad_request")
            return self.error(conn, 400, "the request body must be a JSON object", "BadRequestError")
        requested = body.get("model")
        try:
            target = self.resolve(requested if isinstance(requested, str) else None,
                                  RouteRequest(req.path, body, req.headers))
        except BadRequest as err:
            self.account(None, 400, t0, "bad_request")
            return self.error(conn, 400, str(err), "BadRequestError", param=err.param)
        if target is None:
            self.metrics.proxy_requests.labels(alias="other", code="404").inc()
            self.account(None, 404, t0)
            return self.error(conn, 404, f"The model `{requested}` does not exist.", "NotFoundError",
                              param="model")
        extra = [(b"x-aitherd-model", target.name.encode())]
        if target.route is not None:
            extra.append((b"x-aitherd-route", target.route.encode("latin-1", "replace")))
        gone = self.gone()
        if gone is not None:
            self.metrics.proxy_requests.labels(alias=target.label, code="503").inc()
            self.account(target, 503, t0, "unavailable")
            return self.down(conn, gone, extra)
        raw = req.body
        if requested != target.name:
            body["model"] = target.name
            raw = json.dumps(body).encode()
        assert self.pool is not None
        data = self.pool.request_bytes(b"POST", req.path, [_JSON], raw)
        Exchange(self, self.pool, conn, target, t0, data, extra).start()
        return None

    async def models(self, conn: ServerConn, req: Request) -> None:
        denied = self.keys.check(req.headers)
        if denied is not None:
            return self.refused(conn, denied)
        gone, pool = self.gone(), self.pool
        if gone is not None or pool is None:
            return self.down(conn, gone or ("the model server is not running", 30))
        try:
            async with asyncio.timeout(10):
                status, _, body, _ = await fetch(pool, b"GET", "/v1/models")
            if status != 200:
                raise ValueError(f"status {status}")
            data = json.loads(body)
            data["data"] = [*(self.state.cards if self.state else []), *data.get("data", [])]
        except (OSError, TimeoutError, ValueError, AttributeError, TypeError) as err:
            return self.error(conn, 502, f"the model server did not list its models: {err or 'timeout'}",
                              "BadGatewayError")
        return conn.respond(200, [_JSON], json.dumps(data).encode())

    def health(self, conn: ServerConn) -> None:
        gone = self.gone() if self.state is not None else ("the relay has no configuration yet", 1)
        if gone is not None:
            conn.respond(503, [_JSON, (b"retry-after", str(gone[1]).encode())],
                         json.dumps({"status": "unavailable", "reason": gone[0]}).encode())
        else:
            conn.respond(200, [_JSON], b'{"status":"ok"}')


class Exchange:
    """One relayed request: a `Sink` for the upstream answer, written to the client as it comes.
    Accounting (in-flight, metrics) runs exactly once, before the last byte goes to the client."""

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


# -- the process ------------------------------------------------------------------------------------
def bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Lines(asyncio.Protocol):
    def __init__(self, on_line: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self.buf = b""
        self.on_line, self.on_eof = on_line, on_eof

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                self.on_line(line)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_eof()


async def serve(start: dict[str, Any], stdin: Any, stdout: Any) -> int:
    loop = asyncio.get_running_loop()
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, stdout)

    def send(msg: dict[str, Any]) -> None:
        if not out.is_closing():
            out.write(json.dumps(msg).encode() + b"\n")

    relay = Relay(RelayMetrics(), send)
    relay.apply(start["state"])
    try:
        sock = bind(start["address"], int(start["port"]))
    except OSError as err:
        send({"type": "error", "message": f"cannot listen on {start['address']}:{start['port']}: "
                                          f"{err.strerror or err}"})
        return 2
    server = await loop.create_server(lambda: ServerConn(relay.handle), sock=sock, backlog=2048)
    stop = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    def on_line(line: bytes) -> None:
        try:
            m = json.loads(line)
            kind = m.get("type")
            if kind == "state":
                relay.apply(m)
            elif kind == "drain":
                task = loop.create_task(relay.drain(m))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif kind == "stop":
                stop.set()
        except Exception as err:  # a bad message must not end the relay
            log.error("relay_bad_message", error=str(err))

    await loop.connect_read_pipe(lambda: _Lines(on_line, stop.set), stdin)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    send({"type": "listening", "port": int(sock.getsockname()[1]), "pid": os.getpid(),
          "loop": type(loop).__module__.split(".")[0]})
    log.info("relay_listening", address=start["address"], port=int(sock.getsockname()[1]))

    async def reports() -> None:
        seen = ""
        ticks = 0
        while True:
            await asyncio.sleep(REPORT_EVERY)
            ticks += 1
            if relay.changed:
                relay.changed = False
                send({"type": "report", "in_flight": relay.by_name, "total": relay.total})
            if ticks % round(STATUS_EVERY / REPORT_EVERY) == 1:
                status = json.dumps(relay.describe())
                if status != seen:
                    seen = status
                    out.write(b'{"type": "status", "status": ' + status.encode() + b"}\n")

    reporter = loop.create_task(reports())
    await stop.wait()
    server.close()
    deadline = time.monotonic() + float(start.get("grace", 5))
    while relay.total and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    reporter.cancel()
    if relay.router is not None:
        await relay.router.stop()
    with contextlib.suppress(Exception):
        out.close()
    return 0


def main() -> int:
    from aitherd.children import die_with_parent

    die_with_parent(int(os.environ.get("AITHERD_PARENT_PID", "0")) or None)
    stdin = os.fdopen(0, "rb", buffering=0)
    first = b""
    while not first.endswith(b"\n"):  # one line, read without buffering past it
        c = stdin.read(1)
        if not c:
            return 1
        first += c
    start = json.loads(first)
    configure_logging(start.get("log_level", "info"), start.get("log_format", "auto"), sys.stderr)
    stdout = os.fdopen(1, "wb", buffering=0)
    if start.get("uvloop", True):
        try:
            import uvloop

            return uvloop.run(serve(start, stdin, stdout))
        except ImportError:
            pass
    return asyncio.run(serve(start, stdin, stdout))


if __name__ == "__main__":
    sys.exit(main())
