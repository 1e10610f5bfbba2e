"""Reading answers out of model output: the think block first, then the code or the number.

R1-style output: the reasoning comes first, closed by `</think>` (the opening `<think>` is often
in the prompt, not the output, since the chat template ends with it), or in Gemma 4's
`<|channel>thought ... <channel|>`. Everything up to the last closing tag is thinking; output
that opens a think block and never closes it ran out of tokens and has no answer.

Code: the fenced block that defines the entry point, else the first ```python block, else the
first fenced block, else an unclosed fence (cut off by max_tokens) to the end, else the whole
answer when it parses as Python.

GSM8K, all recorded per item: `strict` is lm-eval's strict-match (`#### (-?[0-9.,]+)`, first
match), `flexible` its flexible-extract (the last match of `(-?[$0-9.,]{2,})|(-?[0-9]+)`),
`boxed` the last `\\boxed{}`. The scored answer is the boxed one, else strict, else the number
after a final "answer is"/"Answer:", else flexible. Commas, `$` and a trailing `.` are ignored
when comparing, as lm-eval does; numbers are compared exactly (as fractions).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

from aitherd.answers import BOXED, braced, to_number

_CLOSERS = ("</think>", "<channel|>")
_OPENERS = ("<think>", "<|channel>thought")
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*(?:python|py|python3)?[ \t]*\n(.*)\Z", re.DOTALL | re.MULTILINE)
STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_ANSWER_IS = re.compile(r"(?:final answer|answer)(?:\s+is)?\s*[:=]?\s*(?:\*\*|\$|\\\(|\s)*\s*(-?[\d,]*\.?\d+)",
                        re.IGNORECASE)
_NUMBER = re.compile(r"-?[\d,]*\.?\d+")
_PYTHON_TAGS = ("python", "py", "python3", "")


def split_think(text: str) -> tuple[str | None, str]:
    """(thinking, answer). Output that opened a think block and never closed it: (all, "")."""
    ends = [(text.rfind(tag), tag) for tag in _CLOSERS]
    at, tag = max(ends)
    if at >= 0:
        thinking = text[:at].strip()
        for opener in _OPENERS:
            if thinking.startswith(opener):
                thinking = thinking[len(opener):].strip()
        return thinking, text[at + len(tag):].strip()
    if any(text.lstrip().startswith(opener) for opener in _OPENERS):
        return text, ""
    return None, text.strip()


def extract_code(text: str, entry_point: str | None = None) -> str | None:
    """The program in a model's answer (after the think block), or None."""
    _thinking, answer = split_think(text)
    blocks = [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(answer)]
    if entry_point:
        defining = re.compile(rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", re.MULTILINE)
        for _lang, code in blocks:
            if defining.search(code):
                return code
    for lang, code in blocks:
        if lang in _PYTHON_TAGS:
            return code
    if blocks:
        return blocks[0][1]
    if m := _OPEN_FENCE.search(answer):
        return m.group(1)
    try:
        ast.parse(answer)
    except (SyntaxError, ValueError):
        return None
    return answer if answer.strip() else None


def boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (nested braces kept), or None."""
    starts = [m.end() for m in BOXED.finditer(text)]
    for start in reversed(starts):
        inner = braced(text, start)
        if inner is not None:
            return inner.strip()
    return None


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1) if m else None


def flexible(text: str) -> str | None:
    """lm-eval's flexible-extract: the last match, whichever group matched."""
    matches = FLEXIBLE.findall(text)
    if not matches:
        return None
    a, b = matches[-1]
    return a or b


def normalise(answer: str | None) -> str | None:
    """lm-eval's cleaning before exact match: no commas, no `$`, no trailing `.`."""
    if answer is None:
        return None
    return answer.replace(",", "").replace("$", "").strip().rstrip(".")


def as_number(answer: str | None) -> Fraction | None:
    """An extracted answer as an exact number: '1,200', '$18.00', '\\frac{3}{4}', '18 dollars'."""
    if answer is None:
        return None
    value = to_number(answer)
    if value is None and (m := _NUMBER.search(answer.replace("$", ""))):
        value = to_number(m.group(0))
    return value


@dataclass(frozen=True)
class NumericAnswer:
    answer: str | None  # the scored one
    source: str | None  # boxed | strict | answer_is | flexible
    strict: str | None
    flexible: str | None
    boxed: str | None
    truncated: bool  # a think block that never closed


def numeric_answer(text: str) -> NumericAnswer:
    thinking, final = split_think(text)
    truncated = thinking is not None and not final
    box = boxed(final)
    strict = _first(STRICT, final)
    flex = flexible(final)
    answer_is = [m.group(1) for m in _ANSWER_IS.finditer(final)]
    for source, value in (("boxed", box), ("strict", strict),
                          ("answer_is", answer_is[-1] if answer_is else None), ("flexible", flex)):
        if value is not None and as_number(value) is not None:
            return NumericAnswer(value, source, strict, flex, box, truncated)
    return NumericAnswer(None, None, strict, flex, box, truncated)


def gold_number(solution: str) -> str:
    """The answer of a GSM8K gold solution: what follows its '#### '."""
    return solution.rsplit("####", 1)[-1].strip()


def same_number(predicted: str | None, gold: str) -> bool:
    a, b = as_number(predicted), as_number(gold)
    return a is not None and b is not None and a == b


def lm_eval_match(extracted: str | None, gold: str) -> bool:
    """lm-eval's exact match after its cleaning (strings, not numbers: '72.0' != '72')."""
    return extracted is not None and normalise(extracted) == normalise(gold)
