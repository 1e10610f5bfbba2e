"""What the relay process answers, request by request: the key check, the body's `model` mapped to
the served name (an alias to its live version; `auto` to the route `router` decides, said in
`X-Aitherd-Route`), 503 with Retry-After while vLLM is away, `/v1/models` with the aliases,
`/health`. The relay itself (`exchange.Exchange`) writes each request to vLLM on a kept-alive
connection and hands the answer back. `State` is what the daemon tells it (`relay_host`).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitherd.serve.auth import Denied, KeyFile
from aitherd.serve.config import ALIASES, RouterSection
from aitherd.serve.effort import BadRequest
from aitherd.serve.h1 import Pool, Request, ServerConn, fetch
from aitherd.serve.metrics import RelayMetrics
from aitherd.serve.router import Router, RouteRequest

_VERSIONED = re.compile(r"^[a-z_]+@(v\d+)$")

_JSON = (b"content-type", b"application/json")


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
        from aitherd.serve.exchange import Exchange

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
