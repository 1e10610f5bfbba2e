"""The six public datasets from local copies with their real columns (parquet, save_to_disk and a
Hub snapshot laid out as each card says), their configs and splits, and their row budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset, DatasetDict
from items_util import last_mark, outputs

from aitherd.candidate import Candidate
from aitherd.sources.coder_config import CoderSources
from aitherd.sources.coder_datasets import CODER_ADAPTERS, harvest_coder_dataset
from aitherd.sources.reasoner_config import ReasonerSources
from aitherd.sources.reasoner_datasets import ADAPTERS, DatasetSource, budget_of, harvest_dataset

THINK = "<think>work it out</think>\n\nIt is 4."
STRATOS = ("<|begin_of_thought|>\n\nadd\n\n<|end_of_thought|>\n\n<|begin_of_solution|>\n\n"
           "\\boxed{4}\n\n<|end_of_solution|>")


def row(name: str, i: int) -> dict:
    """One row with exactly the columns the real dataset has."""
    return {
        "magicoder": {"lang": "python", "raw_index": i, "index": i, "seed": "def f(): ...",
                      "openai_fingerprint": "fp_1", "problem": f"Write add{i}.",
                      "solution": f"```python\ndef add{i}(x):\n    return x + {i}\n```"},
        "commitpackft": {"commit": f"c{i}", "old_file": "a.py", "new_file": "a.py", "old_contents": "x = 1\n",
                         "new_contents": f"x = {i + 2}\n", "subject": f"Fix constant {i}", "message": "Fix it",
                         "lang": "Python", "license": "mit", "repos": "o/r"},
        "code_feedback": {"id": i, "messages": [{"role": "user", "content": f"Write f{i}"},
                                                {"role": "assistant", "content": f"def f{i}():\n    return {i}"}]},
        "bespoke_stratos": {"system": "Your role...", "conversations": [
            {"from": "user", "value": f"{i} + 4 - {i}?"}, {"from": "assistant", "value": STRATOS}]},
        "openr1_math": {"problem": f"{i} + 4 - {i}?", "solution": "4", "answer": "4", "problem_type": "Algebra",
                        "question_type": "math-word-problem", "source": "olympiads", "uuid": f"u{i}",
                        "is_reasoning_complete": [True], "generations": [THINK], "correctness_math_verify": [True],
                        "correctness_llama": [None], "finish_reasons": [None], "correctness_count": 1,
                        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": THINK}]},
        "open_code_reasoning": {"id": f"h{i}", "input": f"Print {i}.", "output": f"<think>easy</think>\nprint({i})",
                                "source": "codeforces", "license": "cc-by-4.0", "dataset": "code_contests",
                                "split": "train", "difficulty": "1", "solution": f"print({i})"},
    }[name]


def harvest(name: str, src: DatasetSource, mark: dict | None = None) -> list:
    fn = harvest_coder_dataset if name in CODER_ADAPTERS else harvest_dataset
    return list(fn(name, src, mark or {}))


ALL = [*CODER_ADAPTERS, *ADAPTERS]


def test_each_dataset_takes_its_own_row_budget_unless_rows_says_otherwise():
    coder = CoderSources.model_validate({"datasets": {n: {} for n in CODER_ADAPTERS}})
    reasoner = ReasonerSources.model_validate({"datasets": {n: {} for n in ADAPTERS}})
    budgets = {n: budget_of(s, CODER_ADAPTERS[n]) for n, s in coder.datasets.items()}
    budgets |= {n: budget_of(s, ADAPTERS[n]) for n, s in reasoner.datasets.items()}
    assert budgets == {"magicoder": 10_000, "commitpackft": 5_000, "code_feedback": 3_000,
                       "bespoke_stratos": 0, "openr1_math": 10_000, "open_code_reasoning": 5_000}  # 0: all
    assert budget_of(DatasetSource(rows=0), ADAPTERS["openr1_math"]) == 0
    assert budget_of(DatasetSource(rows=7), ADAPTERS["bespoke_stratos"]) == 7


def test_a_budget_is_taken_exactly_and_rows_0_takes_everything(tmp_path):
    path = tmp_path / "code_feedback.parquet"
    Dataset.from_list([row("code_feedback", i) for i in range(3_050)]).to_parquet(str(path))
    cfg = CoderSources.model_validate({"datasets": {"code_feedback": {"path": str(path)}}})
    items = harvest("code_feedback", cfg.datasets["code_feedback"])
    assert sum(isinstance(o, Candidate) for o in items) == 3_000 and last_mark(items)["taken"] == 3_000
    everything = harvest("code_feedback", DatasetSource(path=str(path), rows=0))
    assert sum(isinstance(o, Candidate) for o in everything) == 3_050


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("layout", ["parquet", "jsonl", "save_to_disk", "save_to_disk_dict"])
def test_each_loader_reads_a_local_copy_with_the_real_columns(tmp_path, name, layout):
    known = {**CODER_ADAPTERS, **ADAPTERS}[name]
    rows = [row(name, i) for i in range(4)]
    ds = Dataset.from_list(rows)
    if layout == "parquet":
        path = tmp_path / f"{name}.parquet"
        ds.to_parquet(str(path))
    elif layout == "jsonl":
        path = tmp_path / f"{name}.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    elif layout == "save_to_disk":
        path = tmp_path / name
        ds.save_to_disk(str(path))
    else:  # a DatasetDict under the split name the Hub uses (OpenCodeReasoning: split_0)
        path = tmp_path / name
        DatasetDict({known.split: ds}).save_to_disk(str(path))
    items = harvest(name, DatasetSource(path=str(path), rows=3))
    cands = [o for o in outputs(items) if isinstance(o, Candidate)]
    assert len(cands) == 3, outputs(items)
    assert all(c.status == "accepted" for c in cands), [c.curation for c in cands]
    assert [c.provenance["row"] for c in cands] == [0, 1, 2] and cands[0].license
    rest = harvest(name, DatasetSource(path=str(path), rows=4), last_mark(items))  # resumes at row 3
    assert [c.provenance["row"] for c in outputs(rest)] == [3]


def snapshot(tmp: Path, configs: dict[str, tuple[str, str]], rows: list[dict]) -> Path:
    """A downloaded Hub repository: data files per config and the card's `configs` YAML."""
    root = tmp / "snapshot"
    yaml = ["---", "configs:"]
    for config, (split, folder) in configs.items():
        (root / folder).mkdir(parents=True)
        Dataset.from_list(rows).to_parquet(str(root / folder / f"{split}-00000-of-00001.parquet"))
        yaml += [f"- config_name: {config}", "  data_files:", f"  - split: {split}", f"    path: {folder}/*"]
    (root / "README.md").write_text("\n".join([*yaml, "---", "", "# card"]) + "\n")
    return root


