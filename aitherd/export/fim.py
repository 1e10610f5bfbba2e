"""Fill-in-the-middle from source code only: which examples carry code, and where to cut it.

Eligibility is decided by the file's language, taken from provenance (the file path of a git
hunk or code pattern, a dataset's `lang`) or from a file path stated with the code (a session's
write, a `path` named in the request); never from a fence label. Prose and data files (.md, .rst,
.txt, CHANGES, README, LICENSE, JSON...), diffs, review answers and edit markup are never used.

The middle is a span at a syntax boundary, as structure-aware FIM does: a statement, a block
(the body of a function, loop or branch) or an expression. Python is parsed with `ast`; other
languages (and Python fragments that do not parse) use a line and brace based fallback. A middle
is never whitespace only and never the whole code.
"""

from __future__ import annotations

import ast
import os
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from aitherd.export.sample import unit

MIN_CODE_LINES = 4
MIN_MIDDLE_CHARS = 3  # non-whitespace characters in a middle
MAX_MIDDLE_SHARE = 0.6  # of the code's characters: the model must see context on some side
MAX_EXPR_DEPTH = 3  # expressions nested deeper than this below their statement are not spans

# Source-code extensions -> language. Prose, markup and data formats are absent on purpose.
EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".jsx": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go", ".rs": "rust",
    ".java": "java", ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".cs": "csharp",
    ".rb": "ruby", ".php": "php", ".swift": "swift", ".sh": "shell", ".bash": "shell",
    ".sql": "sql", ".lua": "lua", ".r": "r", ".jl": "julia", ".dart": "dart", ".ex": "elixir",
    ".exs": "elixir", ".hs": "haskell", ".ml": "ocaml", ".clj": "clojure", ".pl": "perl",
    ".m": "objc", ".zig": "zig",
}
# Language names as datasets spell them (Magicoder's `lang`, CommitPack's `lang`).
LANGUAGE_NAMES = {
    "python": "python", "py": "python", "javascript": "javascript", "js": "javascript",
    "typescript": "typescript", "ts": "typescript", "go": "go", "golang": "go", "rust": "rust",
    "java": "java", "kotlin": "kotlin", "scala": "scala", "c": "c", "cpp": "cpp", "c++": "cpp",
    "csharp": "csharp", "c#": "csharp", "ruby": "ruby", "php": "php", "swift": "swift",
    "shell": "shell", "bash": "shell", "sh": "shell", "sql": "sql", "lua": "lua", "r": "r",
    "julia": "julia", "dart": "dart", "elixir": "elixir", "haskell": "haskell", "ocaml": "ocaml",
    "perl": "perl", "zig": "zig",
}
# Fence labels that name the same language (a fence only locates code; it never decides).
_ALIASES = {"python": {"python", "py", "python3"}, "javascript": {"javascript", "js", "jsx", "node"},
            "typescript": {"typescript", "ts", "tsx", "javascript", "js", "jsx"},
            "cpp": {"cpp", "c++", "cc", "cxx", "hpp", "c"},
            "shell": {"shell", "bash", "sh", "zsh"}, "csharp": {"csharp", "cs", "c#"},
            "go": {"go", "golang"}, "rust": {"rust", "rs"}, "ruby": {"ruby", "rb"}}
_NOT_CODE_FENCES = {"diff", "patch", "text", "txt", "console", "output", "log", "markdown", "md",
                    "rst", "json", "yaml", "yml", "toml", "ini", "xml", "html", "csv"}
# A fence of N backticks ends at a line starting with N (a block holding ``` lines, as markdown
# in a docstring, comes in a longer fence). Groups: the fence, its label, the code.
_FENCE = re.compile(r"^(`{3,})[ \t]*([^\n`]*)\n(.*?)^\1", re.DOTALL | re.MULTILINE)
_NEWLINE = re.compile(r"\n")
_PATH_IN_TEXT = re.compile(r"`([\w./\\-]+\.[A-Za-z0-9+]+)`")
_DIFF_MARKS = re.compile(r"^(@@ |diff --git |\+\+\+ |--- a/|<<<<<<< SEARCH|>>>>>>> REPLACE|\*\*\* Begin Patch)",
                         re.MULTILINE)


