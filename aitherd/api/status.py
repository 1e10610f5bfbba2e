"""The daemon as a whole: /v1/health, /v1/status, /v1/reload and /v1/scheduler/{pause,resume}."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aitherd import __version__
from aitherd.api.common import ApiError, control, iso
from aitherd.api.control import Control
from aitherd.api.fastpath import StatusCache, health_answer
from aitherd.api.jobs import job_dict
from aitherd.api.snapshot import StoreSnapshot, StoreView
from aitherd.jobs import JOBS
from aitherd.store import SCHEMA_VERSION


async def health(request: Request) -> Response:
    status, body = health_answer(control(request))  # the fast path gives the same answer
    return Response(body, status_code=status, media_type="application/json")


async def status(request: Request) -> Response:
    state = request.app.state
    body = await status_body(control(request), state.snapshot, state.status_cache)
    return Response(body, media_type="application/json")


async def status_body(d: Control, snapshot: StoreSnapshot, cache: StatusCache) -> bytes:
    """The /v1/status body: the cached one while fresh, else rendered now (and cached)."""
    generation, started = d.generation, cache.clock()  # before any await: a newer render wins
    body = cache.fresh(generation)
    if body is None:
        view = await snapshot.get(generation)  # read off the loop, shared by concurrent requests
        body = render_status(d, view)
        cache.store(generation, body, started)
    return body


def render_status(d: Control, view: StoreView) -> bytes:
    """The /v1/status body, as JSON bytes."""
    sched = d.scheduler_state()
    return bytes(JSONResponse({
        "version": __version__, "pid": os.getpid(), "uptime_s": round(d.uptime, 3),
        "started_at": iso(datetime.fromtimestamp(d.started_at, UTC)),
        "config": str(d.loaded.source) if d.loaded.source else None,
        "state_dir": str(d.loaded.paths.state_dir), "socket": str(d.socket_path),
        "schema_version": SCHEMA_VERSION, "metrics": d.metrics_address,
        "scheduler": {"running": sched.running, "paused": sched.paused, "timezone": sched.timezone},
        "jobs": [job_dict(d, name, view) for name in JOBS],
        "counts": {"examples": view.examples, "runs": view.runs},
        "watchers": d.watcher_states(),
        "reloads": d.reloads, "last_reload_error": d.last_reload_error,
    }).body)


async def reload(request: Request) -> JSONResponse:
    result = await control(request).reload()
    if not result["ok"]:
        raise ApiError(400, result["error"], ok=False)
    return JSONResponse(result)


async def pause_scheduler(request: Request) -> JSONResponse:
    await control(request).set_paused(True)
    return JSONResponse({"paused": True})


async def resume_scheduler(request: Request) -> JSONResponse:
    await control(request).set_paused(False)
    return JSONResponse({"paused": False})


routes = [
    Route("/health", health),
    Route("/status", status),
    Route("/reload", reload, methods=["POST"]),
    Route("/scheduler/pause", pause_scheduler, methods=["POST"]),
    Route("/scheduler/resume", resume_scheduler, methods=["POST"]),
]
