"""The sympy-free middle step of math answer checking (aitherd.answers, step 3b): a small parser
for the common LaTeX and plain-text answer shapes, evaluated numerically, that decides "equal" or
"not equal" only when both answers parse completely and the numbers leave no doubt; `compare`
returns None for everything else, which then goes to math-verify.

What it reads (after aitherd.answers' clean-up, with `sqrt(x)`, `pi`, `√`, `π`, `**`, `×`, `·`
already rewritten to LaTeX): numbers (a thousands separator only as 1,000,000 in a single number
with no brackets around), `+ - * /`, `\\cdot`, `\\times`, `\\div`, implicit multiplication
(`2\\sqrt{3}`, `(x-1)(x+1)`, `\\pi r^2`), unary minus, `( )`, `{ }`, `^` with a braced or
one-character exponent, `\\frac`/`\\dfrac`/`\\tfrac` (braced or one-character arguments),
`\\sqrt{}`, `\\sqrt[n]{}`, `\\pi`, `e`, `\\infty`, `n!` (n <= 100), `\\binom{n}{k}`, single-letter
variables but `i` (complex answers go to math-verify; two letters together are their product,
`xy`, unless a word or unit: ln, cm, is, ...),
`lhs = rhs`, tuples and intervals `(a, b)`, `[a, b)`, sets `\\{a, b\\}`, bare lists `a, b`
(compared as sets, as math-verify does; two different values are not one value) and unions of
intervals with `\\cup`. Anything else (longer words, `%`, `<`, subscripts, logs, trigonometry,
matrices, `1/2x`, `x^10` without braces) raises `Unsure`, and the pair goes to math-verify.

How values are compared (the rules of aitherd.answers' docstring, kept):
- Values are exact Fractions while they can be (`\\sqrt{16}` = 4, `2^{10}` = 1024) and floats
  otherwise (`\\sqrt{2}`, `\\pi`). Exact values are equal only when equal; when a decimal is
  written somewhere, two exact values that differ but round alike to 6 places are left to
  math-verify. Floats are equal within a relative 1e-12, different beyond a relative and
  absolute 2e-6 (beyond what rounding to 6 places could join), and left to math-verify between.
- Expressions with variables are evaluated at three fixed pseudo-random points (rationals of both
  signs, different for each variable): equal when equal at all three, different when clearly
  different at one. A point where a side is undefined (x = 1 in 1/(x-1), sqrt of a negative)
  leaves the pair to math-verify, as do two sides whose variables differ (5 m vs 5: a unit),
  except two bare different letters (x vs y, B vs C; x vs X is left), which are different.
- `x = 5` equals `5` (an equation with a lone variable on the left equals its right side); two
  equations are equal when both sides are.
- Sets and bare lists ignore order; tuples and intervals compare in order and with their brackets
  ((0, \\infty) != [0, \\infty)); unions are equal when their intervals match in some order
  (otherwise math-verify decides, as overlapping intervals could merge).

Nothing is evaluated by Python: the text is tokenized and parsed by hand, exponents, factorials
and binomials are size-capped, and every failure is an `Unsure`.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

Node = tuple[Any, ...]
Value = Fraction | float


class Unsure(Exception):
    """The text is outside what this parser reads confidently: math-verify decides."""


_TOKEN = re.compile(r"\s*(?:(?P<th>\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,]))|(?P<num>\d+(?:\.\d+)?|\.\d+)"
                    r"|(?P<cmd>\\[A-Za-z]+|\\[{}])|(?P<word>[A-Za-z]{2,})|(?P<ch>[A-Za-z+\-*/^()\[\]{},=!]))")
_GROUP_OF_THREE = re.compile(r"\d,\d{3}(?!\d)")
_COMMANDS = {"\\frac", "\\sqrt", "\\pi", "\\cdot", "\\times", "\\div", "\\infty", "\\cup", "\\binom", "\\dbinom",
             "\\tbinom", "\\{", "\\}"}
# Two letters that are a word, a function or a unit rather than a product (ln x, 5 cm, x is 5).
_TWO_LETTER_WORDS = {"ln", "lg", "tg", "sh", "ch", "th", "or", "of", "to", "is", "in", "by", "if", "at", "as", "an",
                     "no", "on", "so", "be", "cm", "mm", "km", "kg", "mg", "ml", "ft", "yd", "mi", "hr", "pm", "am",
                     "lb", "oz", "st", "nd", "rd", "re", "im", "tr", "id"}
_POINTS = [Fraction(-7, 3), Fraction(5, 11), Fraction(13, 7), Fraction(-3, 17), Fraction(19, 5), Fraction(2, 9)]
_ARITHMETIC = {"add", "mul", "div", "pow", "root", "fact", "binom"}
_MAX_BITS = 4000  # exact powers larger than this many bits are left to math-verify (which guards them too)


def tokenize(text: str) -> tuple[list[tuple[str, str]], bool]:
    """(kind, text) tokens and whether a thousands-separated number was read; Unsure on anything else."""
    tokens: list[tuple[str, str]] = []
    pos, thousands = 0, False
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise Unsure(f"unread character at {pos}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "word" and len(value) == 2 and value.lower() not in _TWO_LETTER_WORDS:
            tokens += [("ch", value[0]), ("ch", value[1])]  # xy, ab: a product of two variables
            pos = m.end()
            continue
        if kind == "word" or (kind == "cmd" and value not in _COMMANDS):
            raise Unsure(value)
        if kind == "th":
            thousands, kind, value = True, "num", value.replace(",", "")
        tokens.append((kind, value))
        pos = m.end()
    return tokens, thousands


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.toks, self.i = tokens, 0

    def peek(self) -> str | None:
        return self.toks[self.i][1] if self.i < len(self.toks) else None

    def take(self, want: str | None = None) -> str:
        got = self.peek()
        if got is None or (want is not None and got != want):
            raise Unsure(f"expected {want!r}")
        self.i += 1
        return got

    def top(self) -> Node:
        parts = [self.listed()]
        while self.peek() == "\\cup":
            self.take()
            parts.append(self.listed())
        if self.peek() is not None:
            raise Unsure("trailing text")
        if len(parts) > 1:
            if not all(p[0] == "seq" for p in parts):
                raise Unsure("a union of non-intervals")
            return ("union", parts)
        return parts[0]

    def listed(self) -> Node:
        items = [self.item()]
        while self.peek() == ",":
            self.take()
            items.append(self.item())
        return ("list", items) if len(items) > 1 else items[0]

    def item(self) -> Node:
        if self.peek() == "\\{":
            self.take()
            items = [self.item()]
            while self.peek() == ",":
                self.take()
                items.append(self.item())
            self.take("\\}")
            return ("set", items)
        left = self.expr()
        if self.peek() == "=":
            self.take()
            return ("eq", left, self.expr())
        return left

    def expr(self) -> Node:
        node = self.term()
        while self.peek() in ("+", "-"):
            op = self.take()
            right = self.term()
            node = ("add", node, ("neg", right) if op == "-" else right)
        return node

    def term(self) -> Node:
        node = self.factor()
        divided = False
        while True:
            nxt = self.peek()
            if nxt in ("*", "\\cdot", "\\times"):
                self.take()
                node, divided = ("mul", node, self.factor()), False
            elif nxt in ("/", "\\div"):
                self.take()
                node, divided = ("div", node, self.factor()), True
            elif self._starts_primary():
                if divided or self.toks[self.i][0] == "num":
                    raise Unsure("implicit product after / or before a number")  # 1/2x, x2
                node = ("mul", node, self.factor())
            else:
                return node

    def _starts_primary(self) -> bool:
        if self.i >= len(self.toks):
            return False
        kind, text = self.toks[self.i]
        return kind == "num" or (kind == "ch" and (text.isalpha() or text in "({")) or text in (
            "\\frac", "\\sqrt", "\\pi", "\\binom", "\\dbinom", "\\tbinom", "\\infty")

    def factor(self) -> Node:
        if self.peek() in ("-", "+"):
            return ("neg", self.factor()) if self.take() == "-" else self.factor()
        return self.power()

    def power(self) -> Node:
        base = self.postfix()
        if self.peek() == "^":
            self.take()
            exponent = self.argument(allow_paren=True)
            if self.peek() in ("^", "!"):
                raise Unsure("a power tower")
            return ("pow", base, exponent)
        return base

    def postfix(self) -> Node:
        node = self.primary()
        while self.peek() == "!":
            self.take()
            node = ("fact", node)
        return node

    def argument(self, allow_paren: bool = False) -> Node:
        """A braced group or one character: the argument of ^, \\frac, \\sqrt."""
        nxt = self.peek()
        if nxt == "{":
            self.take()
            node = self.expr()
            self.take("}")
            return node
        if nxt == "(" and allow_paren:
            return self.primary()
        if nxt is None:
            raise Unsure("missing argument")
        kind, text = self.toks[self.i]
        if kind == "num":
            if "." in text:
                raise Unsure("a decimal as a bare argument")
            if len(text) > 1:
                if allow_paren:
                    raise Unsure("x^10 without braces")  # LaTeX reads x^{1}0, plain text x^{10}
                self.toks[self.i] = ("num", text[1:])  # \frac12: one digit each
                return ("num", Fraction(int(text[0])), False)
            self.i += 1
            return ("num", Fraction(int(text)), False)
        if (kind == "ch" and text.isalpha()) or text == "\\pi":
            return self.primary()
        raise Unsure("unreadable argument")

    def primary(self) -> Node:
        kind, text = self.toks[self.i] if self.i < len(self.toks) else ("", "")
        if kind == "num":
            self.i += 1
            return ("num", Fraction(text), "." in text)
        if kind == "ch" and text.isalpha():
            if text == "i":
                raise Unsure("i: the imaginary unit to math-verify, a real variable here")  # (1+i)^2 = 2i
            self.i += 1
            return ("const", "e") if text == "e" else ("var", text)
        if text in ("\\pi", "\\infty"):
            self.i += 1
            return ("const", text[1:])
        if text == "\\frac":
            self.i += 1
            return ("div", self.argument(), self.argument())
        if text in ("\\binom", "\\dbinom", "\\tbinom"):
            self.i += 1
            return ("binom", self.argument(), self.argument())
        if text == "\\sqrt":
            self.i += 1
            index: Node = ("num", Fraction(2), False)
            if self.peek() == "[":
                self.take()
                index = self.expr()
                self.take("]")
            return ("root", self.argument(), index)
        if text == "{":
            self.i += 1
            node = self.expr()
            self.take("}")
            return node
        if text in ("(", "["):
            return self.bracketed()
        raise Unsure(f"unexpected {text or 'end'!r}")

    def bracketed(self) -> Node:
        opening = self.take()
        items = [self.expr()]
        while self.peek() == ",":
            self.take()
            items.append(self.expr())
        closing = self.take()
        if closing not in (")", "]"):
            raise Unsure("unclosed bracket")
        if len(items) == 1:
            if opening + closing != "()":
                raise Unsure("[x] or a half-open single")  # floor, a one-point interval
            return items[0]
        return ("seq", opening, closing, items)


def parse(text: str) -> Node:
    """The answer's tree; Unsure when any part of it is outside what this module reads."""
    tokens, thousands = tokenize(text)
    if not tokens:
        raise Unsure("empty")
    if _GROUP_OF_THREE.search(text) and (not thousands or any(c in text for c in "([{")):
        raise Unsure("a comma before three digits in a list or brackets")  # 1,234,5 or (1,000, 2)
    node = _Parser(tokens).top()
    if thousands and node[0] not in ("num", "add", "mul", "div", "pow", "neg", "eq"):
        raise Unsure("a thousands separator in a list")
    return node


