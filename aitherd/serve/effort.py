"""Effort for `model: "auto"`: asked for by the request, or guessed by a transparent heuristic.

The rule every router decision ends in (`route_for`): effort 7 or more goes to the reasoner;
below that a coding task goes to the coder and anything else to the orchestrator.

Effort the request asks for, first match wins:
1. the header `X-Aitherd-Effort: N`, N an integer 1-10;
2. `metadata.effort` in the body, 1-10 (an integer, or a string of one: OpenAI's `metadata`
   values are strings);
3. `reasoning_effort` (or the Responses-style `reasoning.effort`): none 1, minimal 2, low 3,
   medium 5, high 8, xhigh 9, max 10.
A value outside these is a 400 that names the field. With an asked effort the task type still
comes from the text (a coding task at effort 3 goes to the coder, at effort 8 to the reasoner).

The heuristic reads the last user message (or the completion prompt), at most `TEXT_LIMIT`
characters, and scores what it sees; every point it gives is named in the decision's reasons:
- code: fill-in-the-middle tokens or a `suffix` (an editor's completion) decide at once; else
  points for a code fence, lines shaped like code, a traceback or compiler error, source file
  names, and programming words; 2 points make a coding task;
- effort starts at 4 (a short greeting or thanks: 1). Math (equations, LaTeX, math words, a
  word problem's numbers with a quantity question), logic puzzles, constrained planning and
  algorithmic constraints (`1 <= n <= 10^5`, time limits, complexity) each add; an explicit ask
  to think, reason, prove or derive adds 2; a long prompt adds 1. Math words count for less in
  a coding task, so "write a function that computes the probability" stays with the coder.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REASONER_AT = 7
TEXT_LIMIT = 4000
EFFORT_WORDS = {"none": 1, "minimal": 2, "low": 3, "medium": 5, "high": 8, "xhigh": 9, "max": 10}
EFFORT_HEADER = "x-aitherd-effort"
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<｜fim▁begin｜>", "<｜fim▁hole｜>",
              "<fim_prefix>", "<fim_suffix>", "<PRE>", "<SUF>")


class BadRequest(Exception):
    """The request asks for something the router cannot read; a 400 naming `param`."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class Asked:
    effort: int
    where: str  # e.g. "header", "metadata.effort", "reasoning_effort=high"


@dataclass(frozen=True)
class Guess:
    code: bool
    effort: int
    reasons: tuple[str, ...]


def route_for(effort: int, code: bool) -> str:
    if effort >= REASONER_AT:
        return "reasoner"
    return "coder" if code else "orchestrator"


def _level(value: Any, where: str) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1 <= value <= 10:
        raise BadRequest(f"{where} must be an integer from 1 to 10, got {value!r}", where)
    return value


def requested_effort(body: Mapping[str, Any], headers: Mapping[str, str]) -> Asked | None:
    raw = headers.get(EFFORT_HEADER)
    if raw is not None:
        return Asked(_level(raw, "X-Aitherd-Effort"), "header")
    meta = body.get("metadata")
    if isinstance(meta, dict) and meta.get("effort") is not None:
        return Asked(_level(meta["effort"], "metadata.effort"), "metadata.effort")
    word = body.get("reasoning_effort")
    where = "reasoning_effort"
    if word is None and isinstance(body.get("reasoning"), dict):
        word, where = body["reasoning"].get("effort"), "reasoning.effort"
    if word is None:
        return None
    level = EFFORT_WORDS.get(word.strip().lower()) if isinstance(word, str) else None
    if level is None:
        raise BadRequest(f"{where} must be one of {', '.join(EFFORT_WORDS)}, got {word!r}", where)
    return Asked(level, f"{where}={word.strip().lower()}")


