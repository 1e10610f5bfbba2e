"""Public reasoning datasets through `datasets`: Bespoke-Stratos-17k, OpenR1-Math-220k and
OpenCodeReasoning, each mapped from its real schema into reasoner candidates.

Real users stream them from the Hub at a pinned revision; `path` points at a local JSON(L) or
Parquet file in the same schema instead (tests, air-gapped machines). The watermark keeps the
revision and how many rows were read, so a later run continues and a new revision starts over.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import Candidate
from aitherd.sources.items import Checkpoint, Item, Skip

_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*(.*)$", re.DOTALL)
_STRATOS = re.compile(r"<\|begin_of_thought\|>(.*?)<\|end_of_thought\|>\s*"
                      r"<\|begin_of_solution\|>(.*?)<\|end_of_solution\|>", re.DOTALL)


class DatasetSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    hub_id: str = ""
    config: str | None = None
    split: str = "train"
    revision: str = "main"
    path: str = ""  # a local file in the same schema replaces the Hub
    rows: int = Field(default=10_000, ge=0)  # budget of candidates taken; 0 = all


def _stratos(row: dict[str, Any]) -> Candidate | Skip:
    conv = row.get("conversations") or []
    user = next((t.get("value") for t in conv if t.get("from") == "user"), None)
    reply = next((t.get("value") for t in conv if t.get("from") == "assistant"), None)
    if not user or not reply:
        return Skip("no_turns")
    cand = Candidate("reasoner", "code" if "```" in reply else "math",
                     [{"role": "user", "content": user}, {"role": "assistant", "content": ""}],
                     source="hf:bespoke-stratos-17k", license="Apache-2.0")
    if row.get("system"):
        cand.provenance["system_prompt"] = True
    m = _STRATOS.search(reply)
    if not m:
        cand.messages[1]["content"] = reply
        cand.reject("incomplete", detail="no closed thought and solution blocks")
        return cand
    cand.reasoning, solution = m.group(1).strip(), m.group(2).strip()
    cand.messages[1]["content"] = solution
    from aitherd.answers import extract_answer

    cand.answer = extract_answer(solution) if cand.category == "math" else None
    return cand


def _openr1(row: dict[str, Any]) -> Candidate | Skip:
    gens = row.get("generations") or []
    verified = row.get("correctness_math_verify") or []
    finish = row.get("finish_reasons") or []
    pick = next((i for i, g in enumerate(gens) if i < len(verified) and verified[i]
                 and (i >= len(finish) or finish[i] in (None, "stop"))), None)
    if pick is None:
        return Skip("unverified")
    m = _THINK.match(gens[pick])
    if not m:
        return Skip("no_think_block")
    return Candidate("reasoner", "math", [{"role": "user", "content": row["problem"]},
                                          {"role": "assistant", "content": m.group(2).strip()}],
                     source="hf:openr1-math-220k", license="Apache-2.0",
                     reasoning=m.group(1).strip(), answer=str(row.get("answer") or "") or None,
                     provenance={"uuid": row.get("uuid"), "generation": pick,
                                 "problem_type": row.get("problem_type")})


def _open_code_reasoning(row: dict[str, Any]) -> Candidate | Skip:
    if not (row.get("input") or "").strip() or row.get("input") == "-":
        return Skip("needs_join")  # split_1 leaves the problem to be joined from its source
    m = _THINK.match(row.get("output") or "")
    if not m:
        return Skip("no_think_block")
    return Candidate("reasoner", "code", [{"role": "user", "content": row["input"]},
                                          {"role": "assistant", "content": m.group(2).strip()}],
                     source="hf:opencodereasoning", license=row.get("license") or "CC-BY-4.0",
                     reasoning=m.group(1).strip(),
                     provenance={"id": row.get("id"), "dataset": row.get("dataset"),
                                 "difficulty": row.get("difficulty")})


ADAPTERS: dict[str, tuple[str, str | None, Callable[[dict[str, Any]], Candidate | str], int]] = {
    # name: (hub id, config, adapter, default budget)
    "bespoke_stratos": ("bespokelabs/Bespoke-Stratos-17k", None, _stratos, 0),
    "openr1_math": ("open-r1/OpenR1-Math-220k", "default", _openr1, 10_000),
    "open_code_reasoning": ("nvidia/OpenCodeReasoning", "split_0", _open_code_reasoning, 5_000),
}


def load_rows(src: DatasetSource, name: str, start: int) -> Iterator[dict[str, Any]]:
    """Stream rows from `start` on (lazy import: only the worker ever loads `datasets`)."""
    try:
        from datasets import load_dataset
    except ImportError:
        raise RuntimeError("public datasets need the `datasets` package") from None
    if src.path:
        kind = "parquet" if src.path.endswith(".parquet") else "json"
        ds = load_dataset(kind, data_files=src.path, split="train", streaming=True)
    else:
        hub_id, config = src.hub_id or ADAPTERS[name][0], src.config or ADAPTERS[name][1]
        ds = load_dataset(hub_id, name=config, split=src.split, revision=src.revision,
                          streaming=True)
    yield from ds.skip(start) if start else ds


Adapter = Callable[[dict[str, Any]], "Candidate | Skip"]


def stream_rows(src: DatasetSource, name: str, hub_id: str, adapter: Adapter, budget: int,
                mark: dict[str, Any], stop: Callable[[], bool] = lambda: False,
                ) -> Iterator[Item]:
    """A candidate or skip per row, each followed by the mark after that row, from where `mark`
    left off, until `budget` candidates were taken (0: all). A new revision or path starts over."""
    pinned = src.path or src.revision
    if mark.get("revision") != pinned:
        mark = {"revision": pinned, "rows_read": 0, "taken": 0}
    read, taken = int(mark.get("rows_read", 0)), int(mark.get("taken", 0))
    if budget and taken >= budget:
        return
    for row in load_rows(src, name, read):
        if stop():
            return
        read += 1
        out = adapter(row)
        if isinstance(out, Candidate):
            taken += 1
            out.provenance.update(dataset=src.path or hub_id, revision=pinned, row=read - 1)
        yield out
        yield Checkpoint({"revision": pinned, "rows_read": read, "taken": taken})
        if budget and taken >= budget:
            return


def harvest_dataset(name: str, src: DatasetSource, mark: dict[str, Any],
                    stop: Callable[[], bool] = lambda: False) -> Iterator[Item]:
    hub_id, _config, adapter, default_budget = ADAPTERS[name]
    yield from stream_rows(src, name, hub_id, adapter, src.rows or default_budget, mark, stop)
