"""/v1/exports: the training sets on disk, newest first, and what changed between two of them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.api.common import ApiError, control, in_thread, iso, query_choice, query_limit
from aitherd.candidate import CATEGORIES
from aitherd.store import Export
from aitherd.store import queries as q


def export_dict(row: Export) -> dict[str, Any]:
    path = Path(row.path)
    latest = path.parent / "latest"
    return {"id": row.id, "specialist": row.specialist, "base_family": row.base_family,
            "path": row.path, "created_at": iso(row.created_at), "counts": row.counts,
            "sha256": row.sha256, "run_id": row.run_id, "present": path.is_dir(),
            "latest": latest.is_symlink() and os.readlink(latest) == path.name}


async def list_exports(request: Request) -> JSONResponse:
    limit = query_limit(request, 50, 1000)
    specialist = query_choice(request, "specialist", tuple(CATEGORIES))
    engine = control(request).engine

    def query() -> list[dict[str, Any]]:  # reads the disk too: all of it off the loop
        return [export_dict(r) for r in q.list_exports(engine, limit=limit, specialist=specialist)]

    return JSONResponse({"exports": await in_thread(request, query)})


def _ids(row: Export) -> set[str]:
    manifest = Path(row.path) / "ids.txt"
    if not manifest.is_file():
        raise ApiError(404, f"export {row.id} is no longer on disk (pruned)")
    return set(manifest.read_text().split())


def diff_exports(a: Export, b: Export) -> dict[str, Any]:
    """Rows added, removed and kept from a to b, and the category and source counts that moved."""
    ids_a, ids_b = _ids(a), _ids(b)

    def delta(key: str) -> dict[str, list[int]]:
        ca, cb = a.counts.get(key) or {}, b.counts.get(key) or {}
        return {k: [ca.get(k, 0), cb.get(k, 0)] for k in sorted(set(ca) | set(cb))
                if ca.get(k, 0) != cb.get(k, 0)}

    return {"a": a.id, "b": b.id, "rows": [a.counts.get("rows"), b.counts.get("rows")],
            "added": len(ids_b - ids_a), "removed": len(ids_a - ids_b), "kept": len(ids_a & ids_b),
            "categories": delta("categories"), "sources": delta("sources"),
            "same_family": a.base_family == b.base_family,
            "same_specialist": a.specialist == b.specialist}


async def export_diff(request: Request) -> JSONResponse:
    a_id, b_id = str(request.path_params["a"]), str(request.path_params["b"])
    engine = control(request).engine

    def diff() -> dict[str, Any]:
        rows = []
        for export_id in (a_id, b_id):
            row = q.get_export(engine, export_id)
            if row is None:
                raise ApiError(404, f"no export {export_id!r}")
            rows.append(row)
        return diff_exports(*rows)

    return JSONResponse(await in_thread(request, diff))


routes = [
    Route("/exports", list_exports),
    Route("/exports/{a}/diff/{b}", export_diff),
]
