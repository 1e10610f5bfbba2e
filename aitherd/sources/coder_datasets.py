"""Public coding datasets: Magicoder-OSS-Instruct-75K, CommitPackFT, Code-Feedback, each mapped
from its real schema, with license, row budget and pinned revision (loading, local copies and
budgets as in reasoner_datasets.py).

Real columns: Magicoder `lang, raw_index, index, seed, openai_fingerprint, problem, solution`
(MIT); CommitPackFT `commit, old_file, new_file, old_contents, new_contents, subject, message,
lang, license, repos` (one config per language, per-repo licences); Code-Feedback `id` (int),
`messages` [{role, content}] (Apache-2.0). Each has split `train`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from aitherd.candidate import Candidate
from aitherd.sources.gitmine import CATEGORY, Commit, classify
from aitherd.sources.items import Item, Skip
from aitherd.sources.reasoner_datasets import DatasetSource, PublicDataset, stream_rows
from aitherd.sources.sessions import category_of


def _magicoder(row: dict[str, Any]) -> Candidate | Skip:
    if not row.get("problem") or not row.get("solution"):
        return Skip("empty")
    return Candidate("coder", "instruction", [{"role": "user", "content": row["problem"]},
                                              {"role": "assistant", "content": row["solution"]}],
                     source="hf:magicoder-oss-instruct-75k", license="MIT",
                     provenance={"index": row.get("index"), "lang": row.get("lang")})


def _commitpackft(row: dict[str, Any]) -> Candidate | Skip:
    old, new = row.get("old_contents") or "", row.get("new_contents") or ""
    if not new or old == new:
        return Skip("no_change")
    kind = classify(Commit(sha="", parents=[], author="", time=0, subject=row.get("subject") or "",
                           body=row.get("message") or "", paths=[row.get("new_file") or ""]))
    lang = (row.get("lang") or "").lower()
    ask = f"{row.get('subject') or row.get('message')}\n\n`{row.get('old_file')}`:\n```{lang}\n{old}\n```"
    return Candidate("coder", CATEGORY[kind], [{"role": "user", "content": ask},
                                               {"role": "assistant", "content": f"```{lang}\n{new}\n```"}],
                     source="hf:commitpackft", license=row.get("license") or "unknown",
                     provenance={"commit": row.get("commit"), "repos": row.get("repos")})


def _code_feedback(row: dict[str, Any]) -> Candidate | Skip:
    msgs = [{"role": m["role"], "content": m["content"]} for m in row.get("messages") or []
            if m.get("role") in ("system", "user", "assistant") and m.get("content")]
    while msgs and msgs[-1]["role"] != "assistant":
        msgs.pop()
    if not msgs:
        return Skip("no_answer")
    first = next((m["content"] for m in msgs if m["role"] == "user"), "")
    return Candidate("coder", category_of(first), msgs, source="hf:code-feedback", license="Apache-2.0",
                     provenance={"id": row.get("id")})


CODER_ADAPTERS: dict[str, PublicDataset] = {
    "magicoder": PublicDataset("ise-uiuc/Magicoder-OSS-Instruct-75K", None, "train", _magicoder, 10_000),
    "commitpackft": PublicDataset("bigcode/commitpackft", "python", "train", _commitpackft, 5_000),
    "code_feedback": PublicDataset("m-a-p/Code-Feedback", None, "train", _code_feedback, 3_000),
}


def harvest_coder_dataset(name: str, src: DatasetSource, mark: dict[str, Any],
                          stop: Callable[[], bool] = lambda: False) -> Iterator[Item]:
    yield from stream_rows(src, CODER_ADAPTERS[name], mark, stop)
