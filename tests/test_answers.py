"""Answer checking: agreement with the labelled set, extraction, the number fast path, math-verify
behind it (lazily imported, usable off the main thread, guarded against costly input, keeping
the caller's alarm), multiple choice, and safety."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from aitherd import answers, benchmarks
from aitherd.answers import check, choice, extract_answer, math_equal, to_number

PAIRS = Path(__file__).parent / "data" / "answer_pairs.jsonl"
GROUPS = {"fractions", "decimals", "thousands", "units", "latex", "sets_tuples_intervals", "negatives",
          "expressions", "letters", "rationales", "gsm8k", "choice"}


def labelled() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


def test_the_labelled_set_covers_every_shape_both_ways():
    rows = labelled()
    both = Counter((r["group"], r["equivalent"]) for r in rows)
    assert len(rows) >= 500
    assert {g for g, _ in both} == GROUPS
    assert all(both[(g, True)] >= 4 and both[(g, False)] >= 4 for g in GROUPS), both


def test_check_agrees_with_every_labelled_pair():
    wrong = [(r["group"], r["solution"][-60:], r["reference"][-40:], r["equivalent"]) for r in labelled()
             if check(r["solution"], r["reference"], r["kind"]) != r["equivalent"]]
    assert not wrong, f"{len(wrong)} disagreements: {wrong[:20]}"


@pytest.mark.parametrize(("text", "answer"), [
    ("so the total is \\boxed{\\frac{3}{4}}.", "\\frac{3}{4}"),
    ("first \\boxed{1} then \\boxed{x^{2}+1}", "x^{2}+1"),
    ("Janet sells 9 eggs.\n#### 18", "18"),
    ("The answer is 42.", "42"),
    ("Final answer: $1,250", "1,250"),
    ("**Answer:** 7", "7"),
    ("we get 3 then 7 apples", "7"),
    ("Therefore $x = \\frac{1}{2}$.", "x = \\frac{1}{2}"),
    ("x^2+2x+1", "x^2+2x+1"),
    ("<think>it is 5</think>\nSo \\boxed{6}", "6"),
    ("<think>\nit is 5", None),
    ("<think>it is 5</think>", None),
    ("<think></think>\n\n5", "5"),
    ("the sum is 4.</think>\nSo \\boxed{4}", "4"),
])
def test_extracts_the_final_answer(text, answer):
    assert extract_answer(text) == answer


@pytest.mark.parametrize(("a", "b"), [
    ("1,234", "1234"), ("$5", "5"), ("50%", "0.5"), ("50%", "50"), ("3/4", "0.75"), ("\\frac{3}{4}", "0.75"),
    ("12 apples", "12"), ("2\\sqrt{2}", "sqrt(8)"), ("x^2 + 2x + 1", "(x+1)^2"), ("\\pi/2", "pi/2"),
    ("-0.5", "-1/2"), ("0.333333", "1/3"),
])
def test_equivalent_answers_match(a, b):
    assert math_equal(a, b)


@pytest.mark.parametrize(("a", "b"), [("3", "4"), ("0.75", "3/5"), ("x^2", "2x"), ("1/0", "0"), ("0.33", "1/3"),
                                      ("1,5", "1.5"), ("(1,2)", "(2,1)"), ("2 pi", "2")])
def test_different_answers_do_not_match(a, b):
    assert not math_equal(a, b)


def test_plain_numbers_are_decided_without_loading_sympy():
    code = ("import sys\nfrom aitherd.answers import check, STATS\n"
            "assert 'sympy' not in sys.modules and 'math_verify' not in sys.modules\n"
            "assert check('She pays 3 x $6 = $18.\\n#### 18', '18') and not check('#### 18', '#### 1,800')\n"
            "assert check('The answer is 1,250 dollars.', '1250') and check('\\\\boxed{\\\\dfrac12}', '0.5')\n"
            "assert not check('30%', '3')\n"
            "print(sorted(m for m in ('sympy', 'math_verify') if m in sys.modules), STATS['math_verify'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] 0"


def test_symbolic_answers_go_to_math_verify_off_the_main_thread_too():
    results: dict[str, object] = {}

    def work() -> None:
        try:
            results["same"] = check("So $y = \\log_2 x$, i.e. \\boxed{\\log_2 8}", "3")  # no middle path for logs
            results["different"] = check("\\boxed{x > 2}", "x < 2")
        except Exception as e:  # math-verify's signal timeout raises ValueError off the main thread
            results["error"] = e

    before = answers.STATS["math_verify"]
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert results == {"same": True, "different": False}
    assert answers.STATS["math_verify"] == before + 2


@pytest.mark.parametrize("costly", ["9^{9^{9^{9}}}", "10^{10^{10}}", "9999999999^{9999999}", "100000!",
                                    "2**3**4**5", "\\sum_{k=1}^{10^{9}} k", "x+" * 300 + "1"])
def test_answers_that_could_keep_sympy_busy_are_not_handed_to_it(costly):
    before = answers.STATS["too_costly"]
    assert not math_equal(costly, "5")
    assert answers.STATS["too_costly"] == before + 1
    assert math_equal(costly, costly)  # the same text still matches


def test_an_alarm_the_caller_set_survives_a_symbolic_check():
    fired: list[int] = []

    def handler(*_: object) -> None:
        fired.append(1)

    outer_timer = signal.getitimer(signal.ITIMER_REAL)  # pytest-timeout's, if it uses signals
    old = signal.signal(signal.SIGALRM, handler)
    try:
        signal.setitimer(signal.ITIMER_REAL, 100.0)
        assert check("\\boxed{\\log_2 8}", "3")  # math-verify arms and cancels its own alarm
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < remaining <= 100
        assert signal.getsignal(signal.SIGALRM) is handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        if outer_timer[0] > 0:
            signal.setitimer(signal.ITIMER_REAL, *outer_timer)
    assert not fired


def test_an_unknown_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="'code' is not one of math, choice, exact"):
        check("42", "42", kind="code")


def test_untrusted_text_is_never_evaluated(tmp_path):
    marker = tmp_path / "pwned"
    evil = f"__import__('os').system('touch {marker}')"
    assert not math_equal(evil, "0")
    assert not math_equal("().__class__", "0")
    assert not check(f"The answer is {evil}", "0")
    assert not marker.exists()
    assert to_number("eval(1)") is None


def test_multiple_choice_letters():
    assert choice("(b)") == "B" and choice("C. 42") == "C"
    assert choice("I think the answer is (D) because") == "D"
    assert check("The answer is (B)", "B", kind="choice")
    assert not check("The answer is (B)", "C", kind="choice")


def test_gsm8k_reference_solutions_check_against_their_own_answers():
    rows = benchmarks.load("gsm8k_test")[:200]
    assert all(check(r["answer"], r["answer"].split("####")[-1]) for r in rows)
    assert all(check(r["answer"], r["answer"]) for r in rows)  # a whole solution as the reference
    wrong = sum(check(r["answer"], str(to_number(r["answer"].split("####")[-1]) + 1)) for r in rows)
    assert wrong == 0
