"""The curation pipeline: a list of steps (steps.py) over a stream of candidates in batches.

The steps, in order: redact -> judge -> decontaminate -> dedup, those the configuration enables.
Every candidate comes out, accepted or rejected with a reason; each step counts what it kept and
what it dropped (by reason). Rejected candidates are still redacted before anyone stores them.
After a batch is stored, each step's after-store hook runs (dedup writes its signatures).
`recheck` re-runs the steps whose verdict a new threshold or benchmark can change.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, select, update

from aitherd.candidate import Candidate
from aitherd.curate.config import CurationConfig
from aitherd.curate.decontam import DecontamIndex
from aitherd.curate.parallel import Workers
from aitherd.curate.redact import configure
from aitherd.curate.reports import decontam_report, rejected  # noqa: F401 - re-exported
from aitherd.curate.steps import Decontam, Step, default_steps
from aitherd.store.models import Example

# Reasons a recheck may revisit (the others, e.g. duplicate, depend on history, not thresholds).
RECHECK_REASONS = ("low_quality", "too_long", "contaminated")


class Stats:
    """Per step: kept, and dropped by reason; and the redactions made."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {s.name: s.stats.as_dict() for s in sorted(self.steps, key=lambda s: s.name)
                               if s.stats.seen}
        out["redactions"] = dict(sum((s.stats.extra for s in self.steps if s.name == "redact"), Counter()))
        return out


class Curator:
    """Runs `steps` (by default those the configuration enables, in their order) over batches."""

    def __init__(self, config: CurationConfig, engine: Engine | None = None,
                 index: DecontamIndex | None = None, steps: list[Step] | None = None) -> None:
        self.config, self.engine = config, engine
        # The store and the logs of this process redact the same way, with the same redactor.
        redactor = configure(config.redact)
        self.steps = steps if steps is not None else default_steps(config, redactor, engine, index)
        self.stats = Stats(self.steps)
        self.workers = Workers(config.workers or min(4, len(os.sched_getaffinity(0))), self.steps)

    @property
    def index(self) -> DecontamIndex | None:
        """The decontamination index its decontam step screens with (None when that step is off):
        STaR screens its problems with it before asking them."""
        return next((step.index for step in self.steps if isinstance(step, Decontam)), None)

    def process(self, candidates: Iterable[Candidate]) -> Iterator[Candidate]:
        """Curate a stream in batches; yields every input, accepted or rejected with a reason.
        While the steps that run here work on one batch, the workers work on the next."""
        pending: tuple[list[Candidate], Any] | None = None
        for batch in self._batches(candidates):
            started = (batch, self.workers.start(batch))
            if pending is not None:
                yield from self._finish(*pending)
            pending = started
        if pending is not None:
            yield from self._finish(*pending)

    def _batches(self, candidates: Iterable[Candidate]) -> Iterator[list[Candidate]]:
        batch: list[Candidate] = []
        for c in candidates:
            batch.append(c)
            if len(batch) >= self.config.batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _finish(self, batch: list[Candidate], handle: Any) -> list[Candidate]:
        for step in self.workers.finish(batch, handle):
            step(batch)
        return batch

    def run(self, batch: list[Candidate], steps: Iterable[Step] | None = None) -> list[Candidate]:
        """Every step (or those given, in this process), in order, over one batch; the leading
        steps that look at one candidate at a time run in the worker processes (parallel.py)."""
        if steps is None:
            return self._finish(batch, self.workers.start(batch))
        for step in steps:
            step(batch)
        return batch

    def close(self) -> None:
        """Stop the worker processes (also done when the Curator is collected, or at exit)."""
        self.workers.close()

    def after_store(self) -> int:
        """After inserting this run's candidates: each step's hook (dedup persists its near-dup
        signatures); returns how many rows they wrote."""
        return sum(step.after_store() for step in self.steps)

    save_signatures = after_store  # the name the harvest jobs know

    def recheck(self, engine: Engine | None = None, chunk: int = 512) -> dict[str, Any]:
        """Re-run the rechecking steps (judge, decontam) over stored examples (accepted, or
        rejected for a reason a new threshold or benchmark could change) in place; returns
        counts of what changed."""
        engine = engine or self.engine
        assert engine is not None
        steps = [s for s in self.steps if s.rechecks]
        changed: Counter[str] = Counter()
        last_id = 0
        while True:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(Example)
                    .where(Example.id > last_id)
                    .where((Example.status == "accepted") | Example.reason.in_(RECHECK_REASONS))
                    .order_by(Example.id)
                    .limit(chunk)
                ).all()
            if not rows:
                break
            last_id = rows[-1].id
            cands = [Candidate.from_row(r).reopened(RECHECK_REASONS) for r in rows]
            self.run(cands, steps)
            with engine.begin() as conn:
                for r, c in zip(rows, cands, strict=True):
                    if (c.status, c.reason) != (r.status, r.reason):
                        changed[f"{r.reason or r.status}->{c.reason or c.status}"] += 1
                    conn.execute(update(Example).where(Example.id == r.id).values(c.verdict()))
            changed["checked"] += len(rows)
        return {"changed": dict(changed), "steps": self.stats.as_dict()}