def _has_decimal(node: Node) -> bool:
    if node[0] == "num":
        return bool(node[2])
    return any(_has_decimal(c) for c in _children(node))


def _children(node: Node) -> list[Node]:
    if node[0] in ("list", "set", "union"):
        return list(node[1])
    if node[0] == "seq":
        return list(node[3])
    return [c for c in node[1:] if isinstance(c, tuple)]


def variables(node: Node) -> frozenset[str]:
    if node[0] == "var":
        return frozenset({node[1]})
    return frozenset().union(*(variables(c) for c in _children(node)))


def evaluate(node: Node, env: dict[str, Fraction]) -> Value:
    """The node's value at the point `env`: a Fraction when exact, else a finite float (or the
    bare infinity of an interval end); Unsure when undefined or too large."""
    op = node[0]
    if op == "num":
        return node[1]
    if op == "var":
        return env[node[1]]
    if op == "const":
        return {"pi": math.pi, "e": math.e, "infty": math.inf}[node[1]]
    if op == "neg":
        return -evaluate(node[1], env)
    if op not in _ARITHMETIC:
        raise Unsure(f"{op} inside arithmetic")
    args = [evaluate(c, env) for c in node[1:]]
    if any(isinstance(a, float) and math.isinf(a) for a in args):
        raise Unsure("arithmetic on infinity")
    try:
        value = _apply(op, args)
    except (OverflowError, ZeroDivisionError, ValueError) as e:
        raise Unsure(f"{op}: {e}") from e
    if isinstance(value, float) and not math.isfinite(value):
        raise Unsure("not finite")
    return value


