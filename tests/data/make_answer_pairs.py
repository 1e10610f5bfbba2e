"""Writes tests/data/answer_pairs.jsonl: the labelled set that answer checking is measured and tested on.

Each row: {"group", "solution", "reference", "kind", "equivalent"}. `solution` is what a model
wrote (a bare answer or a whole rationale), `reference` the gold answer in the shapes datasets
give it (a bare answer, GSM8K's '#### n', a full GSM8K solution, a `\\boxed{}` MATH answer).
The labels follow the rules in aitherd/answers.py's docstring (six-decimal rounding, thousands
separators in groups of three, units and currency ignored, p% = p = p/100, sets unordered,
tuples and intervals ordered). The GSM8K rows come from the shipped GSM8K *train* split.

    PYTHONPATH=. python tests/data/make_answer_pairs.py   # rewrites the file; commit the result
"""

from __future__ import annotations

import json
from pathlib import Path

from aitherd import benchmarks

OUT = Path(__file__).with_name("answer_pairs.jsonl")
Row = tuple[str, str, bool]  # (solution, reference, equivalent)


def fractions() -> list[Row]:
    rows: list[Row] = []
    forms = {
        (1, 2): ["1/2", "0.5", ".5", "\\frac{1}{2}", "\\dfrac12", "\\tfrac{1}{2}", "\\frac12", "2/4", "0.50", "50\\%"],
        (3, 4): ["3/4", "0.75", "\\frac{3}{4}", "\\dfrac{3}{4}", "6/8", "\\frac{6}{8}"],
        (-1, 3): ["-1/3", "-\\frac{1}{3}", "\\frac{-1}{3}", "-0.333333", "-\\dfrac{1}{3}"],
        (7, 8): ["7/8", "0.875", "\\frac{7}{8}", "\\frac{14}{16}"],
        (5, 4): ["5/4", "1.25", "\\frac{5}{4}", "\\dfrac54"],
        (2, 3): ["2/3", "\\frac{2}{3}", "0.666667", "4/6"],
    }
    for group in forms.values():
        for i, a in enumerate(group):
            for b in group[i + 1:]:
                rows.append((a, b, True))
    rows += [(a, b, False) for a, b in [
        ("1/2", "2"), ("\\frac{1}{2}", "2"), ("2", "\\frac{1}{2}"), ("0.5", "5"), ("1/2", "1/3"),
        ("3/4", "4/3"), ("\\frac{3}{4}", "\\frac{4}{3}"), ("0.33", "1/3"), ("0.33", "\\frac{1}{3}"),
        ("0.67", "2/3"), ("0.6667", "\\frac{2}{3}"), ("-1/3", "1/3"), ("7/8", "0.87"), ("5/4", "4/5"),
        ("\\dfrac12", "12"), ("\\frac{1}{2}", "0.25"), ("1.2", "5/4"),
    ]]
    rows += [("0.333333", "1/3", True), ("0.3333333", "\\frac{1}{3}", True), ("\\frac{2}{4}", "\\frac{1}{2}", True)]
    return rows


