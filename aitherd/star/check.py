"""Checking STaR's samples: is a rationale's answer right, did a rationalization lean on its hint,
and which rationales of a problem are the same reasoning written twice.

Math goes through `aitherd.answers.check` (the one answer checker the harvest shares); code and
test-writing problems run in the evaluation sandbox (own process group, rlimits, namespaces
where the kernel allows), the program being the answer's code with the problem's tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from aitherd.answers import check as math_check
from aitherd.evaluate.extract import extract_code
from aitherd.evaluate.sandbox import Execution
from aitherd.star.problems import Problem

RunPrograms = Callable[[Sequence[str]], list[Execution]]

# The hint as the model sees it; a rationale that refers to it (rather than deriving the answer)
# is rejected: the training prompt will not have it.
HINT = ("(For reference only: the correct final answer is {answer}. Work it out step by step from the "
        "problem itself, as if you had not been told.)")
CODE_HINT = ("(For reference only, a correct solution is:\n```python\n{answer}\n```\nExplain step by step how "
             "to arrive at a correct solution from the problem itself, as if you had not seen one.)")
_QUOTES_HINT = re.compile(
    r"\bhint\b|\bfor reference\b|\b(?:given|provided|stated|supplied|reference|expected)\s+(?:final\s+|correct\s+)?"
    r"(?:answer|solution)\b|\b(?:answer|solution)\s+(?:was|is|has been)\s+(?:given|provided|stated|supplied)\b|"
    r"\b(?:we|i)\s+(?:are|am|were|was|have been)\s+told\b|\bas\s+(?:stated|given|provided)\b[^.\n]{0,40}\banswer\b|"
    r"\bcorrect final answer is\b|\bas if (?:i|we) had not\b",
    re.IGNORECASE)
_RUN_TESTS = """

def _aitherd_run_tests():
    found = [v for k, v in list(globals().items()) if k.startswith("test") and callable(v)]
    for fn in found:
        fn()
    return len(found)

_aitherd_ran = _aitherd_run_tests()
"""


def hinted(problem: Problem) -> str:
    """The prompt asked for a rationalization: the original prompt and the answer as a hint."""
    template = CODE_HINT if problem.kind == "code" else HINT
    return f"{problem.prompt}\n\n{template.format(answer=problem.answer)}"


def quotes_hint(text: str) -> bool:
    """Does the rationale justify itself by the hint (mention it, the given answer, being told)?"""
    return bool(_QUOTES_HINT.search(text))


def rationale_key(reasoning: str | None, text: str) -> str:
    """Two samples with the same key are one reasoning path (case, spacing, punctuation aside)."""
    return re.sub(r"\W+", " ", f"{reasoning or ''}\n{text}".lower()).strip()


def _program(problem: Problem, answer: str) -> str | None:
    d = problem.data
    if problem.kind == "code":
        code = extract_code(answer, d.get("entry_point"))
        if code is None:
            return None
        return f"{d.get('imports') or ''}\n{code}\n\n{d.get('setup') or ''}\n{d['tests']}\n"
    tests = "\n\n".join(m.group(1) for m in re.finditer(r"```(?:python|py)?[ \t]*\n(.*?)```", answer, re.DOTALL))
    if "assert" not in tests:
        return None  # tests that assert nothing check nothing
    return f"{problem.answer}\n\n{tests}\n{_RUN_TESTS}"


def reference_program(problem: Problem) -> str:
    """A `tests` problem's own tests on its own code: usable only if this passes."""
    return f"{problem.answer}\n\n{problem.data['reference_tests']}\n{_RUN_TESTS}"


def check_all(problems: Sequence[Problem], answers: Sequence[str], run: RunPrograms | None) -> list[bool]:
    """Is each answer right for its problem? Programs run together, in parallel, in the sandbox."""
    out = [False] * len(problems)
    programs: list[tuple[int, str]] = []
    for i, (problem, answer) in enumerate(zip(problems, answers, strict=True)):
        if problem.kind == "math":
            out[i] = bool(answer.strip()) and problem.answer is not None and math_check(answer, problem.answer)
        elif (program := _program(problem, answer)) is not None:
            programs.append((i, program))
    if programs:
        if run is None:
            raise ValueError("code problems need the sandbox")
        for (i, _), ex in zip(programs, run([p for _, p in programs]), strict=True):
            out[i] = ex.passed
    return out