def test_hub_configs_and_splits_follow_each_card(tmp_path):
    """OpenCodeReasoning's card: configs split_0 and split_1, each with one split named like it
    (not `train`); OpenR1-Math's: configs default and extended, split train. The Hub code path
    (name=config, split=split, revision) runs on a snapshot laid out the same way."""
    assert (ADAPTERS["open_code_reasoning"].config, ADAPTERS["open_code_reasoning"].split) == ("split_0", "split_0")
    assert (ADAPTERS["openr1_math"].config, ADAPTERS["openr1_math"].split) == ("default", "train")
    assert all(d.split == "train" for n, d in {**CODER_ADAPTERS, **ADAPTERS}.items() if n != "open_code_reasoning")
    ocr = snapshot(tmp_path / "ocr", {"split_0": ("split_0", "split_0"), "split_1": ("split_1", "split_1")},
                   [row("open_code_reasoning", i) for i in range(2)])
    got = outputs(harvest("open_code_reasoning", DatasetSource(hub_id=str(ocr))))
    assert [c.messages[0]["content"] for c in got] == ["Print 0.", "Print 1."]
    r1 = snapshot(tmp_path / "r1", {"default": ("train", "data"), "extended": ("train", "extended")},
                  [row("openr1_math", i) for i in range(2)])
    assert len(outputs(harvest("openr1_math", DatasetSource(hub_id=str(r1))))) == 2
    with pytest.raises(ValueError, match="split"):  # the old default split name is refused
        harvest("open_code_reasoning", DatasetSource(hub_id=str(ocr), split="train"))
