"""Benchmark copies are removed however they are dressed up; clean text passes."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_curate_support import CLEAN_CODE, coder, config, decontam_config, reasoner

from aitherd import benchmarks
from aitherd.curate import Curator, DecontamIndex, decontam_report, screen
from aitherd.store.db import open_store
from aitherd.store.examples import insert_candidates


@pytest.fixture(scope="module")
def index() -> DecontamIndex:
    return DecontamIndex.from_config(decontam_config())


def _humaneval() -> list[dict]:
    return benchmarks.load("humaneval")


def _jsonl(name: str) -> list[dict]:
    return benchmarks.load(name.removesuffix(".jsonl"))


def _rename(code: str, names: list[str]) -> str:
    for i, n in enumerate(sorted(set(names), key=len, reverse=True)):
        code = re.sub(rf"\b{re.escape(n)}\b", f"var_{i}_x", code)
    return code


def _rewrap(text: str, width: int = 23) -> str:
    words, lines, cur = text.split(), [], ""
    for w in words:
        if len(cur) + len(w) > width:
            lines.append(cur)
            cur = ""
        cur += w + " "
    return "\n".join([*lines, cur])


def test_planted_copies_are_removed_with_the_matching_item(tmp_path: Path) -> None:
    he, mbpp, gsm = _humaneval(), _jsonl("mbpp_test.jsonl"), _jsonl("gsm8k_test.jsonl")
    planted = []
    for r in he[:12]:  # verbatim, in a chat
        planted.append((coder("Complete this function:\n" + r["prompt"],
                              "Sure!\n```python\n" + r["prompt"] + r["canonical_solution"] + "```"),
                        "humaneval", r["task_id"]))
    for r in he[12:24]:  # renamed identifiers + reformatted
        idents = re.findall(r"def (\w+)\(([^)]*)\)", r["prompt"])
        names = [idents[-1][0], *re.findall(r"(\w+)\s*:", idents[-1][1])] if idents else []
        body = _rename(r["prompt"] + r["canonical_solution"], names).replace("    ", "  ")
        planted.append((coder("Please finish it", "```python\n" + body + "\n```"),
                        "humaneval", r["task_id"]))
    for r in mbpp[:12]:  # the task text and code, renamed
        fn = re.search(r"def (\w+)", r["code"]).group(1)  # type: ignore[union-attr]
        planted.append((coder(r["text"], "```python\n" + _rename(r["code"], [fn]) + "\n```"),
                        "mbpp", f"mbpp/{r['task_id']}"))
    for i, r in enumerate(gsm[:12]):  # re-wrapped, numbers changed, wrapped in chat
        q = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), r["question"])
        planted.append((reasoner("Hi! Could you help me with this?\n\n" + _rewrap(q) + "\nThanks.",
                                 "Let me think step by step.", "42"), "gsm8k", f"gsm8k/{i}"))
    for i, r in enumerate(gsm[12:20], start=12):  # only the solution, in the think trace
        planted.append((reasoner("A word problem about a shop.", r["answer"].upper(), "7"),
                        "gsm8k", f"gsm8k/{i}"))
    engine = open_store(tmp_path / "s.db")
    cur = Curator(config(dedup={"enabled": False}), engine)
    out = list(cur.process([c for c, _, _ in planted]))
    insert_candidates(engine, out)
    for c, (_, bench, item) in zip(out, planted, strict=True):
        assert c.reason == "contaminated", (bench, item, c.reason, c.quality_reasons)
        hit = c.curation["contaminated"]
        assert (hit["benchmark"], hit["item"]) == (bench, item)
        assert hit["overlap"] > 0.5
    report = decontam_report(engine)
    assert report["benchmarks"]["humaneval"]["examples"] == 24
    assert report["benchmarks"]["mbpp"]["examples"] == 12
    assert report["benchmarks"]["gsm8k"]["distinct_items"] == 20
    assert cur.stats.as_dict()["decontam"]["dropped"] == {"contaminated": len(planted)}


def test_clean_code_and_math_pass(index: DecontamIndex) -> None:
    train = _jsonl("gsm8k_train.jsonl")[:1500]
    texts = [r["question"] + "\n" + r["answer"] for r in train] + [u + a for u, a in CLEAN_CODE]
    hits = screen(texts, index)
    # gsm8k train holds a few genuine near-copies of test items; allow at most 0.5%
    assert len(hits) <= len(texts) * 0.005, hits


def test_screen_finds_copies_in_an_export(index: DecontamIndex) -> None:
    he = _humaneval()
    texts = ["nothing to see here " * 20, he[5]["prompt"], "x = 1"]
    hits = screen(texts, index, batch=2)
    assert [(h["index"], h["benchmark"], h["item"]) for h in hits] == [(1, "humaneval", he[5]["task_id"])]


def test_threshold_is_applied_to_the_item_ngrams(index: DecontamIndex) -> None:
    q = _jsonl("gsm8k_test.jsonl")[3]["question"].split()
    half = " ".join(q[: len(q) // 3])  # a third of the item: below the rule
    assert index.screen([half]) == [None]
    assert index.screen([" ".join(q)])[0]["overlap"] == 1.0


# Real library source that an earlier index mistook for MBPP or HumanEval: asserts over lists of
# numbers matched MBPP test lists by shape, Euclid's gcd matched HumanEval/13's two n-grams.
REAL_CODE = ["sympy/crypto/tests/test_crypto.py", "sympy/combinatorics/tests/test_permutations.py",
             "sympy/ntheory/tests/test_residue.py", "sympy/logic/tests/test_boolalg.py",
             "sympy/holonomic/tests/test_holonomic.py", "sympy/polys/polytools.py", "sympy/core/intfunc.py",
             "sympy/core/operations.py", "sympy/physics/quantum/commutator.py", "numpy/_core/_internal.py",
             "numpy/_core/tests/test_api.py"]


def _chunks(text: str, size: int = 3000) -> list[str]:
    out, cur = [], ""
    for line in text.splitlines(keepends=True):
        if cur and len(cur) + len(line) > size:
            out.append(cur)
            cur = ""
        cur += line
    return [*out, cur]


def test_real_library_code_is_not_mistaken_for_a_benchmark(index: DecontamIndex) -> None:
    import importlib.util

    site = Path(importlib.util.find_spec("numpy").origin).parents[1]  # type: ignore[arg-type, union-attr]
    chunks = [c for rel in REAL_CODE for c in _chunks((site / rel).read_text(encoding="utf-8"))]
    assert len(chunks) > 100
    hits = screen(chunks, index)
    assert hits == [], [(h["item"], h["part"], h["view"], h["overlap"]) for h in hits]


def test_a_short_item_needs_more_than_its_few_ngrams(index: DecontamIndex) -> None:
    he13 = next(r for r in _humaneval() if r["task_id"] == "HumanEval/13")
    euclid = "def gcd(a, b):\n    \"\"\"Euclid.\"\"\"\n    while b:\n        a, b = b, a % b\n    return a\n"
    assert screen(["Here is a helper:\n" + euclid], index) == []
    hits = screen(["Complete:\n" + he13["prompt"] + he13["canonical_solution"]], index)
    assert [h["item"] for h in hits] == ["HumanEval/13"]
