"""The `train` job: one LoRA adapter per specialist from its latest export, one after the other,
each in a trainer subprocess so the worker (and the daemon) never import torch.

`run_train(ctx)` returns a `TrainRun` (per specialist: status, message, numbers, the adapter
version published); `aitherd.jobs.stages` turns it into the worker's RunResult. Only light
modules are imported here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitherd.lora import lora_config_of
from aitherd.runs import JobContext, Number, Status
from aitherd.train.adapters import find_trained, live_adapter, publish
from aitherd.train.config import SPECIALISTS, TrainConfig, train_config_of
from aitherd.train.exports import ExportRef, latest_export
from aitherd.train.gpu import gpu_arbiter
from aitherd.train.launch import Outcome, reap_stale_trainer, run_trainer, trainer_command
from aitherd.train.spec import RunFiles, TrainSpec

# The trainer's log events as the daemon's job gauges (aitherd.metrics: job_gauges).
_LOG_GAUGES = (("train_loss", "loss"), ("train_learning_rate", "learning_rate"),
               ("train_tokens_per_second", "tokens_per_s"), ("train_eta_seconds", "eta_s"))


@dataclass
class SpecialistResult:
    specialist: str
    status: Status
    message: str
    counts: dict[str, Number] = field(default_factory=dict)  # numbers only
    adapter: str | None = None  # the version published, when one was


@dataclass
class TrainRun:
    """What one train run did: a result per specialist, the GPU hand-off's notes, or why it
    could not start."""

    specialists: list[SpecialistResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: str | None = None  # the run did not start (an unknown specialist)

    @property
    def status(self) -> Status:
        statuses = {r.status for r in self.specialists}
        return ("failed" if self.refused or "failed" in statuses else "interrupted" if "interrupted" in statuses
                else "ok" if "ok" in statuses else "skipped")

    @property
    def message(self) -> str | None:
        return None if self.refused else "; ".join([r.message for r in self.specialists] + self.notes)

    @property
    def error(self) -> str | None:
        return self.refused or "; ".join(r.message for r in self.specialists if r.status == "failed") or None

    @property
    def counts(self) -> dict[str, Number]:
        # each specialist's status is in the message: counts are numbers only
        return {k: v for r in self.specialists for k, v in r.counts.items()}

    @property
    def adapters(self) -> dict[str, str]:
        """specialist -> the adapter version this run published."""
        return {r.specialist: r.adapter for r in self.specialists if r.adapter}


def run_train(ctx: JobContext, specialists: list[str] | None = None,
              force: bool = False) -> TrainRun:
    """Train every enabled specialist that has an export (or those named, as `aitherctl train
    SPECIALIST` asks through `ctx.args`); skip one already trained from the same export and
    spec unless `force`."""
    cfg = train_config_of(ctx.loaded.config)
    args = ctx.args  # from `aitherctl train SPECIALIST [--force]`
    named = [s.strip() for s in str(args.get("specialist") or "").split(",") if s.strip()]
    names = specialists or named or [s for s in SPECIALISTS if cfg.specialist(s).enabled]
    force = force or str(args.get("force", "")).lower() in ("1", "true", "yes")
    unknown = [n for n in names if n not in SPECIALISTS]
    if unknown:
        return TrainRun(refused=f"unknown specialist {unknown[0]!r}; "
                                f"expected one of {', '.join(SPECIALISTS)}")
    state_dir = ctx.loaded.paths.state_dir
    todo: list[tuple[str, ExportRef]] = []
    results: list[SpecialistResult] = []
    for name in names:
        export = latest_export(ctx.engine, state_dir, name, cfg.base_family)
        if export is None:
            results.append(SpecialistResult(
                name, "skipped", f"{name}: no export for base family {cfg.base_family!r} yet "
                                 "(run the export job first)"))
        else:
            todo.append((name, export))

    notes: list[str] = []
    if todo:
        arbiter = gpu_arbiter()
        notes.append(arbiter.acquire("train"))
        ctx.count(f"gpu_arbitration_{getattr(arbiter, 'kind', 'custom')}")
        try:
            for name, export in todo:
                if ctx.should_stop():
                    results.append(SpecialistResult(name, "interrupted",
                                                    f"{name}: not started, stop requested"))
                    continue
                results.append(_train_one(ctx, cfg, name, export, force))
        finally:
            notes.append(arbiter.release())
    return _summarise(ctx, results, notes)


def _train_one(ctx: JobContext, cfg: TrainConfig, name: str, export: ExportRef,
               force: bool) -> SpecialistResult:
    state_dir = ctx.loaded.paths.state_dir
    files = RunFiles(state_dir / "train" / name / export.id)
    start = live_adapter(ctx.engine, name) if cfg.start_from == "live" else None
    spec = TrainSpec.build(cfg, name, export.id, export.path, files.root,
                           init_adapter=(start.version, Path(start.path)) if start else None,
                           lora=lora_config_of(ctx.loaded.config))
    sha = spec.sha256()
    done = find_trained(ctx.engine, name, export.id, sha)
    if done is not None and not force:
        return SpecialistResult(name, "skipped", f"{name}: {done.version} was already trained "
                                f"from export {export.id} with this configuration")
    reaped = reap_stale_trainer(files)  # a trainer left by a killed worker: let it stop first
    if reaped:
        ctx.log.warning("stale_trainer", specialist=name, note=reaped)
    problem = _check_inputs(spec)
    if problem:
        return SpecialistResult(name, "failed", f"{name}: {problem}")

    resumed = _prepare_run_dir(files, sha)
    spec.write(files.spec)
    ctx.log.info("train_start", specialist=name, export_id=export.id, run_dir=str(files.root),
                 resume_from=resumed)
    stage = f"train {name}"
    ctx.progress(stage, 0, None, force=True)

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "log":
            for gauge, key in _LOG_GAUGES:
                if isinstance(event.get(key), int | float):
                    ctx.gauge(gauge, event[key], specialist=name)
        elif event.get("event") == "checkpoint":
            ctx.count(f"{name}_checkpoints")
        elif event.get("event") == "begin" and event.get("resumed_step"):
            ctx.counts[f"{name}_resumed_step"] = int(event["resumed_step"])
        for gauge, key in (("train_step", "step"), ("train_steps_planned", "total")):
            if isinstance(event.get(key), int):
                ctx.gauge(gauge, event[key], specialist=name)
        ctx.progress(stage, event.get("step"), event.get("total"),
                     force=event.get("event") != "log")

    outcome = run_trainer(files, trainer_command(files.spec, cfg.python, cfg.accelerate_args),
                          on_event=on_event, should_stop=ctx.should_stop)
    return _finish(ctx, cfg, spec, files, export, outcome)


def _finish(ctx: JobContext, cfg: TrainConfig, spec: TrainSpec, files: RunFiles,
            export: ExportRef, outcome: Outcome) -> SpecialistResult:
    name = spec.specialist
    step = outcome.result.get("global_step")
    if outcome.interrupted:
        return SpecialistResult(name, "interrupted", f"{name}: stopped at step {step}; the next "
                                "run resumes from its last checkpoint",
                                {f"{name}_step": step} if isinstance(step, int) else {})
    if not outcome.ok or not files.final.is_dir():
        return SpecialistResult(name, "failed", f"{name}: {outcome.error()}")
    meta = {
        "base_model": spec.base_model, "base_family": spec.base_family,
        "lineage": {"export_id": export.id, "export_sha256": export.sha256,
                    "base_model": spec.base_model, "spec_sha256": spec.sha256(),
                    "start_from": cfg.start_from,
                    "init_adapter": spec.init_adapter_version},
        "training": spec.model_dump(exclude={"output_dir"}),
        "metrics": outcome.result.get("metrics", {}),
        "result": {k: outcome.result.get(k) for k in (
            "global_step", "max_steps", "resumed_from", "precision", "packing", "data",
            "train_examples", "eval_examples", "seconds", "versions")},
    }
    adapter = publish(ctx.engine, ctx.loaded.paths.state_dir, name, files.final, meta, ctx.run_id)
    if not cfg.keep_checkpoints:
        for checkpoint in files.checkpoints():
            shutil.rmtree(checkpoint, ignore_errors=True)
    eval_loss = outcome.result.get("metrics", {}).get("eval", {}).get("eval_loss")
    counts: dict[str, Any] = {f"{name}_step": step} if isinstance(step, int) else {}
    if outcome.result.get("resumed_from"):
        counts[f"{name}_resumed_step"] = int(str(outcome.result["resumed_from"]).rsplit("-", 1)[1])
    if eval_loss is not None:
        counts[f"{name}_eval_loss"] = round(float(eval_loss), 4)
    dropped: dict[str, int] = {}
    for split, numbers in (outcome.result.get("data") or {}).items():
        for key, n in numbers.items():
            if key.startswith("dropped_"):
                counts[f"{name}_{split}_{key}"] = n
                dropped[key.removeprefix("dropped_")] = dropped.get(key.removeprefix("dropped_"), 0) + n
    origin = (f"continued from {spec.init_adapter_version}" if spec.init_adapter_version
              else "from the base model" + (" (no live adapter to continue from)"
                                            if cfg.start_from == "live" else ""))
    note = f"{name}: trained {adapter.version} (candidate) {origin}, export {export.id}, {step} steps"
    if dropped:
        note += " (records dropped: " + ", ".join(f"{k} {v}" for k, v in sorted(dropped.items())) + ")"
    return SpecialistResult(name, "ok", note, counts, adapter=adapter.version)


def _check_inputs(spec: TrainSpec) -> str | None:
    """What can be told without the heavy libraries; the trainer checks the rest."""
    base = spec.base_model
    if base.startswith(("/", "./", "../", "~")) and not Path(base).expanduser().is_dir():
        return f"base model {base} not found: no such directory"
    if not Path(spec.export_path).is_dir():
        return f"export {spec.export_path} does not exist"
    if spec.init_adapter and not Path(spec.init_adapter).is_dir():
        return f"live adapter {spec.init_adapter_version} to continue from is missing: {spec.init_adapter}"
    return None


def _prepare_run_dir(files: RunFiles, sha: str) -> str | None:
    """Keep the checkpoints of an earlier run of the same spec (to resume); drop incomplete
    checkpoints, and everything when the spec changed. Returns the checkpoint to resume from."""
    files.root.mkdir(parents=True, exist_ok=True)
    if files.spec.exists():
        try:
            same = TrainSpec.read(files.spec).sha256() == sha
        except ValueError:
            same = False
        if not same:
            for checkpoint in files.checkpoints():
                shutil.rmtree(checkpoint, ignore_errors=True)
    for checkpoint in files.checkpoints():
        if not (checkpoint / "trainer_state.json").exists():  # killed while saving
            shutil.rmtree(checkpoint, ignore_errors=True)
    shutil.rmtree(files.final, ignore_errors=True)
    remaining = files.checkpoints()
    return str(remaining[-1]) if remaining else None


def _summarise(ctx: JobContext, results: list[SpecialistResult], notes: list[str]) -> TrainRun:
    ctx.progress("train done", len(results), len(results), force=True)
    return TrainRun(results, notes)
