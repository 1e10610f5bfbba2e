"""Answer checking, shared by the reasoner harvest and STaR: extract a final answer from text and
compare it with a reference, numerically, symbolically (sympy) or as a multiple-choice letter.

sympy's parser evaluates Python, and these strings come from logs and models: an expression is
only handed to it when every identifier is on a short whitelist and it has no underscores,
quotes or attribute access.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_GSM = re.compile(r"####\s*(.+?)\s*$", re.MULTILINE)
_ANSWER_IS = re.compile(r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*(.+?)(?:\.\s|\.$|\n|$)",
                        re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")
_CHOICE = re.compile(r"^\(?([A-Ea-e])\)?(?:[.:)\s]|$)")
_SAFE_IDENTS = {"sqrt", "pi", "e", "E", "I", "log", "ln", "exp", "sin", "cos", "tan",
                "x", "y", "z", "n", "k", "a", "b", "c", "t"}
_IDENT = re.compile(r"[A-Za-z]+")
_SAFE_CHARS = re.compile(r"^[0-9A-Za-z+\-*/^().,\s]*$")
_MAX_SYMBOLIC = 120


def _braced(text: str, start: int) -> str | None:
    depth, i = 1, start
    while i < len(text) and depth:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    return text[start:i - 1] if depth == 0 else None


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: the last \\boxed{}, a GSM8K '#### x', an 'answer is x',
    else the last number."""
    if not text:
        return None
    boxed = [m.end() for m in _BOXED.finditer(text)]
    if boxed:
        inner = _braced(text, boxed[-1])
        if inner is not None:
            return inner.strip()
    if m := _GSM.findall(text):
        return m[-1].strip()
    if m := _ANSWER_IS.findall(text):
        return m[-1].strip().strip("$ ")
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _latex_to_plain(s: str) -> str:
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    while (i := s.find("\\frac{")) != -1:
        num = _braced(s, i + 6)
        if num is None:
            break
        j = i + 6 + len(num) + 1
        if j >= len(s) or s[j] != "{":
            break
        den = _braced(s, j + 1)
        if den is None:
            break
        s = s[:i] + f"(({num})/({den}))" + s[j + 1 + len(den) + 1:]
    s = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", s)
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\pi", "pi")
    s = s.replace("{", "(").replace("}", ")").replace("\\", "")
    return s


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


def _symbolic(text: str) -> object | None:
    s = _latex_to_plain(text).strip()
    if not s or len(s) > _MAX_SYMBOLIC or "_" in s or not _SAFE_CHARS.match(s):
        return None
    if any(w not in _SAFE_IDENTS for w in _IDENT.findall(s)):
        return None
    try:
        from sympy.parsing.sympy_parser import (
            implicit_multiplication_application,
            parse_expr,
            standard_transformations,
        )

        return parse_expr(s.replace("^", "**").replace("ln", "log"), evaluate=True,
                          transformations=(*standard_transformations,
                                           implicit_multiplication_application))
    except Exception:
        return None


def math_equal(predicted: str, reference: str, rel_tol: float = 1e-6) -> bool:
    """Numeric equality (exact fractions, then a relative tolerance), else symbolic."""
    a, b = to_number(predicted), to_number(reference)
    if a is not None and b is not None:
        if a == b:
            return True
        return abs(float(a) - float(b)) <= rel_tol * max(1.0, abs(float(b)))
    pa, pb = _symbolic(predicted), _symbolic(reference)
    if pa is None or pb is None:
        return _plain(predicted) == _plain(reference)
    try:
        from sympy import simplify

        return bool(simplify(pa - pb) == 0)  # type: ignore[operator]
    except Exception:
        return False


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", _latex_to_plain(text)).lower().rstrip(".")


def choice(text: str) -> str | None:
    """The multiple-choice letter in 'B', '(b)', 'B. 42', or 'the answer is (C)'."""
    s = text.strip()
    if m := _CHOICE.match(s):
        return m.group(1).upper()
    if m := re.search(r"answer\s*(?:is|:)\s*\(?([A-Ea-e])\)?\b", s, re.IGNORECASE):
        return m.group(1).upper()
    return None


def check(solution: str, reference: str, kind: str = "math") -> bool:
    """Does the solution's final answer match the reference? kind: math | choice | exact."""
    predicted = extract_answer(solution) if kind != "choice" else solution
    if predicted is None:
        return False
    if kind == "choice":
        got, want = choice(predicted), choice(reference)
        return got is not None and got == want
    if kind == "exact":
        return _plain(predicted) == _plain(reference)
    ref = extract_answer(reference) if ("####" in reference or "boxed" in reference) else reference
    return math_equal(predicted, ref or reference)
