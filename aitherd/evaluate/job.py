"""The `benchmark` job: run the suites on candidate adapters, store per-item results, and put the
gate's verdict on the run and the Adapter row.

Which adapters: `version=` (with `specialist=`) as `aitherctl bench` asks, else per specialist
(or the one named) the newest candidate without a verdict. For each, the base model and the live
adapter are benchmarked on the same items unless a result with the same key is stored (the base
once per base model). `suite=` or `limit=` make a quick run: stored, reported, never gating.

`run_benchmark(ctx)` returns a `BenchmarkRun` (status, report lines, the verdicts and scores it
recorded); `aitherd.jobs.stages` turns it into the worker's RunResult.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import col, select

from aitherd.evaluate.config import EvaluateConfig, evaluate_config_of
from aitherd.evaluate.gate import Verdict, gate_verdict, record_verdict, verdict_for
from aitherd.evaluate.generate import (
    Decoding,
    GenerationError,
    Generator,
    LocalGenerator,
    adapter_model_name,
    make_generator,
)
from aitherd.evaluate.heldout import HeldOut
from aitherd.evaluate.results import ModelRef, find_adapter, find_result, live_adapter, save_result, suite_key
from aitherd.evaluate.sandbox import Limits, Sandbox, SandboxError
from aitherd.evaluate.suites import PROMPT_VERSION, Item, Outcome, Suite, public_suite, sample
from aitherd.lora import lora_config_of
from aitherd.runs import JobContext, Number, Status
from aitherd.store import session
from aitherd.store.models import Adapter, BenchmarkResult, Export

SPECIALISTS = ("coder", "reasoner")
LINEAGE_FILE = "aitherd_adapter.json"


@dataclass
class BenchmarkRun:
    """What one benchmark run did: its status and report, and per specialist the gate's verdict
    and score it recorded on a candidate (quick runs record none)."""

    status: Status
    message: str | None = None
    error: str | None = None
    verdicts: dict[str, str] = field(default_factory=dict)  # specialist -> deploy | reject | no_verdict
    scores: dict[str, float] = field(default_factory=dict)  # specialist -> the gate's score

    @property
    def counts(self) -> dict[str, Number]:
        return {f"{specialist}_score": score for specialist, score in self.scores.items()}


@dataclass
class Plan:
    suites: list[Suite]
    limit: int
    gating: bool
    notes: list[str] = field(default_factory=list)


class Bench:
    """What one benchmark run shares: config, generator, a sandbox made when first needed."""

    def __init__(self, ctx: JobContext, cfg: EvaluateConfig, generator: Generator) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.generator = generator
        self._sandbox: Sandbox | None = None

    def sandbox(self) -> Sandbox:
        if self._sandbox is None:
            s = self.cfg.sandbox
            hide = [str(self.ctx.loaded.paths.state_dir), str(Path.home()), *s.hide]
            self._sandbox = Sandbox(
                Limits(wall_s=s.wall_s, cpu_s=s.cpu_s, memory_mb=s.memory_mb, file_mb=s.file_mb,
                       open_files=s.open_files, processes=s.processes, output_kb=s.output_kb,
                       tmpfs_mb=s.tmpfs_mb),
                parallel=s.parallel or None, python=s.python or None, mode=s.mode, namespaces=s.namespaces,
                landlock=s.landlock, seccomp=s.seccomp, uid_base=s.uid_base, hide=hide, require=s.require)
            self.ctx.log.info("sandbox_ready", isolation=self._sandbox.isolation, notes=self._sandbox.notes)
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
        self.generator.close()

    def run_suite(self, model: ModelRef, served: str, suite: Suite, items: list[Item],
                  stage: str) -> list[Outcome]:
        decoding = Decoding(max_tokens=self.cfg.max_tokens[suite.name], seed=self.cfg.seed)
        total = len(items)
        self.ctx.progress(stage, 0, total, force=True)
        gens = self.generator.generate(served, [i.messages for i in items], decoding,
                                       on_done=lambda n: self.ctx.progress(stage, n, total),
                                       should_stop=self.ctx.should_stop)
        ok = [i for i, g in enumerate(gens) if g.error is None]
        run = self.sandbox().run_many if suite.kind == "code" and ok else None
        checked = suite.check([items[i] for i in ok], [gens[i].full_text() for i in ok], run) if ok else []
        common = self.sandbox().isolation.rsplit(" [", 1)[0] if run is not None else None
        for outcome in checked:  # the isolation is on the result; an item keeps it only if it differs
            if common is not None and outcome.extra.get("isolation") == common:
                del outcome.extra["isolation"]
        by_index = dict(zip(ok, checked, strict=True))
        outcomes = []
        for i, (item, gen) in enumerate(zip(items, gens, strict=True)):
            outcome = by_index.get(i) or Outcome(item.id, False, None, "generation",
                                                 extra={"generation_error": gen.error})
            outcome.seconds += gen.seconds
            outcome.extra.update({"finish_reason": gen.finish_reason, "tokens": gen.completion_tokens})
            outcomes.append(outcome)
        return outcomes


def _lineage(row: Adapter) -> dict[str, Any]:
    try:
        return dict(json.loads((Path(row.path) / LINEAGE_FILE).read_text()))
    except (OSError, ValueError):
        return {}


def _targets(ctx: JobContext) -> list[Adapter] | str:
    """The adapters to benchmark, or why there are none."""
    specialist = str(ctx.args.get("specialist") or "").strip()
    version = str(ctx.args.get("version") or "").strip()
    if specialist and specialist not in SPECIALISTS:
        return f"unknown specialist {specialist!r}; expected one of {', '.join(SPECIALISTS)}"
    if version:
        if not specialist:
            return "benchmark version=V needs specialist=NAME too"
        row = find_adapter(ctx.engine, specialist, version)
        return [row] if row is not None else f"no adapter {specialist} {version} in the store"
    out = []
    for name in [specialist] if specialist else list(SPECIALISTS):
        with session(ctx.engine) as s:
            rows = s.exec(select(Adapter).where(Adapter.specialist == name, Adapter.state == "candidate")
                          .order_by(col(Adapter.id).desc())).all()
        # Never judged, or judged "no_verdict" (the server failed, or the live adapter changed).
        fresh = [r for r in rows if ((r.scores or {}).get("gate") or {}).get("verdict", "no_verdict") == "no_verdict"]
        if fresh:
            out.append(fresh[0])
    return out


def _plan(ctx: JobContext, cfg: EvaluateConfig, row: Adapter) -> Plan | str:
    asked = [s.strip() for s in str(ctx.args.get("suite") or "").split(",") if s.strip()]
    try:
        limit = int(ctx.args.get("limit") or 0)
    except ValueError:
        return f"limit must be a whole number, got {ctx.args.get('limit')!r}"
    names = asked or list(cfg.specialist(row.specialist).suites)
    paths = getattr(getattr(getattr(ctx.loaded.config, "curation", None), "decontam", None), "benchmarks", None)
    plan = Plan([], limit or cfg.sample_size, gating=not asked and not limit)
    for name in names:
        if name == "heldout":
            continue
        try:
            plan.suites.append(public_suite(name, paths))
        except ValueError as err:
            return str(err)
    if (not asked or "heldout" in asked) and cfg.heldout_max_items:
        export = _export_path(ctx, row)
        if export is None:
            plan.notes.append(f"heldout: the export {row.export_id or '?'} of {row.version} is gone; skipped")
        else:
            plan.suites.append(HeldOut(ctx.engine, row.specialist, row.export_id or "", export, cfg.heldout_max_items))
    return plan


def _export_path(ctx: JobContext, row: Adapter) -> Path | None:
    if not row.export_id:
        return None
    with session(ctx.engine) as s:
        export = s.get(Export, row.export_id)
    return Path(export.path) if export is not None and Path(export.path).is_dir() else None


def _bench_adapter(bench: Bench, row: Adapter, plan: Plan) -> tuple[Verdict | None, list[str]]:
    """Benchmark base, live and `row` as planned; returns the verdict on this run's results of
    `row` (recorded when the run is a gating one and `row` a candidate), or None if stopped."""
    ctx, cfg, gen = bench.ctx, bench.cfg, bench.generator
    meta = _lineage(row)
    from aitherd.train.config import train_config_of

    base_model = str(meta.get("base_model") or train_config_of(ctx.loaded.config).base_model)
    candidate = ModelRef.of(row, base_model)
    live_row = live_adapter(ctx.engine, row.specialist)
    models: list[ModelRef] = [ModelRef("base", row.specialist, base_model)]
    if live_row is not None and live_row.id != row.id:
        models.append(ModelRef.of(live_row, base_model))
    models.append(candidate)
    base_name = cfg.endpoint.base_model_name or base_model
    notes = list(plan.notes)
    saved: dict[str, BenchmarkResult] = {}
    work: list[tuple[Suite, list[Item], str]] = []
    for suite in plan.suites:
        items = sample(suite.load(), plan.limit, cfg.seed)
        if not items and not (isinstance(suite, HeldOut) and suite.rows and isinstance(gen, LocalGenerator)):
            notes.append(f"{suite.name}: no checkable items; skipped")
            continue
        decoding = Decoding(max_tokens=cfg.max_tokens[suite.name], seed=cfg.seed)
        work.append((suite, items, suite_key(suite.name, PROMPT_VERSION, [i.id for i in items], decoding.record())))
    for model in models:
        served = base_name if model.kind == "base" else adapter_model_name(model.specialist, model.version or "")
        todo = [(s, items, key) for s, items, key in work
                if model is candidate or find_result(ctx.engine, model, s.name, key) is None]
        if not todo or ctx.should_stop():
            continue
        gen.prepare(served, model.path)
        try:
            for suite, items, key in todo:
                if ctx.should_stop():
                    break
                t0 = time.monotonic()
                outcomes = bench.run_suite(model, served, suite, items,
                                           f"benchmark {row.specialist} {row.version}: {model.label} {suite.name}")
                if ctx.should_stop():
                    break  # a partial result is not stored: it would look like a real score
                extra = _extra(bench, suite, model, served, meta if model is candidate else {})
                settings = {"prompt_version": PROMPT_VERSION, "decoding": Decoding(
                    max_tokens=cfg.max_tokens[suite.name], seed=cfg.seed).record(),
                    "sample_seed": cfg.seed, "limit": plan.limit, "items": len(items),
                    "generator": gen.description, "served_as": served, "seconds": round(time.monotonic() - t0, 1),
                    "sandbox": bench.sandbox().isolation if suite.kind == "code" else None}
                if isinstance(suite, HeldOut):
                    settings["export_id"] = suite.export_id
                result = save_result(ctx.engine, model, suite.name, outcomes, key=key, settings=settings,
                                     gating=plan.gating, run_id=ctx.run_id, extra=extra)
                if model is candidate:
                    saved[suite.name] = result
        finally:
            gen.release(served)
    if ctx.should_stop():
        return None, notes
    if plan.gating:
        verdict = gate_verdict(ctx.engine, row.specialist, row.version, cfg)
        if row.state == "candidate":
            record_verdict(ctx.engine, verdict, ctx.run_id)
        return verdict, notes
    return verdict_for(ctx.engine, row, saved, cfg), notes


def _extra(bench: Bench, suite: Suite, model: ModelRef, served: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Held-out: the eval loss, computed here with a local model, else the trainer's own."""
    if not isinstance(suite, HeldOut):
        return {}
    if isinstance(bench.generator, LocalGenerator):
        from aitherd.train.templates import training_template

        family = str(meta.get("base_family") or "deepseek-r1-distill-qwen")
        loss = bench.generator.eval_loss(served, suite.conversations(), training_template(family, None))
        return {"eval_loss": loss, "eval_loss_from": "local model, training template"}
    loss = ((meta.get("metrics") or {}).get("eval") or {}).get("eval_loss")
    return {"eval_loss": loss, "eval_loss_from": "the trainer, at the end of training"} if loss is not None else {}


