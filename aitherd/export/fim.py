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
import re
import textwrap
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from aitherd.export.sample import unit

MIN_CODE_LINES = 4
MIN_MIDDLE_CHARS = 3  # non-whitespace characters in a middle
MAX_MIDDLE_SHARE = 0.6  # of the code's characters: the model must see context on some side

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
_FENCE = re.compile(r"^```[ \t]*([^\n`]*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
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
    return EXTENSIONS.get(PurePosixPath(path.replace("\\", "/")).suffix.lower())


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
    language = language_of(ex)
    best: tuple[str, str] | None = None
    for match in _FENCE.finditer(answer):
        label, code = match.group(1), match.group(2)
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
    starts = [0]
    for i, ch in enumerate(code):
        if ch == "\n":
            starts.append(i + 1)
    return starts


def python_spans(code: str) -> list[Span] | None:
    """Statement, block and expression spans of Python code; None when it does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return None
    starts = _line_starts(code)
    lines = code.splitlines(keepends=True)

    def line_start(lineno: int) -> int:
        return starts[lineno - 1]

    def line_end(lineno: int) -> int:
        return starts[lineno] if lineno < len(starts) else len(code)

    def offset(lineno: int, col: int) -> int:  # ast columns are UTF-8 byte offsets
        line = lines[lineno - 1] if lineno - 1 < len(lines) else ""
        return starts[lineno - 1] + len(line.encode()[:col].decode(errors="ignore"))

    def is_elif(node: ast.AST) -> bool:  # an `elif` is an If in orelse: not a span on its own
        return isinstance(node, ast.If) and lines[node.lineno - 1].lstrip().startswith("elif")

    in_fstring = {id(n) for j in ast.walk(tree) if isinstance(j, ast.JoinedStr) for n in ast.walk(j)}
    spans: list[Span] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt) and not is_elif(node):
            first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            compound = any(isinstance(getattr(node, f, None), list) and getattr(node, f)
                           and isinstance(getattr(node, f)[0], ast.stmt) for f in ("body", "orelse"))
            spans.append(Span(line_start(first), line_end(node.end_lineno or node.lineno),
                              "block" if compound else "statement"))
        if isinstance(node, ast.stmt):
            for field in ("body", "orelse", "finalbody"):
                body = getattr(node, field, None)
                if isinstance(body, list) and body and isinstance(body[0], ast.stmt) and not is_elif(body[0]):
                    spans.append(Span(line_start(body[0].lineno),
                                      line_end(body[-1].end_lineno or body[-1].lineno), "block"))
        elif isinstance(node, ast.expr) and id(node) not in in_fstring and not isinstance(
                node, ast.Name | ast.Constant | ast.Starred | ast.Slice):
            if node.end_lineno is None or node.end_col_offset is None:
                continue
            spans.append(Span(offset(node.lineno, node.col_offset),
                              offset(node.end_lineno, node.end_col_offset), "expression"))
    return spans


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


def _usable(code: str, span: Span) -> bool:
    middle = code[span.start:span.end]
    if len(re.sub(r"\s", "", middle)) < MIN_MIDDLE_CHARS or not re.search(r"\w", middle):
        return False
    if span.end - span.start > MAX_MIDDLE_SHARE * len(code):
        return False
    return bool(code[:span.start].strip() or code[span.end:].strip())


def choose_span(code: str, language: str, key: str, seed: int | str) -> FimSplit | None:
    """A syntax-boundary span picked deterministically from (seed, key); None if none is usable."""
    spans = None
    if language == "python":
        spans = python_spans(code)
        if spans is None and (dedented := textwrap.dedent(code)) != code:
            spans = python_spans(dedented)
            code = dedented if spans is not None else code
    if spans is None:
        spans = fallback_spans(code)
    usable = sorted({s for s in spans if _usable(code, s)}, key=lambda s: (s.start, s.end, s.kind))
    if not usable:
        return None
    kinds = [(k, w) for k, w in _KIND_WEIGHTS if any(s.kind == k for s in usable)]
    total = sum(w for _, w in kinds)
    pick, acc, kind = unit(seed, key, "fim-kind") * total, 0.0, kinds[-1][0]
    for k, w in kinds:
        acc += w
        if pick < acc:
            kind = k
            break
    of_kind = [s for s in usable if s.kind == kind]
    span = of_kind[int(unit(seed, key, "fim-span") * len(of_kind))]
    return FimSplit(code[:span.start], code[span.start:span.end], code[span.end:], span.kind)
