"""Helpers for the STaR tests: job contexts on a real store, problem files, scripted replies."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from aitherd.config import Loaded, Paths, parse_config
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.store import open_store


def star_ctx(state: Path, config: dict[str, Any], *, run_id: int = 1) -> JobContext:
    state.mkdir(parents=True, exist_ok=True)
    loaded = Loaded(config=parse_config(config), source=None,
                    paths=Paths(state_dir=state, socket=state / "control.sock"), repos=())
    return JobContext(job="star", run_id=run_id, trigger="manual", loaded=loaded,
                      engine=open_store(state / "aitherd.db"), log=get_logger("test.star"),
                      _channel=io.StringIO())


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def star_config(base_url: str, sources: dict[str, Any], **star: Any) -> dict[str, Any]:
    """[star] against a test endpoint, only the given sources, small and quick."""
    section: dict[str, Any] = {
        "endpoint": {"base_url": base_url, "concurrency": 8, "max_retries": 0, "timeout_s": 30},
        "sources": {"gsm8k_train": False, "store_reasoner": False, **sources},
        "samples": 4, "chunk": 8, "max_tokens": 256}
    section.update(star)
    return {"star": section, "evaluate": {"sandbox": {"parallel": 2, "wall_s": 10}}}


def reply(reasoning: str, answer: str) -> dict[str, Any]:
    return {"content": f"<think>\n{reasoning}\n</think>\n\nThe answer is $\\boxed{{{answer}}}$."}


def star_rows(ctx: JobContext) -> list[dict[str, Any]]:
    from sqlalchemy import text

    with ctx.engine.connect() as conn:
        rows = conn.execute(text("SELECT messages, reasoning, answer, provenance, status, reason, source "
                                 "FROM example WHERE source = 'star' ORDER BY id")).all()
    out = []
    for messages, reasoning, answer, provenance, status, reason, source in rows:
        out.append({"messages": json.loads(messages) if isinstance(messages, str) else messages,
                    "reasoning": reasoning, "answer": answer, "status": status, "reason": reason,
                    "source": source,
                    "provenance": json.loads(provenance) if isinstance(provenance, str) else provenance})
    return out