def _serving_endpoint(ctx: JobContext, cfg: EvaluateConfig) -> tuple[str, str] | None:
    """With [serve] on and no [evaluate.endpoint] base_url: ask the daemon where its vLLM listens
    (the port may change at each start), waiting while it starts or wakes (up to its startup
    timeout). Returns (base_url, the base model's served name), or None when serving is off."""
    serve = getattr(ctx.loaded.config, "serve", None)
    if cfg.endpoint.base_url or cfg.generator == "local" or not getattr(serve, "enabled", False):
        return None
    from aitherd.client import Client, ClientError, DaemonUnavailable

    assert serve is not None
    deadline = time.monotonic() + float(serve.startup_timeout)
    client = Client(ctx.loaded.paths.socket, timeout=30)
    try:
        while True:
            try:
                status = client.get("/v1/serve")
            except (ClientError, DaemonUnavailable, OSError) as err:
                raise GenerationError(f"cannot ask the daemon where vLLM listens: {err}") from None
            if status.get("state") == "up" and status.get("port"):
                return f"http://{serve.host}:{status['port']}/v1", str(status.get("base") or "")
            if time.monotonic() > deadline or ctx.should_stop():
                raise GenerationError(f"the supervised vLLM is {status.get('state')}, not up; benchmark "
                                      "again once it is (`aitherctl serve status`)")
            ctx.progress(f"waiting for vLLM ({status.get('state')})", force=True)
            time.sleep(2)
    finally:
        client.close()


