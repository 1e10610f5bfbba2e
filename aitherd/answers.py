"""Answer checking, shared by the reasoner harvest, the held-out evaluation and STaR:
`check(solution, reference, kind)` says whether a model output's final answer matches the reference.

How `kind="math"` decides, cheapest step first:
1. The final answer is read from the solution: the text after a closed think block (an output
   whose think block never closes has no answer), then the last `\\boxed{}`/`\\fbox{}`, else the
   last GSM8K `#### x`, else the last "answer is x"/"Answer: x", else the whole text when it is
   answer-shaped (short, at most three words), else the last math span or number. The reference
   is an answer already: its `#### x` or `\\boxed{}` is taken when it has one (a whole GSM8K or
   MATH solution works), else all of it.
2. Same text after LaTeX clean-up (`\\dfrac`, `\\left`, `\\text{}`, `$`): equal.
3. Both plain numbers (integers, decimals, `a/b`, `\\frac{a}{b}`, thousands separators, `$`, `%`,
   trailing unit words): decided here, exactly, with no sympy.
3b. Both answers in the common LaTeX/plain shapes (`\\frac`, `\\sqrt[n]{}`, `^`, `\\pi`, implicit
   multiplication, tuples, sets, intervals, a few variables, ...): parsed by hand and
   evaluated with exact Fractions where possible, floats otherwise, variables at three fixed
   points (aitherd.answer_eval states its reading and tolerances); decided here only when both
   sides parse completely and the numbers leave no doubt, with no sympy (STATS["evaluated"]).
4. Anything else goes to math-verify (HuggingFace's `math_verify`: LaTeX to sympy, then numeric,
   symbolic, set, interval and equation comparison), imported on first use so the daemon never
   loads sympy. Plain-text forms its LaTeX parser misreads (`sqrt(8)`, `pi`, `√`, `π`, `**`) are
   rewritten to LaTeX first, and the answer is wrapped in `$...$` as it expects.

The rules (the labelled set in tests/data/answer_pairs.jsonl is written to them):
- Numbers are equal exactly, or after rounding both to 6 decimal places when either is written
  as a decimal: 0.333333 = 1/3 but 0.33 != 1/3 (math-verify's `float_rounding=6`, kept for both).
- A comma between digits is a thousands separator only in groups of three (1,000 = 1000);
  otherwise it separates a list (1,5 is the list 1, 5, not 1.5).
- Currency signs, `\\text{}` unit words, trailing unit words (5 cm, 18 eggs) and degree signs are
  not compared: 5 cm = 5. A percentage p% equals p/100 and also p (GSM8K gives percentages as
  bare numbers).
- Sets ignore order; tuples and intervals do not: (1,2) != (2,1), [1,2) != (1,2].
- Expressions are equal when sympy finds them equal (step 3b: when equal at three fixed points,
  which also catches identities math-verify misreads); an equation `x = 5` equals its right side.
- Multiple-choice letters: `(B)`, `\\text{(B)}` and `B` are equal; `kind="choice"` reads the
  letter out of prose ("the answer is (C)").

Timeouts: math-verify bounds parsing and comparison with SIGALRM, which only works in the main
thread (elsewhere it raises ValueError). In the main thread each call gets a 1 s alarm (and an
alarm the caller had set is re-armed afterwards); in other threads it runs without one. In both,
answers that could make sympy run for minutes (power towers, huge exponents or factorials, over
400 characters) are never handed to it: they match only as identical text.

Untrusted text is never evaluated: math-verify parses LaTeX with a grammar and hands sympy's
`parse_expr` only digit-and-operator strings. `to_number` is the exact number reader the GSM8K
scorer (evaluate/extract.py) uses. `STATS` counts how each math check was decided.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections import Counter
from fractions import Fraction
from typing import Any

from aitherd import answer_eval, think

KINDS = ("math", "choice", "exact")
STATS: Counter[str] = Counter()  # how each math check was decided: see _decide

BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")  # its end is where the boxed content starts
_GSM = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)
_ANSWER_IS = re.compile(r"(?:final answer|the answer|answer)(?:\s*\*\*)?\s*(?:is|:|=)(?:\s*\*\*)?\s*(.+?)"
                        r"(?:\.\s|\.$|\n|$)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\\d])\$([^$\n]+?)(?<!\\)\$", re.DOTALL)
_WORD = re.compile(r"[A-Za-z]{2,}")
_WORDS_ONLY = re.compile(r"[A-Za-z]{2,}(?: [A-Za-z]{2,})*")
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?(?:[.:)\s]|$)")

# Step 3: one plain number, optionally signed, with currency, percent and unit words around it.
_NUM = r"(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_FAST = re.compile(
    r"(?P<sign>[-+]?)\s*\$?\s*(?P<sign2>[-+]?)\s*(?P<open>\(?)\s*(?:"
    rf"\\frac\{{(?P<fn>-?\d+)\}}\{{(?P<fd>\d+)\}}|\\frac(?P<sn>\d)(?P<sd>\d)|(?P<n>-?{_NUM})(?:\s*/\s*(?P<d>\d+))?"
    r")\s*(?P<close>\)?)\s*(?P<pct>%|percent(?:age)?)?\s*"
    r"(?P<unit>(?:[A-Za-z]{2,}\.?\s*){1,4}|°|\^\s*\{?\\circ\}?)?")
_NOT_UNITS = {"pi", "sqrt", "log", "ln", "sin", "cos", "tan", "exp", "inf", "infty", "and", "or", "to", "of", "by",
              "plus", "minus", "times", "over", "mod", "choose", "is", "in", "cdot", "div"}
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox|mathbf|operatorname)\s*\{([^{}]*)\}")

# Step 4 guards: what could keep sympy busy for minutes.
_MAX_SYMBOLIC = 400
_COSTLY = re.compile(r"\^\s*\{[^{}]*\^|\^\s*\(?-?\d+\s*\)?\s*\^|\*\*[^*]*\*\*|\^\s*\{?\s*-?\d{4,}|\*\*\s*\d{4,}"
                     r"|\d{4,}\s*!|\\(?:int|sum|prod|lim)\b")
_TIMEOUT_S = 1


def braced(text: str, start: int) -> str | None:
    """The text from `start` to the brace that closes the one just before it (nested braces
    kept), or None when it never closes."""
    depth, i = 1, start
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1] if depth == 0 else None


def _last_boxed(text: str) -> str | None:
    starts = [m.end() for m in BOXED.finditer(text)]
    return braced(text, starts[-1]) if starts else None


def _answer_shaped(text: str) -> bool:
    """Short, at most three words, and not prose around a math span."""
    span = _MATH_SPAN.search(text)
    if span and span.group().strip() != text.strip().rstrip(".").strip():
        return False
    bare = _TEXT_CMD.sub(r" \1 ", text)
    bare = re.sub(r"\\[A-Za-z]+", " ", bare)
    return len(text) <= 80 and "\n" not in text.strip() and len(_WORD.findall(bare)) <= 3


def extract_answer(text: str) -> str | None:
    """The final answer of a model's output (see the module docstring, step 1), or None."""
    if not text or not text.strip():
        return None
    _reasoning, after = think.split(text)
    if after != text:  # a closed think block (an empty one too): the answer follows it
        text = after
    elif text.lstrip().startswith(think.OPEN):
        return None  # the think block never closed: cut off before any answer
    if not text.strip():
        return None
    if (boxed := _last_boxed(text)) is not None:
        return boxed.strip()
    if m := _GSM.findall(text):
        return m[-1].strip()
    if m := _ANSWER_IS.findall(text):
        return m[-1].strip().strip("*$ ")
    if _answer_shaped(text):
        return text.strip()
    spans = [(m.end(), next(g for g in m.groups() if g is not None)) for m in _MATH_SPAN.finditer(text)]
    numbers = [(m.end(), m.group()) for m in _NUMBER.finditer(text)]
    found = sorted(spans + numbers)
    return found[-1][1].strip() if found else None


