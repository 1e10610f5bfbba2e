"""Reasoning traces generated through an OpenAI-compatible endpoint: a teacher model on curated
prompts (weight 1.3), and three augmentation strategies that produce differently structured
reasoning (verification chains, long-horizon decomposition, tree-search planning).

Both read prompts from a JSONL file ({"id", "prompt" or "problem", "answer"?, "category"?}).
Nothing is paid for twice: a prompt is known by a digest of its text (and strategy), the store
is the ledger of prompts answered (every reply becomes a stored candidate, accepted or
rejected), and the watermark keeps only the prompts whose request failed and how often. A failed
request (a malformed reply, a request the endpoint refused) is one counted failure of that
prompt; the prompt is tried again on later runs, up to `max_attempts`, then recorded as failed
and passed over. When the endpoint itself fails (down, key refused, spend cap) the pass stops
and says why; the prompts not reached are tried next run.

A checkable reference answer is compared with the model's; a wrong answer, an empty one, a trace
cut off by the length limit, or an augmentation that ignored its strategy's structure is
rejected with a reason, never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.answers import check, extract_answer, to_number
from aitherd.candidate import REASONER_CATEGORIES, Candidate
from aitherd.llm import ChatClient, Completion, EndpointConfig, LLMError, PromptError, SpendCapReached
from aitherd.sources.items import BadInput, Checkpoint, Item
from aitherd.sources.structure import missing_structure

STRATEGIES = ("verification", "decomposition", "tree_search")
_STRATEGY_CATEGORY = {"verification": "math", "decomposition": "planning", "tree_search": "planning"}
FAILED_IN_A_ROW = 5  # this many failed requests in a row stop the pass: the endpoint is the problem


class _Generation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: EndpointConfig
    # Requests for one prompt across runs (a malformed reply, a refused request) before it is
    # recorded as failed and passed over.
    max_attempts: int = Field(default=3, ge=1)


class TeacherConfig(_Generation):
    prompts: str  # JSONL of curated prompts
    per_run: int = Field(default=200, ge=1)
    weight: float = 1.3


class AugmentConfig(_Generation):
    seeds: str  # JSONL of seed problems
    strategies: list[str] = Field(default_factory=lambda: list(STRATEGIES))
    prompts_dir: str = ""  # STRATEGY.txt files here replace the built-in templates
    per_run: int = Field(default=100, ge=1)
    # Reject replies without the structure their strategy asks for (see structure.py); turn off
    # for custom templates that ask for something else.
    check_structure: bool = True


@dataclass
class Ledger:
    """What was paid for already: keys (prompt digests) of answered prompts, from the store;
    `legacy` ids (`id` or line number, and `id:strategy`) from marks and rows of older versions;
    `failures`: key -> failed requests so far, and `bad_lines`: digests of prompt-file lines
    already reported as unusable (both kept in the watermark)."""

    answered: set[str] = field(default_factory=set)
    legacy: set[str] = field(default_factory=set)
    failures: dict[str, int] = field(default_factory=dict)
    bad_lines: set[str] = field(default_factory=set)

    def mark(self) -> dict[str, Any]:
        mark: dict[str, Any] = {"failures": dict(self.failures)}
        if self.bad_lines:
            mark["bad_lines"] = sorted(self.bad_lines)
        return mark


@dataclass
class Outcome:
    """What a generation pass did, for the run's counts and message."""

    generated: int = 0  # replies turned into candidates (accepted or rejected)
    rejected: int = 0
    failed: int = 0  # requests that failed for their prompt (retried next run)
    gave_up: int = 0  # prompts recorded as failed for good in this run
    failed_before: int = 0  # prompts passed over: recorded as failed in earlier runs
    bad_lines: int = 0  # prompt-file lines that cannot be used
    stopped: str | None = None  # why the pass stopped early (spend cap, endpoint down)
    client: ChatClient | None = None  # requests, retries and tokens spent

    @property
    def stalled(self) -> str | None:
        """Why the pass made no progress (requests were made or due, no reply came of them)."""
        if self.generated or not (self.stopped or self.failed):
            return None
        if self.stopped:
            return self.stopped
        why = f"{self.failed} request{'s' * (self.failed != 1)} failed"
        return why + (f", {self.gave_up} prompt{'s' * (self.gave_up != 1)} recorded as failed" if self.gave_up else "")


