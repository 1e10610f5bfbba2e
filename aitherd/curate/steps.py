"""The curation steps: each a callable over a batch of candidates with its own stats, plus an
after-store hook; the Curator (pipeline.py) runs a list of them in order.

A step marks candidates accepted or rejected with a reason and never drops one. It looks only at
the candidates still accepted when it runs, except redaction, which redacts every candidate (a
rejected one is stored too). Each counts, of the candidates accepted when it began, how many it
kept and how many it dropped by reason. `rechecks` says whether re-curating stored examples runs
the step again: its verdict depends on thresholds or test sets that may change, not on history.
A step that sets `parallel` marks each candidate from its own fields alone, so `parallel.py` may
run it in a worker process; a step that `prepares` computes something from a candidate's text
there (`prepare`) and uses it here (`prepared`).
"""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections import Counter
from typing import Any

from aitherd.candidate import Candidate
from aitherd.curate.config import CurationConfig, RedactConfig
from aitherd.curate.decontam import DecontamIndex
from aitherd.curate.dedup import Deduper
from aitherd.curate.judge import Judge
from aitherd.curate.redact import Redactor, scrub

# What is left of a redacted text once placeholders and key armour lines are taken out.
_WORDS_LEFT = re.compile(r"<REDACTED:\w+>|-----(?:BEGIN|END) [A-Z0-9 ]+-----")
_WORD = re.compile(r"[^\W\d_]{2,}")


class StepStats:
    """One step's counts: kept, and dropped by reason, of the candidates it looked at."""

    def __init__(self) -> None:
        self.kept = 0
        self.dropped: Counter[str] = Counter()
        self.extra: Counter[str] = Counter()  # what else the step counts (redactions by type)
        self.seen = False

    def merge(self, other: StepStats) -> None:
        """Add the counts of the same step run elsewhere (a worker process)."""
        self.kept += other.kept
        self.dropped.update(other.dropped)
        self.extra.update(other.extra)
        self.seen = self.seen or other.seen

    def count(self, c: Candidate) -> None:
        self.seen = True
        if c.status == "accepted":
            self.kept += 1
        else:
            self.dropped[c.reason or "?"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "dropped": dict(self.dropped)}


class Step(ABC):
    """A curation step: `step(batch)` marks the batch's candidates in place; `after_store()` runs
    once the batch is stored and returns how many things it wrote (0 for most steps)."""

    name = "step"
    rechecks = False
    parallel = False
    prepares = False

    def __init__(self) -> None:
        self.stats = StepStats()

    @abstractmethod
    def __call__(self, batch: list[Candidate]) -> None:
        """Mark `batch`'s candidates in place, counting into `self.stats`."""

    def after_store(self) -> int:
        return 0

    def worked(self, batch: list[Candidate]) -> None:
        """After a worker ran this (parallel) step over `batch`: anything to note here."""
        return None

    def prepare(self, c: Candidate) -> Any:
        """What this step can compute from `c`'s text ahead of its turn, in a worker."""
        return None

    def prepared(self, batch: list[Candidate], values: list[Any]) -> None:
        """The values `prepare` gave for `batch`, to use when this step's turn comes."""
        return None


class EachCandidate(Step):
    """A step that looks at one accepted candidate at a time: `one(c)` marks it."""

    def __call__(self, batch: list[Candidate]) -> None:
        for c in batch:
            if c.status == "accepted":
                self.one(c)
                self.stats.count(c)

    @abstractmethod
    def one(self, c: Candidate) -> None:
        """Mark one accepted candidate."""