def _content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        return "\n".join(p["text"] for p in content
                         if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def prompt_text(body: Mapping[str, Any], limit: int = TEXT_LIMIT) -> str:
    """What the router reads: the last user message of a chat, or a completion's prompt."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                return _content(m.get("content"))[:limit]
        return ""
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        prompt = next((p for p in prompt if isinstance(p, str)), "")
    return prompt[:limit] if isinstance(prompt, str) else ""


def is_fim(body: Mapping[str, Any], text: str) -> bool:
    return isinstance(body.get("suffix"), str) or any(t in text for t in FIM_TOKENS)


# The heuristic works on words and a few short regexes, so a 4,000-character prompt costs a
# fraction of a millisecond on the daemon's event loop.
_WORD = re.compile(r"[a-z][a-z0-9_+#]*(?:[.-][a-z0-9_]+)*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w.])")
# (each regex runs only when a literal it needs is in the text: a cheap `in` first)
_LATEX = re.compile(r"\\(?:frac|sqrt|sum|int|lim|cdot)\b")
_POWER = re.compile(r"\^\d")
_ARITH = re.compile(r"\d *[-+*/=] *\d")
_UNKNOWN = re.compile(r"\b[xyz] *[=<>]")
_BOUNDS = re.compile(r"\d *(?:<=|≤|<) *[a-z_]\w* *(?:<=|≤|<) *\d")
_BIG_O = re.compile(r"\bo\([^)]{0,12}n[^)]{0,12}\)")
_UP_TO = re.compile(r"\bup to \d[\d,*^ ]*(?:vertices|edges|nodes|elements|integers|queries)")
_SOURCE = re.compile(r"(?<=\w)\.(?:py|jsx?|tsx?|rs|go|java|kt|c|cc|cpp|h|hpp|rb|php|cs|swift|sh|sql|ya?ml|toml|json|"
                     r"html|css|vue|lock)\b")
_SYMBOL = re.compile(r"[^\w\s]")


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_ERROR = re.compile(r"\B(?:error|exception)[:(]")

_CODE_WORDS = _set(
    "python javascript typescript rust golang java kotlin c++ bash shell powershell sql regex react django flask "
    "fastapi node node.js npm pip docker kubernetes git github ci pytest unittest function method class variable "
    "compile compiler compilers refactor debug bug exception api endpoint script repo repository commit branch merge "
    "rebase diff linter interface query database schema json yaml http async await thread-safe implement codebase "
    "snippet library module package dependency runtime deploy build component render renders re-render re-renders "
    "rerender rerenders props hook hooks frontend backend css stacktrace")
_CODE_PHRASES = ("stack trace", "pull request", "type hint", "unit test", "integration test")
_CODE_START = _set("def class return import fn let const var func public private package select async")
_TRACE_PHRASES = ("traceback (most recent call last)", "segmentation fault", "stack trace", "stacktrace",
                  "panicked at", "compile error", "compiler error", "compilation error", "doesn't compile",
                  "does not compile")
_MATH_WORDS = _set(
    "prove proof theorem lemma integral derivative differentiate integrate limit equation equations probability "
    "divisible prime primes integer integers polynomial matrix logarithm factorial combinations permutations "
    "perimeter radius triangle rectangle circle compounded interest irrational modulo arrangement "
    "arrangements")
_MATH_PHRASES = ("solve for", "expected value", "how many ways")
_QUANTITY = ("how many", "how much", "how long", "how far", "when does", "what is the total", "what is its total",
             "what is the area", "what is its area", "what is the cost", "what is the speed", "altogether",
             "in total", "percent", "ratio", "average", "km/h", "mph")
_LOGIC_WORDS = _set("puzzle riddle knight knights knave knaves liar truth-teller deduce syllogism paradox")
_LOGIC_PHRASES = ("logically follows", "does it follow", "every label is wrong")
_PLAN_WORDS = _set("schedule plan timeline allocate assign itinerary dependencies")
_CONSTRAINT_WORDS = _set("must cannot before after deadline minimise minimize maximise maximize optimal "
                         "constraint constraints overlap adjacent needs")
_CONSTRAINT_PHRASES = ("at most", "at least", "no more than")
_THINK_WORDS = _set("prove derive derivation justify rigorous rigorously step-by-step")
_THINK_PHRASES = ("think step by step", "think carefully", "think through", "think it through", "think hard",
                  "step by step", "reason carefully", "reason it out", "show your work", "show the work",
                  "explain your reasoning", "explain the reasoning", "check each constraint")
_SMALLTALK = _set("hi hello hey yo thanks thank ok okay cool bye goodbye nice great")
_SMALLTALK_PHRASES = ("good morning", "good afternoon", "good evening", "good night", "how are you", "see you")


def _code_line(line: str) -> bool:
    s = line.strip()
    first = s.split(None, 1)[0].lower() if s else ""
    if first in _CODE_START or s.startswith(("#include", "@")) or (first == "from" and " import " in s):
        return True
    if s.endswith((";", "{", "}")) or line.startswith("    "):
        return True
    if any(op in s for op in ("=>", "::", "+=", "!=", "==")):
        return True
    tail = s.rstrip(":{;")
    opened = tail.rfind("(")
    return tail.endswith(")") and opened > 0 and (s[opened - 1].isalnum() or s[opened - 1] == "_")


def _count(counts: Counter[str], vocab: frozenset[str], lower: str, phrases: tuple[str, ...], cap: int) -> int:
    n = sum(counts[w] for w in vocab.intersection(counts))
    if n < cap:
        n += sum(lower.count(p) for p in phrases)
    return min(n, cap)


def _found(rx: re.Pattern[str], text: str, cap: int) -> int:
    n = 0
    for _ in rx.finditer(text):
        n += 1
        if n >= cap:
            break
    return n


def _math_signs(lower: str) -> int:
    n = _found(_LATEX, lower, 3) if "\\" in lower else 0
    n += _found(_POWER, lower, 3) if "^" in lower else 0
    n += _found(_ARITH, lower, 3) if n < 3 else 0
    n += _found(_UNKNOWN, lower, 3) if n < 3 and ("=" in lower or "<" in lower or ">" in lower) else 0
    return n


def _algo_signs(lower: str) -> int:
    n = _found(_BOUNDS, lower, 3) if "<" in lower or "≤" in lower else 0
    n += lower.count("10^") + lower.count("time limit")
    n += _found(_BIG_O, lower, 3) if "o(" in lower else 0
    n += _found(_UP_TO, lower, 3) if "up to " in lower else 0
    return n


def heuristic(text: str, fim: bool = False) -> Guess:
    """Is it a coding task, and how much effort does it need? With the reasons, for the header."""
    if fim:
        return Guess(True, 3, ("fill-in-the-middle request",))
    text = text[:TEXT_LIMIT]
    lower = text.lower()
    words = _WORD.findall(lower)
    counts = Counter(words)
    reasons: list[str] = []
    code = 0
    if "```" in text:
        code += 2
        reasons.append("code fence")
    lines = [ln for ln in text.splitlines()[:80] if ln.strip()]
    code_lines = sum(1 for ln in lines if _code_line(ln))
    if code_lines >= 2 or (lines and code_lines == len(lines)):
        code += 2
        reasons.append(f"{code_lines} code-shaped lines")
    if (("error" in lower or "exception" in lower) and _ERROR.search(lower)) or any(p in lower for p in _TRACE_PHRASES):
        code += 2
        reasons.append("an error or traceback")
    if ("." in lower and _SOURCE.search(lower)) or "dockerfile" in lower or "makefile" in lower:
        code += 1
        reasons.append("a source file name")
    dense = max((len(_SYMBOL.findall(tok)) / len(tok) for tok in text.split() if len(tok) >= 20), default=0.0)
    if dense > 0.3:
        code += 2
        reasons.append("symbol-dense text")
    n = _count(counts, _CODE_WORDS, lower, _CODE_PHRASES, 3)
    if n:
        code += n
        reasons.append(f"{n} programming word(s)")
    is_code = code >= 2

    effort = 4
    if len(text) < 60 and (any(p in lower for p in _SMALLTALK_PHRASES) or (words and words[0] in _SMALLTALK)):
        return Guess(is_code, 1, (*reasons, "small talk"))
    math = min(3, _count(counts, _MATH_WORDS, lower, _MATH_PHRASES, 3) + _math_signs(lower) + lower.count("eigen"))
    if math:
        add = (2 + math) if not is_code else math // 2
        effort += add
        reasons.append(f"{math} math sign(s) +{add}")
    elif not is_code and len(text) > 80 and any(p in lower for p in _QUANTITY) and _NUMBER.search(text):
        effort += 3
        reasons.append("a word problem (numbers and a quantity question) +3")
    if not _LOGIC_WORDS.isdisjoint(counts) or any(p in lower for p in _LOGIC_PHRASES):
        effort += 3
        reasons.append("a logic puzzle +3")
    if not _PLAN_WORDS.isdisjoint(counts) or "depends on" in lower:
        constraints = _count(counts, _CONSTRAINT_WORDS, lower, _CONSTRAINT_PHRASES, 4)
        if constraints >= 2:
            effort += constraints - 1
            reasons.append(f"planning with {constraints} constraint words +{constraints - 1}")
    algo = min(3, _algo_signs(lower) + counts["complexity"])
    if algo:
        effort += 1 + algo
        reasons.append(f"algorithmic constraints +{1 + algo}")
    if not _THINK_WORDS.isdisjoint(counts) or any(p in lower for p in _THINK_PHRASES):
        effort += 2
        reasons.append("asks to think or prove +2")
    if len(text) > 1500:
        effort += 1
        reasons.append("a long prompt +1")
    return Guess(is_code, max(1, min(effort, 10)), tuple(reasons))
