"""/v1/runs: the run history, newest first, and one run with live progress while it runs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.api.common import ApiError, control, in_thread, iso, query_choice, query_int, query_limit
from aitherd.api.control import RunningJob
from aitherd.jobs import JOBS
from aitherd.store import Run
from aitherd.store import queries as q

RUN_STATUSES = ("running", "ok", "skipped", "failed", "interrupted")
MAX_RUN_ID = 2**63 - 1


def run_dict(row: Run, running: Mapping[str, RunningJob]) -> dict[str, Any]:
    """A run as the API shows it; a run in progress carries its live progress and elapsed time."""
    out = {
        "id": row.id, "job": row.job, "trigger": row.trigger, "status": row.status,
        "started_at": iso(row.started_at), "ended_at": iso(row.ended_at),
        "duration_s": row.duration_s, "counts": row.counts, "outputs": row.outputs or {}, "message": row.message,
        "error": row.error, "progress": row.progress, "parent_run_id": row.parent_run_id,
    }
    active = running.get(row.job)
    if row.status == "running" and active is not None and active.run_id == row.id:
        out["progress"] = active.progress
        out["elapsed_s"] = round(time.monotonic() - active.started, 3)
    return out


async def list_runs(request: Request) -> JSONResponse:
    limit = query_limit(request, 20, 1000)
    before = query_int(request, "before", None, lo=0, hi=MAX_RUN_ID)
    job = query_choice(request, "job", tuple(JOBS))
    status = query_choice(request, "status", RUN_STATUSES)
    d = control(request)
    rows = await in_thread(request, lambda: q.list_runs(d.engine, limit=limit, job=job, status=status,
                                                        before=before))
    running = d.running()
    return JSONResponse({"runs": [run_dict(r, running) for r in rows]})


async def one_run(request: Request) -> JSONResponse:
    raw = request.path_params["run_id"]
    try:
        run_id = int(raw)
    except ValueError:
        raise ApiError(400, f"run id must be an integer, got {raw!r}") from None
    if not 0 <= run_id <= MAX_RUN_ID:
        raise ApiError(404, f"no run {run_id}")
    d = control(request)
    row = await in_thread(request, q.get_run, d.engine, run_id)
    if row is None:
        raise ApiError(404, f"no run {run_id}")
    return JSONResponse(run_dict(row, d.running()))


routes = [
    Route("/runs", list_runs),
    Route("/runs/{run_id}", one_run),
]
