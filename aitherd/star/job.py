"""The `star` job: one STaR iteration per run (Saturday 22:00, before Sunday's training).

Samples rationales from the live reasoner (through the alias proxy, a configured endpoint, or
transformers in the worker), keeps the checked ones (see loop.py) and hands them to curation
like any harvest (redaction, judge, dedup, decontamination), source `star`. A run asked to stop
(or killed) leaves the iteration open and the next run continues it; a budget, the per-run
problem limit or the end of the problems finishes it, and it goes on the learning curve.
Sunday's training starts from the base model by default (`[train] start_from = "base"`), as STaR
prescribes, so the rationales kept here never compound on the adapter that produced them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitherd.errors import InputError, NotConfigured
from aitherd.evaluate.generate import EndpointGenerator, GenerationError, Generator, LocalGenerator
from aitherd.evaluate.results import live_adapter
from aitherd.evaluate.sandbox import Execution, Limits, Sandbox, SandboxError
from aitherd.runs import JobContext, Status
from aitherd.sources.harvest import FnSource, Harvest, Mark, get_mark, set_mark
from aitherd.star import ledger
from aitherd.star.check import reference_program
from aitherd.star.config import StarConfig, star_config_of
from aitherd.star.loop import Loop
from aitherd.star.problems import Problem, load_problems
from aitherd.star.state import IterationMark

GAUGES = (("star_problems_tried", "tried"), ("star_solve_rate", "solve_rate"),
          ("star_rationalized", "rationalized"), ("star_kept", "kept"), ("star_accepted", "accepted"))


def make_generator(ctx: JobContext, cfg: StarConfig) -> tuple[Generator, str, str]:
    """(generator, the model name asked, the adapter version that answers), or NotConfigured."""
    live = live_adapter(ctx.engine, "reasoner")
    version = live.version if live is not None else "base"
    if cfg.generator == "local":
        from aitherd.train.config import train_config_of

        local = LocalGenerator(train_config_of(ctx.loaded.config).base_model, batch_size=cfg.local_batch_size)
        model = f"reasoner@{version}"
        local.prepare(model, live.path if live is not None else None)
        return local, model, version
    base_url = cfg.endpoint.base_url
    serve: Any = getattr(ctx.loaded.config, "serve", None)
    if not base_url and cfg.generator == "auto" and getattr(serve, "enabled", False) and serve.proxy.enabled:
        base_url = f"http://{serve.proxy.address}:{serve.proxy.port}/v1"  # the daemon's alias proxy
    if not base_url:
        raise NotConfigured("STaR has no generator: set [star.endpoint] base_url, enable [serve] (its alias "
                            "proxy serves the reasoner), or set [star] generator = \"local\"")
    key = None
    if cfg.endpoint.api_key_env:
        key = os.environ.get(cfg.endpoint.api_key_env)
        if not key:
            raise GenerationError(f"environment variable {cfg.endpoint.api_key_env} is not set "
                                  f"(it should hold the key for {base_url})")
    gen = EndpointGenerator(base_url, api_key=key, concurrency=cfg.endpoint.concurrency,
                            timeout_s=cfg.endpoint.timeout_s, max_retries=cfg.endpoint.max_retries,
                            load_adapters=False)
    model = cfg.endpoint.model
    return gen, model, version if model == "reasoner" else model


class Sandboxed:
    """The evaluation sandbox ([evaluate.sandbox]), started on first use, and the `tests`
    problems whose own tests pass on their own code (asked once per problem and run)."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self._sandbox: Sandbox | None = None
        self.usable: dict[str, bool] = {}

    def run(self, programs: Sequence[str]) -> list[Execution]:
        if self._sandbox is None:
            from aitherd.evaluate.config import evaluate_config_of

            s = evaluate_config_of(self.ctx.loaded.config).sandbox
            hide = [str(self.ctx.loaded.paths.state_dir), str(Path.home()), *s.hide]
            self._sandbox = Sandbox(
                Limits(wall_s=s.wall_s, cpu_s=s.cpu_s, memory_mb=s.memory_mb, file_mb=s.file_mb,
                       open_files=s.open_files, processes=s.processes, output_kb=s.output_kb, tmpfs_mb=s.tmpfs_mb),
                parallel=s.parallel or None, python=s.python or None, mode=s.mode, namespaces=s.namespaces,
                landlock=s.landlock, seccomp=s.seccomp, uid_base=s.uid_base, hide=hide, require=s.require)
            self.ctx.log.info("sandbox_ready", isolation=self._sandbox.isolation)
        return self._sandbox.run_many(programs)

    def check_tests(self, problems: Sequence[Problem]) -> None:
        todo = [p for p in problems if p.kind == "tests" and p.id not in self.usable]
        if todo:
            for p, ex in zip(todo, self.run([reference_program(p) for p in todo]), strict=True):
                self.usable[p.id] = ex.passed

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()