@dataclass(frozen=True)
class FimSplit:
    prefix: str
    middle: str
    suffix: str
    kind: str  # statement | block | expression


def language_of_path(path: str) -> str | None:
    return EXTENSIONS.get(os.path.splitext(path.replace("\\", "/"))[1].lower())


def language_of(ex: dict[str, Any]) -> str | None:
    """The source language of the code an example is about, from its provenance; None when
    provenance says nothing (the fence label is not evidence)."""
    prov = ex.get("provenance") or {}
    if isinstance(prov.get("path"), str) and prov["path"]:
        return language_of_path(prov["path"])
    lang = prov.get("lang")
    if isinstance(lang, str) and lang:
        return LANGUAGE_NAMES.get(lang.strip().lower())
    return None


def _last(messages: list[dict[str, Any]], role: str) -> str:
    return next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == role), "")


def _fence_fits(label: str, language: str) -> bool:
    label = label.strip().split()[0].lower() if label.strip() else ""
    if not label:
        return True
    if label in _NOT_CODE_FENCES:
        return False
    return label in _ALIASES.get(language, {language})


def _is_code(code: str) -> bool:
    lines = [ln for ln in code.splitlines() if ln.strip()]
    return len(lines) >= MIN_CODE_LINES and not _DIFF_MARKS.search(code)