def reference_answer(reference: str) -> str:
    """A reference answer, taken out of a whole GSM8K or MATH solution when it is one."""
    if "####" in reference:
        return reference.rsplit("####", 1)[1].strip()
    if (boxed := _last_boxed(reference)) is not None:
        return boxed.strip()
    return reference.strip()


def _clean(s: str) -> str:
    """LaTeX spelling that does not change the value, removed: delimiters, sizing, thin spaces."""
    s = s.strip()
    for left, right in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if s.startswith(left) and s.endswith(right) and len(s) > len(left) + len(right):
            s = s[len(left):-len(right)].strip()
            break
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\dfrac", "\\frac")
    s = s.replace("\\tfrac", "\\frac").replace("\\$", "$").replace("\\%", "%").replace("{,}", ",")
    s = s.replace("−", "-").replace("\\displaystyle", "")
    s = re.sub(r"(?<=\d)\\,(?=\d{3}\b)", "", s).replace("\\,", " ").replace("\\;", " ").replace("~", " ")
    while (m := _TEXT_CMD.search(s)) is not None:
        s = s[:m.start()] + m.group(1) + s[m.end():]
    return re.sub(r"\s+", " ", s).strip().rstrip(".").strip()


def _fast_number(s: str) -> tuple[Fraction, bool, bool] | None:
    """(value, written as a decimal, percent) of one plain number, or None."""
    m = _FAST.fullmatch(s)
    if not m or bool(m.group("open")) != bool(m.group("close")):
        return None
    unit = (m.group("unit") or "").strip()
    if unit and any(w.lower() in _NOT_UNITS for w in _WORD.findall(unit)):
        return None
    if m.group("sign") and m.group("sign2"):
        return None
    negative = "-" in (m.group("sign") + m.group("sign2"))
    if m.group("fn") is not None:
        num, den, decimal = Fraction(m.group("fn")), Fraction(m.group("fd")), False
    elif m.group("sn") is not None:
        num, den, decimal = Fraction(m.group("sn")), Fraction(m.group("sd")), False
    else:
        text = m.group("n").replace(",", "")
        num, den, decimal = Fraction(text), Fraction(m.group("d") or 1), "." in text
    if den == 0:
        return None
    value = -num / den if negative else num / den
    return value, decimal, bool(m.group("pct"))


