"""Helpers for the evaluation tests: the benchmark stand-in server, job contexts, adapter rows."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from aitherd.config import Loaded, Paths
from aitherd.curate.config import CurationConfig
from aitherd.evaluate.config import EvaluateConfig
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.store import open_store, session
from aitherd.store.models import Adapter
from aitherd.train.config import TrainConfig

TESTS = Path(__file__).resolve().parent
BASE = "base-model"


class BenchServer:
    """tests/standin_bench.py as a subprocess; `script(models=...)` sets how each model answers."""

    def __init__(self, tmp: Path) -> None:
        self.script_path = tmp / "bench-standin.json"
        self.script({})
        self.proc = subprocess.Popen([sys.executable, str(TESTS / "standin_bench.py"), str(self.script_path)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def script(self, models: dict[str, dict[str, Any]] | None = None, **extra: Any) -> None:
        self.script_path.write_text(json.dumps({"models": models or {}, **extra}))

    def requests(self) -> list[dict[str, Any]]:
        log = Path(f"{self.script_path}.log")
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def evaluate_config(server: BenchServer | None, **overrides: Any) -> EvaluateConfig:
    data: dict[str, Any] = {"sample_size": 40, "heldout_max_items": 0,
                            "sandbox": {"parallel": 2, "wall_s": 10}}
    if server is not None:
        data["endpoint"] = {"base_url": server.base_url, "concurrency": 8, "max_retries": 1}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return EvaluateConfig.model_validate(data)


def make_ctx(state_dir: Path, cfg: EvaluateConfig, *, args: dict[str, Any] | None = None,
             run_id: int = 1, base_model: str = BASE) -> JobContext:
    state_dir.mkdir(parents=True, exist_ok=True)
    config = SimpleNamespace(evaluate=cfg, train=TrainConfig(base_model=base_model), curation=CurationConfig())
    loaded = Loaded(config=config, source=None,  # type: ignore[arg-type]
                    paths=Paths(state_dir=state_dir, socket=state_dir / "control.sock"), repos=())
    return JobContext(job="benchmark", run_id=run_id, trigger="manual", loaded=loaded,
                      engine=open_store(state_dir / "aitherd.db"), log=get_logger("test.evaluate"),
                      _channel=io.StringIO(), args=dict(args or {}))


def add_adapter(ctx: JobContext, specialist: str, version: str, state: str = "candidate", *,
                export_id: str | None = None, base_model: str = BASE, path: Path | None = None,
                eval_loss: float | None = None) -> Adapter:
    """An Adapter row with a directory holding its lineage file (no weights: the stand-in needs none)."""
    root = path or ctx.loaded.paths.state_dir / "adapters" / specialist / version
    root.mkdir(parents=True, exist_ok=True)
    (root / "aitherd_adapter.json").write_text(json.dumps({
        "base_model": base_model, "base_family": "deepseek-r1-distill-qwen",
        "lineage": {"export_id": export_id, "base_model": base_model},
        "metrics": {"eval": {"eval_loss": eval_loss}} if eval_loss is not None else {}}))
    with session(ctx.engine) as s:
        row = Adapter(specialist=specialist, version=version, path=str(root), export_id=export_id, state=state)
        s.add(row)
        s.commit()
        s.refresh(row)
        return row


def adapter(ctx: JobContext, specialist: str, version: str) -> Adapter:
    from sqlmodel import select

    with session(ctx.engine) as s:
        row = s.exec(select(Adapter).where(Adapter.specialist == specialist, Adapter.version == version)).one()
        return row


def record_passing_results(engine: Any, row: Adapter, *, rate: float = 1.0) -> None:
    """Gating results that pass the default gate for an adapter made by a test that is about
    something else (serving): one item per scored suite, the same key for every adapter."""
    from aitherd.evaluate.gate import scored_suites
    from aitherd.store.models import BenchmarkResult

    with session(engine) as s:
        for suite in scored_suites(EvaluateConfig(), row.specialist):
            s.add(BenchmarkResult(
                adapter_id=row.id, benchmark=suite, passed=1 if rate else 0, total=1, pass_rate=rate,
                details={"specialist": row.specialist, "key": f"test-{suite}", "gating": True,
                         "model": {"kind": "adapter", "version": row.version, "base_model": BASE},
                         "items": [{"id": f"{suite}/0", "passed": bool(rate), "error": None}]}))
        s.commit()