def _parses_as_python_program(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(not isinstance(node, ast.Expr) for node in tree.body)


def fim_source(ex: dict[str, Any]) -> tuple[str, str] | None:
    """(code, language) to cut a FIM record from, or None when the example carries no source
    code of a known language: review answers (diffs), explanations, prose, data files."""
    if ex.get("specialist") != "coder" or ex.get("category") == "review":
        return None
    answer = _last(ex.get("messages") or [], "assistant")
    if not answer:
        return None
    prov = ex.get("provenance") or {}
    if isinstance(prov.get("path"), str) and prov["path"] and language_of_path(prov["path"]) is None:
        return None  # provenance names a file that is not source code (README, .rst, CHANGES...)
    if prov.get("task") == "explain":  # the answer is prose about the code, not the code
        return None
    language = language_of(ex)
    best: tuple[str, str] | None = None
    for match in _FENCE.finditer(answer):
        label, code = match.group(2), match.group(3)
        lang = language
        if lang is None:  # a file path right before the fence (a session's write of a file)
            before = answer[:match.start()].rstrip().rsplit("\n", 1)[-1].strip().strip("`:")
            lang = language_of_path(before) if before and " " not in before else None
        if lang is None or not _fence_fits(label, lang) or not _is_code(code):
            continue
        if best is None or len(code) > len(best[0]):
            best = (code, lang)
    if best is not None:
        return best
    if language is None:
        named = {language_of_path(p) for p in _PATH_IN_TEXT.findall(_last(ex.get("messages") or [], "user"))}
        named.discard(None)
        language = named.pop() if len(named) == 1 else None
        if language is not None and "```" in answer:
            return fim_source({**ex, "provenance": {"lang": language}})
    if language == "python" and "```" not in answer and _is_code(answer) \
            and _parses_as_python_program(textwrap.dedent(answer)):
        return answer if answer.endswith("\n") else answer + "\n", "python"
    return None


# -- spans ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


def _line_starts(code: str) -> list[int]:
    return [0, *(m.end() for m in _NEWLINE.finditer(code))]


class PythonSpans:
    """The spans of one piece of Python code, parsed once; statement and block spans, and the
    costlier expression spans only when asked for."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.tree = ast.parse(code)  # SyntaxError / ValueError: not Python
        self.starts = _line_starts(code)
        self.lines = code.splitlines(keepends=True)
        self.statements: list[ast.stmt] = []
        todo: list[ast.AST] = list(self.tree.body)
        while todo:  # every statement, through nested bodies, handlers and match cases
            node = todo.pop()
            if isinstance(node, ast.stmt):
                self.statements.append(node)
            for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                value = getattr(node, field, None)
                if isinstance(value, list):
                    todo.extend(v for v in value if isinstance(v, ast.stmt | ast.excepthandler | ast.match_case))

    @classmethod
    def parse(cls, code: str) -> PythonSpans | None:
        try:
            return cls(code)
        except (SyntaxError, ValueError):
            return None

    def _line_start(self, lineno: int) -> int:
        return self.starts[lineno - 1]

    def _line_end(self, lineno: int) -> int:
        return self.starts[lineno] if lineno < len(self.starts) else len(self.code)

    def _offset(self, lineno: int, col: int) -> int:  # ast columns are UTF-8 byte offsets
        line = self.lines[lineno - 1] if lineno - 1 < len(self.lines) else ""
        return self.starts[lineno - 1] + len(line.encode()[:col].decode(errors="ignore"))

    def _is_elif(self, node: ast.AST) -> bool:  # an `elif` is an If in orelse: no span alone
        return isinstance(node, ast.If) and self.lines[node.lineno - 1].lstrip().startswith("elif")

    def statement_spans(self) -> list[Span]:
        spans = []
        for node in self.statements:
            if not self._is_elif(node):
                first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
                compound = any(isinstance(getattr(node, f, None), list) and getattr(node, f)
                               and isinstance(getattr(node, f)[0], ast.stmt) for f in ("body", "orelse"))
                spans.append(Span(self._line_start(first), self._line_end(node.end_lineno or node.lineno),
                                  "block" if compound else "statement"))
            for field in ("body", "orelse", "finalbody"):
                body = getattr(node, field, None)
                if isinstance(body, list) and body and isinstance(body[0], ast.stmt) and not self._is_elif(body[0]):
                    spans.append(Span(self._line_start(body[0].lineno),
                                      self._line_end(body[-1].end_lineno or body[-1].lineno), "block"))
        return spans

    def expression_spans(self) -> list[Span]:
        """Expressions down to MAX_EXPR_DEPTH below their statement (a value, an argument, an
        operand), not every sub-sub-expression; the parts of an f-string are not spans."""
        todo: list[tuple[ast.AST, int]] = []
        for node in self.statements:
            for field in node._fields:
                value = getattr(node, field, None)
                todo.extend((v, 1) for v in (value if isinstance(value, list) else [value])
                            if isinstance(v, ast.expr))
        spans = []
        while todo:
            node, depth = todo.pop()
            if depth < MAX_EXPR_DEPTH and not isinstance(node, ast.JoinedStr):
                todo.extend((c, depth + 1) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
            if isinstance(node, ast.Name | ast.Constant | ast.Starred | ast.Slice):
                continue
            if getattr(node, "end_lineno", None) is None or getattr(node, "end_col_offset", None) is None:
                continue
            spans.append(Span(self._offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                              self._offset(node.end_lineno, node.end_col_offset), "expression"))  # type: ignore[attr-defined]
        return spans


def python_spans(code: str) -> list[Span] | None:
    """Statement, block and expression spans of Python code; None when it does not parse."""
    parsed = PythonSpans.parse(code)
    return None if parsed is None else parsed.statement_spans() + parsed.expression_spans()


_ASSIGN_OR_RETURN = re.compile(r"^(\s*)(?:return\s+|.*?[^=!<>]=\s*)(?P<expr>\S.*?)\s*[;,]?\s*$")
_COMMENT = re.compile(r"^\s*(//|#|/\*|\*|--)")
_STRINGS = re.compile(r"\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")


def _depth(line: str) -> int:
    bare = _STRINGS.sub("", line.split("//")[0])
    return sum(bare.count(c) for c in "{([") - sum(bare.count(c) for c in "})]")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def fallback_spans(code: str) -> list[Span]:
    """Line and bracket based spans for languages without a parser here (and Python fragments):
    single statements (whole lines), the bodies of bracketed or indented blocks, right-hand
    sides of assignments and returns."""
    starts = _line_starts(code)
    lines = code.splitlines(keepends=True)

    def at(i: int) -> int:
        return starts[i] if i < len(starts) else len(code)

    spans: list[Span] = []
    for i, line in enumerate(lines):
        text = line.strip()
        if not text or _COMMENT.match(line) or text in ("{", "}", "};", ")", "]", "end"):
            continue
        opened = _depth(line)
        if opened > 0:  # a bracket left open at the end of the line: its body up to the close
            depth, j = opened, i + 1
            while j < len(lines) and depth > 0:
                depth += _depth(lines[j])
                j += 1
            close = j - 1 if depth <= 0 else len(lines)  # the line that closes it
            if close > i + 1:
                spans.append(Span(at(i + 1), at(close), "block"))
            if depth <= 0:
                spans.append(Span(at(i), at(close + 1), "block"))
            continue
        if text.endswith(":"):  # an indented block (Python fragments and the like)
            j = i
            while j + 1 < len(lines) and (not lines[j + 1].strip() or _indent(lines[j + 1]) > _indent(line)):
                j += 1
            while j > i and not lines[j].strip():
                j -= 1
            if j > i:
                spans.append(Span(at(i + 1), at(j + 1), "block"))
            continue
        spans.append(Span(at(i), at(i) + len(line), "statement"))
        m = _ASSIGN_OR_RETURN.match(line.rstrip("\n"))
        if m and len(m.group("expr")) >= MIN_MIDDLE_CHARS:
            expr_start = at(i) + m.start("expr")
            spans.append(Span(expr_start, expr_start + len(m.group("expr")), "expression"))
    return spans


_KIND_WEIGHTS = (("statement", 0.4), ("block", 0.3), ("expression", 0.3))


_WORD = re.compile(r"\w")


def _usable(code: str, span: Span) -> bool:
    middle = code[span.start:span.end]
    if len("".join(middle.split())) < MIN_MIDDLE_CHARS or not _WORD.search(middle):
        return False
    if span.end - span.start > MAX_MIDDLE_SHARE * len(code):
        return False
    return bool(code[:span.start].strip() or code[span.end:].strip())


def choose_span(code: str, language: str, key: str, seed: int | str) -> FimSplit | None:
    """A syntax-boundary span picked deterministically from (seed, key); None if none is usable.
    The kind is drawn by weight (the others are tried next if it has no usable span), then the
    spans of that kind are tried from a drawn position on until one is usable."""
    parsed = None
    if language == "python":
        parsed = PythonSpans.parse(code)
        if parsed is None and (dedented := textwrap.dedent(code)) != code:
            parsed = PythonSpans.parse(dedented)
        code = parsed.code if parsed is not None else code
    found: dict[str, list[Span]] = {} if parsed is not None else _by_kind(fallback_spans(code))
    draw, total, acc = unit(seed, key, "fim-kind"), sum(w for _, w in _KIND_WEIGHTS), 0.0
    drawn = _KIND_WEIGHTS[-1][0]
    for k, w in _KIND_WEIGHTS:
        acc += w
        if draw * total < acc:
            drawn = k
            break
    for kind in [drawn, *(k for k, _ in _KIND_WEIGHTS if k != drawn)]:
        if parsed is not None and kind not in found:  # computed on first need
            if kind == "expression":
                found["expression"] = _by_kind(parsed.expression_spans()).get("expression", [])
            else:
                got = _by_kind(parsed.statement_spans())
                found["statement"], found["block"] = got.get("statement", []), got.get("block", [])
        of_kind = found.get(kind, [])
        first = int(unit(seed, key, "fim-span") * len(of_kind)) if of_kind else 0
        for i in range(len(of_kind)):
            span = of_kind[(first + i) % len(of_kind)]
            if _usable(code, span):
                return FimSplit(code[:span.start], code[span.start:span.end], code[span.end:], span.kind)
    return None


def _by_kind(spans: list[Span]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for span in sorted(set(spans), key=lambda s: (s.start, s.end, s.kind)):
        out.setdefault(span.kind, []).append(span)
    return out
