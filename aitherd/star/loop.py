"""One STaR iteration as a watermarked source: sample, check, rationalize, keep (arXiv 2203.14465).

For each chunk of problems (in the iteration's seeded order, after the mark's cursor): k samples
per problem at the configured temperature, all in flight together; answers checked (math through
`aitherd.answers.check`, code in the sandbox); the correct ones deduplicated per problem (one
reasoning path counts once: RFT's gains come from distinct paths) and capped. Problems no sample
solved are asked again with the answer as a hint; a rationale is kept only if it reaches the
answer without leaning on the hint, and is stored with the ORIGINAL prompt, marked
`rationalized`. A problem is one group: its candidates, then a checkpoint whose mark carries the
cursor and the iteration's tallies, so a killed run resumes after the last stored problem and
its learning curve counts each problem once. A problem already in the store for this iteration
(the run died between storing it and moving the mark) is not asked again.

Budgets (completion tokens, wall time) are checked between chunks, and the time budget also
inside one (unfinished requests are dropped and their problems left for later).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from aitherd.candidate import Candidate
from aitherd.evaluate.generate import Decoding, Generation, Generator
from aitherd.sources.items import Checkpoint, Item, Skip
from aitherd.star.check import RunPrograms, check_all, hinted, quotes_hint, rationale_key
from aitherd.star.config import StarConfig
from aitherd.star.problems import Problem
from aitherd.star.state import IterationMark
from aitherd.think import split as split_think


@dataclass
class Sampled:
    """One sample of one problem: the reply split into reasoning and answer text."""

    index: int
    text: str
    reasoning: str | None
    tokens: int = 0
    rationalized: bool = False
    correct: bool = False
    quoted: bool = False  # a rationalization that reached the answer by quoting its hint

    @classmethod
    def of(cls, index: int, gen: Generation, rationalized: bool = False) -> Sampled:
        reasoning, answer = gen.reasoning, gen.text
        if reasoning is None:
            inline, rest = split_think(answer)
            if inline is not None:
                reasoning, answer = inline, rest
        return cls(index, answer.strip(), reasoning.strip() if reasoning else None,
                   gen.completion_tokens or 0, rationalized)

    def full(self) -> str:
        return f"{self.reasoning or ''}\n{self.text}"


Samples = dict[str, list[Sampled]]


@dataclass
class Loop:
    """What an iteration needs: config, generator, the model name, the sandbox, the store."""

    cfg: StarConfig
    generator: Generator
    model: str
    engine: Engine
    run: RunPrograms | None
    should_stop: Callable[[], bool]
    # Why each problem of a chunk must not be asked (contaminated, tests that do not run), or None.
    screen: Callable[[Sequence[Problem]], list[str | None]] = lambda ps: [None] * len(ps)
    progress: Callable[[int], None] = lambda n: None
    started: float = field(default_factory=time.monotonic)
    stopped: str | None = None  # the budget that ended the iteration early, else None
    error: str | None = None  # a request the generator could not answer: the run fails, the iteration stays open

    def over_budget(self, state: IterationMark) -> str | None:
        if self.cfg.token_budget and state.tokens >= self.cfg.token_budget:
            return f"token budget of {self.cfg.token_budget} reached ({state.tokens} completion tokens)"
        if self.cfg.time_budget and time.monotonic() - self.started >= self.cfg.time_budget:
            return f"time budget of {self.cfg.time_budget:.0f} s reached"
        return None

    def _sample(self, prompts: Sequence[str], base_seed: int) -> list[Generation]:
        decoding = Decoding(max_tokens=self.cfg.max_tokens, temperature=self.cfg.temperature,
                            top_p=self.cfg.top_p, seed=base_seed)
        conversations = [[{"role": "user", "content": p}] for p in prompts]

        def stop() -> bool:
            return self.should_stop() or bool(self.cfg.time_budget and time.monotonic() - self.started
                                              >= self.cfg.time_budget)

        return self.generator.generate(self.model, conversations, decoding, should_stop=stop,
                                       seeds=[base_seed + i for i in range(len(prompts))])

    def read(self, state: IterationMark, todo: list[Problem]) -> Iterator[Item]:
        """The iteration from `state` on: per problem its kept candidates, then a checkpoint; a
        last checkpoint says why the iteration finished (none when the run was asked to stop)."""
        room = self.cfg.problems_per_run - state.asked if self.cfg.problems_per_run else len(todo)
        limited = room < len(todo)
        for start in range(0, max(0, min(room, len(todo))), self.cfg.chunk):
            if self.should_stop():
                return
            if why := self.over_budget(state):
                self.stopped = why
                break
            chunk = todo[start:min(start + self.cfg.chunk, room)]
            yield from self._chunk(state, chunk)
            if self.error or (self.should_stop() and not self.stopped):
                return
            if self.stopped:
                break
        state.finished = self.stopped or ("limit" if limited else "done")
        yield Checkpoint(state.mark())

    def _chunk(self, state: IterationMark, chunk: list[Problem]) -> Iterator[Item]:
        key = state.iteration * 100_003 + self.cfg.seed
        stored = stored_outcomes(self.engine, state.iteration, [p.id for p in chunk])
        dirty = self.screen(chunk)
        ask = [p for p, bad in zip(chunk, dirty, strict=True) if not bad and p.id not in stored]
        t0 = time.monotonic()
        samples, whole = self._pass(state, ask, [p.prompt for p in ask], self.cfg.samples, key, False)
        need = [p for p in ask if p.id in samples and self.cfg.rationalize and p.hintable
                and not any(s.correct for s in samples[p.id])]
        hints: Samples = {}
        if whole and need:
            hints, whole = self._pass(state, need, [hinted(p) for p in need], self.cfg.rationalize_samples,
                                      key + 50_000, True)
        for p in need:  # a problem whose rationalization a stop or budget cut is asked another time
            if p.id in hints:
                samples[p.id] += hints[p.id]
            else:
                del samples[p.id]
        state.seconds += time.monotonic() - t0
        if not whole and not self.should_stop() and not self.error:
            self.stopped = self.over_budget(state) or "time budget reached"
        for p, bad in zip(chunk, dirty, strict=True):
            if bad:
                yield Skip(bad)
            elif p.id in stored:  # stored by a run that died before its mark moved
                state.add(p.source, **stored[p.id])
                state.asked += 1
            elif p.id not in samples:
                return  # a budget or stop cut the chunk here: the rest is asked another time
            else:
                yield from self._keep(state, p, samples[p.id])
            state.after = p.order(self.cfg.seed, state.iteration)
            self.progress(state.asked)
            yield Checkpoint(state.mark())

    def _pass(self, state: IterationMark, problems: list[Problem], prompts: list[str], per: int, key: int,
              rationalized: bool) -> tuple[Samples, bool]:
        """`per` samples of each prompt, checked: (samples of the problems answered in full, up to
        the first one a stop or budget cut short; whether none was cut)."""
        gens = self._sample([q for q in prompts for _ in range(per)], key) if prompts else []
        state.tokens += sum(g.completion_tokens or 0 for g in gens)
        complete: list[Problem] = []
        for i, p in enumerate(problems):
            failed = [g.error for g in gens[i * per:(i + 1) * per] if g.error]
            if failed:  # cut by a stop or budget ("not run"), or a request that failed
                self.error = self.error or next((e for e in failed if not e.startswith("not run")), None)
                break
            complete.append(p)
        first = self.cfg.samples if rationalized else 0
        flat = [(p, Sampled.of(first + j, gens[i * per + j], rationalized))
                for i, p in enumerate(complete) for j in range(per)]
        ok = check_all([p for p, _ in flat], [s.text or s.full() for _, s in flat], self.run)
        out: Samples = {p.id: [] for p in complete}
        for (p, s), right in zip(flat, ok, strict=True):
            s.quoted = right and rationalized and quotes_hint(s.full())
            s.correct = right and not s.quoted
            out[p.id].append(s)
        return out, len(complete) == len(problems)

    def _keep(self, state: IterationMark, p: Problem, samples: list[Sampled]) -> Iterator[Candidate]:
        first = [s for s in samples if not s.rationalized]
        hints = [s for s in samples if s.rationalized]
        solved = any(s.correct for s in first)
        seen: set[str] = set()
        kept: list[Sampled] = []
        duplicates = capped = 0
        for s in (s for s in samples if s.correct):
            k = rationale_key(s.reasoning, s.text)
            if k in seen:
                duplicates += 1
            elif len(kept) >= self.cfg.max_per_problem:
                capped += 1
            else:
                seen.add(k)
                kept.append(s)
        outcome = {"tried": 1, "solved": int(solved), "rationalized": int(not solved and bool(kept)),
                   "unsolved": int(not kept), "kept": len(kept), "samples": len(first),
                   "correct": sum(s.correct for s in first), "hint_samples": len(hints),
                   "hint_correct": sum(s.correct for s in hints), "hint_quoted": sum(s.quoted for s in hints),
                   "duplicates": duplicates, "capped": capped, "tokens": sum(s.tokens for s in samples)}
        state.add(p.source, **outcome)
        state.asked += 1
        if not kept:
            state.failed.append(p.id)
        for s in kept:
            yield self._candidate(state, p, s, outcome)

    def _candidate(self, state: IterationMark, p: Problem, s: Sampled, outcome: dict[str, int]) -> Candidate:
        return Candidate(
            "reasoner", p.category,
            [{"role": "user", "content": p.prompt}, {"role": "assistant", "content": s.text}],
            source="star", reasoning=s.reasoning, answer=p.answer if p.kind == "math" else None,
            provenance={"iteration": state.iteration, "problem": p.id, "problem_source": p.source,
                        "sample": s.index, "rationalized": s.rationalized, "adapter": state.adapter,
                        "model": state.model, "temperature": self.cfg.temperature, "outcome": outcome})


def stored_outcomes(engine: Engine, iteration: int, ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Problems of `ids` with rows stored in this iteration, and the tally their rows recorded."""
    if not ids:
        return {}
    sql = text("SELECT json_extract(provenance, '$.problem'), json_extract(provenance, '$.outcome') "
               "FROM example WHERE source = 'star' AND json_extract(provenance, '$.iteration') = :it "
               "AND json_extract(provenance, '$.problem') IN (SELECT value FROM json_each(:ids))")
    with engine.connect() as conn:
        rows = conn.execute(sql, {"it": iteration, "ids": json.dumps(list(ids))}).all()
    out: dict[str, dict[str, int]] = {}
    for pid, outcome in rows:
        data = json.loads(outcome) if isinstance(outcome, str) else (outcome or {})
        out[str(pid)] = {k: int(v) for k, v in data.items() if isinstance(v, int)}
    return out
