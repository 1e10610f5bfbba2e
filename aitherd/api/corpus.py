"""The stored examples: /v1/examples (the audit trail), /v1/corpus (against the export targets),
/v1/decontam (benchmark hits)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from aitherd.api.common import control, in_thread, iso, query_choice, query_limit
from aitherd.candidate import CATEGORIES
from aitherd.curate.reports import decontam_report
from aitherd.export.config import ExportConfig
from aitherd.store import Example
from aitherd.store import queries as q

EXAMPLE_STATUSES = ("accepted", "rejected")


def example_dict(e: Example) -> dict[str, Any]:
    return {"id": e.id, "specialist": e.specialist, "category": e.category,
            "status": e.status, "reason": e.reason, "source": e.source,
            "provenance": e.provenance, "quality": e.quality, "curation": e.curation,
            "preview": (e.messages[0]["content"] if e.messages else "")[:160],
            "created_at": iso(e.created_at)}


async def list_examples(request: Request) -> JSONResponse:
    limit = query_limit(request, 20, 500)
    filters = {key: value for key in q.EXAMPLE_FILTERS if (value := request.query_params.get(key))}
    query_choice(request, "status", EXAMPLE_STATUSES)
    query_choice(request, "specialist", tuple(CATEGORIES))
    engine = control(request).engine

    def query() -> list[dict[str, Any]]:
        return [example_dict(e) for e in q.list_examples(engine, limit=limit, filters=filters)]

    return JSONResponse({"examples": await in_thread(request, query)})


def corpus_report(rows: list[tuple[str, str, str, str, int]], cfg: ExportConfig) -> dict[str, Any]:
    """Per specialist: accepted and rejected per category against the export mix, and per source."""
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


async def corpus(request: Request) -> JSONResponse:
    d = control(request)
    rows = await in_thread(request, q.corpus_counts, d.engine)
    return JSONResponse(corpus_report(rows, d.loaded.config.export))


async def decontam(request: Request) -> JSONResponse:
    return JSONResponse(await in_thread(request, decontam_report, control(request).engine))


routes = [
    Route("/examples", list_examples),
    Route("/corpus", corpus),
    Route("/decontam", decontam),
]
