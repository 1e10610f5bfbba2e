"""The curation pipeline: redact -> judge -> decontaminate -> dedup, over a stream of candidates.

Every candidate comes out, accepted or rejected with a reason; each step counts what it kept and
what it dropped (by reason). Rejected candidates are still redacted before anyone stores them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, select, update

from aitherd.candidate import Candidate
from aitherd.curate.config import CurationConfig
from aitherd.curate.decontam import DecontamIndex
from aitherd.curate.dedup import Deduper
from aitherd.curate.judge import Judge
from aitherd.curate.redact import Redactor
from aitherd.curate.reports import decontam_report, rejected  # noqa: F401 - re-exported
from aitherd.store.models import Example

# Reasons a recheck may revisit (the others, e.g. duplicate, depend on history, not thresholds).
RECHECK_REASONS = ("low_quality", "too_long", "contaminated")


class Stats:
    """Per step: kept, and dropped by reason."""

    def __init__(self) -> None:
        self.kept: Counter[str] = Counter()
        self.dropped: dict[str, Counter[str]] = defaultdict(Counter)
        self.redactions: Counter[str] = Counter()

    def as_dict(self) -> dict[str, Any]:
        steps = sorted(set(self.kept) | set(self.dropped))
        out: dict[str, Any] = {
            s: {"kept": self.kept[s], "dropped": dict(self.dropped[s])} for s in steps
        }
        out["redactions"] = dict(self.redactions)
        return out


class Curator:
    def __init__(
        self,
        config: CurationConfig,
        engine: Engine | None = None,
        index: DecontamIndex | None = None,
    ) -> None:
        self.config, self.engine = config, engine
        self.stats = Stats()
        self.redactor = Redactor(config.redact) if config.redact.enabled else None
        self.judge = Judge(config.judge) if config.judge.enabled else None
        self.index = index
        if self.index is None and config.decontam.enabled:
            self.index = DecontamIndex.from_config(config.decontam)
        self.deduper = Deduper(config.dedup, engine) if config.dedup.enabled else None

    # --- steps ----------------------------------------------------------------------------

    def _count(self, step: str, c: Candidate, was_accepted: bool) -> None:
        if not was_accepted:
            return
        if c.status == "accepted":
            self.stats.kept[step] += 1
        else:
            self.stats.dropped[step][c.reason or "?"] += 1

    def redact(self, c: Candidate) -> None:
        if self.redactor is None:
            return
        before = c.status == "accepted"
        total: Counter[str] = Counter()
        share = 0.0  # the largest share of one message (or reasoning, answer) that was secret

        def one(text: str | None) -> str | None:
            nonlocal share
            if not text:
                return text
            out, counts, n = self.redactor.redact(text)  # type: ignore[union-attr]
            total.update(counts)
            share = max(share, n / len(text))
            return out

        for m in c.messages:
            if isinstance(m.get("content"), str):
                m["content"] = one(m["content"])
        c.reasoning, c.answer = one(c.reasoning), one(c.answer)
        if total:
            c.curation["redactions"] = dict(total)
            self.stats.redactions.update(total)
            # The secret is most of a message (e.g. "is this key valid? AKIA..."): the example
            # means nothing without it.
            if c.status == "accepted" and share > self.config.redact.max_secret_fraction:
                c.reject("secret", share=round(share, 3), types=sorted(total))
        self._count("redact", c, before)

    def judge_one(self, c: Candidate) -> None:
        if self.judge is None or c.status != "accepted":
            return
        self.judge.judge(c)
        self._count("judge", c, True)

    def decontam(self, batch: list[Candidate]) -> None:
        if self.index is None:
            return
        live = [c for c in batch if c.status == "accepted"]
        for c, hit in zip(live, self.index.screen([c.text() for c in live]), strict=True):
            if hit is not None:
                c.reject(
                    "contaminated",
                    benchmark=hit["benchmark"],
                    item=hit["item"],
                    overlap=hit["overlap"],
                    part=hit["part"],
                    view=hit["view"],
                )
            self._count("decontam", c, True)

    def dedup(self, c: Candidate) -> None:
        if self.deduper is None or c.status != "accepted":
            return
        self.deduper.check(c)
        self._count("dedup", c, True)

    # --- the stream -----------------------------------------------------------------------

    def process(self, candidates: Iterable[Candidate]) -> Iterator[Candidate]:
        """Curate a stream in batches; yields every input, accepted or rejected with a reason."""
        batch: list[Candidate] = []
        for c in candidates:
            batch.append(c)
            if len(batch) >= self.config.batch_size:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def _batch(self, batch: list[Candidate]) -> list[Candidate]:
        for c in batch:
            self.redact(c)
            self.judge_one(c)
        self.decontam(batch)
        for c in batch:
            self.dedup(c)
        return batch

    def save_signatures(self) -> int:
        """After inserting this run's candidates: persist their near-dup signatures."""
        return self.deduper.save_signatures() if self.deduper is not None else 0

    # --- re-curation ----------------------------------------------------------------------

    def recheck(self, engine: Engine | None = None, chunk: int = 512) -> dict[str, Any]:
        """Re-judge and re-screen stored examples (accepted, or rejected for a reason a new
        threshold or benchmark could change) in place; returns counts of what changed."""
        engine = engine or self.engine
        assert engine is not None
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
            cands = []
            for r in rows:
                cur = {k: v for k, v in (r.curation or {}).items() if k not in RECHECK_REASONS}
                cur.pop("llm_judge", None)
                cands.append(
                    Candidate(
                        specialist=r.specialist,
                        category=r.category,
                        messages=r.messages,
                        source=r.source,
                        provenance=r.provenance,
                        reasoning=r.reasoning,
                        answer=r.answer,
                        license=r.license,
                        weight=r.weight,
                        curation=cur,
                    )
                )
            for c in cands:
                self.judge_one(c)
            self.decontam(cands)
            with engine.begin() as conn:
                for r, c in zip(rows, cands, strict=True):
                    if (c.status, c.reason) != (r.status, r.reason):
                        changed[f"{r.reason or r.status}->{c.reason or c.status}"] += 1
                    conn.execute(
                        update(Example)
                        .where(Example.id == r.id)
                        .values(
                            status=c.status,
                            reason=c.reason,
                            quality=c.quality,
                            quality_reasons=c.quality_reasons,
                            curation=c.curation,
                        )
                    )
            changed["checked"] += len(rows)
        return {"changed": dict(changed), "steps": self.stats.as_dict()}
