"""STaR's problems: questions whose answers can be checked, from the sources `[star.sources]` names.

- `gsm8k_train`: the GSM8K train split (shipped, or a local copy), asked with the evaluation's
  math request. Never the test split: the job also screens every problem against the
  decontamination index before asking it, and curation screens every kept rationale again.
- `store`: accepted reasoner examples (not STaR's own) with a numeric or symbolic answer.
- `code`: a JSONL of problems with tests, checked by running the answer and the tests in the
  evaluation sandbox.
- `tests`: accepted coder `test_generation` examples whose tests pass on their own code: the
  model writes the tests again, checked by running them against that code.
- `math`: a JSONL of math problems with answers.

A problem's `id` is stable across runs (it keys the ledger of what was solved or failed);
`prompt` is exactly what is asked and what a kept rationale is stored with.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from aitherd import benchmarks
from aitherd.answers import to_number
from aitherd.errors import InputError
from aitherd.evaluate.extract import gold_number
from aitherd.evaluate.suites import MATH_REQUEST
from aitherd.star.config import StarSources

CODE_REQUEST = ("Think it through step by step, then give the complete solution as one ```python code block.")
_PY_BLOCK = re.compile(r"```(?:python|py|python3)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    id: str  # stable: "gsm8k_train/12", "store/345", "code/ID", "tests/678", "math/ID"
    source: str  # gsm8k_train | store | code | tests | math (the learning curve is kept per source)
    kind: str  # math | code | tests (how an answer is checked)
    prompt: str  # what is asked, and what a kept rationale is stored with (never the hint)
    answer: str | None  # math: the reference answer; code: a reference solution (the hint); tests: the code
    category: str = "math"  # the reasoner category of the stored example
    data: dict[str, Any] = field(default_factory=dict)  # code: tests, setup, imports, entry_point

    def order(self, seed: int, iteration: int) -> str:
        """This problem's place in an iteration's draw (stable, different each iteration)."""
        return hashlib.sha256(f"{seed}:{iteration}:{self.id}".encode()).hexdigest()

    @property
    def hintable(self) -> bool:
        return bool(self.answer) and self.kind in ("math", "code")


def _jsonl(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    file = Path(path).expanduser()
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise InputError(f"{file}: cannot read the STaR problems: {err.strerror or err}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as err:
            raise InputError(f"{file}:{n}: not a JSON line: {err}") from None
        if not isinstance(rec, dict):
            raise InputError(f"{file}:{n}: expected a JSON object")
        yield f"{file}:{n}", rec


def gsm8k_train(path: str = "") -> list[Problem]:
    rows = benchmarks.load("gsm8k_train", path or None)
    return [Problem(f"gsm8k_train/{i}", "gsm8k_train", "math", f"{r['question']}\n{MATH_REQUEST}",
                    gold_number(r["answer"])) for i, r in enumerate(rows)]


def math_file(path: str) -> list[Problem]:
    out = []
    for where, rec in _jsonl(path):
        question = rec.get("problem") or rec.get("prompt")
        if not isinstance(question, str) or not question.strip() or rec.get("answer") in (None, ""):
            raise InputError(f"{where}: a math problem needs 'problem' (or 'prompt') and 'answer'")
        category = str(rec["category"]) if rec.get("category") in ("math", "logic", "planning") else "math"
        out.append(Problem(f"math/{rec.get('id', where.rsplit(':', 1)[1])}", "math", "math",
                           f"{question.strip()}\n{MATH_REQUEST}", str(rec["answer"]), category))
    return out


def code_file(path: str) -> list[Problem]:
    out = []
    for where, rec in _jsonl(path):
        prompt, tests = rec.get("prompt") or rec.get("problem"), rec.get("tests")
        if isinstance(tests, list):
            tests = "\n".join(str(t) for t in tests)
        if not isinstance(prompt, str) or not prompt.strip() or not isinstance(tests, str) or not tests.strip():
            raise InputError(f"{where}: a code problem needs 'prompt' and 'tests' (a list of asserts or a string)")
        asked = f"{prompt.strip()}\n\nYour code should pass these tests:\n\n{tests.strip()}\n\n{CODE_REQUEST}"
        out.append(Problem(f"code/{rec.get('id', where.rsplit(':', 1)[1])}", "code", "code", asked,
                           rec.get("solution") or None, "code",
                           {"tests": tests, "setup": rec.get("setup") or "", "imports": rec.get("imports") or "",
                            "entry_point": rec.get("entry_point")}))
    return out


def _user(messages: list[dict[str, Any]]) -> str | None:
    users = [m.get("content") for m in messages if m.get("role") == "user"]
    return users[-1] if users and isinstance(users[-1], str) and users[-1].strip() else None


def store_reasoner(engine: Engine) -> list[Problem]:
    """Accepted reasoner math examples (not STaR's own) whose answer is a number or formula."""
    sql = ("SELECT id, messages, answer FROM example WHERE specialist = 'reasoner' AND status = 'accepted' "
           "AND source != 'star' AND answer IS NOT NULL AND category = 'math' ORDER BY id")
    out = []
    with engine.connect() as conn:
        for row_id, messages, answer in conn.execute(text(sql)):
            messages = json.loads(messages) if isinstance(messages, str) else messages
            prompt = _user(messages or [])
            if prompt is None or not str(answer).strip():
                continue
            if to_number(str(answer)) is None and not any(t in str(answer) for t in ("\\frac", "\\sqrt", "^")):
                continue  # not checkable by the math check (a word, a sentence)
            out.append(Problem(f"store/{row_id}", "store", "math", prompt, str(answer)))
    return out


def store_tests(engine: Engine) -> list[Problem]:
    """Accepted test_generation examples with one Python block of code in the request and tests in
    the reply; whether the tests run on their own code is checked later, in the sandbox."""
    sql = ("SELECT id, messages FROM example WHERE specialist = 'coder' AND status = 'accepted' "
           "AND category = 'test_generation' ORDER BY id")
    out = []
    with engine.connect() as conn:
        for row_id, messages in conn.execute(text(sql)):
            messages = json.loads(messages) if isinstance(messages, str) else messages
            prompt = _user(messages or [])
            reply = "\n".join(str(m.get("content") or "") for m in messages or [] if m.get("role") == "assistant")
            code = _PY_BLOCK.findall(prompt or "")
            tests = _PY_BLOCK.findall(reply)
            if prompt is None or len(code) != 1 or not tests:
                continue
            out.append(Problem(f"tests/{row_id}", "tests", "tests", prompt, code[0], "code",
                               {"reference_tests": "\n\n".join(tests)}))
    return out


def load_problems(cfg: StarSources, engine: Engine) -> list[Problem]:
    """Every configured problem, in a stable order; an id or a prompt seen twice is kept once."""
    found: list[Problem] = []
    if cfg.gsm8k_train:
        found += gsm8k_train(cfg.gsm8k_train_path)
    if cfg.math_problems:
        found += math_file(cfg.math_problems)
    if cfg.code_problems:
        found += code_file(cfg.code_problems)
    if cfg.store_reasoner:
        found += store_reasoner(engine)
    if cfg.store_tests:
        found += store_tests(engine)
    by_prompt: dict[str, Problem] = {}
    for p in {p.id: p for p in found}.values():
        by_prompt.setdefault(" ".join(p.prompt.split()), p)
    return list(by_prompt.values())