def _apply(op: str, args: list[Value]) -> Value:
    a, b = args[0], args[1] if len(args) > 1 else None
    if op == "add":
        return a + b  # type: ignore[operator]
    if op == "mul":
        return a * b  # type: ignore[operator]
    if op == "div":
        if b == 0:
            raise Unsure("division by zero")
        return a / b  # type: ignore[operator]
    if op == "pow":
        return _power(a, b)  # type: ignore[arg-type]
    if op == "root":
        if not isinstance(b, Fraction) or b.denominator != 1 or not 2 <= b <= 64:
            raise Unsure("a root index that is not a small integer")
        if a < 0:
            raise Unsure("a root of a negative")
        return _power(a, Fraction(1, int(b)))
    if op in ("fact", "binom"):
        ints = [int(v) for v in args if isinstance(v, Fraction) and v.denominator == 1 and 0 <= v <= 100]
        if len(ints) != len(args):
            raise Unsure(f"{op} of something other than a small natural number")
        return Fraction(math.factorial(ints[0]) if op == "fact" else math.comb(ints[0], ints[1]))
    raise Unsure(op)


def _power(base: Value, exp: Value) -> Value:
    if isinstance(exp, Fraction) and exp.denominator == 1:
        if base == 0 and exp < 0:
            raise Unsure("zero to a negative power")
        if isinstance(base, Fraction):
            bits = max(base.numerator.bit_length(), base.denominator.bit_length(), 1) * abs(int(exp))
            if bits > _MAX_BITS:
                raise Unsure("too large an exact power")
        return base ** int(exp)
    if base < 0:
        raise Unsure("a negative base to a fractional power")
    if isinstance(base, Fraction) and isinstance(exp, Fraction) and exp.denominator <= 64 and abs(exp) < 64:
        num, den = _exact_root(base.numerator, exp.denominator), _exact_root(base.denominator, exp.denominator)
        if num is not None and den is not None:
            return _power(Fraction(num, den), Fraction(exp.numerator))
    return float(base) ** float(exp)


