"""The team's own held-out set: the validation split of the export the adapter was trained on.

aitherd.export writes `train` and `validation` splits (a seeded share of the rows, by id); each
row keeps its example id (the store's content_hash) but not the checkable answer, so the answer
is looked up in the store (`Example.answer`). Rows with an answer are asked again (the prompt:
the conversation up to its last assistant turn) and scored with aitherd.answers (the final
answer after the think block: boxed, '####', 'answer is', last number; numbers compared exactly,
expressions with sympy). Every row counts for the eval loss, where a local model computes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, bindparam, text

from aitherd.answers import check as check_answer
from aitherd.evaluate.extract import split_think
from aitherd.evaluate.suites import Item, Outcome, RunPrograms, Suite


def validation_rows(export_path: str | Path) -> list[dict[str, Any]]:
    """The validation split of an export (Arrow dataset on disk, or its Parquet copy)."""
    path = Path(export_path)
    parquet = sorted((path / "data").glob("validation-*.parquet"))
    if parquet:
        import pyarrow.parquet as pq

        return [row for f in parquet for row in pq.read_table(f).to_pylist()]
    from datasets import load_from_disk

    data = load_from_disk(str(path))
    return list(data["validation"]) if "validation" in data else []


def _prompt(messages: list[dict[str, Any]]) -> tuple[list[dict[str, str]], str] | None:
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if last is None or last == 0:
        return None
    prompt = [{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in messages[:last]]
    return prompt, str(messages[last].get("content") or "")


class HeldOut(Suite):
    name = "heldout"

    def __init__(self, engine: Engine, specialist: str, export_id: str, export_path: str | Path,
                 max_items: int = 500) -> None:
        self.engine = engine
        self.specialist = specialist
        self.export_id = export_id
        self.export_path = Path(export_path)
        self.max_items = max_items
        self.rows: list[dict[str, Any]] = []

    def _answers(self, ids: list[str]) -> dict[str, str]:
        if not ids:
            return {}
        sql = text("SELECT content_hash, answer FROM example WHERE content_hash IN :ids AND answer IS NOT NULL "
                   "AND answer != ''").bindparams(bindparam("ids", expanding=True))
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                out.update({h: a for h, a in conn.execute(sql, {"ids": ids[start:start + 500]})})
        return out

    def load(self) -> list[Item]:
        """The checkable rows as items (all rows stay in `self.rows` for the eval loss)."""
        self.rows = validation_rows(self.export_path)[:self.max_items] if self.max_items else []
        answers = self._answers([str(r["id"]) for r in self.rows if r.get("id")])
        items = []
        for row in self.rows:
            gold = answers.get(str(row.get("id") or ""))
            split = _prompt(row.get("messages") or [])
            if gold is None or split is None or row.get("format") == "fim":
                continue
            items.append(Item(f"heldout/{row['id']}", split[0], {"gold": gold, "category": row.get("category")}))
        return items

    def conversations(self) -> list[list[dict[str, str]]]:
        """Every validation conversation, as trained on (for the eval loss)."""
        return [[{"role": str(m["role"]), "content": str(m.get("content") or "")} for m in row["messages"]]
                for row in self.rows if row.get("messages")]

    def check(self, items: Sequence[Item], texts: Sequence[str], run: RunPrograms | None) -> list[Outcome]:
        outcomes = []
        for item, output in zip(items, texts, strict=True):
            thinking, answer = split_think(output)
            if thinking is not None and not answer:
                outcomes.append(Outcome(item.id, False, None, "truncated"))
                continue
            passed = check_answer(answer, item.data["gold"])
            outcomes.append(Outcome(item.id, passed, answer[-300:] or None,
                                    None if passed else "wrong_answer", extra={"category": item.data.get("category")}))
        return outcomes
