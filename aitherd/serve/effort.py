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


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.MULTILINE)


_FENCE = _rx(r"```")
_CODE_LINE = _rx(r"^\s*(def|class|return|import|from \S+ import|fn|let|const|var|func|public|private|"
                 r"#include|package|SELECT|async def|@\w+)\b|[;{}]\s*$|^\s{4,}\S|\w+\([^()\n]*\)\s*[:{;]?\s*$"
                 r"|=>|::|\+=|!==?|===?")
_TRACE = _rx(r"Traceback \(most recent call last\)|\b\w+(Error|Exception)\b[:(]|\bsegmentation fault|"
             r"\bstack ?trace\b|\bpanicked at\b|\bcompil(e|er|ation) error|\bdoes(n't| not) compile")
_FILE = _rx(r"\b[\w./-]+\.(py|js|jsx|ts|tsx|rs|go|java|kt|c|cc|cpp|h|hpp|rb|php|cs|swift|sh|sql|ya?ml|toml|"
            r"json|html|css|vue|lock)\b|\bDockerfile\b|\bMakefile\b")
_CODE_WORDS = _rx(
    r"\b(python|javascript|typescript|rust|golang|java|kotlin|c\+\+|bash|shell|powershell|sql|regex|"
    r"react|django|flask|fastapi|node(\.js)?|npm|pip|docker|kubernetes|git|github|ci|pytest|unittest|"
    r"function|method|class|variable|compile[rs]?|refactor|debug|bug|stack ?trace|exception|api|endpoint|"
    r"script|repo(sitory)?|commit|branch|merge|rebase|pull request|diff|linter|type hints?|interface|"
    r"unit tests?|integration tests?|query|database|schema|json|yaml|http|async|await|thread-safe|"
    r"implement|codebase|snippet|library|module|package|dependency|runtime|deploy|build|component|"
    r"re-?renders?|props|hooks?|frontend|backend|css)\b")
_MATH = _rx(
    r"\b(prove|proof|theorem|lemma|integral|derivative|differentiate|integrate|limit|equations?|solve for|"
    r"probability|expected value|divisible|primes?|integers?|polynomial|matrix|eigen\w*|logarithm|"
    r"factorial|combinations|permutations|perimeter|radius|triangle|rectangle|circle|compounded|"
    r"interest|irrational|modulo|how many ways|arrangements?)\b"
    r"|\\(frac|sqrt|sum|int|lim|cdot)\b|\^\d|\d\s*[-+*/=]\s*\d|\b[xyz]\s*[=<>]")
_QUANTITY = _rx(r"\b(how (many|much|long|far)|when does|what is (the|its) (total|area|cost|speed)|altogether|"
                r"in total|percent(age)?|ratio|average|km/h|mph)\b")
_NUMBER = re.compile(r"(?<![\w.])\d+(\.\d+)?(?![\w.])")
_SYMBOLS = re.compile(r"[^\w\s]")
_LOGIC = _rx(r"\b(puzzle|riddle|knights?|knaves?|liar|truth-teller|deduce|syllogism|logically follows|"
             r"does it follow|every label is wrong|paradox)\b")
_PLAN_CONSTRAINTS = _rx(r"\b(schedule|plan|timeline|allocate|assign|itinerary|dependencies|depends on)\b")
_CONSTRAINT = _rx(r"\b(must( not)?|cannot|at most|at least|no more than|before|after|deadline|minimi[sz]e|"
                  r"maximi[sz]e|optimal|constraints?|overlap|adjacent|needs)\b")
_ALGO = _rx(r"\d\s*(<=|≤|<)\s*\w+\s*(<=|≤|<)\s*\d|10\^\d|\btime limit\b|\bO\([^)]*n[^)]*\)|"
            r"\bcomplexity\b|\bup to \d[\d,*^ ]*(vertices|edges|nodes|elements|integers|queries)")
_THINK = _rx(r"\b(think (it )?(step by step|carefully|through|hard)|step[- ]by[- ]step|reason (carefully|it out)|"
             r"prove|derive|derivation|justify|show (your|the) work|explain (your|the) reasoning|rigorous(ly)?|"
             r"check each constraint)\b")
_SMALLTALK = _rx(r"^\W*(hi|hello|hey|yo|thanks?|thank you|good (morning|afternoon|evening|night)|"
                 r"how are you|ok(ay)?|cool|bye|goodbye|see you|nice|great)\b")


def _hits(rx: re.Pattern[str], text: str, cap: int) -> int:
    n = 0
    for _ in rx.finditer(text):
        n += 1
        if n >= cap:
            break
    return n


def heuristic(text: str, fim: bool = False) -> Guess:
    """Is it a coding task, and how much effort does it need? With the reasons, for the header."""
    if fim:
        return Guess(True, 3, ("fill-in-the-middle request",))
    reasons: list[str] = []
    code = 0
    if _FENCE.search(text):
        code += 2
        reasons.append("code fence")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    code_lines = sum(1 for ln in lines if _CODE_LINE.search(ln))
    if code_lines >= 2 or (lines and code_lines == len(lines)):
        code += 2
        reasons.append(f"{code_lines} code-shaped lines")
    if _TRACE.search(text):
        code += 2
        reasons.append("an error or traceback")
    if _FILE.search(text):
        code += 1
        reasons.append("a source file name")
    dense = max((len(_SYMBOLS.findall(tok)) / len(tok) for tok in text.split() if len(tok) >= 20),
                default=0.0)
    if dense > 0.3:
        code += 2
        reasons.append("symbol-dense text")
    words = _hits(_CODE_WORDS, text, 3)
    if words:
        code += words
        reasons.append(f"{words} programming word(s)")
    is_code = code >= 2

    effort = 4
    if len(text) < 60 and _SMALLTALK.search(text):
        return Guess(is_code, 1, (*reasons, "small talk"))
    math = _hits(_MATH, text, 3)
    if math:
        add = (2 + math) if not is_code else math // 2
        effort += add
        reasons.append(f"{math} math sign(s) +{add}")
    elif not is_code and len(text) > 80 and _QUANTITY.search(text) and _NUMBER.search(text):
        effort += 3
        reasons.append("a word problem (numbers and a quantity question) +3")
    if _LOGIC.search(text):
        effort += 3
        reasons.append("a logic puzzle +3")
    if _PLAN_CONSTRAINTS.search(text):
        constraints = _hits(_CONSTRAINT, text, 4)
        if constraints >= 2:
            effort += constraints - 1
            reasons.append(f"planning with {constraints} constraint words +{constraints - 1}")
    algo = _hits(_ALGO, text, 3)
    if algo:
        effort += 1 + algo
        reasons.append(f"algorithmic constraints +{1 + algo}")
    if _THINK.search(text):
        effort += 2
        reasons.append("asks to think or prove +2")
    if len(text) > 1500:
        effort += 1
        reasons.append("a long prompt +1")
    return Guess(is_code, max(1, min(effort, 10)), tuple(reasons))
