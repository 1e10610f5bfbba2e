"""Code patterns of the watched repositories: functions and classes with their docstrings,
signatures and call sites, turned into instruction examples (implement from docstring and
signature, explain) and test-writing examples (from the tests that call them).

Python through `ast`; other languages plug into EXTRACTORS (a tree-sitter extractor is the
intended path: same `Symbol` records, per-language queries).
"""

from __future__ import annotations

import ast
import subprocess
import textwrap
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import Candidate
from aitherd.sources.credfiles import is_credential_file
from aitherd.sources.gitmine import _TEST_PATH, resolve


class CodeGraphConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    min_lines: int = Field(default=3, ge=1)
    max_lines: int = Field(default=150, ge=1)
    max_file_bytes: int = Field(default=500_000, ge=1)
    call_sites: int = Field(default=3, ge=0)


@dataclass
class Symbol:
    name: str
    kind: str  # function | class
    path: str
    signature: str
    docstring: str | None
    source: str
    lines: int
    calls: set[str] = field(default_factory=set)


def _python(path: str, text: str) -> list[Symbol]:
    tree = ast.parse(text)
    lines = text.splitlines()
    out: list[Symbol] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        # Methods keep their class's indentation in the file: dedent so each stands alone.
        source = textwrap.dedent("\n".join(lines[node.lineno - 1 - len(node.decorator_list):node.end_lineno]))
        header = lines[node.lineno - 1].strip()
        calls = {c.func.id if isinstance(c.func, ast.Name) else c.func.attr
                 for c in ast.walk(node) if isinstance(c, ast.Call)
                 and isinstance(c.func, ast.Name | ast.Attribute)}
        out.append(Symbol(node.name, "class" if isinstance(node, ast.ClassDef) else "function",
                          path, header.rstrip(":"), ast.get_docstring(node), source,
                          (node.end_lineno or node.lineno) - node.lineno + 1, calls))
    return out


EXTRACTORS: dict[str, Callable[[str, str], list[Symbol]]] = {".py": _python}


def tracked_files(repo: str) -> list[str]:
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z"], capture_output=True, timeout=60, check=True)
    return [p for p in out.stdout.decode("utf-8", "replace").split("\0") if p]


def _without_docstring(sym: Symbol) -> str:
    if not sym.docstring:
        return sym.source
    body = sym.source
    for quote in ('"""', "'''"):
        start = body.find(quote)
        if start != -1:
            end = body.find(quote, start + 3)
            if end != -1:
                return body[:start].rstrip() + "\n" + body[end + 3:].lstrip("\n")
    return body


def harvest_repo(repo: str, cfg: CodeGraphConfig,
                 mark: dict[str, Any]) -> Iterator[tuple[dict[str, Any], Candidate | str]]:
    """Examples from the repo at HEAD, when HEAD moved since the last run."""
    head = resolve(repo, "HEAD")
    if mark.get("head") == head:
        return
    new_mark = {"head": head}
    symbols: list[Symbol] = []
    for rel in tracked_files(repo):
        extractor = EXTRACTORS.get(Path(rel).suffix)
        if extractor is None:
            continue
        if is_credential_file(rel):
            yield new_mark, "skip:credential_file"
            continue
        full = Path(repo, rel)
        try:
            if full.stat().st_size > cfg.max_file_bytes:
                continue
            symbols += extractor(rel, full.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as err:
            yield new_mark, f"{repo}/{rel}: cannot parse: {type(err).__name__}: {err}"
    callers: dict[str, list[Symbol]] = defaultdict(list)
    for sym in symbols:
        for name in sym.calls:
            callers[name].append(sym)
    for sym in symbols:
        if _TEST_PATH.search(sym.path) or not cfg.min_lines <= sym.lines <= cfg.max_lines:
            continue
        if sym.name.startswith("_") and not sym.name.startswith("__init"):
            continue
        prov = {"repo": repo, "commit": head, "path": sym.path, "symbol": sym.name}
        sites = [c for c in callers.get(sym.name, []) if c is not sym]
        usage = "".join(f"\n\nIt is used in `{c.path}`:\n```python\n{c.source[:600]}\n```"
                        for c in sites[:cfg.call_sites] if not _TEST_PATH.search(c.path))
        if sym.docstring:
            ask = (f"Implement this {sym.kind} for `{sym.path}`:\n\n```python\n{sym.signature}:\n"
                   f'    """{sym.docstring}"""\n```{usage}')
            yield new_mark, Candidate("coder", "instruction", [
                {"role": "user", "content": ask},
                {"role": "assistant", "content": f"```python\n{_without_docstring(sym)}\n```"}],
                source="codegraph", provenance={**prov, "task": "implement"})
            yield new_mark, Candidate("coder", "instruction", [
                {"role": "user", "content": f"Explain what this code does:\n\n```python\n"
                                            f"{_without_docstring(sym)}\n```"},
                {"role": "assistant", "content": sym.docstring}],
                source="codegraph", provenance={**prov, "task": "explain"})
        tests = [c for c in sites if _TEST_PATH.search(c.path) and c.kind == "function"]
        if tests:
            yield new_mark, Candidate("coder", "test_generation", [
                {"role": "user", "content": f"Write pytest tests for `{sym.name}` from `{sym.path}`:"
                                            f"\n\n```python\n{sym.source}\n```"},
                {"role": "assistant", "content": "\n\n".join(
                    f"```python\n{t.source}\n```" for t in tests[:3])}],
                source="codegraph", provenance={**prov, "task": "tests"})
    yield new_mark, "skip:done"
