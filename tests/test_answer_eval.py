"""The sympy-free middle path of math answer checking (aitherd.answer_eval): what it decides, what
it leaves to math-verify, its size caps, and that it decides without loading sympy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aitherd import answer_eval, answers
from aitherd.answers import evaluated_equal

PAIRS = Path(__file__).parent / "data" / "answer_pairs.jsonl"


@pytest.mark.parametrize(("a", "b"), [
    ("2\\sqrt{3}", "\\sqrt{12}"), ("\\sqrt[3]{27}", "3"), ("\\frac12", "\\tfrac{1}{2}"), ("8^{2/3}", "4"),
    ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"), ("\\pi/4", "\\frac{\\pi}{4}"), ("-\\frac{3}{4}", "-0.75"),
    ("x^2+2x+1", "(x+1)^2"), ("(x+y)^2", "x^2+2xy+y^2"), ("\\frac{x^2-1}{x-1}", "x+1"), ("y = 2x+3", "3+2x"),
    ("(1, \\sqrt{2})", "(1,\\sqrt2)"), ("[-\\frac32, \\infty)", "[-1.5,\\infty)"), ("\\{2, -2\\}", "-2, 2"),
    ("(1,\\infty)\\cup(-\\infty,0)", "(-\\infty,0)\\cup(1,\\infty)"), ("\\binom{5}{2}", "10"), ("5!", "120"),
    ("1,000,000", "10^6"), ("(B)", "B"), ("e^{0}", "1"),
])
def test_equal_shapes_are_decided_equal(a, b):
    assert evaluated_equal(a, b) is True


@pytest.mark.parametrize(("a", "b"), [
    ("2\\sqrt{3}", "\\sqrt{6}"), ("\\sqrt{2}", "1.41"), ("\\pi", "3.14"), ("x^2", "2x"), ("-x^2", "(-x)^2"),
    ("\\sqrt{x^2}", "x"), ("(1,2)", "(2,1)"), ("[1,2)", "(1,2]"), ("(0,\\infty)", "[0,\\infty)"),
    ("\\{1,2\\}", "\\{1,2,3\\}"), ("1,5", "1.5"), ("2, 3, 4", "3"),
    ("x = 5", "-5"), ("x", "y"), ("B", "C"), ("b", "C"), ("2^{10}", "20"), ("e^{1}", "1"),
])
def test_different_shapes_are_decided_different(a, b):
    assert evaluated_equal(a, b) is False


@pytest.mark.parametrize(("a", "b"), [
    ("\\log_2 8", "3"), ("x > 2", "2 < x"), ("\\sin^2 x + \\cos^2 x", "1"), ("Monday", "Tuesday"), ("5 m", "5"),
    ("1/2x", "\\frac{1}{2x}"), ("x^10", "x^{10}"), ("1/0", "0"), ("\\sqrt{2}", "1.414214"), ("\\sqrt{x}", "x^{1/2}"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "(1,2)"), ("2, 2", "2"), ("(1,000, 2)", "(1000,2)"),
    ("(0,2)\\cup(1,3)", "(0,3)"), ("\\ln x^2", "2\\ln x"), ("ln(x^2)", "2ln(x)"), ("x = 3", "x"), ("x", "X"), ("(1+i)^2", "2i"),
])
def test_unsure_shapes_are_left_to_math_verify(a, b):
    assert evaluated_equal(a, b) is None


@pytest.mark.parametrize("big", ["(2^{99})^{99}", "101!", "\\binom{500}{250}", "(10^{300})\\cdot(10^{300})^{9}",
                                 "\\sqrt[100]{2}", "2^{1500}", "(" * 2000 + "1" + ")" * 2000])
def test_huge_or_deep_values_are_refused_not_computed(big):
    assert answer_eval.equal(big, "\\pi") is None


def test_untrusted_text_is_only_tokenized():
    for evil in ("__import__('os').system('true')", "().__class__", "x.__dict__", "lambda: 0"):
        with pytest.raises(answer_eval.Unsure):
            answer_eval.parse(evil)


def test_the_middle_path_decides_without_loading_sympy():
    code = ("import sys\nfrom aitherd.answers import check, STATS\n"
            "assert check('so \\\\boxed{2\\\\sqrt{3}}', '\\\\sqrt{12}') and not check('\\\\boxed{x^2}', '2x')\n"
            "assert check('\\\\boxed{\\\\left(\\\\frac{1}{2}, \\\\pi\\\\right)}', '(0.5, \\\\pi)')\n"
            "print(sorted(m for m in ('sympy', 'math_verify') if m in sys.modules), STATS['evaluated'],"
            " STATS['math_verify'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] 3 0"


def test_most_symbolic_labelled_pairs_no_longer_need_math_verify():
    rows = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    answers.STATS.clear()
    for r in rows:
        if r["kind"] == "math":
            answers.check(r["solution"], r["reference"])
    stats = dict(answers.STATS)
    answers.STATS.clear()
    assert stats["evaluated"] >= 150, stats
    assert stats["math_verify"] <= 20, stats  # logs, inequalities, words, matrices, unmatched unions


CROSS = ["\\frac{1}{2}", "0.5", "\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2", "2\\sqrt{2}", "\\sqrt{8}", "\\frac{\\pi}{3}",
         "\\pi", "3.14", "(x+1)^2", "x^2+2x+1", "2x+1", "x=2", "2", "-2", "(2,3)", "(3,2)", "[2,3)", "\\{2,3\\}",
         "3, 2", "(-\\infty,2]", "(-\\infty,2)", "\\frac{1+\\sqrt{5}}{2}", "2^{10}", "1024", "\\binom{10}{3}", "120",
         "ab", "b a", "\\frac{a}{b}", "a/b", "x^{-1}", "\\frac1x", "\\sqrt[3]{8}", "1,000,000", "10^6"]


def test_the_middle_path_agrees_with_math_verify_wherever_it_decides():
    decided, disagree = 0, []
    for a in CROSS:
        for b in CROSS:
            verdict = evaluated_equal(a, b)
            if verdict is not None:
                decided += 1
                if verdict != answers.symbolic_equal(a, b):
                    disagree.append((a, b, verdict))
    assert decided >= 500
    assert not disagree
