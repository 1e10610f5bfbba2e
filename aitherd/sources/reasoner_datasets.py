"""Public reasoning datasets through `datasets`: Bespoke-Stratos-17k, OpenR1-Math-220k and
OpenCodeReasoning, each mapped from its real schema into reasoner candidates.

Real users stream them from the Hub at a pinned revision, with the config and split each card
names (`PublicDataset`); `path` points at a local copy instead (air-gapped machines, tests): a
JSON(L) or Parquet file, a directory written by `save_to_disk`, or a downloaded snapshot of the
Hub repository. The watermark keeps the revision and how many rows were read, so a later run
continues and a new revision starts over. Each dataset takes its own row budget unless `rows`
says otherwise (0: all of it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
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
    hub_id: str = ""  # default: the dataset's own Hub id
    config: str | None = None  # default: the config its card names
    split: str | None = None  # default: the split its card names (OpenCodeReasoning: split_0)
    revision: str = "main"
    path: str = ""  # a local copy: JSON(L) or Parquet file, save_to_disk directory, Hub snapshot
    rows: int | None = Field(default=None, ge=0)  # candidates taken; default the dataset's budget; 0 all


@dataclass(frozen=True)
class PublicDataset:
    """A public dataset as its Hub card describes it, and what we take of it by default."""

    hub_id: str
    config: str | None
    split: str
    adapter: Callable[[dict[str, Any]], Any]
    budget: int  # candidates taken when `rows` is not set; 0: all


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


ADAPTERS: dict[str, PublicDataset] = {
    # Bespoke-Stratos-17k: one default config, split train; all 16.7K rows by default.
    "bespoke_stratos": PublicDataset("bespokelabs/Bespoke-Stratos-17k", None, "train", _stratos, 0),
    # OpenR1-Math-220k: configs default (93.7K) and extended (131K), split train.
    "openr1_math": PublicDataset("open-r1/OpenR1-Math-220k", "default", "train", _openr1, 10_000),
    # OpenCodeReasoning: configs split_0 and split_1, each with one split named like the config.
    "open_code_reasoning": PublicDataset("nvidia/OpenCodeReasoning", "split_0", "split_0",
                                         _open_code_reasoning, 5_000),
}

_DATA_SUFFIXES = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".gz": "json", ".csv": "csv"}


def _local_rows(path: Path, config: str | None, split: str) -> Any:
    from datasets import DatasetDict, load_dataset, load_from_disk

    if path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
        ds = load_from_disk(str(path))  # written by Dataset.save_to_disk / DatasetDict.save_to_disk
        if isinstance(ds, DatasetDict):
            if split not in ds:
                if len(ds) != 1:
                    raise ValueError(f"{path} has splits {', '.join(ds)}, not {split!r}: set `split`")
                split = next(iter(ds))
            ds = ds[split]
        return ds
    if path.is_dir():  # a snapshot of the Hub repository: its card's configs apply
        return load_dataset(str(path), name=config, split=split, streaming=True)
    kind = _DATA_SUFFIXES.get(path.suffix)
    if kind is None:
        raise ValueError(f"{path}: not a JSON(L), Parquet or CSV file, nor a dataset directory")
    return load_dataset(kind, data_files=str(path), split="train", streaming=True)


def load_rows(src: DatasetSource, known: PublicDataset, start: int) -> Iterator[dict[str, Any]]:
    """Stream rows from `start` on (lazy import: only the worker ever loads `datasets`)."""
    try:
        import datasets  # noqa: F401
    except ImportError:
        raise RuntimeError("public datasets need the `datasets` package") from None
    split = src.split or known.split
    if src.path:
        path = Path(src.path).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"local copy {path} does not exist")
        ds = _local_rows(path, src.config, split)
    else:
        from datasets import load_dataset

        ds = load_dataset(src.hub_id or known.hub_id, name=src.config or known.config, split=split,
                          revision=src.revision, streaming=True)
    if hasattr(ds, "skip"):
        yield from ds.skip(start) if start else ds
    else:  # an Arrow dataset from disk
        yield from (ds.select(range(start, len(ds))) if start else ds)


Adapter = Callable[[dict[str, Any]], "Candidate | Skip"]


def budget_of(src: DatasetSource, known: PublicDataset) -> int:
    """Candidates to take: `rows` when set (0: all), else the dataset's own budget."""
    return known.budget if src.rows is None else src.rows


def stream_rows(src: DatasetSource, known: PublicDataset, mark: dict[str, Any],
                stop: Callable[[], bool] = lambda: False) -> Iterator[Item]:
    """A candidate or skip per row, each followed by the mark after that row, from where `mark`
    left off, until the budget is taken (0: all). A new revision or path starts over."""
    pinned = src.path or src.revision
    if mark.get("revision") != pinned:
        mark = {"revision": pinned, "rows_read": 0, "taken": 0}
    read, taken = int(mark.get("rows_read", 0)), int(mark.get("taken", 0))
    budget, adapter = budget_of(src, known), known.adapter
    if budget and taken >= budget:
        return
    for row in load_rows(src, known, read):
        if stop():
            return
        read += 1
        out = adapter(row)
        if isinstance(out, Candidate):
            taken += 1
            out.provenance.update(dataset=src.path or src.hub_id or known.hub_id, revision=pinned, row=read - 1)
        yield out
        yield Checkpoint({"revision": pinned, "rows_read": read, "taken": taken})
        if budget and taken >= budget:
            return


def harvest_dataset(name: str, src: DatasetSource, mark: dict[str, Any],
                    stop: Callable[[], bool] = lambda: False) -> Iterator[Item]:
    yield from stream_rows(src, ADAPTERS[name], mark, stop)
