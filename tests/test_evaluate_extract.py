"""Reading answers: think blocks first, then code or numbers, as the harnesses do."""

from __future__ import annotations

import pytest

from aitherd import benchmarks
from aitherd.evaluate.extract import extract_code, gold_number, lm_eval_match, numeric_answer, same_number, split_think


def test_the_think_block_is_split_off_whether_or_not_the_output_opens_it() -> None:
    assert split_think("<think>\nwork\n</think>\n\nfinal") == ("work", "final")
    # R1 templates end the prompt with "<think>\n": the output only closes the block.
    assert split_think("work it out\n</think>\n\nfinal") == ("work it out", "final")
    assert split_think("<|channel>thought\nhmm<channel|>done") == ("hmm", "done")
    assert split_think("no thinking here") == (None, "no thinking here")


def test_a_think_block_that_never_closes_has_no_answer() -> None:
    got = numeric_answer("<think>\n12 + 30 = 42, so the answer is 42")
    assert got.answer is None and got.truncated
    assert extract_code("<think>\n```python\ndef f():\n    return 1\n```") is None


def test_numbers_inside_the_think_block_are_never_the_answer() -> None:
    got = numeric_answer("<think>\nmaybe 99? \\boxed{99}\n</think>\n\nSo she has 18 eggs left.")
    assert got.answer == "18" and got.source == "flexible"


@pytest.mark.parametrize(("text", "answer", "source"), [
    ("She earns 9 * 2 = 18 dollars.\n#### 18", "18", "strict"),
    ("The total is $\\boxed{1,200}$ dollars.", "1,200", "boxed"),
    ("The answer is 72. I hope this helps with your 3 questions!", "72", "answer_is"),
    ("**Final Answer:** $5", "5", "answer_is"),
    ("After 4 weeks she has 18", "18", "flexible"),
    ("nothing numeric", None, None),
])
def test_gsm8k_answers_come_from_boxed_then_strict_then_answer_is_then_the_last_number(
        text: str, answer: str | None, source: str | None) -> None:
    got = numeric_answer(text)
    assert (got.answer, got.source) == (answer, source)


def test_strict_and_flexible_follow_lm_eval() -> None:
    got = numeric_answer("First 3 apples, then #### 1,234.\nSo 1,234 is right and 7 is not")
    assert got.strict == "1,234."  # lm-eval's regex keeps the dot; its cleaning drops it
    assert got.flexible == "7"
    assert lm_eval_match(got.strict, "1234") and not lm_eval_match(got.flexible, "1234")
    assert not lm_eval_match("72.0", "72")  # lm-eval compares strings
    assert same_number("72.0", "72") and same_number("$1,200", "1200") and not same_number("71", "72")


def test_code_comes_from_the_block_that_defines_the_entry_point() -> None:
    text = ("<think>\n```python\ndef scratch(): pass\n```\n</think>\n\nA helper:\n```python\nimport math\n```\n"
            "The solution:\n```python\ndef add(a, b):\n    return a + b\n```\n")
    assert extract_code(text, "add") == "def add(a, b):\n    return a + b\n"
    assert extract_code(text) == "import math\n"  # no entry point named: the first python block


def test_code_without_a_closed_fence_or_without_any_fence() -> None:
    assert extract_code("Here:\n```python\ndef f():\n    return 1\n") == "def f():\n    return 1"
    assert extract_code("def f():\n    return 1\n") == "def f():\n    return 1"
    assert extract_code("Sorry, I cannot help with that.") is None
    assert extract_code("```text\nnot python\n```\n") == "not python\n"  # the only block there is


def test_every_gsm8k_gold_answer_is_read_back_in_every_output_style() -> None:
    """The bench/extraction.py check at test size: plain, ####, boxed, think + answer, prose."""
    rows = benchmarks.load("gsm8k_test")[:200]
    for row in rows:
        gold = gold_number(row["answer"])
        steps = row["answer"].rsplit("####", 1)[0].strip()
        for style in (f"{steps}\n{gold}", row["answer"], f"{steps}\nSo the answer is $\\boxed{{{gold}}}$.",
                      f"<think>\n{steps}\nDouble-check: 1, 2, 3.\n</think>\n\n**Answer:** {gold}",
                      f"{steps}\nThe answer is {gold}. Let me know if you have 2 more questions!"):
            assert same_number(numeric_answer(style).answer, gold), (style[-200:], gold)
