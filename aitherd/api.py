"""Control API: HTTP + JSON over the daemon's Unix socket, versioned under /v1/."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from aitherd import __version__
from aitherd.jobs import JOBS
from aitherd.serve.routes import routes as serve_routes  # serve
from aitherd.store import SCHEMA_VERSION, Example, Export, Run, session
from aitherd.store.examples import example_counts

if TYPE_CHECKING:
    from aitherd.daemon import Daemon

RUN_STATUSES = ("running", "ok", "skipped", "failed", "interrupted")


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def build_app(d: Daemon) -> Any:
    def run_dict(row: Run) -> dict[str, Any]:
        out = {
            "id": row.id, "job": row.job, "trigger": row.trigger, "status": row.status,
            "started_at": iso(row.started_at), "ended_at": iso(row.ended_at),
            "duration_s": row.duration_s, "counts": row.counts, "message": row.message,
            "error": row.error, "progress": row.progress, "parent_run_id": row.parent_run_id,
        }
        active = d.runner.active.get(row.job) if d.runner else None
        if row.status == "running" and active is not None and active.run_id == row.id:
            out["progress"] = active.progress
            out["elapsed_s"] = round(d.uptime - (active.started - d.started_monotonic), 3)
        return out

    def last_runs() -> dict[str, dict[str, Any]]:
        with session(d.engine) as s:
            latest = select(func.max(Run.id)).group_by(Run.job)
            rows = s.exec(select(Run).where(col(Run.id).in_(latest))).all()
        return {row.job: run_dict(row) for row in rows}

    def job_dict(name: str, last: dict[str, dict[str, Any]]) -> dict[str, Any]:
        spec = JOBS[name]
        assert d.schedule is not None and d.runner is not None
        active = d.runner.active.get(name)
        sched_cfg = d.loaded.config.jobs.get(name)
        return {
            "name": name, "description": spec.description, "scheduled": spec.scheduled,
            "schedule": d.schedule.spec(name) if spec.scheduled else None,
            "enabled": bool(sched_cfg.enabled) if sched_cfg else False,
            "paused": d.schedule.job_paused(name) if spec.scheduled else False,
            "next_run": iso(d.schedule.next_run(name)) if spec.scheduled else None,
            "then": list(spec.then),
            "running": ({"run_id": active.run_id, "trigger": active.trigger,
                         "progress": active.progress} if active else None),
            "last_run": last.get(name),
        }

    def counts() -> dict[str, Any]:
        with session(d.engine) as s:
            runs = s.exec(select(Run.status, func.count()).group_by(Run.status)).all()
        examples: dict[str, dict[str, int]] = {}
        for specialist, status, n in example_counts(d.engine):
            examples.setdefault(specialist, {})[status] = n
        return {"examples": examples, "runs": {status: n for status, n in runs}}

    async def health(_: Request) -> JSONResponse:
        ok = d.schedule is not None and d.schedule.scheduler.running
        return JSONResponse({"status": "ok" if ok else "degraded"}, status_code=200 if ok else 503)

    async def status(_: Request) -> JSONResponse:
        assert d.schedule is not None and d.watchers is not None
        # Two indexed queries of about a millisecond: cheaper on the loop than a thread hop,
        # whose GIL hand-offs showed up as the p99 of this endpoint.
        last, totals = last_runs(), counts()
        return JSONResponse({
            "version": __version__, "pid": os.getpid(), "uptime_s": round(d.uptime, 3),
            "started_at": iso(datetime.fromtimestamp(d.started_at, UTC)),
            "config": str(d.loaded.source) if d.loaded.source else None,
            "state_dir": str(d.loaded.paths.state_dir), "socket": str(d.socket_path),
            "schema_version": SCHEMA_VERSION, "metrics": d.metrics_address,
            "scheduler": {"running": d.schedule.scheduler.running, "paused": d.schedule.paused,
                          "timezone": str(d.schedule.tz)},
            "jobs": [job_dict(name, last) for name in JOBS],
            "counts": totals,
            "watchers": [w.describe() for w in d.watchers.states],
            "reloads": d.reloads, "last_reload_error": d.last_reload_error,
        })

    async def jobs(_: Request) -> JSONResponse:
        last = last_runs()
        return JSONResponse({"jobs": [job_dict(name, last) for name in JOBS]})

    def _job(request: Request) -> tuple[str, JSONResponse | None]:
        """The job named in the path, or a 404 that lists the jobs there are."""
        name = request.path_params["name"]
        if name in JOBS:
            return name, None
        return name, _error(404, f"no job named {name!r}", jobs=list(JOBS))

    async def job_one(request: Request) -> JSONResponse:
        name, missing = _job(request)
        if missing is not None:
            return missing
        last = last_runs()
        return JSONResponse(job_dict(name, last))

    async def job_run(request: Request) -> JSONResponse:
        name, missing = _job(request)
        if missing is not None:
            return missing
        assert d.runner is not None
        args: dict[str, Any] = {}
        if await request.body():
            try:
                body = await request.json()
                args = body.get("args") or {}
                if not isinstance(args, dict):
                    raise ValueError
            except ValueError:
                return _error(400, 'body must be JSON like {"args": {"specialist": "coder"}}')
        outcome = await d.runner.start(name, "manual", args=args)
        if not outcome.started:
            return _error(409, f"{name} was not started: {outcome.reason}", run_id=outcome.run_id)
        return JSONResponse({"job": name, "run_id": outcome.run_id}, status_code=202)

    async def job_cancel(request: Request) -> JSONResponse:
        name, missing = _job(request)
        if missing is not None:
            return missing
        assert d.runner is not None
        run_id = d.runner.cancel(name)
        if run_id is None:
            return _error(409, f"{name} is not running")
        return JSONResponse({"job": name, "run_id": run_id, "cancelling": True}, status_code=202)

    async def job_pause(request: Request) -> JSONResponse:
        return await _job_pause(request, True)

    async def job_resume(request: Request) -> JSONResponse:
        return await _job_pause(request, False)

    async def _job_pause(request: Request, pause: bool) -> JSONResponse:
        name, missing = _job(request)
        if missing is not None:
            return missing
        assert d.schedule is not None
        if not JOBS[name].scheduled or d.schedule.scheduler.get_job(name) is None:
            return _error(409, f"{name} has no schedule to pause or resume (disabled or chained)")
        (d.schedule.scheduler.pause_job if pause else d.schedule.scheduler.resume_job)(name)
        return JSONResponse({"job": name, "paused": d.schedule.job_paused(name),
                             "next_run": iso(d.schedule.next_run(name))})

    async def sched_pause(_: Request) -> JSONResponse:
        await asyncio.to_thread(d.set_paused, True)
        return JSONResponse({"paused": True})

    async def sched_resume(_: Request) -> JSONResponse:
        await asyncio.to_thread(d.set_paused, False)
        return JSONResponse({"paused": False})

    async def runs(request: Request) -> JSONResponse:
        q = request.query_params
        try:
            limit = min(max(int(q.get("limit", "20")), 1), 1000)
            before = int(q["before"]) if "before" in q else None
        except ValueError:
            return _error(400, "limit and before must be integers")
        job, status_ = q.get("job"), q.get("status")
        if job is not None and job not in JOBS:
            return _error(400, f"no job named {job!r}", jobs=list(JOBS))
        if status_ is not None and status_ not in RUN_STATUSES:
            return _error(400, f"status must be one of {', '.join(RUN_STATUSES)}")

        def query() -> list[dict[str, Any]]:
            stmt = select(Run).order_by(col(Run.id).desc()).limit(limit)
            if job:
                stmt = stmt.where(Run.job == job)
            if status_:
                stmt = stmt.where(Run.status == status_)
            if before is not None:
                stmt = stmt.where(col(Run.id) < before)
            with session(d.engine) as s:
                return [run_dict(r) for r in s.exec(stmt).all()]

        return JSONResponse({"runs": await asyncio.to_thread(query)})

    async def run_one(request: Request) -> JSONResponse:
        try:
            run_id = int(request.path_params["run_id"])
        except ValueError:
            return _error(400, "run id must be an integer")

        def get() -> Run | None:
            with session(d.engine) as s:
                return s.get(Run, run_id)

        row = await asyncio.to_thread(get)
        if row is None:
            return _error(404, f"no run {run_id}")
        return JSONResponse(run_dict(row))

    async def reload(_: Request) -> JSONResponse:
        result = await d.reload()
        return JSONResponse(result, status_code=200 if result["ok"] else 400)

    def export_dict(row: Export) -> dict[str, Any]:
        path = Path(row.path)
        latest = path.parent / "latest"
        return {"id": row.id, "specialist": row.specialist, "base_family": row.base_family,
                "path": row.path, "created_at": iso(row.created_at), "counts": row.counts,
                "sha256": row.sha256, "run_id": row.run_id, "present": path.is_dir(),
                "latest": latest.is_symlink() and os.readlink(latest) == path.name}

    async def exports(request: Request) -> JSONResponse:
        q = request.query_params

        def query() -> list[dict[str, Any]]:
            stmt = select(Export).order_by(col(Export.created_at).desc()).limit(
                min(int(q.get("limit", "50")), 1000))
            if q.get("specialist"):
                stmt = stmt.where(Export.specialist == q["specialist"])
            with session(d.engine) as s:
                return [export_dict(r) for r in s.exec(stmt).all()]

        return JSONResponse({"exports": await asyncio.to_thread(query)})

    async def export_diff(request: Request) -> JSONResponse:
        a_id, b_id = request.path_params["a"], request.path_params["b"]

        def diff() -> dict[str, Any] | str:
            with session(d.engine) as s:
                a, b = s.get(Export, a_id), s.get(Export, b_id)
            for name, row in ((a_id, a), (b_id, b)):
                if row is None:
                    return f"no export {name!r}"
            assert a is not None and b is not None
            ids = []
            for row in (a, b):
                manifest = Path(row.path) / "ids.txt"
                if not manifest.is_file():
                    return f"export {row.id} is no longer on disk (pruned)"
                ids.append(set(manifest.read_text().split()))

            def delta(key: str) -> dict[str, list[int]]:
                ca, cb = a.counts.get(key) or {}, b.counts.get(key) or {}
                return {k: [ca.get(k, 0), cb.get(k, 0)] for k in sorted(set(ca) | set(cb))
                        if ca.get(k, 0) != cb.get(k, 0)}

            return {"a": a.id, "b": b.id, "rows": [a.counts.get("rows"), b.counts.get("rows")],
                    "added": len(ids[1] - ids[0]), "removed": len(ids[0] - ids[1]),
                    "kept": len(ids[0] & ids[1]), "categories": delta("categories"),
                    "sources": delta("sources"),
                    "same_family": a.base_family == b.base_family,
                    "same_specialist": a.specialist == b.specialist}

        result = await asyncio.to_thread(diff)
        if isinstance(result, str):
            return _error(404, result)
        return JSONResponse(result)

    async def examples(request: Request) -> JSONResponse:
        q = request.query_params
        try:
            limit = min(max(int(q.get("limit", "20")), 1), 500)
        except ValueError:
            return _error(400, "limit must be an integer")

        def query() -> list[dict[str, Any]]:
            stmt = select(Example).order_by(col(Example.id).desc()).limit(limit)
            for key in ("status", "reason", "specialist", "category", "source"):
                if q.get(key):
                    stmt = stmt.where(getattr(Example, key) == q[key])
            with session(d.engine) as s:
                return [{"id": e.id, "specialist": e.specialist, "category": e.category,
                         "status": e.status, "reason": e.reason, "source": e.source,
                         "provenance": e.provenance, "quality": e.quality, "curation": e.curation,
                         "preview": (e.messages[0]["content"] if e.messages else "")[:160],
                         "created_at": iso(e.created_at)} for e in s.exec(stmt).all()]

        return JSONResponse({"examples": await asyncio.to_thread(query)})

    async def corpus(_: Request) -> JSONResponse:
        def query() -> dict[str, Any]:
            with session(d.engine) as s:
                rows = s.exec(select(Example.specialist, Example.source, Example.category,
                                     Example.status, func.count())
                              .group_by(Example.specialist, Example.source, Example.category,
                                        Example.status)).all()
            cfg = d.loaded.config.export
            out: dict[str, Any] = {}
            for spec, size, mix in (("coder", cfg.coder.size, cfg.coder.mix),
                                    ("reasoner", cfg.reasoner.size, cfg.reasoner.mix)):
                cats = {c: {"target": round(size * share), "accepted": 0, "rejected": 0}
                        for c, share in mix.items()}
                sources: dict[str, dict[str, int]] = {}
                for sp, source, cat, status, n in rows:
                    if sp != spec:
                        continue
                    entry = cats.setdefault(cat, {"target": 0, "accepted": 0, "rejected": 0})
                    entry[status] = entry.get(status, 0) + n
                    if status == "accepted":
                        sources.setdefault(source, {})[cat] = n
                out[spec] = {"size": size, "categories": cats, "sources": sources}
            return out

        return JSONResponse(await asyncio.to_thread(query))

    async def decontam(_: Request) -> JSONResponse:
        from aitherd.curate.reports import decontam_report

        return JSONResponse(await asyncio.to_thread(decontam_report, d.engine))

    async def not_found(request: Request, _exc: Exception) -> JSONResponse:
        return _error(404, f"no such endpoint: {request.method} {request.url.path}")

    async def not_allowed(request: Request, _exc: Exception) -> JSONResponse:
        return _error(405, f"{request.method} is not allowed on {request.url.path}")

    async def server_error(request: Request, exc: Exception) -> JSONResponse:
        d.metrics.errors.labels(component="api", reason=type(exc).__name__).inc()
        return _error(500, f"internal error: {type(exc).__name__}: {exc}")

    routes = [
        Route("/v1/health", health),
        Route("/v1/status", status),
        Route("/v1/jobs", jobs),
        Route("/v1/jobs/{name}", job_one),
        Route("/v1/jobs/{name}/run", job_run, methods=["POST"]),
        Route("/v1/jobs/{name}/cancel", job_cancel, methods=["POST"]),
        Route("/v1/jobs/{name}/pause", job_pause, methods=["POST"]),
        Route("/v1/jobs/{name}/resume", job_resume, methods=["POST"]),
        Route("/v1/scheduler/pause", sched_pause, methods=["POST"]),
        Route("/v1/scheduler/resume", sched_resume, methods=["POST"]),
        Route("/v1/runs", runs),
        Route("/v1/runs/{run_id}", run_one),
        Route("/v1/reload", reload, methods=["POST"]),
        Route("/v1/exports", exports),
        Route("/v1/examples", examples),
        Route("/v1/corpus", corpus),
        Route("/v1/decontam", decontam),
        Route("/v1/exports/{a}/diff/{b}", export_diff),
        Mount("/v1", routes=serve_routes),  # serve: /v1/serve..., /v1/adapters... (keep last)
    ]
    app = Starlette(routes=routes, exception_handlers={
        404: not_found, 405: not_allowed, Exception: server_error})
    app.state.control = d  # serve: its handlers reach the daemon here
    return _CountRequests(app, d)


class _CountRequests:
    """Plain ASGI middleware: counts requests by method and status code for the metrics."""

    def __init__(self, app: Any, d: Daemon) -> None:
        self.app = app
        self.d = d

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        code = ["500"]

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                code[0] = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.d.metrics.api_requests.labels(method=scope["method"], code=code[0]).inc()
