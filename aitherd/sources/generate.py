"""Reasoning traces generated through an OpenAI-compatible endpoint: a teacher model on curated
prompts (weight 1.3), and three augmentation strategies that produce differently structured
reasoning (verification chains, long-horizon decomposition, tree-search planning).

Both read prompts from a JSONL file ({"id", "prompt" or "problem", "answer"?, "category"?}) and
resume where the last run stopped: the caller keeps `done` (prompt ids already answered) in a
watermark. A checkable reference answer is compared with the model's; a wrong answer or a trace
cut off by the length limit is rejected with a reason, never silently dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.answers import check, extract_answer
from aitherd.candidate import REASONER_CATEGORIES, Candidate
from aitherd.llm import ChatClient, EndpointConfig, LLMError, SpendCapReached

STRATEGIES = ("verification", "decomposition", "tree_search")
_STRATEGY_CATEGORY = {"verification": "math", "decomposition": "planning", "tree_search": "planning"}


class TeacherConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: EndpointConfig
    prompts: str  # JSONL of curated prompts
    per_run: int = Field(default=200, ge=1)
    weight: float = 1.3


class AugmentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: EndpointConfig
    seeds: str  # JSONL of seed problems
    strategies: list[str] = Field(default_factory=lambda: list(STRATEGIES))
    prompts_dir: str = ""  # STRATEGY.txt files here replace the built-in templates
    per_run: int = Field(default=100, ge=1)


@dataclass
class Outcome:
    """What a generation pass did, for the run's counts and message."""

    generated: int = 0
    rejected: int = 0
    errors: int = 0
    stopped: str | None = None  # why it stopped early (spend cap, endpoint down)


def read_prompts(path: str) -> Iterator[tuple[str, dict[str, Any]] | str]:
    """(id, prompt record) per line; a string for a line that cannot be used, with where."""
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
                yield f"{path}:{n}: {err}"
                continue
            yield str(rec.get("id", n)), {**rec, "text": text}


def template(strategy: str, prompts_dir: str = "") -> str:
    if prompts_dir and (custom := Path(prompts_dir).expanduser() / f"{strategy}.txt").is_file():
        return custom.read_text()
    return resources.files("aitherd.sources.prompts").joinpath(f"{strategy}.txt").read_text()


def _candidate(rec: dict[str, Any], text: str, reasoning: str | None, finish: str | None,
               *, source: str, category: str, weight: float, provenance: dict[str, Any]) -> Candidate:
    answer = extract_answer(text)
    cand = Candidate("reasoner", category, [{"role": "user", "content": rec["text"]},
                                            {"role": "assistant", "content": text}],
                     source=source, reasoning=reasoning, answer=answer, weight=weight,
                     provenance=provenance)
    if finish == "length":
        cand.reject("truncated", detail="the model hit its length limit")
    elif not reasoning:
        cand.reject("no_reasoning", detail="the endpoint returned no chain of thought")
    elif rec.get("answer") is not None and not check(text, str(rec["answer"])):
        cand.reject("wrong_answer", expected=str(rec["answer"]), got=answer)
    return cand


def _category(rec: dict[str, Any], default: str) -> str:
    cat = rec.get("category")
    return cat if cat in REASONER_CATEGORIES and cat != "non_reasoning" else default


def _ask(client: ChatClient, prompt: str, outcome: Outcome, what: str) -> Any:
    """The completion, or None after recording why generation stops (cap reached, endpoint down)."""
    try:
        return client.complete([{"role": "user", "content": prompt}])
    except SpendCapReached as err:
        outcome.stopped = str(err)
    except LLMError as err:
        outcome.errors += 1
        outcome.stopped = f"{what} endpoint failed: {err}"
    return None


def teacher(cfg: TeacherConfig, done: set[str], outcome: Outcome,
            client: ChatClient | None = None) -> Iterator[tuple[str, Candidate]]:
    """(prompt id, candidate) for up to per_run prompts not in `done`. When the endpoint fails
    or the spend cap is reached, generation stops (`outcome.stopped` says why) and the prompts
    not reached are tried next run."""
    client = client or ChatClient(cfg.endpoint)
    taken = 0
    for item in read_prompts(cfg.prompts):
        if isinstance(item, str):
            outcome.errors += 1
            continue
        pid, rec = item
        if pid in done:
            continue
        if taken >= cfg.per_run:
            return
        taken += 1
        if (out := _ask(client, rec["text"], outcome, "teacher")) is None:
            return
        cand = _candidate(rec, out.text, out.reasoning, out.finish_reason, source="teacher",
                          category=_category(rec, "math"), weight=cfg.weight,
                          provenance={"prompts": cfg.prompts, "id": pid, "model": cfg.endpoint.model})
        outcome.generated += 1
        outcome.rejected += cand.status == "rejected"
        yield pid, cand


def augment(cfg: AugmentConfig, done: set[str], outcome: Outcome,
            client: ChatClient | None = None) -> Iterator[tuple[str, Candidate]]:
    """(seed id:strategy, candidate) for each strategy over seeds not yet done."""
    client = client or ChatClient(cfg.endpoint)
    templates = {s: template(s, cfg.prompts_dir) for s in cfg.strategies}
    taken = 0
    for item in read_prompts(cfg.seeds):
        if isinstance(item, str):
            outcome.errors += 1
            continue
        sid, rec = item
        for strategy, tmpl in templates.items():
            key = f"{sid}:{strategy}"
            if key in done:
                continue
            if taken >= cfg.per_run:
                return
            taken += 1
            if (out := _ask(client, tmpl.replace("{problem}", rec["text"]), outcome, "augmentation")) is None:
                return
            cand = _candidate(rec, out.text, out.reasoning, out.finish_reason,
                              source=f"augment:{strategy}",
                              category=_category(rec, _STRATEGY_CATEGORY[strategy]), weight=1.0,
                              provenance={"seeds": cfg.seeds, "id": sid, "strategy": strategy,
                                          "model": cfg.endpoint.model})
            outcome.generated += 1
            outcome.rejected += cand.status == "rejected"
            yield key, cand
