"""Code patterns of the watched repositories: functions and classes with their docstrings,
signatures and call sites, turned into instruction examples (implement from docstring and
signature, explain) and test-writing examples (from the tests that call them).

Python through `ast`; other languages plug into EXTRACTORS (a tree-sitter extractor is the
intended path: same `Symbol` records, per-language queries).

- Signatures and sources are cut by the AST's line numbers: from the first decorator to the line
  before the body, whole, however many lines the signature spans.
- Calls are resolved through each file's imports (`import m`, `from m import f as g`, relative
  imports), `self`/`cls`, and objects made from a class in the same function: a call is tied to
  `package.module.Class.method`, never to another function of the same name. A test is paired
  with a function only when it calls it that way, and only test functions are answers.
- "Explain" answers are the docstring rendered as prose (docstrings.py); a docstring that says
  no more than the name gives no explain example.
"""

from __future__ import annotations

import ast
import hashlib
import subprocess
import textwrap
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aitherd.candidate import Candidate
from aitherd.sources.credfiles import is_credential_file
from aitherd.sources.docstrings import render, says_less_than_name
from aitherd.sources.gitmine import _TEST_PATH, resolve
from aitherd.sources.items import BadInput, Checkpoint, Item, Skip


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
    signature: str  # decorators and the whole header, dedented, without the final colon
    docstring: str | None
    source: str  # from the first decorator to the end, dedented
    lines: int
    calls: set[str] = field(default_factory=set)  # dotted names of what it calls, resolved
    qualname: str = ""  # Class.method for a method
    module: str = ""  # dotted module of its file
    bare: str = ""  # the source without its docstring

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.qualname or self.name}"

    @property
    def is_test(self) -> bool:
        return self.kind == "function" and self.name.startswith("test") and bool(_TEST_PATH.search(self.path))


def module_of(path: str) -> str:
    parts = list(Path(path).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.Module, module: str, is_package: bool) -> dict[str, str]:
    """Local name -> the dotted name it stands for, from the file's imports."""
    names: dict[str, str] = {}
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    names[a.asname] = a.name
                else:
                    root = a.name.split(".")[0]
                    names[root] = root
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".") if package else []
                up = up[: len(up) - (node.level - 1)] if node.level > 1 else up
                base = ".".join(p for p in [*up, base] if p)
            for a in node.names:
                if a.name != "*":
                    names[a.asname or a.name] = f"{base}.{a.name}" if base else a.name
    return names


def _dotted(expr: ast.expr) -> list[str] | None:
    parts: list[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        return [expr.id, *reversed(parts)]
    return None


class _Calls:
    """Dotted names of the calls in one function, resolved through the file's imports, its own
    top-level names, `self`/`cls`, and variables bound to a new object of a known class."""

    def __init__(self, imports: dict[str, str], local: set[str], module: str, cls: str | None) -> None:
        self.imports, self.local, self.module, self.cls = imports, local, module, cls

    def _name(self, name: str, bound: dict[str, str]) -> str | None:
        if name in bound:
            return bound[name]
        if name in self.imports:
            return self.imports[name]
        if name in self.local:
            return f"{self.module}.{name}"
        if name in ("self", "cls") and self.cls:
            return f"{self.module}.{self.cls}"
        return None

    def of(self, fn: ast.AST) -> set[str]:
        bound: dict[str, str] = {}  # variable -> the class it was made from
        out: set[str] = set()
        for node in ast.walk(fn):
            value, targets = None, []
            if isinstance(node, ast.Assign):
                value, targets = node.value, node.targets
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                value, targets = node.context_expr, [node.optional_vars]
            if isinstance(value, ast.Call) and (path := _dotted(value.func)):
                made = self._name(path[0], bound)
                for t in targets:
                    if made and isinstance(t, ast.Name):
                        bound[t.id] = ".".join([made, *path[1:]])
        for node in ast.walk(fn):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):  # Cart().total()
                inner = _dotted(func.value.func)
                if inner and (base := self._name(inner[0], bound)):
                    out.add(".".join([base, *inner[1:], func.attr]))
                continue
            path = _dotted(func)
            if path and (base := self._name(path[0], bound)):
                out.add(".".join([base, *path[1:]]))
        return out