def _screen(curator: Any, sandboxed: Sandboxed) -> Any:
    def screen(chunk: Sequence[Problem]) -> list[str | None]:
        texts = [f"{p.prompt}\n{p.answer or ''}" for p in chunk]
        hits = curator.index.screen(texts) if curator.index is not None else [None] * len(chunk)
        sandboxed.check_tests([p for p, hit in zip(chunk, hits, strict=True) if hit is None])
        return ["contaminated_problem" if hit is not None else
                "tests_do_not_run" if p.kind == "tests" and not sandboxed.usable.get(p.id) else None
                for p, hit in zip(chunk, hits, strict=True)]
    return screen


def _open_iteration(ctx: JobContext, version: str, model: str) -> IterationMark:
    """The iteration to continue (unfinished, same adapter) or a new one; a finished one not yet
    on the curve is put there first, and an unfinished one of another adapter is closed."""
    state = ledger.current(ctx.engine)
    if state is not None and not state.finished and state.adapter != version:
        state.finished = f"superseded: the reasoner changed from {state.adapter} to {version}"
        set_mark(ctx.engine, ledger.SOURCE, "iteration", state.mark())
    if state is not None and state.finished:
        ledger.close(ctx.engine, state)
    if state is not None and not state.finished:
        return state
    last = max([e.get("iteration", 0) for e in ledger.ledger(ctx.engine)["curve"]] + [state.iteration if state else 0])
    fresh = IterationMark(iteration=int(last) + 1, adapter=version, model=model)
    set_mark(ctx.engine, ledger.SOURCE, "iteration", fresh.mark())
    return fresh


def _todo(ctx: JobContext, cfg: StarConfig, problems: list[Problem], state: IterationMark) -> list[Problem]:
    done = ledger.solved_enough(ctx.engine, state.iteration, cfg.enough_rationales)
    failures = ledger.ledger(ctx.engine)["failures"]
    ctx.count("star.solved_enough", sum(p.id in done for p in problems))
    todo = [p for p in problems if p.id not in done]
    if cfg.skip_after_failures:
        setting_aside = [p for p in todo if int(failures.get(p.id, 0)) >= cfg.skip_after_failures]
        ctx.count("star.set_aside", len(setting_aside))
        todo = [p for p in todo if int(failures.get(p.id, 0)) < cfg.skip_after_failures]
    keyed = sorted(((p.order(cfg.seed, state.iteration), p) for p in todo), key=lambda kp: kp[0])
    return [p for key, p in keyed if key > state.after]


@dataclass(frozen=True)
class StarRun:
    """How one STaR run ended, and the iteration it worked on (None when it never opened one);
    aitherd.jobs turns it into the worker's RunResult."""

    status: Status
    message: str = ""
    error: str | None = None
    iteration: int | None = None
    adapter: str | None = None