def _numbers_equal(a: tuple[Fraction, bool, bool], b: tuple[Fraction, bool, bool]) -> bool:
    (x, xdec, xpct), (y, ydec, ypct) = a, b
    decimal = xdec or ydec
    xs = [x, x / 100] if xpct and not ypct else [x]
    ys = [y, y / 100] if ypct and not xpct else [y]
    return any(u == v or (decimal and round(u, 6) == round(v, 6)) for u in xs for v in ys)


def _to_latex(s: str) -> str:
    """Plain-text math that math-verify's LaTeX parser misreads, written as LaTeX."""
    s = re.sub(r"\bsqrt\s*\(([^()]*)\)", r"\\sqrt{\1}", s)
    s = re.sub(r"√\s*\(([^()]*)\)", r"\\sqrt{\1}", s)
    s = re.sub(r"√\s*([0-9A-Za-z.]+)", r"\\sqrt{\1}", s)
    s = re.sub(r"(?<![\\A-Za-z])pi\b", r"\\pi ", s).replace("π", "\\pi ")
    s = s.replace("**", "^").replace("×", "\\times ").replace("·", "\\cdot ").replace("÷", "\\div ")
    return s.replace("°", "^\\circ")


def _alarm_safe(call: Any) -> Any:
    """Run `call(timeout)` with math-verify's SIGALRM timeout where signals work (the main
    thread), re-arming an alarm the caller had set; without one elsewhere."""
    if threading.current_thread() is not threading.main_thread():
        return call(None)
    delay, interval = signal.getitimer(signal.ITIMER_REAL)
    start = time.monotonic()
    try:
        return call(_TIMEOUT_S)
    finally:
        if delay > 0:
            signal.setitimer(signal.ITIMER_REAL, max(delay - (time.monotonic() - start), 1e-3), interval)


def _math_verify(predicted: str, reference: str) -> bool | None:
    """math-verify's verdict, or None when an answer is too costly to hand to sympy."""
    if any(len(s) > _MAX_SYMBOLIC or _COSTLY.search(s) for s in (predicted, reference)):
        return None
    try:
        from math_verify import (  # type: ignore[import-untyped]
            ExprExtractionConfig,
            LatexExtractionConfig,
            parse,
            verify,
        )
    except ImportError as e:
        raise ImportError("checking a symbolic answer needs math-verify, a dependency of aitherd: "
                          "pip install 'math-verify>=0.9,<1'") from e

    configs = [LatexExtractionConfig(), ExprExtractionConfig()]

    def run(timeout: int | None) -> bool:
        gold = parse(f"${_to_latex(reference)}$", configs, parsing_timeout=timeout)
        pred = parse(f"${_to_latex(predicted)}$", configs, parsing_timeout=timeout)
        return bool(gold and pred and verify(gold, pred, timeout_seconds=timeout))

    start = time.monotonic()
    verdict = bool(_alarm_safe(run))
    if time.monotonic() - start >= _TIMEOUT_S:
        STATS["slow"] += 1  # math-verify gave up on a step (it logs which) or came close
    return verdict