@dataclass
class Task:
    """One request to make: `key` names it in the ledger, `where` in error messages."""

    key: str
    legacy: str
    where: str
    rec: dict[str, Any]
    prompt: str
    strategy: str | None = None


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class BadLine:
    """A prompt-file line that cannot be used; `key` (its digest) so it is reported once."""

    key: str
    item: BadInput


def read_prompts(path: str) -> Iterator[tuple[int, str, dict[str, Any]] | BadLine]:
    """(line, legacy id, prompt record) per line; a BadLine for a line that cannot be used."""
    with open(Path(path).expanduser(), encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                text = rec.get("prompt") or rec.get("problem")
                if not isinstance(text, str) or not text.strip():
                    raise ValueError("no 'prompt' or 'problem' text")
            except (ValueError, AttributeError) as err:
                yield BadLine(digest(line.strip()), BadInput(f"{path}:{n}", f"unusable prompt line: {err}"))
                continue
            yield n, str(rec.get("id", n)), {**rec, "text": text}


def template(strategy: str, prompts_dir: str = "") -> str:
    if prompts_dir and (custom := Path(prompts_dir).expanduser() / f"{strategy}.txt").is_file():
        return custom.read_text()
    return resources.files("aitherd.sources.prompts").joinpath(f"{strategy}.txt").read_text()


def _candidate(rec: dict[str, Any], out: Completion, *, source: str, category: str, weight: float,
               provenance: dict[str, Any]) -> Candidate:
    answer = extract_answer(out.text)
    cand = Candidate("reasoner", category, [{"role": "user", "content": rec["text"]},
                                            {"role": "assistant", "content": out.text}],
                     source=source, reasoning=out.reasoning, answer=answer, weight=weight,
                     provenance=provenance)
    if out.finish_reason == "length":
        cand.reject("truncated", detail="the model hit its length limit")
    elif not out.text.strip():
        cand.reject("empty_answer", detail="the reply had no answer text")
    elif not out.reasoning:
        cand.reject("no_reasoning", detail="the endpoint returned no chain of thought")
    elif rec.get("answer") is not None and not check(out.text, str(rec["answer"])):
        cand.reject("wrong_answer", expected=str(rec["answer"]), got=answer)
    return cand


def _category(rec: dict[str, Any], default: str) -> str:
    cat = rec.get("category")
    return cat if cat in REASONER_CATEGORIES and cat != "non_reasoning" else default


def seed_category(rec: dict[str, Any], strategy: str) -> tuple[str, str]:
    """(category, why) of an augmented seed: the seed's own category; else math when its
    reference answer is a number or formula (a math seed stays math through any strategy);
    else the strategy's default."""
    cat = rec.get("category")
    if cat in REASONER_CATEGORIES and cat != "non_reasoning":
        return cat, "seed"
    answer = str(rec.get("answer") or "")
    if answer and (to_number(answer) is not None or any(t in answer for t in ("\\frac", "\\sqrt", "^"))):
        return "math", "numeric reference answer"
    return _STRATEGY_CATEGORY[strategy], f"{strategy} default (the seed has no category)"


def generate(tasks: Iterator[Task | BadLine], make: Callable[[Task, Completion], Candidate],
             per_run: int, max_attempts: int, ledger: Ledger, outcome: Outcome, client: ChatClient,
             what: str) -> Iterator[Item]:
    """Ask for each task not answered nor given up, up to `per_run` requests; a candidate or a
    counted failure per task, each followed by a checkpoint of the failures."""
    outcome.client = client
    asked: set[str] = set()  # a prompt listed twice is asked once
    in_a_row = 0
    for task in tasks:
        if isinstance(task, BadLine):  # reported (and counted) once, not on every run
            if task.key not in ledger.bad_lines:
                ledger.bad_lines.add(task.key)
                outcome.bad_lines += 1
                yield task.item
                yield Checkpoint(ledger.mark())
            continue
        if task.key in ledger.answered or task.key in asked or task.legacy in ledger.legacy:
            continue
        tries = ledger.failures.get(task.key, 0)
        if tries >= max_attempts:
            outcome.failed_before += 1
            continue
        if len(asked) >= per_run:
            return
        asked.add(task.key)
        try:
            out = client.complete([{"role": "user", "content": task.prompt}])
        except SpendCapReached as err:
            outcome.stopped = str(err)
            return
        except PromptError as err:
            tries += 1
            ledger.failures[task.key] = tries
            outcome.failed += 1
            in_a_row += 1
            if tries >= max_attempts:
                outcome.gave_up += 1
                why = f"request failed {tries} times, recorded as failed: {err}"
            else:
                why = f"request failed (try {tries} of {max_attempts}, again next run): {err}"
            yield BadInput(task.where, why)
            yield Checkpoint(ledger.mark())
            if in_a_row >= FAILED_IN_A_ROW:
                outcome.stopped = f"{what}: {in_a_row} failed requests in a row, last: {err}"
                return
            continue
        except LLMError as err:
            outcome.stopped = f"{what} endpoint failed: {err}"
            return
        in_a_row = 0
        cand = make(task, out)
        ledger.answered.add(task.key)
        ledger.failures.pop(task.key, None)
        outcome.generated += 1
        outcome.rejected += cand.status == "rejected"
        yield cand
        yield Checkpoint(ledger.mark())


def teacher(cfg: TeacherConfig, ledger: Ledger, outcome: Outcome,
            client: ChatClient | None = None) -> Iterator[Item]:
    """Teacher traces for up to per_run prompts not answered yet (see the module docstring)."""

    def tasks() -> Iterator[Task | BadLine]:
        for item in read_prompts(cfg.prompts):
            if isinstance(item, BadLine):
                yield item
                continue
            line, pid, rec = item
            yield Task(digest(rec["text"]), pid, f"{cfg.prompts}:{line} (id {pid})", rec, rec["text"])

    def make(task: Task, out: Completion) -> Candidate:
        return _candidate(task.rec, out, source="teacher", category=_category(task.rec, "math"),
                          weight=cfg.weight, provenance={"prompts": cfg.prompts, "id": task.legacy,
                                                         "key": task.key, "model": cfg.endpoint.model})

    yield from generate(tasks(), make, cfg.per_run, cfg.max_attempts, ledger, outcome,
                        client or ChatClient(cfg.endpoint), "teacher")


def augment(cfg: AugmentConfig, ledger: Ledger, outcome: Outcome,
            client: ChatClient | None = None) -> Iterator[Item]:
    """Each strategy over the seeds not yet augmented with it; a reply without the structure its
    strategy asks for is rejected as `unstructured` (with what is missing)."""
    templates = {s: template(s, cfg.prompts_dir) for s in cfg.strategies}

    def tasks() -> Iterator[Task | BadLine]:
        for item in read_prompts(cfg.seeds):
            if isinstance(item, BadLine):
                yield item
                continue
            line, sid, rec = item
            for strategy, tmpl in templates.items():
                yield Task(f"{digest(rec['text'])}:{strategy}", f"{sid}:{strategy}",
                           f"{cfg.seeds}:{line} (id {sid}, {strategy})", rec,
                           tmpl.replace("{problem}", rec["text"]), strategy)

    def make(task: Task, out: Completion) -> Candidate:
        strategy = task.strategy or ""
        category, why = seed_category(task.rec, strategy)
        sid = task.legacy.rsplit(":", 1)[0]
        cand = _candidate(task.rec, out, source=f"augment:{strategy}", category=category, weight=1.0,
                          provenance={"seeds": cfg.seeds, "id": sid, "strategy": strategy, "key": task.key,
                                      "category_from": why, "model": cfg.endpoint.model})
        missing = missing_structure(strategy, out.reasoning or "", out.text) if cfg.check_structure else None
        if cand.status == "accepted" and missing:
            cand.reject("unstructured", strategy=strategy, missing=missing)
        return cand

    yield from generate(tasks(), make, cfg.per_run, cfg.max_attempts, ledger, outcome,
                        client or ChatClient(cfg.endpoint), "augmentation")
