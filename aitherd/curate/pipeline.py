"""The curation pipeline: redact -> judge -> decontaminate -> dedup, over a stream of candidates.

Every candidate comes out, accepted or rejected with a reason; each step counts what it kept and
what it dropped (by reason). Rejected candidates are still redacted before anyone stores them.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Engine, select, update

from aitherd.candidate import Candidate
from aitherd.curate.config import CurationConfig
from aitherd.curate.decontam import DecontamIndex
from aitherd.curate.dedup import Deduper
from aitherd.curate.judge import Judge
from aitherd.curate.redact import configure, scrub
from aitherd.curate.reports import decontam_report, rejected  # noqa: F401 - re-exported
from aitherd.store.models import Example

# Reasons a recheck may revisit (the others, e.g. duplicate, depend on history, not thresholds).
RECHECK_REASONS = ("low_quality", "too_long", "contaminated")
# What is left of a redacted text once placeholders and key armour lines are taken out.
_WORDS_LEFT = re.compile(r"<REDACTED:\w+>|-----(?:BEGIN|END) [A-Z0-9 ]+-----")
_WORD = re.compile(r"[^\W\d_]{2,}")


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
        # The store and the logs of this process redact the same way, with the same redactor.
        shared = configure(config.redact)
        self.redactor = shared if config.redact.enabled else None
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
        """Redact every field; reject `secret` when a message (or the reasoning, the answer) is
        little but secrets: more than `max_secret_fraction` of it, with fewer than
        `min_words_left` words beside them. A request like "fix my `OpenAI(api_key=...)` call"
        keeps its words and is kept, redacted; a pasted key with a word or two is not."""
        if self.redactor is None:
            return
        before = c.status == "accepted"
        total: Counter[str] = Counter()
        about: list[float] = []
        cfg = self.config.redact

        def text(value: str | None) -> str | None:
            if not value:
                return value
            out, counts, removed = self.redactor.redact(value)  # type: ignore[union-attr]
            if counts:
                total.update(counts)
                left = _WORDS_LEFT.sub(" ", out)
                share = removed / max(1, removed + len("".join(left.split())))
                if share > cfg.max_secret_fraction and len(_WORD.findall(left)) < cfg.min_words_left:
                    about.append(share)
            return out

        for m in c.messages:
            for k, v in m.items():
                m[k] = text(v) if k == "content" and isinstance(v, str) else scrub(v, self.redactor, total)
        c.reasoning, c.answer = text(c.reasoning), text(c.answer)
        for f in dataclasses.fields(c):  # provenance, curation notes and any field added later
            if f.name not in ("messages", "reasoning", "answer"):
                setattr(c, f.name, scrub(getattr(c, f.name), self.redactor, total))
        if total:
            c.curation["redactions"] = dict(total)
            self.stats.redactions.update(total)
            if c.status == "accepted" and about:
                c.reject("secret", share=round(max(about), 3), types=sorted(total))
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