def decimals() -> list[Row]:
    same = [("2.50", "2.5"), ("3.0", "3"), ("0.1", ".1"), ("12.5", "12.50"), ("100.00", "100"), ("007", "7"),
            ("3.141593", "3.1415926"), ("0.000001", "1/1000000"), ("2.0000001", "2"),
            ("-0.0", "0"), ("1.10", "1.1"), ("3.50", "\\frac{7}{2}"), ("+5", "5"), ("5.", "5"), ("0.1", "1/10"),
            ("1,000,000", "10^6")]
    diff = [("3.14", "\\pi"), ("1.4142", "\\sqrt{2}"), ("7", "7.0001"), ("2.5", "25"), ("0.1", "0.01"),
            ("1.5", "15"), ("3.15", "3.14"), ("0.999", "1"), ("12.05", "12.5"), ("100.5", "100"), ("5.5", "55"),
            ("2/3", "0.67"), ("1/0", "0"), ("2^{10}", "10^2")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def thousands() -> list[Row]:
    same = [("1,000", "1000"), ("1,234,567", "1234567"), ("10,000", "10000"), ("$1,250.50", "1250.5"),
            ("12,000", "12000"), ("1000", "1,000"), ("1{,}000", "1000"), ("1\\,000", "1000"),
            ("2,520,000", "2520000"), ("-1,200", "-1200")]
    diff = [("12,000", "1200"), ("1,000", "100"), ("1,5", "1.5"), ("1,000", "1"), ("10,00", "1000"),
            ("1,234", "1.234")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def units() -> list[Row]:
    same = [("$5", "5"), ("5 dollars", "5"), ("\\$5", "5"), ("5 cm", "5"), ("5\\text{ cm}", "5"),
            ("30%", "30"), ("30\\%", "0.3"), ("30%", "0.3"), ("30 percent", "30"), ("18 eggs", "18"),
            ("$5.00", "5"), ("90^\\circ", "90"), ("90°", "90"), ("\\$18.00", "18"), ("12 apples", "12"),
            ("5 square feet", "5"), ("$\\$1,200$", "1200"), ("45 minutes", "45"), ("\\text{5 dollars}", "5"),
            ("7.5 miles per hour", "7.5"), ("100%", "1"), ("100%", "100"), ("5%", "0.05"), ("\\$ 5.00", "5"),
            ("1/2 cup", "0.5"), ("$\\$5$", "5"), ("5 m", "5")]
    diff = [("$5", "6"), ("5 cm", "50"), ("30%", "3"), ("30%", "0.03"), ("18 eggs", "16"), ("$5.50", "5"),
            ("90^\\circ", "9"), ("45 minutes", "4.5"), ("\\$1,200", "120"), ("5 and 6", "5"), ("2 pi", "2"),
            ("12 or 13", "12"), ("1/2 of them", "1/2"), ("5%", "5.5")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def latex() -> list[Row]:
    same = [("\\boxed{12}", "12"), ("\\sqrt{8}", "2\\sqrt{2}"), ("\\frac{\\pi}{2}", "\\pi/2"),
            ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2"), ("\\text{12}", "12"), ("2\\pi", "\\pi \\cdot 2"),
            ("\\frac{\\sqrt{2}}{2}", "\\frac{1}{\\sqrt{2}}"), ("\\left(\\frac{1}{2}\\right)", "0.5"),
            ("\\boxed{\\dfrac{3}{4}}", "\\frac34"), ("\\sqrt{16}", "4"), ("2^{10}", "1024"), ("3 \\times 4", "12"),
            ("\\frac{10}{4}", "\\frac{5}{2}"), ("4\\sqrt{3}", "\\sqrt{48}"), ("\\pi r^2", "r^2\\pi"),
            ("\\fbox{7}", "7"), ("\\boxed{\\text{7}}", "7"), ("$\\frac{1}{2}$", "\\frac{1}{2}"), ("e^{0}", "1"),
            ("\\sqrt{2}\\cdot\\sqrt{2}", "2"), ("\\frac{3\\pi}{4}", "0.75\\pi"), ("\\binom{5}{2}", "10"),
            ("10!", "3628800"), ("\\log_2 8", "3"), ("\\sqrt[3]{27}", "3"), ("\\$\\frac{1}{2}", "0.5"),
            ("\\sqrt{2}", "\\sqrt2"), ("2\\sqrt{2}", "\\sqrt{8}"), ("sqrt(8)", "2\\sqrt{2}"), ("pi/2", "\\frac{\\pi}{2}"),
            ("√2", "\\sqrt{2}"), ("3π", "3\\pi")]
    diff = [("\\sqrt{3}", "3"), ("\\pi", "3.14"), ("\\sqrt{8}", "8"), ("\\frac{\\pi}{2}", "\\frac{\\pi}{3}"),
            ("2\\pi", "\\pi"), ("\\boxed{12}", "21"), ("\\sqrt{2}", "2"), ("2^{10}", "20"), ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}"),
            ("\\log_2 8", "8"), ("e^{1}", "1"), ("\\binom{5}{2}", "20"), ("10!", "10"), ("\\text{12}", "21")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def sets_tuples_intervals() -> list[Row]:
    same = [("\\{1,2\\}", "\\{2,1\\}"), ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}"), ("(1,2)", "(1,2)"),
            ("(1, 2)", "(1,2)"), ("[1,2)", "[1,2)"), ("(-\\infty, 3]", "(-\\infty,3]"), ("1, 2", "2, 1"),
            ("x=1, x=2", "\\{1,2\\}"), ("(0, \\infty)", "(0,\\infty)"), ("[-1, 1]", "[-1,1]"),
            ("\\{\\frac{1}{2}, 3\\}", "\\{3, 0.5\\}"), ("(2, -3)", "(2,-3)"),
            ("(-\\infty, 0) \\cup (1, \\infty)", "(-\\infty,0)\\cup(1,\\infty)"), ("3, 5", "5, 3"),
            ("(1, 2, 3)", "(1,2,3)"), ("(1,\\infty)\\cup(-\\infty,0)", "(-\\infty,0)\\cup(1,\\infty)"),
            ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}")]
    diff = [("(1,2)", "(2,1)"), ("[1,2)", "(1,2]"), ("\\{1,2\\}", "\\{1,2,3\\}"), ("[1,2]", "(1,2)"),
            ("(2, -3)", "(-3, 2)"), ("(0, \\infty)", "[0,\\infty)"), ("\\{1,2\\}", "\\{1,3\\}"), ("1, 2", "1, 3"),
            ("(-\\infty, 3]", "(-\\infty, 3)"), ("(1,2,3)", "(3,2,1)"),
            ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}2\\\\1\\end{pmatrix}")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def negatives() -> list[Row]:
    same = [("-3", "-3"), ("-\\frac{1}{2}", "-0.5"), ("\\frac{-1}{2}", "-0.5"), ("−3", "-3"), ("-(1/2)", "-0.5"),
            ("- 7", "-7"), ("-$5", "-5"), ("-5 degrees", "-5"), ("(-4)", "-4"), ("-0.25", "-\\frac14")]
    diff = [("-3", "3"), ("3", "-3"), ("-\\frac{1}{2}", "0.5"), ("-5", "5"), ("-0.25", "0.25"), ("-12", "-21"),
            ("−3", "3")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def expressions() -> list[Row]:
    same = [("x+1", "1+x"), ("x^2+2x+1", "(x+1)^2"), ("2x", "x \\cdot 2"), ("\\frac{x}{2}", "0.5x"),
            ("y=2x+3", "2x+3"), ("x=5", "5"), ("(x-1)(x+1)", "x^2-1"), ("a^2-b^2", "(a-b)(a+b)"),
            ("\\frac{x^2-1}{x-1}", "x+1"), ("2(x+3)", "2x+6"), ("\\sin^2 x + \\cos^2 x", "1"),
            ("3x^2 - 12", "3(x-2)(x+2)"), ("n(n+1)/2", "\\frac{n^2+n}{2}"), ("x^{3}", "x^3"),
            ("\\frac{1}{x}", "x^{-1}"), ("k = 4", "4"), ("y = 2x + 3", "y=3+2x"), ("x > 2", "2 < x"),
            ("x \\ge 2", "x\\geq 2"), ("\\text{Monday}", "Monday"), ("Yes", "yes")]
    diff = [("x^2", "2x"), ("x+1", "x-1"), ("(x+1)^2", "x^2+1"), ("2x+6", "2x+3"), ("\\frac{x}{2}", "2x"),
            ("y=2x+3", "2x-3"), ("x=5", "-5"), ("a^2-b^2", "(a-b)^2"), ("3x^2", "3x^3"), ("n(n+1)/2", "n(n-1)/2"),
            ("x", "y"), ("x > 2", "x < 2"), ("\\text{Monday}", "Tuesday"), ("x = 5 or x = -5", "5"),
            ("\\frac{1}{2}x", "0.5")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def letters() -> list[Row]:
    same = [("B", "B"), ("(B)", "B"), ("\\text{(B)}", "B"), ("\\boxed{C}", "C"), ("\\textbf{(D)}", "D"),
            ("(A)", "(A)"), ("\\text{E}", "E")]
    diff = [("B", "C"), ("(B)", "C"), ("\\boxed{A}", "D"), ("\\text{(B)}", "E"), ("A", "B")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def choice_rows() -> list[tuple[str, str, bool]]:
    same = [("The answer is (B)", "B"), ("(c)", "C"), ("C. 42", "C"), ("I think the answer is (D) because", "D"),
            ("Answer: A", "A"), ("E", "(E)")]
    diff = [("The answer is (B)", "C"), ("(c)", "D"), ("Answer: A", "B"), ("no letter here", "A")]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def rationales() -> list[Row]:
    """Model-output-shaped MATH solutions: the final answer sits among other numbers."""
    same = [
        ("We have $2x = 1$, so $x = \\frac{1}{2}$. The final answer is $\\boxed{\\frac{1}{2}}$.", "0.5"),
        ("<think>Try 3, then 4: 3^2+4^2=25.</think>\nThe hypotenuse is $\\boxed{5}$.", "5"),
        ("First $\\boxed{3}$ was wrong; correcting, the answer is $\\boxed{4}$.", "4"),
        ("The roots are $x=2$ and $x=3$, so the answer is $\\boxed{2, 3}$.", "\\{2,3\\}"),
        ("Therefore the sum is $\\frac{10}{4} = \\boxed{\\frac{5}{2}}$.", "\\boxed{\\frac{5}{2}}"),
        ("Expanding gives $(x+1)^2 = x^2+2x+1$.\n\nFinal answer: $\\boxed{x^2+2x+1}$", "(x+1)^2"),
        ("So the area is $\\boxed{16\\pi}$ square units.", "16\\pi"),
        ("Adding 12 and 30 we get 42.\nThe answer is 42.", "42"),
        ("**Answer:** 1,200", "1200"),
        ("The probability is $\\boxed{0.25}$", "\\frac{1}{4}"),
        ("Thus $\\sqrt{50} = 5\\sqrt{2}$, so the answer is $\\boxed{5\\sqrt{2}}$.", "\\sqrt{50}"),
        ("She has 3 boxes of 4 pens, 12 pens in all.\nThe answer is 12. Let me know if you have 2 more questions!",
         "12"),
        ("The interval is $\\boxed{[2, 5)}$.", "[2,5)"),
        ("<think>\nmaybe 7? no: 6.\n</think>\n\n**Answer:** 6", "6"),
        ("Therefore, the final answer is: $\\boxed{-\\frac{3}{2}}$. I hope it is correct.", "-1.5"),
        ("The answer is $\\$18$.", "18"),
        ("The answer is 18 dollars per day.", "18"),
        ("The final answer is 42. I hope it is correct.", "42"),
        ("The answer is \\(\\frac{1}{2}\\).", "0.5"),
        ("She needs 3 more. So 3 + 5 = 8 total.", "8"),
        ("So the answer is 8 dollars. She saved 2 dollars.", "8"),
        ("Solving, we find $x = 3$.", "3"),
        ("####42", "42"),
    ]
    diff = [
        ("We have $2x = 1$, so $x = \\frac{1}{2}$. The final answer is $\\boxed{\\frac{1}{2}}$.", "2"),
        ("<think>The answer is 5.</think>\nThe hypotenuse is $\\boxed{7}$.", "5"),
        ("First $\\boxed{4}$ was wrong; correcting, the answer is $\\boxed{3}$.", "4"),
        ("The roots are $x=2$ and $x=3$, so the answer is $\\boxed{2, 4}$.", "\\{2,3\\}"),
        ("So the area is $\\boxed{16\\pi}$ square units.", "16"),
        ("Adding 12 and 30 we get 42.\nThe answer is 42.", "12"),
        ("She has 3 boxes of 4 pens, 12 pens in all.\nThe answer is 12. Let me know if you have 2 more questions!",
         "2"),
        ("<think>\n6 is right\n</think>", "6"),  # a think block and no answer after it
        ("I could not solve this.", "3"),
        ("", "3"),
        ("So the answer is 8 dollars. She saved 2 dollars.", "2"),
        ("The answer is \\(\\frac{1}{2}\\).", "2"),
        ("Solving, we find $x = 3$.", "x"),
        ("Therefore, the final answer is: $\\boxed{-\\frac{3}{2}}$. I hope it is correct.", "1.5"),
    ]
    return [(a, b, True) for a, b in same] + [(a, b, False) for a, b in diff]


def gsm8k(n: int = 40) -> list[Row]:
    """Real GSM8K train solutions against the '#### n' reference, the bare number and the whole
    worked solution; near misses with the number times ten, plus one, and its digits dropped."""
    rows: list[Row] = []
    data = benchmarks.load("gsm8k_train")
    step = len(data) // n
    for i in range(n):
        r = data[i * step]
        full = r["answer"]
        gold = full.rsplit("####", 1)[1].strip()
        steps = full.rsplit("####", 1)[0].strip()
        value = int(gold.replace(",", ""))
        styles = [full, f"{steps}\nSo the answer is $\\boxed{{{gold}}}$.", f"{steps}\nThe answer is {gold}.",
                  f"<think>\n{steps}\n</think>\n\n**Answer:** {gold}"]
        solution = styles[i % len(styles)]
        refs_same = [f"#### {gold}", gold, full] if i % 2 == 0 else [gold.replace(",", "")]
        rows += [(solution, ref, True) for ref in refs_same]
        near = [value * 10 if value else 10, value + 1] if i % 3 else [value - 1]
        rows += [(solution, f"#### {v}", False) for v in near]
    return rows


GROUPS = {"fractions": fractions, "decimals": decimals, "thousands": thousands, "units": units, "latex": latex,
          "sets_tuples_intervals": sets_tuples_intervals, "negatives": negatives, "expressions": expressions,
          "letters": letters, "rationales": rationales, "gsm8k": gsm8k}


def main() -> None:
    with OUT.open("w") as f:
        count = 0
        for name, make in GROUPS.items():
            for solution, reference, equivalent in make():
                f.write(json.dumps({"group": name, "solution": solution, "reference": reference, "kind": "math",
                                    "equivalent": equivalent}, ensure_ascii=False) + "\n")
                count += 1
        for solution, reference, equivalent in choice_rows():
            f.write(json.dumps({"group": "choice", "solution": solution, "reference": reference, "kind": "choice",
                                "equivalent": equivalent}, ensure_ascii=False) + "\n")
            count += 1
    print(f"{count} pairs -> {OUT}")


if __name__ == "__main__":
    main()