def _header_end(lines: list[str], lineno: int) -> tuple[int, int]:
    """(line, column) of the colon that ends the def or class header starting at `lineno`."""
    depth = 0
    source = iter(lines[lineno - 1:])
    try:
        for tok in tokenize.generate_tokens(lambda: next(source) + "\n"):
            if tok.type == tokenize.OP:
                if tok.string in "([{":
                    depth += 1
                elif tok.string in ")]}":
                    depth -= 1
                elif tok.string == ":" and depth == 0:
                    return lineno + tok.start[0] - 1, tok.start[1]
    except (tokenize.TokenError, StopIteration, IndentationError):
        pass
    return lineno, len(lines[lineno - 1])


def _python(path: str, text: str) -> list[Symbol]:
    tree = ast.parse(text)
    lines = text.splitlines()
    module = module_of(path)
    imports = _imports(tree, module, path.endswith("__init__.py"))
    local = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    out: list[Symbol] = []

    def visit(body: list[ast.stmt], prefix: str, cls: str | None) -> None:
        for node in body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            qualname = f"{prefix}{node.name}"
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            end = node.end_lineno or node.lineno
            body0 = node.body[0]
            doc = ast.get_docstring(node)
            # The header runs from the first decorator to the colon that opens the body: every
            # line of a long signature, whole.
            end_line, end_col = _header_end(lines, node.lineno)
            header = "\n".join([*lines[first - 1:end_line - 1], lines[end_line - 1][:end_col]])
            header = textwrap.dedent(header).rstrip()
            source_lines = lines[first - 1:end]
            bare_lines = source_lines
            if doc is not None and isinstance(body0, ast.Expr) and body0.lineno > node.lineno:
                cut = range(body0.lineno - first, (body0.end_lineno or body0.lineno) - first + 1)
                bare_lines = [ln for i, ln in enumerate(source_lines) if i not in cut]
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            calls = _Calls(imports, local, module, cls).of(node) if kind == "function" else set()
            out.append(Symbol(node.name, kind, path, header, doc, textwrap.dedent("\n".join(source_lines)),
                              end - node.lineno + 1, calls, qualname, module,
                              textwrap.dedent("\n".join(bare_lines))))
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{qualname}.", qualname)
            else:  # a nested function: its `self` is still the method's
                visit(node.body, f"{qualname}.<locals>.", cls)

    visit(tree.body, "", None)
    return out


EXTRACTORS: dict[str, Callable[[str, str], list[Symbol]]] = {".py": _python}


def tracked_files(repo: str) -> list[str]:
    out = subprocess.run(["git", "-C", repo, "ls-files", "-z"], capture_output=True, timeout=60, check=True)
    return [p for p in out.stdout.decode("utf-8", "replace").split("\0") if p]


def _order(sym: Symbol) -> tuple[str, str, str, str]:
    """A total, stable order of symbols (two methods may share a name in one file)."""
    return (sym.path, sym.kind, sym.name, hashlib.sha1(sym.source.encode()).hexdigest()[:12])