def run_star(ctx: JobContext) -> StarRun:
    cfg = star_config_of(ctx.loaded.config)
    if not cfg.enabled:
        return StarRun("skipped", message="not configured: [star] enabled = false")
    try:
        generator, model, version = make_generator(ctx, cfg)
    except NotConfigured as err:
        return StarRun("skipped", message=f"not configured: {err}")
    except GenerationError as err:
        return StarRun("failed", error=str(err))
    from aitherd.curate import Curator, DecontamError

    sandboxed = Sandboxed(ctx)
    try:
        curator = Curator(ctx.loaded.config.curation, ctx.engine)
        problems = load_problems(cfg.sources, ctx.engine)
        return _iterate(ctx, cfg, generator, model, version, curator, sandboxed, problems)
    except (DecontamError, InputError) as err:
        return StarRun("failed", error=f"STaR cannot start: {err}")
    except (GenerationError, SandboxError) as err:
        return StarRun("failed", error=str(err))
    finally:
        sandboxed.close()
        generator.close()


def _iterate(ctx: JobContext, cfg: StarConfig, generator: Generator, model: str, version: str, curator: Any,
             sandboxed: Sandboxed, problems: list[Problem]) -> StarRun:
    if not problems:
        return StarRun("skipped", message="not configured: no STaR problems (see [star.sources])")
    state = _open_iteration(ctx, version, model)
    todo = _todo(ctx, cfg, problems, state)
    loop = Loop(cfg, generator, model, ctx.engine, sandboxed.run, ctx.should_stop, screen=_screen(curator, sandboxed),
                progress=lambda n: ctx.progress(f"star iteration {state.iteration}", n, cfg.problems_per_run or None))
    ctx.progress(f"star iteration {state.iteration}", state.asked, cfg.problems_per_run or None, force=True)

    def read(mark: Mark) -> Any:
        return loop.read(IterationMark.of(mark) or state, todo)

    h = Harvest(ctx, curator.process, 1, curator.save_signatures, whole_groups=True)
    h.run(FnSource(ledger.SOURCE, "iteration", read))
    final = IterationMark.of(get_mark(ctx.engine, ledger.SOURCE, "iteration")) or state
    entry = ledger.close(ctx.engine, final) if final.finished else None
    report = entry or ledger.summary(final, ctx.engine)
    _record(ctx, report)
    line = _line(report)
    if h.errors:
        line += "; problems: " + "; ".join(h.errors[:5])
    if loop.error:
        return StarRun("failed", message=line, error=f"the reasoner could not answer ({model}): {loop.error}; "
                                                     "the iteration stays open and the next run continues it",
                       iteration=final.iteration, adapter=final.adapter)
    if not final.finished:
        return StarRun("interrupted", message=f"{line}; stopped after a checkpoint, the next run continues",
                       iteration=final.iteration, adapter=final.adapter)
    return StarRun("ok", message=f"{line}; finished: {final.finished}", iteration=final.iteration,
                   adapter=final.adapter)


def _record(ctx: JobContext, report: dict[str, Any]) -> None:
    ctx.count("star.iteration", report["iteration"])
    for src, row in {**report["per_source"], "all": report["total"]}.items():
        for key in ("tried", "solved", "rationalized", "kept", "accepted", "hint_quoted", "duplicates", "capped"):
            ctx.count(f"star.{src}.{key}", int(row.get(key, 0)))
        for gauge, key in GAUGES:
            if row.get(key) is not None:
                ctx.gauge(gauge, float(row[key]), source=src)
    ctx.gauge("star_iteration", float(report["iteration"]), specialist="reasoner")


def _line(report: dict[str, Any]) -> str:
    t = report["total"]
    rate = f"{t['solve_rate']:.1%}" if t.get("solve_rate") is not None else "-"
    return (f"iteration {report['iteration']} ({report['adapter']}): {t['tried']} problems tried, solved "
            f"{t['solved']} ({rate}) before rationalization, rationalized {t['rationalized']}, kept "
            f"{t['kept']} rationales, {t['accepted']} accepted by curation")
