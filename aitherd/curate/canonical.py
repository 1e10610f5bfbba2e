"""The near-duplicate view of an example's text: comments dropped, bound names numbered.

A renamed copy of code is the same code (alpha-equivalence): the names the text *binds* --
functions, classes, parameters, assigned variables, loop and `as` targets -- become `v0`, `v1`,
... in the order they are bound, everywhere they occur (a prose mention of a renamed function
included). Free names (library calls, attributes after a dot, keywords) stay, so two different
functions that share a name or a shape but call different things stay apart. Comment lines and
inline comments are dropped, so one added comment does not change the copy. Whitespace never
counted (shingles are words), so reflowed code is the same too.

Regular expressions only, language-agnostic enough for Python, JavaScript/TypeScript, Go and
C-like code; prose is left as it is (a sentence binds nothing).
"""

from __future__ import annotations

import keyword
import re

# Comments: a `#` at a line start, or after a space and followed by one (an inline comment; not
# "issue #12"), a `//` at a line start (inline it may be Python's floor division).
_COMMENT = re.compile(r"(?:#|//)[^\n]*")
_IDENT = r"[A-Za-z_]\w*"
_LIST = rf"{_IDENT}(?:\s*,\s*{_IDENT})*"
_TARGETS = re.compile(rf"\(?\s*{_IDENT}\s*\)?(?:\s*,\s*\(?\s*{_IDENT}\s*\)?)*")  # a, (b, c) = ...
_ANNOTATED = re.compile(rf"({_IDENT})[ \t]*:[^=]*")  # `total: int` before an `=`
# (a word the text must hold, pattern): each pattern starts with a literal where it can, which
# is what makes Python's `re` scan fast; the left word boundary is a lookbehind after it.
_BINDERS = tuple((word, re.compile(pattern)) for word, pattern in (
    ("def", rf"def(?<!\wdef)\s+(?P<f>{_IDENT})\s*\((?P<params>[^)]{{0,2000}})\)"),
    ("function", rf"function(?<!\wfunction)\s+(?P<f>{_IDENT})\s*(?:<[^>\n]*>)?\((?P<params>[^)]{{0,2000}})\)"),
    ("func", rf"func(?<!\wfunc)\s+(?:\([^)\n]*\)\s*)?(?P<f>{_IDENT})\s*\((?P<params>[^)]{{0,2000}})\)"),
    ("fn", rf"fn(?<!\wfn)\s+(?P<f>{_IDENT})\s*(?:<[^>\n]*>)?\((?P<params>[^)]{{0,2000}})\)"),
    ("class", rf"class(?<!\wclass)\s+(?P<c>{_IDENT})"),
    ("=", r"=(?!=)(?P<eq>)"),
    ("for", rf"for(?<!\wfor)\s+\(?(?P<for>{_LIST})\)?\s+(?:in|of)\b"),
    ("as", rf"as(?<!\was)\s+(?P<as>{_IDENT})\s*[:,)\n]"),
    ("lambda", r"lambda(?<!\wlambda)\s+(?P<lam>[^:\n]*):"),
    ("let", rf"let(?<!\wlet)\s+(?:mut\s+)?(?P<let>{_IDENT})\s*(?:=|:|;|,|\bin\b|\bof\b)"),
    ("const", rf"const(?<!\wconst)\s+(?P<let>{_IDENT})\s*(?:=|:|;|,|\bin\b|\bof\b)"),
    ("var", rf"var(?<!\wvar)\s+(?P<let>{_IDENT})\s*(?:=|:|;|,|\bin\b|\bof\b)"),
))
_AS_CONTEXT = re.compile(r"\b(?:with|except|import)\b")
_PARAM = re.compile(rf"(?:^|,)\s*(?:\*{{0,2}}\s*|\.\.\.|&|mut\s+)?({_IDENT})")
_NAME = re.compile(rf"(?<![\w.$]){_IDENT}")
# Never numbered: the receiver, literals and keywords.
_FREE = frozenset({
    *keyword.kwlist, *keyword.softkwlist, "self", "cls", "this", "super", "null", "undefined", "nil", "true",
    "false", "function", "func", "fn", "let", "const", "var", "new", "typeof", "instanceof", "delete", "void",
    "switch", "case", "default", "do", "go", "defer", "chan", "select", "mut", "impl", "struct", "enum", "pub",
})


def bound_names(text: str) -> dict[str, str]:
    """Names the text binds -> `v0`, `v1`, ... by first binding."""
    found: dict[str, str] = {}

    def add(name: str) -> None:
        if name not in found and name not in _FREE and not name.isupper():
            found[name] = f"v{len(found)}"

    hits: list[tuple[int, re.Match[str]]] = []
    for word, pattern in _BINDERS:
        if word in text:
            hits += [(m.start(), m) for m in pattern.finditer(text)]
    hits.sort(key=lambda hit: hit[0])  # numbered in order of first binding
    for _, m in hits:
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        if "params" in groups:
            add(groups["f"])
            for p in _PARAM.finditer(re.sub(r"[:=][^,]*", "", groups["params"])):
                add(p.group(1))
        if "as" in groups and not _AS_CONTEXT.search(text, text.rfind("\n", 0, m.start()) + 1, m.start()):
            continue  # "as usual:" in a sentence
        for kind in ("c", "as", "let"):
            if kind in groups:
                add(groups[kind])
        if "eq" in groups:  # what stands between the line start and `=`, `+=`, `:=`...
            j = m.start()
            while j > 0 and text[j - 1] in "+-*/%&|^@:<>!=":
                j -= 1
            op = text[j:m.start()]
            if op in ("<", ">", "!", "="):  # <=, >=, !=, the end of ==
                continue
            start = text.rfind("\n", 0, j) + 1
            target = text[start:j].strip()
            ann = _ANNOTATED.fullmatch(target) if not op else None
            if ann:
                add(ann.group(1))
            elif _TARGETS.fullmatch(target.removeprefix("let ").removeprefix("var ")):
                for name in re.findall(_IDENT, target):
                    add(name)
            continue
        for kind in ("for", "lam"):
            if kind in groups:
                for name in re.findall(_IDENT, groups[kind]):
                    add(name)
    return found


def _drop_comment(m: re.Match[str]) -> str:
    text, i = m.string, m.start()
    before = text[text.rfind("\n", 0, i) + 1:i]
    if not before.strip():
        return "" if not m.group().startswith(("#!", "#{")) else m.group()
    if m.group().startswith("//"):  # inline, it may be Python's floor division
        return m.group()
    return "" if before[-1:] in " \t" and text[i + 1:i + 2] in " \t:" else m.group()


def canonical(text: str) -> str:
    """`text` with comments dropped and bound names numbered (see the module docstring)."""
    if "#" in text or "//" in text:
        text = _COMMENT.sub(_drop_comment, text)
    names = bound_names(text)
    if not names:
        return text
    return _NAME.sub(lambda m: names.get(m.group(), m.group()), text)