def harvest_repo(repo: str, cfg: CodeGraphConfig,
                 mark: dict[str, Any]) -> Iterator[Item]:
    """Examples from the repo at HEAD, when HEAD moved since the last run. The mark says which
    HEAD is complete only after the last symbol; until then it records the symbols done, in
    sorted (path, name) order, so a stopped run resumes after the last stored one."""
    head = resolve(repo, "HEAD")
    if mark.get("head") == head and "after" not in mark:
        return
    resume_after = tuple(mark["after"]) if mark.get("head") == head and mark.get("after") else None
    symbols: list[Symbol] = []
    for rel in tracked_files(repo):
        extractor = EXTRACTORS.get(Path(rel).suffix)
        if extractor is None:
            continue
        if is_credential_file(rel):
            yield Skip("credential_file")
            continue
        full = Path(repo, rel)
        try:
            if full.stat().st_size > cfg.max_file_bytes:
                continue
            symbols += extractor(rel, full.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as err:
            yield BadInput(f"{repo}/{rel}", f"cannot parse: {type(err).__name__}: {err}")
    callers = _callers(symbols)
    # Symbols in a fixed order, so a partial mark ("done up to this symbol") means the same
    # thing on the next run; the mark moves only after all examples of a symbol were yielded.
    previous: tuple[str, ...] | None = None
    for sym in sorted(symbols, key=_order):
        if resume_after is not None and _order(sym) <= resume_after:
            continue
        if previous is not None:
            yield Checkpoint({"head": head, "after": list(previous)})
        previous = _order(sym)
        if _TEST_PATH.search(sym.path) or not cfg.min_lines <= sym.lines <= cfg.max_lines:
            continue
        if sym.name.startswith("_") and not sym.name.startswith("__init"):
            continue
        yield from _examples(sym, callers.get(id(sym), []), cfg, {
            "repo": repo, "commit": head, "path": sym.path, "symbol": sym.qualname or sym.name})
    yield Checkpoint({"head": head})


def _callers(symbols: list[Symbol]) -> dict[int, list[Symbol]]:
    """id(symbol) -> the symbols whose resolved calls name it. A call names the symbol whose
    dotted name it equals or ends (a `src/` layout, tests importing `pkg.mod`); when several
    symbols would match, none does."""
    by_suffix: dict[str, list[Symbol]] = defaultdict(list)
    for sym in symbols:
        parts = sym.dotted.split(".")
        for i in range(len(parts) - 1):
            by_suffix[".".join(parts[i:])].append(sym)
    callers: dict[int, list[Symbol]] = defaultdict(list)
    for caller in symbols:
        for call in sorted(caller.calls):
            found = by_suffix.get(call, [])
            exact = [s for s in found if s.dotted == call]
            target = exact[0] if len(exact) == 1 else found[0] if len(found) == 1 else None
            if target is not None and target is not caller and caller not in callers[id(target)]:
                callers[id(target)].append(caller)
    return callers


def _quoted_doc(doc: str) -> str:
    quote = "'''" if '"""' in doc else '"""'
    return textwrap.indent(f"{quote}{doc}{quote}", "    ")


def _upto(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:text.rfind("\n", 0, limit) + 1 or limit] + "..."


def _examples(sym: Symbol, sites: list[Symbol], cfg: CodeGraphConfig, prov: dict[str, Any]) -> Iterator[Candidate]:
    usage = "".join(f"\n\nIt is used in `{c.path}`:\n```python\n{_upto(c.source, 600)}\n```"
                    for c in [c for c in sites if not _TEST_PATH.search(c.path)][:cfg.call_sites])
    if sym.docstring:
        ask = (f"Implement this {sym.kind} for `{sym.path}`:\n\n```python\n{sym.signature}:\n"
               f"{_quoted_doc(sym.docstring)}\n```{usage}")
        yield Candidate("coder", "instruction", [
            {"role": "user", "content": ask},
            {"role": "assistant", "content": f"```python\n{sym.bare}\n```"}],
            source="codegraph", provenance={**prov, "task": "implement"})
        if not says_less_than_name(sym.name, sym.docstring):
            yield Candidate("coder", "instruction", [
                {"role": "user", "content": f"Explain what this code does:\n\n```python\n{sym.bare}\n```"},
                {"role": "assistant", "content": render(sym.docstring)}],
                source="codegraph", provenance={**prov, "task": "explain"})
    tests = [c for c in sites if c.is_test]
    if tests:
        yield Candidate("coder", "test_generation", [
            {"role": "user", "content": f"Write pytest tests for `{sym.qualname or sym.name}` from `{sym.path}`:"
                                        f"\n\n```python\n{sym.source}\n```"},
            {"role": "assistant", "content": "\n\n".join(f"```python\n{t.source}\n```" for t in tests[:3])}],
            source="codegraph", provenance={**prov, "task": "tests", "tests": [t.dotted for t in tests[:3]]})
