"""The daemon as a whole: /v1/health, /v1/status, /v1/reload and /v1/scheduler/{pause,resume}."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aitherd import __version__
from aitherd.api.common import ApiError, control, iso
from aitherd.api.jobs import job_dict, store_view
from aitherd.api.snapshot import StoreView
from aitherd.jobs import JOBS
from aitherd.store import SCHEMA_VERSION

# A rendered /v1/status is served again for this long while its store view is current (a run
# starting or finishing makes a new view): hundreds of clients asking at once cost one render.
STATUS_BODY_TTL = 0.5


async def health(request: Request) -> JSONResponse:
    ok = control(request).scheduler_state().running
    return JSONResponse({"status": "ok" if ok else "degraded"}, status_code=200 if ok else 503)


async def status(request: Request) -> Response:
    view = await store_view(request)  # read off the loop, shared by concurrent requests
    state = request.app.state
    cached: tuple[StoreView, float, bytes] | None = getattr(state, "status_body", None)
    if cached is not None and cached[0] is view and time.monotonic() - cached[1] < STATUS_BODY_TTL:
        return Response(cached[2], media_type="application/json")
    response = render_status(request, view)
    state.status_body = (view, time.monotonic(), response.body)
    return response


def render_status(request: Request, view: StoreView) -> JSONResponse:
    d = control(request)
    sched = d.scheduler_state()
    return JSONResponse({
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
    })


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
