"""Control API routes for evaluation, mounted in one line: `Mount("/v1/bench", routes=routes)`.

  GET /v1/bench/{specialist}/{version}   results per suite, the recorded verdict, the verdict now
  GET /v1/bench/compare/{a}/{b}          a, b: SPECIALIST@VERSION (or @base); ?flips=N
Running a benchmark is the `benchmark` job (POST /v1/jobs/benchmark/run with args). Handlers reach
the daemon through `request.app.state.control` (its `engine` and `loaded` config) and read the
store in a thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.evaluate.config import evaluate_config_of
from aitherd.evaluate.report import ReportError, adapter_report, compare


def _control(request: Request) -> Any:
    return request.app.state.control


async def _answer(fn: Any, *args: Any, **kwargs: Any) -> JSONResponse:
    try:
        return JSONResponse(await asyncio.to_thread(fn, *args, **kwargs))
    except ReportError as err:
        return JSONResponse({"error": str(err)}, status_code=err.http_status)


async def bench_report(request: Request) -> JSONResponse:
    d = _control(request)
    specialist, version = request.path_params["specialist"], request.path_params["version"]
    if specialist not in ("coder", "reasoner"):
        return JSONResponse({"error": f"no specialist {specialist!r}; expected coder or reasoner"}, status_code=404)
    return await _answer(adapter_report, d.engine, specialist, version, evaluate_config_of(d.loaded.config))


async def bench_compare(request: Request) -> JSONResponse:
    try:
        flips = int(request.query_params.get("flips", "50"))
    except ValueError:
        return JSONResponse({"error": "flips must be a whole number"}, status_code=400)
    return await _answer(compare, _control(request).engine, request.path_params["a"], request.path_params["b"],
                         max_flips=max(0, flips))


routes = [
    Route("/compare/{a}/{b}", bench_compare),
    Route("/{specialist}/{version}", bench_report),
]
