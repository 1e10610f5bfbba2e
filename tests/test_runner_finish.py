"""Finishing a run: a store error while recording the end never wedges the job."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from support import TESTS

from aitherd.config import Loaded, Paths, parse_config
from aitherd.metrics import Metrics
from aitherd.runner import Runner
from aitherd.store import Run, open_store, session


def test_a_store_error_when_a_run_ends_frees_the_job_and_the_row_is_written_later(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AITHERD_JOB_MODULE", "fakejobs")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps({"export": {"steps": 1}}))
    monkeypatch.setenv("FAKE_JOB_PLAN", str(plan))
    loaded = Loaded(parse_config({}), None, Paths(tmp_path, tmp_path / "c.sock"), ())
    engine = open_store(loaded.paths.db)
    metrics = Metrics()
    runner = Runner(engine, lambda: loaded, metrics)
    failures = {"left": 2}
    real_update = runner._update

    def flaky_update(run_id: int, **values: Any) -> None:
        if "ended_at" in values and failures["left"] > 0:
            failures["left"] -= 1
            raise OSError(28, "No space left on device")
        real_update(run_id, **values)

    runner._update = flaky_update  # type: ignore[method-assign]

    async def scenario() -> tuple[int, int, Any]:
        first = await runner.start("export", "manual")
        assert first.started
        for _ in range(300):
            if "export" not in runner.active:
                break
            await asyncio.sleep(0.05)
        assert "export" not in runner.active, "the job stayed wedged after the store error"
        second = await runner.start("export", "manual")  # not a 409
        assert second.started and second.run_id != first.run_id
        for _ in range(300):
            if "export" not in runner.active:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(7)  # the background retries: 1 s, then 5 s
        return first.run_id, second.run_id, metrics

    first_id, second_id, _ = asyncio.run(scenario())
    with session(engine) as s:
        first_row, second_row = s.get(Run, first_id), s.get(Run, second_id)
    assert first_row is not None and second_row is not None
    assert first_row.status == "ok" and second_row.status == "ok"
    errors = metrics.registry.get_sample_value("aitherd_errors_total", {"component": "runner", "reason": "store"})
    assert errors == 2


def test_a_jobs_error_kind_decides_its_run_status_and_only_bugs_log_a_traceback(make_daemon) -> None:
    d = make_daemon().start()
    d.plan({"export": {"raise_kind": "NotConfigured", "message": "no base model to export for"},
            "star": {"raise_kind": "InputError", "message": "prompts.jsonl:3: not JSON"},
            "train": {"raise": "boom"}})
    runs = {job: d.wait_run(d.api("POST", f"/v1/jobs/{job}/run")["run_id"]) for job in ("export", "star", "train")}
    assert runs["export"]["status"] == "skipped"
    assert runs["export"]["message"] == "not configured: no base model to export for"
    assert runs["star"]["status"] == "failed" and runs["star"]["error"] == "prompts.jsonl:3: not JSON"
    assert runs["train"]["status"] == "failed" and runs["train"]["error"] == "RuntimeError: boom"
    log = d.log_text()
    assert log.count("Traceback") == 1 and "RuntimeError: boom" in log
