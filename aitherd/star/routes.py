"""Control API route for STaR, added under /v1 in one line (`*star_routes`).

  GET /v1/star   the learning curve across iterations (per problem source), the iteration in
                 progress, and how many problems keep failing (the hardest twenty)
Running an iteration is the `star` job (POST /v1/jobs/star/run). The handler reads the store in a
thread, through `request.app.state.control` (its `engine`).
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.star.ledger import curve_report


async def star_curve(request: Request) -> JSONResponse:
    return JSONResponse(await asyncio.to_thread(curve_report, request.app.state.control.engine))


routes = [Route("/star", star_curve)]
