"""A run's counts are numbers only; what it made or decided as text (an adapter version, a gate
verdict) is an output: carried by the result message, stored on the Run row (schema v3), shown by
the API and aitherctl, and read by the verdict metric (old rows' text counts still count)."""

from __future__ import annotations

import sqlite3

from aitherd.ctl_format import summarize_run
from aitherd.evaluate.metrics import EvaluationCollector
from aitherd.runs import numbers_only
from aitherd.store import Run, open_store, session


def test_a_text_count_is_dropped_by_the_worker_and_outputs_reach_the_run_row_api_and_ctl(make_daemon) -> None:
    d = make_daemon().start()
    d.plan({"train": {"counts": {"coder_adapter": "v0009", "coder_step": 6, "coder_eval_loss": 1.25},
                      "outputs": {"adapter.coder": "v0009"}}})
    run = d.wait_run(d.api("POST", "/v1/jobs/train/run")["run_id"])
    assert run["status"] == "ok"
    assert run["counts"] == {"steps": 1, "coder_step": 6, "coder_eval_loss": 1.25}
    assert run["outputs"] == {"adapter.coder": "v0009"}
    assert "job_count_not_a_number" in d.log_text() and "coder_adapter" in d.log_text()
    shown = d.ctl("runs", "show", str(run["id"]))
    assert shown.returncode == 0, shown.stderr
    assert "outputs        1" in shown.stdout and "adapter.coder  v0009" in shown.stdout
    listed = d.ctl("runs")
    assert "adapter.coder=v0009" in listed.stdout


def test_numbers_only_keeps_ints_and_floats_and_names_the_rest() -> None:
    kept, dropped = numbers_only({"a": 1, "b": 2.5, "c": "v1", "d": None, "e": True, "f": {"x": 1}})
    assert kept == {"a": 1, "b": 2.5} and dropped == ["c", "d", "e", "f"]


def test_a_v2_store_gains_the_outputs_column_and_keeps_its_runs(tmp_path) -> None:
    db = tmp_path / "aitherd.db"
    open_store(db).dispose()
    with sqlite3.connect(db) as conn:  # back to what a v2 store looked like
        conn.execute("ALTER TABLE run DROP COLUMN outputs")
        conn.execute("INSERT INTO run (job, trigger, status, started_at, counts, progress) VALUES "
                     "('train', 'manual', 'ok', '2026-01-01 00:00:00', '{\"coder_adapter\": \"v0001\"}', '{}')")
        conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    engine = open_store(db)
    with session(engine) as s:
        row = s.get(Run, 1)
    assert row is not None and row.outputs == {} and row.counts == {"coder_adapter": "v0001"}
    engine.dispose()


def test_the_verdict_metric_counts_outputs_and_the_text_counts_of_older_rows(tmp_path) -> None:
    engine = open_store(tmp_path / "aitherd.db")
    with session(engine) as s:
        s.add(Run(job="benchmark", trigger="chain", status="ok", counts={"reasoner_verdict": "reject"}))
        s.add(Run(job="benchmark", trigger="chain", status="ok", counts={"reasoner_score": 0.8},
                  outputs={"verdict.reasoner": "deploy", "verdict.coder": "deploy"}))
        s.commit()
    samples = {(m.labels["specialist"], m.labels["verdict"]): m.value
               for family in EvaluationCollector(engine).collect() if family.name == "aitherd_deploy_verdicts"
               for m in family.samples if m.name.endswith("_total")}
    assert samples[("reasoner", "reject")] == 1 and samples[("reasoner", "deploy")] == 1
    assert samples[("coder", "deploy")] == 1 and samples[("coder", "reject")] == 0
    engine.dispose()


def test_the_runs_table_shows_outputs_before_counts() -> None:
    run = {"outputs": {"verdict.coder": "deploy", "adapter.coder": "v0003"}, "counts": {"coder_score": 0.71}}
    assert summarize_run(run) == "adapter.coder=v0003 verdict.coder=deploy coder_score=0.71"
    assert summarize_run({"counts": {"steps": 2}}) == "steps=2"


def test_the_stage_adapters_put_numbers_in_counts_and_versions_verdicts_and_export_ids_in_outputs() -> None:
    from aitherd.evaluate.job import BenchmarkRun
    from aitherd.export.job import ExportRun
    from aitherd.jobs import JOBS
    from aitherd.jobs.stages import (
        benchmark_result,
        deploy_result,
        export_result,
        harvest_result,
        router_train_result,
        star_result,
        train_result,
    )
    from aitherd.serve.router_train import RouterTrainRun
    from aitherd.serve.worker import DeployRun
    from aitherd.sources.harvest import HarvestRun
    from aitherd.star.job import StarRun
    from aitherd.train.job import SpecialistResult, TrainRun

    train = train_result(TrainRun([
        SpecialistResult("coder", "ok", "coder: trained v0004", {"coder_step": 6}, adapter="v0004"),
        SpecialistResult("reasoner", "failed", "reasoner: out of memory")], ["GPU lent by vLLM"]))
    assert (train.status, train.counts, train.outputs) == ("failed", {"coder_step": 6}, {"adapter.coder": "v0004"})
    assert train.message == "coder: trained v0004; reasoner: out of memory; GPU lent by vLLM"
    assert train.error == "reasoner: out of memory"
    refused = train_result(TrainRun(refused="unknown specialist 'x'"))
    assert (refused.status, refused.message, refused.error) == ("failed", None, "unknown specialist 'x'")
    assert train_result(TrainRun()).status == "skipped"

    export = export_result(ExportRun("ok", message="coder/qwen: 10 rows", exports={("coder", "qwen"): "e1"}))
    assert (export.counts, export.outputs) == ({}, {"export.coder.qwen": "e1"})

    bench = benchmark_result(BenchmarkRun("ok", message="m", verdicts={"coder": "reject"}, scores={"coder": 0.41}))
    assert (bench.counts, bench.outputs) == ({"coder_score": 0.41}, {"verdict.coder": "reject"})
    deploy = deploy_result(DeployRun("failed", message="m", error="reasoner v2: refused", live={"coder": "v0004"}))
    assert (deploy.status, deploy.outputs, deploy.error) == ("failed", {"live.coder": "v0004"}, "reasoner v2: refused")
    router = router_train_result(RouterTrainRun("ok", message="m", model_file="/s/router/model.json",
                                                accuracy={"route_accuracy": 0.9}))
    assert (router.counts, router.outputs) == ({"router.route_accuracy": 0.9},
                                               {"router.model_file": "/s/router/model.json"})
    assert router_train_result(RouterTrainRun("skipped", message="too few")).outputs == {}
    harvest = harvest_result(HarvestRun("failed", message="m", error="teacher made no progress", sources=("teacher",)))
    assert (harvest.status, harvest.message, harvest.error, harvest.counts) == (
        "failed", "m", "teacher made no progress", {})
    star = star_result(StarRun("interrupted", message="iteration 3", iteration=3, adapter="v0007"))
    assert (star.status, star.counts, star.outputs) == ("interrupted", {}, {"star.adapter": "v0007"})
    assert star_result(StarRun("skipped", message="not configured: x")).outputs == {}
    staged = ("train", "export", "benchmark", "deploy", "router_train", "star")
    assert {JOBS[j].target for j in staged} == {f"aitherd.jobs.stages:run_{j}" for j in staged}
