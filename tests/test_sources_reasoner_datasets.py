"""The public reasoning datasets, from local files in their real schemas."""

from __future__ import annotations

import json

from items_util import last_mark, outputs

from aitherd.sources.reasoner_datasets import DatasetSource, harvest_dataset


def write(tmp, name, rows):
    path = tmp / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(path)


def test_bespoke_stratos_splits_thought_and_solution(tmp_path):
    reply = ("<|begin_of_thought|>\n\nLet me add 2 and 3.\n\n<|end_of_thought|>\n\n"
             "<|begin_of_solution|>\n\nThe sum is \\boxed{5}.\n\n<|end_of_solution|>")
    rows = [{"system": "You are...", "conversations": [{"from": "user", "value": "2+3?"},
                                                       {"from": "assistant", "value": reply}]},
            {"system": "", "conversations": [{"from": "user", "value": "cut"},
                                             {"from": "assistant", "value": "<|begin_of_thought|> hmm"}]}]
    src = DatasetSource(path=write(tmp_path, "stratos.jsonl", rows))
    out = outputs(harvest_dataset("bespoke_stratos", src, {}))
    good, cut = out
    assert good.reasoning == "Let me add 2 and 3." and good.messages[1]["content"] == "The sum is \\boxed{5}."
    assert good.answer == "5" and good.license == "Apache-2.0" and good.source == "hf:bespoke-stratos-17k"
    assert cut.reason == "incomplete"


def test_openr1_prefers_verified_generations_and_respects_the_budget(tmp_path):
    def row(i, verified, finish="stop"):
        return {"problem": f"p{i}", "solution": "s", "answer": str(i), "uuid": f"u{i}",
                "generations": [f"<think>wrong {i}</think> no", f"<think>think {i}</think> It is {i}."],
                "correctness_math_verify": [False, verified], "finish_reasons": ["stop", finish],
                "is_reasoning_complete": [True, True], "problem_type": "Algebra"}
    rows = [row(1, True), row(2, False), row(3, True, "length"), row(4, True), row(5, True)]
    src = DatasetSource(path=write(tmp_path, "r1.jsonl", rows), rows=2)
    out = list(harvest_dataset("openr1_math", src, {}))
    kinds = [c if isinstance(c, str) else c.answer for c in outputs(out)]
    assert kinds == ["1", "skip:unverified", "skip:unverified", "4"]
    mark = last_mark(out)
    assert mark["taken"] == 2 and mark["rows_read"] == 4
    first = outputs(out)[0]
    assert first.reasoning == "think 1" and first.messages[1]["content"] == "It is 1."
    assert first.provenance["generation"] == 1 and first.provenance["row"] == 0
    more = DatasetSource(path=src.path, rows=3)
    assert [c.answer for c in outputs(harvest_dataset("openr1_math", more, mark))] == ["5"]


def test_open_code_reasoning_keeps_code_and_license(tmp_path):
    output = "<think>use slicing</think>\n```python\nprint(input()[::-1])\n```"
    rows = [{"id": "x1", "input": "Reverse a string.", "output": output,
             "source": "codeforces", "license": "cc-by-4.0", "dataset": "code_contests", "split": "train",
             "difficulty": "1", "solution": "print(input()[::-1])"},
            {"id": "x2", "input": "-", "output": "<think>a</think>b", "license": "cc-by-4.0"}]
    out = outputs(harvest_dataset("open_code_reasoning",
                                  DatasetSource(path=write(tmp_path, "ocr.jsonl", rows)), {}))
    assert out[0].category == "code" and out[0].reasoning == "use slicing"
    assert out[0].license == "cc-by-4.0" and "[::-1]" in out[0].messages[1]["content"]
    assert out[1] == "skip:needs_join"
