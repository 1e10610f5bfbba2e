"""Assembling the API: the resource routes under /v1, error handlers, middleware, the protocol."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount

from aitherd.api import corpus, exports, jobs, runs, status
from aitherd.api.common import ApiError, control
from aitherd.api.control import Control
from aitherd.api.fastpath import FastPath, StatusCache
from aitherd.api.middleware import Admission, CountRequests, LimitBody
from aitherd.api.server import Limits, protocol_class
from aitherd.api.snapshot import StoreSnapshot, read_view
from aitherd.evaluate.routes import routes as evaluate_routes  # evaluate
from aitherd.serve.routes import routes as serve_routes
from aitherd.star.routes import routes as star_routes  # star

HEALTH_PATH = "/v1/health"


@dataclass
class Api:
    app: Any  # the ASGI application uvicorn serves
    http: type[asyncio.Protocol]  # the HTTP protocol class for uvicorn.Config(http=...)
    close: Callable[[], None]


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        body = {"error": exc.detail, **exc.extra}
    elif exc.status_code == 404:
        body = {"error": f"no such endpoint: {request.method} {request.url.path}"}
    elif exc.status_code == 405:
        body = {"error": f"{request.method} is not allowed on {request.url.path}"}
    else:
        body = {"error": exc.detail}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def server_error(request: Request, exc: Exception) -> JSONResponse:
    control(request).metrics.errors.labels(component="api", reason=type(exc).__name__).inc()
    return JSONResponse({"error": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)


def build_app(d: Control, limits: Limits | None = None, fast_path: bool = True) -> Api:
    """The app and its protocol; `fast_path=False` sends every request through the ASGI stack."""
    limits = limits or Limits()
    v1 = [*status.routes, *jobs.routes, *runs.routes, *exports.routes, *corpus.routes,
          *serve_routes,  # /v1/serve..., /v1/adapters... (aitherd/serve/routes.py)
          *star_routes,  # star: /v1/star, the learning curve (aitherd/star/routes.py)
          Mount("/bench", routes=evaluate_routes)]  # evaluate: /v1/bench/... (aitherd/evaluate/routes.py)
    app = Starlette(routes=[Mount("/v1", routes=v1)],
                    exception_handlers={HTTPException: http_error, Exception: server_error})
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="api-store")
    snapshot = StoreSnapshot(lambda: read_view(d.engine, d.job_timings))
    app.state.control = d
    app.state.executor = executor
    app.state.snapshot = snapshot
    app.state.status_cache = cache = StatusCache()

    counters: dict[tuple[str, str], Any] = {}

    def count(method: str, code: str) -> None:
        counter = counters.get((method, code))
        if counter is None:
            counter = counters[(method, code)] = d.metrics.api_requests.labels(method=method, code=code)
        counter.inc()

    def refused(reason: str) -> None:
        d.metrics.errors.labels(component="api", reason=reason).inc()

    guarded = CountRequests(LimitBody(Admission(app, limits.concurrent_requests, frozenset({HEALTH_PATH})),
                                      limits.max_body), count)

    def close() -> None:
        snapshot.close()
        executor.shutdown(wait=False, cancel_futures=True)

    fast = FastPath(d, cache, count, lambda: status.status_body(d, snapshot, cache)) if fast_path else None
    return Api(app=guarded, http=protocol_class(limits, refused, fast), close=close)