def _exact_root(n: int, k: int) -> int | None:
    if n.bit_length() > 2000:
        return None
    r = round(n ** (1 / k)) if n < 2 ** 1000 else None
    if r is None:
        return None
    return next((c for c in (r - 1, r, r + 1) if c >= 0 and c ** k == n), None)


def compare(a: Node, b: Node) -> bool | None:
    """True or False when sure, None to leave the pair to math-verify."""
    ka, kb = a[0], b[0]
    if ka == "eq" and kb == "eq":
        sides = [compare(a[1], b[1]), compare(a[2], b[2])]
        return True if all(s is True for s in sides) else None
    if ka == "eq" or kb == "eq":
        eq, other = (a, b) if ka == "eq" else (b, a)
        return compare(eq[2], other) if eq[1][0] == "var" and other[0] not in ("list", "set") else None
    if ka in ("list", "set") and kb in ("list", "set"):
        return _unordered(a[1], b[1])
    if ka == "seq" and kb == "seq":
        if len(a[3]) != len(b[3]):
            return False
        verdicts = [compare(x, y) for x, y in zip(a[3], b[3], strict=True)]
        if False in verdicts:
            return False
        if None in verdicts:
            return None
        ends = [(a[1], b[1], a[3][0], b[3][0]), (a[2], b[2], a[3][-1], b[3][-1])]
        differ = [_is_infinite(x) or _is_infinite(y) for p, q, x, y in ends if p != q]
        if not differ:
            return True
        return None if all(differ) else False  # (0, oo) vs (0, oo]: sympy ignores an infinite end's bracket
    if ka == "union" and kb == "union":
        return True if len(a[1]) == len(b[1]) and _unordered(a[1], b[1]) else None
    if {ka, kb} & {"list", "set"} and not {ka, kb} & {"seq", "union"}:
        many = a[1] if ka in ("list", "set") else b[1]
        return False if _distinct(many) else None  # 1,5 vs 1.5: two different values are not one
    if ka in ("list", "set", "seq", "union") or kb in ("list", "set", "seq", "union"):
        return None
    return _scalars(a, b)


