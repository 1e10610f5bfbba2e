"""The coder harvest: git mining and code patterns of each repo, session logs, corpora and
public datasets, each through curate -> store -> watermark (see harvest.py)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

from aitherd.runs import JobContext
from aitherd.sources import codegraph, corpus, gitmine, sessions
from aitherd.sources.coder_config import CoderSources
from aitherd.sources.coder_datasets import harvest_coder_dataset
from aitherd.sources.harvest import Curate, FnSource, Harvest, HarvestRun, Source, log_files

SESSION_KINDS = ("openai", "claude", "codex", "aider", "continue")


def coder_sources(ctx: JobContext, cfg: CoderSources) -> Iterator[Source]:
    """Every configured coder source, in harvest order."""
    for repo in ctx.loaded.repos:
        if cfg.git.enabled:
            for ref in repo.refs:
                yield FnSource("git", f"{repo.path}@{ref}", functools.partial(
                    gitmine.mine, repo.path, ref, cfg=cfg.git, counts=ctx.counts,
                    state_dir=str(ctx.loaded.paths.state_dir)))
        if cfg.codegraph.enabled:
            yield FnSource("codegraph", repo.path,
                           functools.partial(codegraph.harvest_repo, repo.path, cfg.codegraph))
    if cfg.sessions.enabled:
        settle = cfg.sessions.settle
        for kind, path in log_files(ctx.loaded.config.logs, SESSION_KINDS):
            if kind == "aider":
                fn = functools.partial(sessions.harvest_aider, path, settle=settle)
            elif kind == "continue":
                fn = functools.partial(sessions.harvest_continue, path, settle=settle)
            elif kind == "openai":
                fn = functools.partial(sessions.harvest_openai, path)
            else:
                fn = functools.partial(sessions.harvest_jsonl, path, kind, settle=settle)
            yield FnSource("session", str(path), fn)
    for src in cfg.corpus:
        yield FnSource("corpus", src.path, functools.partial(corpus.harvest_file, src))
    for name, dsrc in cfg.datasets.items():
        if dsrc.enabled:
            yield FnSource(f"hf:{name}", name,
                           functools.partial(harvest_coder_dataset, name, dsrc, stop=ctx.should_stop))


def harvest_coder(ctx: JobContext, cfg: CoderSources, curate: Curate,
                  after_store: Callable[[], Any] | None = None) -> HarvestRun:
    h = Harvest(ctx, curate, cfg.batch_size, after_store)
    ran: list[str] = []
    for src in coder_sources(ctx, cfg):
        if h.stopped:
            break
        ran.append(src.name)
        h.run(src)
    if h.stopped:
        return HarvestRun("interrupted", message="stopped after a checkpoint; the next run continues")
    if not ran:
        return HarvestRun("skipped", message="not configured: no repos, session logs, corpora or "
                                            "datasets to harvest ([[repos]], [[logs]], [sources.coder])")
    note = f"sources: {', '.join(dict.fromkeys(ran))}"
    if h.errors:
        note += "; problems: " + "; ".join(h.errors[:5])
    return HarvestRun("ok", message=note, sources=tuple(dict.fromkeys(ran)))