def fast_equal(predicted: str, reference: str) -> bool | None:
    """Steps 2-3 alone (same text, plain numbers): the verdict, or None when it takes math-verify."""
    a, b = _clean(predicted), _clean(reference)
    if not a or not b:
        STATS["empty"] += 1
        return False
    if a == b or (a.lower() == b.lower() and _WORDS_ONLY.fullmatch(a)):
        STATS["same_text"] += 1
        return True
    x, y = _fast_number(a), _fast_number(b)
    if x is not None and y is not None:
        STATS["numeric"] += 1
        return _numbers_equal(x, y)
    return None


def symbolic_equal(predicted: str, reference: str) -> bool | None:
    """Step 4 alone (math-verify on two final answers): the verdict, or None when an answer is
    too costly to hand to sympy."""
    return _math_verify(_clean(predicted), _clean(reference))


def evaluated_equal(predicted: str, reference: str) -> bool | None:
    """Step 3b alone (aitherd.answer_eval: parsed and evaluated, no sympy): the verdict, or None
    when either answer is outside what it reads confidently."""
    a, b = _clean(predicted), _clean(reference)
    if any(len(s) > _MAX_SYMBOLIC or _COSTLY.search(s) for s in (a, b)):
        return None
    return answer_eval.equal(_to_latex(a), _to_latex(b))


def _decide(predicted: str, reference: str) -> bool:
    fast = fast_equal(predicted, reference)
    if fast is not None:
        return fast
    evaluated = evaluated_equal(predicted, reference)
    if evaluated is not None:
        STATS["evaluated"] += 1
        return evaluated
    verdict = symbolic_equal(predicted, reference)
    if verdict is None:
        STATS["too_costly"] += 1
        return False
    STATS["math_verify"] += 1
    return verdict


def math_equal(predicted: str, reference: str) -> bool:
    """Are two final answers (not whole solutions) the same? Steps 2-4 of the module docstring."""
    return _decide(predicted, reference)


def check(solution: str, reference: str, kind: str = "math") -> bool:
    """Does the solution's final answer match the reference? kind: math | choice | exact."""
    if kind not in KINDS:
        raise ValueError(f"answer kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "choice":
        got, want = choice(solution), choice(reference)
        return got is not None and got == want
    predicted = extract_answer(solution)
    if predicted is None:
        if kind == "math":
            STATS["no_answer"] += 1
        return False
    if kind == "exact":
        return _plain(predicted) == _plain(reference_answer(reference))
    return _decide(predicted, reference_answer(reference))


def choice(text: str) -> str | None:
    """The multiple-choice letter in 'B', '(b)', 'B. 42', or 'the answer is (C)'."""
    s = text.strip()
    if m := _CHOICE.match(s):
        return m.group(1).upper()
    if m := re.search(r"answer\s*(?:is|:)\s*\(?([A-Ea-e])\)?\b", s, re.IGNORECASE):
        return m.group(1).upper()
    return None


def _latex_to_plain(s: str) -> str:
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    while (i := s.find("\\frac{")) != -1:
        num = braced(s, i + 6)
        if num is None:
            break
        j = i + 6 + len(num) + 1
        if j >= len(s) or s[j] != "{":
            break
        den = braced(s, j + 1)
        if den is None:
            break
        s = s[:i] + f"(({num})/({den}))" + s[j + 1 + len(den) + 1:]
    s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", s)
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", "pi")
    return s.replace("{", "(").replace("}", ")").replace("\\", "")


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", _latex_to_plain(text)).lower().rstrip(".")


def to_number(text: str) -> Fraction | None:
    """'1,234', '$5', '50%', '3/4', '-0.5', '12 apples' -> an exact number, or None."""
    s = _latex_to_plain(text.strip()).replace("$", "").replace(" ", "")
    s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
    percent = s.endswith("%")
    s = s.rstrip("%").rstrip(".")
    m = re.fullmatch(r"\(*(-?\d+(?:\.\d+)?|-?\.\d+)\)*(?:/\(*(\d+(?:\.\d+)?)\)*)?[A-Za-z]*", s)
    if not m:
        return None
    value = Fraction(m.group(1))
    if m.group(2):
        den = Fraction(m.group(2))
        if den == 0:
            return None
        value /= den
    return value / 100 if percent else value
