"""Docstrings as prose: reST markup (field lists, roles, literals, directives, literal blocks,
section underlines) rendered as plain Markdown-ish text for "explain this code" answers, and a
test for docstrings that say no more than the function's name.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:py:)?(\w+):`([^`]+)`")
_CODE_ROLES = {"class", "func", "meth", "attr", "mod", "data", "exc", "obj", "const", "attribute",
               "function", "method", "module", "exception", "envvar", "option", "file", "samp", "kbd", "code"}
_LITERAL = re.compile(r"``(.+?)``")
_LINK = re.compile(r"`([^`<]+?)\s*<([^>]+)>`__?")
_REF = re.compile(r"`([^`]+)`_\b|\s?\[[\w#*]+\]_")
_FIELD = re.compile(r"^:(param|parameter|arg|argument|key|keyword|type|returns?|rtype|raises?|except|exception|"
                    r"var|ivar|cvar|vartype|yields?|ytype)(?:\s+([^:]+?))?\s*:\s*(.*)$")
_DIRECTIVE = re.compile(r"^\.\.\s+([\w-]+)::\s*(.*)$")
_UNDERLINE = re.compile(r"^\s*([-=~^*+#\"'`])\1{2,}\s*$")
_ADMONITIONS = {"note": "Note", "warning": "Warning", "tip": "Tip", "important": "Important",
                "caution": "Caution", "attention": "Attention", "danger": "Danger", "hint": "Hint",
                "seealso": "See also", "todo": "To do"}
_VERSIONS = {"versionadded": "New in version {}.", "versionchanged": "Changed in version {}.",
             "deprecated": "Deprecated since version {}."}
_CODE_DIRECTIVES = {"code-block", "code", "sourcecode", "doctest", "testcode"}
_STOP = {"a", "an", "the", "of", "to", "in", "on", "for", "and", "or", "is", "are", "be", "by", "with", "from",
         "this", "that", "it", "its", "as", "at", "into", "get", "gets", "set", "sets", "return", "returns",
         "returned", "given", "if", "not", "no"}


def _role(m: re.Match[str]) -> str:
    role, text = m.group(1), m.group(2)
    label = re.match(r"^(.*?)\s*<[^>]+>$", text)
    text = label.group(1) if label else text.lstrip("~!").lstrip(".")
    if label is None and role in _CODE_ROLES and m.group(2).startswith("~"):
        text = text.rsplit(".", 1)[-1]
    return f"`{text}`" if role in _CODE_ROLES else text


def inline(text: str) -> str:
    """Roles, literals and links of one line as Markdown."""
    text = _ROLE.sub(_role, text)
    text = _LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    text = _REF.sub(lambda m: m.group(1) or "", text)
    return _LITERAL.sub(lambda m: f"`{m.group(1)}`", text)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _block(lines: list[str], i: int, base: int) -> tuple[list[str], int]:
    """The lines indented deeper than `base` from i on (blank lines inside kept), dedented."""
    out: list[str] = []
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        out.append(lines[i])
        i += 1
    while out and not out[-1].strip():
        out.pop()
        i -= 1
    while out and not out[0].strip():
        out.pop(0)
    depth = min((_indent(ln) for ln in out if ln.strip()), default=0)
    return [ln[depth:] for ln in out], i


def render(doc: str) -> str:
    """The docstring as prose: fields become Parameters/Returns/Raises lists, roles and literals
    become `code`, directives become labelled paragraphs, literal blocks become fenced code."""
    lines = doc.expandtabs(4).splitlines()
    prose: list[str] = []
    params: dict[str, dict[str, str]] = {}
    returns: dict[str, str] = {}
    raises: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        base = _indent(line)
        if (f := _FIELD.match(s)) is not None:
            kind, arg, desc = f.group(1), (f.group(2) or "").strip(), f.group(3)
            more, i = _block(lines, i + 1, base)
            desc = inline(" ".join([desc, *(m.strip() for m in more)]).strip())
            if kind in ("type", "vartype"):
                params.setdefault(arg, {})["type"] = desc
            elif kind in ("returns", "return", "yields", "yield"):
                returns["desc"] = desc
            elif kind in ("rtype", "ytype"):
                returns["type"] = desc
            elif kind in ("raises", "raise", "except", "exception"):
                raises.append((arg, desc))
            else:
                *typ, name = arg.split() if arg else [""]
                entry = params.setdefault(name, {})
                entry["desc"] = desc
                if typ:
                    entry["type"] = " ".join(typ)
            continue
        if (d := _DIRECTIVE.match(s)) is not None:
            name, arg = d.group(1), d.group(2).strip()
            body, i = _block(lines, i + 1, base)
            body = [ln for ln in body if not ln.lstrip().startswith(":")]  # directive options
            if name in _CODE_DIRECTIVES:
                prose += ["", f"```{arg or ('pycon' if name == 'doctest' else '')}", *body, "```", ""]
            elif name in _ADMONITIONS:
                prose += ["", f"{_ADMONITIONS[name]}: " + inline(" ".join([arg, *body]).strip()), ""]
            elif name in _VERSIONS:
                prose += ["", _VERSIONS[name].format(arg) + (" " + inline(" ".join(body)) if body else ""), ""]
            elif body:
                prose += ["", *(inline(b) for b in body), ""]
            continue
        if i + 1 < len(lines) and s and _UNDERLINE.match(lines[i + 1]) and not _UNDERLINE.match(line):
            prose.append(f"{inline(s)}:")  # a section title (NumPy style)
            i += 2
            continue
        if s.startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i].strip())
                i += 1
            prose += ["```pycon", *block, "```"]
            continue
        if s.endswith("::") and i + 1 < len(lines):
            head = s[:-2].rstrip()
            body, i = _block(lines, i + 1, base)
            if head:
                prose.append(inline(head) + ("" if s.endswith(" ::") else ":"))
            if body:
                prose += ["```", *body, "```"]
            continue
        prose.append(inline(line.rstrip()))
        i += 1
    out = "\n".join(prose).strip()
    out = re.sub(r"\n{3,}", "\n\n", out)
    parts = [out] if out else []
    if params:
        items = []
        for name, p in params.items():
            typ = f" ({p['type']})" if p.get("type") else ""
            items.append(f"- `{name}`{typ}: {p.get('desc', '')}".rstrip(": ") if name else f"- {p.get('desc', '')}")
        parts.append("Parameters:\n" + "\n".join(items))
    if returns:
        typ = returns.get("type")
        desc = returns.get("desc", "")
        parts.append("Returns: " + (f"{desc} ({typ})" if desc and typ else desc or typ or ""))
    if raises:
        parts.append("Raises:\n" + "\n".join(f"- `{exc}`: {desc}" if desc else f"- `{exc}`" for exc, desc in raises))
    return "\n\n".join(parts)


def _words(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[A-Za-z]+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text)):
        w = w.lower()
        for suffix in ("ing", "es", "ed", "s"):
            if len(w) > len(suffix) + 2 and w.endswith(suffix):
                w = w[: -len(suffix)]
                break
        if w not in _STOP and len(w) > 1:
            out.add(w)
    return out


def says_less_than_name(name: str, doc: str) -> bool:
    """True when the docstring adds fewer than two words to what the name already says
    (`get_user_name`: "Return the user name.")."""
    return len(_words(doc) - _words(name)) < 2
