"""Control API routes for serving, mounted under /v1 (paths here are relative to it).

GET  /serve                         status: vLLM state, aliases, loaded names, GPU lease
POST /serve/start|stop|restart      operate the vLLM child
GET  /serve/logs?lines=N            the tail of vLLM's log file
GET  /adapters                      every adapter version with state, scores, live and loaded
POST /adapters/{specialist}/deploy  {"version": "v0003"}: load, verify, flip, unload the old
POST /adapters/{specialist}/rollback
POST /serve/gpu/acquire             {"run_id", "pid", "purpose"}: the train worker borrows the GPU
POST /serve/gpu/release             {"run_id"}: and hands it back

Handlers reach the daemon through `request.app.state.control` (its `serving` attribute).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.serve.adapters import ServeError
from aitherd.serve.service import Serving


def serving(request: Request) -> Serving:
    state = request.app.state
    found = getattr(state, "serving", None) or getattr(getattr(state, "control", None), "serving", None)
    if found is None:
        raise ServeError(503, "this daemon has no serving component")
    return found  # type: ignore[no-any-return]


def _handler(fn: Callable[[Request], Awaitable[Any]]) -> Callable[[Request], Awaitable[JSONResponse]]:
    async def wrapped(request: Request) -> JSONResponse:
        try:
            result = await fn(request)
        except ServeError as err:
            return JSONResponse({"error": str(err), **err.extra}, status_code=err.http_status)
        return result if isinstance(result, JSONResponse) else JSONResponse(result)

    return wrapped


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ServeError(400, "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ServeError(400, "the body must be a JSON object")
    return data


@_handler
async def status(request: Request) -> Any:
    return serving(request).status()


@_handler
async def start(request: Request) -> Any:
    return await serving(request).server_start()


@_handler
async def stop(request: Request) -> Any:
    return await serving(request).server_stop()


@_handler
async def restart(request: Request) -> Any:
    return await serving(request).server_restart()


@_handler
async def logs(request: Request) -> Any:
    try:
        lines = min(max(int(request.query_params.get("lines", "50")), 1), 5000)
    except ValueError:
        raise ServeError(400, "lines must be an integer") from None
    return await asyncio.to_thread(serving(request).log_tail, lines)


@_handler
async def adapters(request: Request) -> Any:
    return {"adapters": await asyncio.to_thread(serving(request).adapter_rows)}


@_handler
async def deploy(request: Request) -> Any:
    body = await _body(request)
    version = body.get("version")
    if not isinstance(version, str) or not version:
        raise ServeError(400, 'body must be like {"version": "v0003"}')
    force = body.get("force") is True  # evaluate: past the deploy gate, on purpose
    return await serving(request).deploy(request.path_params["specialist"], version, force=force)


@_handler
async def rollback(request: Request) -> Any:
    return await serving(request).rollback(request.path_params["specialist"])


def _int_or_none(value: Any, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ServeError(400, f"{name} must be an integer")
    return value


@_handler
async def gpu_acquire(request: Request) -> Any:
    body = await _body(request)
    s = serving(request)
    if s.supervisor is None:
        return {"note": "serving is disabled: nothing to free"}
    note = await s.gpu.acquire(_int_or_none(body.get("run_id"), "run_id"),
                               _int_or_none(body.get("pid"), "pid"),
                               str(body.get("purpose") or "training"))
    return {"note": note}


@_handler
async def gpu_release(request: Request) -> Any:
    body = await _body(request)
    s = serving(request)
    if s.supervisor is None:
        return {"note": "serving is disabled: nothing to hand back"}
    return {"note": await s.gpu.release(_int_or_none(body.get("run_id"), "run_id"))}


routes = [
    Route("/serve", status),
    Route("/serve/start", start, methods=["POST"]),
    Route("/serve/stop", stop, methods=["POST"]),
    Route("/serve/restart", restart, methods=["POST"]),
    Route("/serve/logs", logs),
    Route("/serve/gpu/acquire", gpu_acquire, methods=["POST"]),
    Route("/serve/gpu/release", gpu_release, methods=["POST"]),
    Route("/adapters", adapters),
    Route("/adapters/{specialist}/deploy", deploy, methods=["POST"]),
    Route("/adapters/{specialist}/rollback", rollback, methods=["POST"]),
]
