"""The near-duplicate view of an example's text: comments dropped, bound names numbered.

A renamed copy of code is the same code (alpha-equivalence): the names the text *binds* --
functions, classes, parameters, assigned variables, loop and `as` targets -- become `v0`, `v1`,
... in order of first appearance, everywhere they occur (a prose mention of a renamed function
included). Free names (library calls, attributes after a dot, keywords) stay, so two different
functions that share a name or a shape but call different things stay apart. Comment lines and
inline comments are dropped, so one added comment does not change the copy. Whitespace never
counted (shingles are words), so reflowed code is the same too.

Regular expressions only, language-agnostic enough for Python, JavaScript/TypeScript, Go and
C-like code; prose is left as it is (a sentence binds nothing).
"""

from __future__ import annotations

import re

# Comments: a `#` at a line start or after two spaces (PEP 8 inline comments; not "issue #12"),
# a `//` at a line start or after whitespace (not a URL's `://`).
_COMMENT = re.compile(r"(?m)(?:^[ \t]*|[ \t]{2,})(?:#(?![!{])|//)[^\n]*$")
_IDENT = r"[A-Za-z_]\w*"
_LIST = rf"{_IDENT}(?:\s*,\s*{_IDENT})*"
_BINDERS = re.compile("|".join([
    rf"\b(?:def|function|func|fn)\s+(?P<f>{_IDENT})\s*(?:<[^>\n]*>)?\((?P<params>[^)\n]*(?:\n[^)\n]*){{0,8}})\)",
    rf"\bclass\s+(?P<c>{_IDENT})",
    rf"^[ \t]*(?P<a>{_LIST})\s*(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=)",
    rf"\bfor\s+\(?(?P<for>{_LIST})\)?\s+(?:in|of)\b",
    rf"\bas\s+(?P<as>{_IDENT})\s*[:,)\n]",
    rf"\blambda\s+(?P<lam>[^:\n]*):",
    rf"\b(?:let|const|var)\s+(?P<let>{_IDENT})\s*(?:=|:|;|,|\bin\b|\bof\b)",
    rf"(?P<go>{_LIST})\s*:=",
]), re.MULTILINE)
_PARAM = re.compile(rf"(?:^|,)\s*(?:\*{{0,2}}|\.\.\.|&|mut\s+)?({_IDENT})")
_NAME = re.compile(rf"(?<![\w.$]){_IDENT}")
_FREE = frozenset({
    "self", "cls", "this", "super", "None", "True", "False", "null", "undefined", "nil", "true", "false",
    "int", "str", "float", "bool", "bytes", "list", "dict", "set", "tuple", "object", "type", "len", "range",
    "print", "return", "if", "else", "in", "not", "and", "or", "is", "for", "while", "def", "class", "import",
    "from", "as", "with", "yield", "lambda", "pass", "_",
})


def bound_names(text: str) -> dict[str, str]:
    """Names the text binds -> `v0`, `v1`, ... by first binding."""
    found: dict[str, str] = {}

    def add(name: str) -> None:
        if name not in found and name not in _FREE and not name.isupper():
            found[name] = f"v{len(found)}"

    for m in _BINDERS.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group(kind)
        if kind == "params":
            add(m.group("f"))
            for p in _PARAM.finditer(re.sub(r"[:=][^,]*", "", value)):
                add(p.group(1))
        elif kind in ("f", "c", "as", "let"):
            add(value)
        else:
            for name in re.findall(_IDENT, value):
                add(name)
    return found


def canonical(text: str) -> str:
    """`text` with comments dropped and bound names numbered (see the module docstring)."""
    if "\n" in text or "=" in text or "def " in text:
        text = _COMMENT.sub("", text)
    names = bound_names(text)
    if not names:
        return text
    return _NAME.sub(lambda m: names.get(m.group(), m.group()), text)
