"""The reasoner harvest: every configured reasoning source, in batches, crash-safe.

Each source yields (watermark, candidate) pairs. A batch is curated, inserted (idempotent by
content hash), and only then is the source's watermark advanced: a crash or kill repeats work
but never duplicates or loses an example. A failing source is recorded with what and where, and
the other sources still run. Finally the non-reasoning share is topped up by derivation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from aitherd.candidate import Candidate
from aitherd.runs import JobContext, RunResult
from aitherd.sources import chronicle, mcts
from aitherd.sources.generate import Outcome, augment, teacher
from aitherd.sources.harvest import BadInput, Checkpoint, Curate, FnSource, Harvest, Item, Mark, log_files
from aitherd.sources.reasoner_config import ReasonerSources
from aitherd.sources.reasoner_datasets import harvest_dataset


def _generated(pairs: Iterator[tuple[str, Candidate]], done: set[str]) -> Iterator[Item]:
    for pid, cand in pairs:
        done.add(pid)
        yield cand
        yield Checkpoint({"done": sorted(done)})


def _mcts(path: Path, mark: Mark) -> Iterator[Item]:
    """A tree file is one group: read whole when it changed, marked done after its last tree."""
    st = path.stat()
    stamp = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    if mark.get("stamp") == stamp:
        return
    for out in mcts.harvest_file(path):
        yield BadInput(str(path), out) if isinstance(out, str) else out
    yield Checkpoint({"stamp": stamp})


def derive_non_reasoning(engine: Engine, share: float, limit: int) -> list[Candidate]:
    """Direct-answer tasks (state the final answer of a given worked solution) from accepted
    reasoning examples with short answers, enough to bring non_reasoning up to `share`."""
    with engine.connect() as conn:
        counts: dict[Any, int] = dict(conn.execute(text(
            "SELECT category = 'non_reasoning', count(*) FROM example WHERE specialist = 'reasoner' "
            "AND status = 'accepted' GROUP BY 1")).all())
        reasoning, plain = counts.get(0, 0), counts.get(1, 0)
        need = min(limit, math.ceil(share / (1 - share) * reasoning) - plain)
        if need <= 0:
            return []
        rows = conn.execute(text(
            "SELECT content_hash, messages, answer FROM example WHERE specialist = 'reasoner' AND "
            "status = 'accepted' AND category != 'non_reasoning' AND answer IS NOT NULL AND "
            "length(answer) BETWEEN 1 AND 80 ORDER BY content_hash")).all()
    out = []
    for content_hash, messages, answer in rows:
        msgs = json.loads(messages) if isinstance(messages, str) else messages
        solution = next((m["content"] for m in reversed(msgs) if m["role"] == "assistant"), "")
        question = next((m["content"] for m in msgs if m["role"] == "user"), "")
        if not solution:
            continue
        prompt = (f"Question: {question}\n\nWorked solution:\n{solution}\n\n"
                  "State the final answer only, with no explanation.")
        out.append(Candidate("reasoner", "non_reasoning", [{"role": "user", "content": prompt},
                                                           {"role": "assistant", "content": answer}],
                             source="derived:final_answer", answer=answer,
                             provenance={"from": content_hash}))
        if len(out) >= need:
            break
    return out


def harvest_reasoner(ctx: JobContext, cfg: ReasonerSources, curate: Curate,
                     after_store: Callable[[], Any] | None = None) -> RunResult:
    h = Harvest(ctx, curate, cfg.batch_size, after_store)
    logs = ctx.loaded.config.logs
    ran: list[str] = []
    for _kind, path in log_files(logs, ("chronicle",)):
        ran.append("chronicle")
        h.run(FnSource("chronicle", str(path), functools.partial(
            chronicle.harvest_file, path, mapping=cfg.chronicle)))
        if h.stopped:
            break
    for _kind, path in log_files(logs, ("mcts",)):
        if h.stopped:
            break
        ran.append("mcts")
        h.run(FnSource("mcts", str(path), functools.partial(_mcts, path)))
    for name, gen_cfg, fn in (("teacher", cfg.teacher, teacher), ("augment", cfg.augment, augment)):
        if gen_cfg is None or h.stopped:
            continue
        ran.append(name)
        outcome = Outcome()

        def generated(mark: Mark, fn: Any = fn, gen_cfg: Any = gen_cfg, outcome: Outcome = outcome) -> Iterator[Item]:
            done = set(mark.get("done", []))
            return _generated(fn(gen_cfg, done, outcome), done)

        try:
            h.run(FnSource(name, "prompts", generated))
        except Exception as exc:
            h.errors.append(f"{name}: {exc}")
            ctx.count(f"errors.{name}")
        if outcome.stopped:
            h.errors.append(f"{name}: {outcome.stopped}")
        ctx.count(f"generated.{name}", outcome.generated)
    for name, src in cfg.datasets.items():
        if not src.enabled or h.stopped:
            continue
        ran.append(f"hf:{name}")
        h.run(FnSource(f"hf:{name}", name, functools.partial(harvest_dataset, name, src, stop=ctx.should_stop)))
    if cfg.non_reasoning.derive and not h.stopped:
        derived = derive_non_reasoning(ctx.engine, cfg.non_reasoning.share, limit=10_000)
        if derived:
            h.run(FnSource("derived", "final_answer", lambda _mark: iter(derived)))
    if h.stopped:
        return RunResult("interrupted", message="stopped after a checkpoint; the next run continues")
    if not ran and not cfg.non_reasoning.derive:
        return RunResult("skipped", message="not configured: no reasoner source is configured")
    note = f"sources: {', '.join(dict.fromkeys(ran)) or 'none configured'}"
    if h.errors:
        note += "; problems: " + "; ".join(h.errors[:5])
    return RunResult("ok", message=note)


def content_digest(engine: Engine) -> str:
    """A digest of the stored examples' hashes (for comparing stores in tests and tools)."""
    with engine.connect() as conn:
        hashes = [r[0] for r in conn.execute(text("SELECT content_hash FROM example ORDER BY 1"))]
    return hashlib.sha256("\n".join(hashes).encode()).hexdigest()
