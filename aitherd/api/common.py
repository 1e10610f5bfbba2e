"""Shared pieces of the handlers: reaching the daemon, validating input, errors, timestamps.

Every bad input becomes an `ApiError` (a starlette HTTPException with extra JSON fields), which
the app turns into `{"error": "...", ...}` with a 4xx status; nothing a client sends gives a 500.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from starlette.exceptions import HTTPException
from starlette.requests import Request

from aitherd.api.control import Control
from aitherd.jobs import JOBS

T = TypeVar("T")


class ApiError(HTTPException):
    """A refused request: status, a message for a person, and extra JSON fields."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(status, message)
        self.extra = extra


def control(request: Request) -> Control:
    return cast(Control, request.app.state.control)


async def in_thread(request: Request, fn: Callable[..., T], *args: Any) -> T:
    """Run blocking work (SQLite, files) in the API's own small pool, never on the event loop.

    The pool is bounded and separate from asyncio's default one, so a flood of API requests
    queues here instead of delaying the runner's own store writes.
    """
    executor: Executor = request.app.state.executor
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def known_job(request: Request, param: str = "name") -> str:
    """The job named in the path, or a 404 that lists the jobs there are."""
    name = str(request.path_params[param])
    if name not in JOBS:
        raise ApiError(404, f"no job named {name!r}", jobs=list(JOBS))
    return name


def query_int(request: Request, name: str, default: int | None, *, lo: int, hi: int) -> int | None:
    """An integer query parameter within [lo, hi]; a 400 that says so otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise ApiError(400, f"{name} must be between {lo} and {hi}, got {value}")
    return value


def query_limit(request: Request, default: int, most: int) -> int:
    value = query_int(request, "limit", default, lo=1, hi=most)
    assert value is not None
    return value


def query_choice(request: Request, name: str, choices: Mapping[str, Any] | tuple[str, ...]) -> str | None:
    """A query parameter that must be one of `choices`; None when absent."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw not in choices:
        raise ApiError(400, f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


async def json_object(request: Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request body as a JSON object with only `allowed` keys; {} for an empty body."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as err:  # UnicodeDecodeError is a ValueError too
        raise ApiError(400, f"body is not JSON: {err}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body must be a JSON object, got {type(body).__name__}: {raw[:40]!r}")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(400, f"unknown key {unknown[0]!r} in the body; expected {', '.join(allowed)}")
    return body
