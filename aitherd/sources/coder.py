"""The coder harvest: git mining and code patterns of each repo, session logs, corpora and
public datasets, each through curate -> store -> watermark (see harvest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aitherd.jobs import RunResult
from aitherd.jobs.context import JobContext
from aitherd.sources import codegraph, corpus, gitmine, sessions
from aitherd.sources.coder_config import CoderSources
from aitherd.sources.coder_datasets import harvest_coder_dataset
from aitherd.sources.harvest import Curate, Harvest, get_mark, log_files

SESSION_KINDS = ("openai", "claude", "codex", "aider")


def harvest_coder(ctx: JobContext, cfg: CoderSources, curate: Curate,
                  after_store: Callable[[], Any] | None = None) -> RunResult:
    h = Harvest(ctx, curate, cfg.batch_size, after_store)
    ran: list[str] = []
    for repo in ctx.loaded.repos:
        for ref in repo.refs:
            if cfg.git.enabled and not h.stopped:
                ran.append("git")
                key = f"{repo.path}@{ref}"
                h.run("git", key, gitmine.mine(repo.path, ref, get_mark(ctx.engine, "git", key),
                                               cfg.git, ctx.counts))
        if cfg.codegraph.enabled and not h.stopped:
            ran.append("codegraph")
            h.run("codegraph", repo.path, codegraph.harvest_repo(
                repo.path, cfg.codegraph, get_mark(ctx.engine, "codegraph", repo.path)))
    if cfg.sessions.enabled:
        for kind, path in log_files(ctx.loaded.config.logs, SESSION_KINDS):
            if h.stopped:
                break
            ran.append("session")
            mark = get_mark(ctx.engine, "session", str(path))
            settle = cfg.sessions.settle
            items = (sessions.harvest_aider(path, mark, settle) if kind == "aider" else
                     sessions.harvest_openai(path, mark) if kind == "openai" else
                     sessions.harvest_jsonl(path, kind, mark, settle))
            h.run("session", str(path), items)
    for src in cfg.corpus:
        if h.stopped:
            break
        ran.append("corpus")
        h.run("corpus", src.path, corpus.harvest_file(src, get_mark(ctx.engine, "corpus", src.path)))
    for name, src in cfg.datasets.items():
        if not src.enabled or h.stopped:
            continue
        ran.append(f"hf:{name}")
        h.run(f"hf:{name}", name, harvest_coder_dataset(
            name, src, get_mark(ctx.engine, f"hf:{name}", name), ctx.should_stop))
    if h.stopped:
        return RunResult("interrupted", message="stopped after a checkpoint; the next run continues")
    if not ran:
        return RunResult("skipped", message="not configured: no repos, session logs, corpora or "
                                            "datasets to harvest ([[repos]], [[logs]], [sources.coder])")
    note = f"sources: {', '.join(dict.fromkeys(ran))}"
    if h.errors:
        note += "; problems: " + "; ".join(h.errors[:5])
    return RunResult("ok", message=note)