def _is_infinite(node: Node) -> bool:
    return node == ("const", "infty") or (node[0] == "neg" and _is_infinite(node[1]))


def _distinct(items: list[Node]) -> bool:
    """Do the items hold at least two surely different values?"""
    return any(compare(x, y) is False for j, x in enumerate(items) for y in items[j + 1:])


def _unordered(xs: list[Node], ys: list[Node]) -> bool | None:
    """Sets: each element of one side matches one of the other; None when any pairing is unsure."""
    unsure = False
    for one, other in ((xs, ys), (ys, xs)):
        for x in one:
            verdicts = [compare(x, y) for y in other]
            if True in verdicts:
                continue
            if None in verdicts:
                unsure = True
            else:
                return False
    return None if unsure else True


def _scalars(a: Node, b: Node) -> bool | None:
    va, vb = variables(a), variables(b)
    if va != vb:
        bare = a[0] == b[0] == "var" and a[1].lower() != b[1].lower()  # math-verify: x = X
        return False if bare else None  # x vs y; 5 m vs 5 is a unit
    decimal = _has_decimal(a) or _has_decimal(b)
    names = sorted(va)
    points = [{n: _POINTS[(k + j) % len(_POINTS)] for j, n in enumerate(names)} for k in range(3 if names else 1)]
    verdicts = [_values(evaluate(a, env), evaluate(b, env), decimal) for env in points]
    if False in verdicts:
        return False
    return True if all(v is True for v in verdicts) else None


def _values(x: Value, y: Value, decimal: bool) -> bool | None:
    if isinstance(x, Fraction) and isinstance(y, Fraction):
        if x == y:
            return True
        if not decimal or round(x, 6) != round(y, 6):
            return False
        return None
    if math.isinf(x) or math.isinf(y):
        return x == y
    x, y = float(x), float(y)
    scale = max(1.0, abs(x), abs(y))
    if abs(x - y) <= 1e-12 * scale:
        return True
    if abs(x - y) > 2e-6 * scale:
        return False
    return None


def equal(predicted: str, reference: str) -> bool | None:
    """The verdict on two cleaned final answers, or None when either is outside this module."""
    try:
        return compare(parse(predicted), parse(reference))
    except (Unsure, RecursionError, OverflowError):  # OverflowError: an exact value too large for a float
        return None