class Redact(EachCandidate):
    """Redact every field; reject `secret` when a message (or the reasoning, the answer) is
    little but secrets: more than `max_secret_fraction` of it, with fewer than `min_words_left`
    words beside them. A request like "fix my `OpenAI(api_key=...)` call" keeps its words and is
    kept, redacted; a pasted key with a word or two is not. `redactions` counts what it replaced."""

    name = "redact"
    parallel = True

    def __init__(self, redactor: Redactor, cfg: RedactConfig) -> None:
        super().__init__()
        self.redactor, self.cfg = redactor, cfg

    def __call__(self, batch: list[Candidate]) -> None:
        for c in batch:
            before = c.status == "accepted"
            self.one(c)
            if before:
                self.stats.count(c)

    def one(self, c: Candidate) -> None:
        total: Counter[str] = Counter()
        about: list[float] = []
        for m in c.messages:
            for k, v in m.items():
                m[k] = self._text(v, total, about) if k == "content" and isinstance(v, str) else scrub(
                    v, self.redactor, total)
        c.reasoning, c.answer = self._text(c.reasoning, total, about), self._text(c.answer, total, about)
        for f in dataclasses.fields(c):  # provenance, curation notes and any field added later
            if f.name not in ("messages", "reasoning", "answer"):
                setattr(c, f.name, scrub(getattr(c, f.name), self.redactor, total))
        if total:
            c.curation["redactions"] = dict(total)
            self.stats.extra.update(total)
            if c.status == "accepted" and about:
                c.reject("secret", share=round(max(about), 3), types=sorted(total))

    def worked(self, batch: list[Candidate]) -> None:
        """A candidate the worker found nothing in holds texts this redactor leaves as they are:
        remembered, so the store's redaction pass in this process finds them at once."""
        for c in batch:
            if "redactions" not in c.curation:
                for text in (*(m.get("content") for m in c.messages), c.reasoning, c.answer):
                    if isinstance(text, str) and text:
                        self.redactor.remember(text)

    def _text(self, value: str | None, total: Counter[str], about: list[float]) -> str | None:
        """One message redacted; its secret share goes to `about` when the message is the secret."""
        if not value:
            return value
        out, counts, removed = self.redactor.redact(value)
        if counts:
            total.update(counts)
            left = _WORDS_LEFT.sub(" ", out)
            share = removed / max(1, removed + len("".join(left.split())))
            if share > self.cfg.max_secret_fraction and len(_WORD.findall(left)) < self.cfg.min_words_left:
                about.append(share)
        return out


class JudgeStep(EachCandidate):
    """Quality: a score and its reasons; `too_long` or `low_quality` where due (judge.py)."""

    name = "judge"
    rechecks = True

    def __init__(self, judge: Judge) -> None:
        super().__init__()
        self.judge = judge
        self.parallel = judge.cfg.llm.base_url is None  # an LLM judge's requests stay one at a time

    def one(self, c: Candidate) -> None:
        self.judge.judge(c)


class Decontam(Step):
    """`contaminated` when an example overlaps a benchmark's test item (decontam.py); one
    screen over the whole batch."""

    name = "decontam"
    rechecks = True

    def __init__(self, index: DecontamIndex) -> None:
        super().__init__()
        self.index = index

    def __call__(self, batch: list[Candidate]) -> None:
        live = [c for c in batch if c.status == "accepted"]
        for c, hit in zip(live, self.index.screen([c.text() for c in live]), strict=True):
            if hit is not None:
                c.reject("contaminated", benchmark=hit["benchmark"], item=hit["item"], overlap=hit["overlap"],
                         part=hit["part"], view=hit["view"])
            self.stats.count(c)


class Dedup(Step):
    """`duplicate`, exact or near, within the run and against the store (dedup.py); after the
    store, the kept candidates' near-dup signatures are written onto their rows."""

    name = "dedup"
    prepares = True

    def __init__(self, deduper: Deduper) -> None:
        super().__init__()
        self.deduper = deduper
        self._signed: dict[int, Any] = {}  # id(candidate) -> its signature, for this batch

    def __call__(self, batch: list[Candidate]) -> None:
        try:
            for c in batch:
                if c.status == "accepted":
                    self.deduper.check(c, self._signed.pop(id(c), None))
                    self.stats.count(c)
        finally:
            self._signed.clear()

    def prepare(self, c: Candidate) -> Any:
        """The near-dup signature (the costly part of a check), for a candidate still accepted."""
        hasher = self.deduper.hasher
        return hasher.signature(c.text()) if hasher is not None and c.status == "accepted" else None

    def prepared(self, batch: list[Candidate], values: list[Any]) -> None:
        self._signed.update((id(c), v) for c, v in zip(batch, values, strict=True) if v is not None)

    def after_store(self) -> int:
        return self.deduper.save_signatures()


def default_steps(config: CurationConfig, redactor: Redactor, engine: Any = None,
                  index: DecontamIndex | None = None) -> list[Step]:
    """The enabled steps in their order: redact -> judge -> decontam -> dedup. Redaction comes
    first so nothing later (a judge endpoint, a stored note) sees a secret; dedup comes last so
    a copy is judged against kept examples only, the better-scored one winning."""
    steps: list[Step] = []
    if config.redact.enabled:
        steps.append(Redact(redactor, config.redact))
    if config.judge.enabled:
        steps.append(JudgeStep(Judge(config.judge)))
    if index is None and config.decontam.enabled:
        index = DecontamIndex.from_config(config.decontam)
    if index is not None:
        steps.append(Decontam(index))
    if config.dedup.enabled:
        steps.append(Dedup(Deduper(config.dedup, engine)))
    return steps
