"""/v1/jobs: each job's schedule, running run and last run; run, cancel, pause and resume one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.api.common import ApiError, control, in_thread, iso, json_object, known_job
from aitherd.api.control import Control
from aitherd.api.runs import run_dict
from aitherd.api.snapshot import StoreView
from aitherd.jobs import JOBS

# The jobs that only ever run after another one (benchmark after train, deploy after benchmark).
CHAINED = frozenset(nxt for spec in JOBS.values() for nxt in spec.then)


def job_dict(d: Control, name: str, view: StoreView) -> dict[str, Any]:
    spec = JOBS[name]
    running = d.running()
    active = running.get(name)
    timing = view.timings[name]
    last = view.last_runs.get(name)
    return {
        "name": name, "description": spec.description, "scheduled": spec.scheduled,
        "chained": name in CHAINED,
        "schedule": timing.schedule, "enabled": timing.enabled, "paused": timing.paused,
        "next_run": iso(timing.next_run),
        "then": list(spec.then),
        "running": ({"run_id": active.run_id, "trigger": active.trigger,
                     "progress": active.progress} if active else None),
        "last_run": run_dict(last, running) if last is not None else None,
    }


async def store_view(request: Request) -> StoreView:
    view: StoreView = await request.app.state.snapshot.get(control(request).generation)
    return view


async def list_jobs(request: Request) -> JSONResponse:
    view = await store_view(request)
    d = control(request)
    return JSONResponse({"jobs": [job_dict(d, name, view) for name in JOBS]})


async def one_job(request: Request) -> JSONResponse:
    name = known_job(request)
    return JSONResponse(job_dict(control(request), name, await store_view(request)))


async def run_job(request: Request) -> JSONResponse:
    name = known_job(request)
    body = await json_object(request, allowed=("args",))
    args = body.get("args") or {}
    if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
        raise ApiError(400, 'args must be a JSON object like {"args": {"specialist": "coder"}}')
    outcome = await control(request).start_job(name, args)
    if not outcome.started:
        raise ApiError(409, f"{name} was not started: {outcome.reason}", run_id=outcome.run_id)
    return JSONResponse({"job": name, "run_id": outcome.run_id}, status_code=202)


async def cancel_job(request: Request) -> JSONResponse:
    name = known_job(request)
    run_id = control(request).cancel_job(name)
    if run_id is None:
        raise ApiError(409, f"{name} is not running")
    return JSONResponse({"job": name, "run_id": run_id, "cancelling": True}, status_code=202)


async def _pause(request: Request, pause: bool) -> JSONResponse:
    name = known_job(request)
    d = control(request)
    if not JOBS[name].scheduled or not await in_thread(request, d.pause_job, name, pause):
        kind = "chained" if name in CHAINED else "disabled" if JOBS[name].scheduled else "run by hand only"
        raise ApiError(409, f"{name} has no schedule to pause or resume ({kind})")
    timing = (await in_thread(request, d.job_timings))[name]
    return JSONResponse({"job": name, "paused": timing.paused, "next_run": iso(timing.next_run)})


async def pause_job(request: Request) -> JSONResponse:
    return await _pause(request, True)


async def resume_job(request: Request) -> JSONResponse:
    return await _pause(request, False)


routes = [
    Route("/jobs", list_jobs),
    Route("/jobs/{name}", one_job),
    Route("/jobs/{name}/run", run_job, methods=["POST"]),
    Route("/jobs/{name}/cancel", cancel_job, methods=["POST"]),
    Route("/jobs/{name}/pause", pause_job, methods=["POST"]),
    Route("/jobs/{name}/resume", resume_job, methods=["POST"]),
]