def run_benchmark(ctx: JobContext) -> BenchmarkRun:
    cfg = evaluate_config_of(ctx.loaded.config)
    targets = _targets(ctx)
    if isinstance(targets, str):
        return BenchmarkRun("failed", error=targets)
    if not targets:
        return BenchmarkRun("skipped", message="no candidate adapter waits for a benchmark")
    from aitherd.train.config import train_config_of

    try:
        served = _serving_endpoint(ctx, cfg)
        if served is not None:  # the daemon's supervised vLLM: its port, and its name for the base
            cfg = cfg.model_copy(update={"endpoint": cfg.endpoint.model_copy(update={
                "base_url": served[0], "base_model_name": cfg.endpoint.base_model_name or served[1]})})
        generator = make_generator(cfg, train_config_of(ctx.loaded.config).base_model,
                                   lora_config_of(ctx.loaded.config))
    except GenerationError as err:
        return BenchmarkRun("failed", error=str(err))
    bench = Bench(ctx, cfg, generator)
    lines: list[str] = []
    done = BenchmarkRun("ok")
    failed: list[str] = []
    try:
        for row in targets:
            plan = _plan(ctx, cfg, row)
            if isinstance(plan, str):
                failed.append(plan)
                continue
            try:
                verdict, notes = _bench_adapter(bench, row, plan)
            except (GenerationError, SandboxError) as err:
                failed.append(f"{row.specialist} {row.version}: {err}")
                continue
            if verdict is None:
                break  # stopped
            recorded = plan.gating and row.state == "candidate"
            lines.append(f"{row.specialist} {row.version} ({row.state})" + (
                "" if recorded else ": a quick run or not a candidate, the verdict is not recorded"))
            lines += verdict.lines() + notes
            if recorded:
                done.verdicts[row.specialist] = verdict.verdict
                if verdict.score is not None:
                    done.scores[row.specialist] = round(verdict.score, 4)
    finally:
        bench.close()
    done.message = "\n".join(lines) or None
    if ctx.should_stop():
        done.status = "interrupted"
    elif failed:
        done.status, done.error = "failed", "; ".join(failed)
    else:
        done.message = "\n".join(lines)
    return done



