"""What every session format shares: a turn, how it becomes a candidate, edits as SEARCH/REPLACE
blocks, reasoning kept apart from the answer, text repaired of lone surrogates, and the error a
record of the wrong shape raises.

A turn is a user request and the assistant's final answer to it: its last text plus the edits
that did not fail. A turn is kept only when that answer has code or edits (`Skip("no_code")`
otherwise); an interrupted turn is `Skip("interrupted")`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitherd import errors
from aitherd.candidate import Candidate
from aitherd.sources.items import BadInput, Item, Skip

CODE = re.compile(r"```|<<<<<<< SEARCH|\*\*\* Begin Patch|^(def|class|function|fn|func|import|from) ", re.MULTILINE)
_CATEGORY = (("debugging", re.compile(r"\b(fix|bug|error|exception|traceback|fails?|failing|broken|crash|"
                                      r"off by one|wrong|incorrect|not working|doesn'?t work)", re.I)),
             ("test_generation", re.compile(r"\b(unit ?tests?|write tests?|add tests?|pytest|test cases?)\b",
                                            re.I)),
             ("review", re.compile(r"\b(review|critique|what'?s wrong with|code smell)\b", re.I)),
             ("editing", re.compile(r"\b(refactor|rename|change|update|modify|edit|replace|move|convert)\b",
                                    re.I)))
# Lone UTF-16 halves: json.loads pairs a valid "\ud83d\ude00", so any left in a str are lone, and
# encoding them to UTF-8 later raises.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Reasoning inline in an answer: <think> (DeepSeek-R1 and other local models), aider's
# <thinking-content-HEX> (aider/reasoning_tags.py), <thinking>, <reasoning>.
_TAGS = r"think|thinking|reasoning|thinking-content-[0-9a-f]+"
_OPEN = re.compile(rf"<({_TAGS})>")
_REASONING_END = re.compile(rf"</(?:{_TAGS})>\s*")
_OPENING = re.compile(rf"^\s*<(?:{_TAGS})>\s*")

_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list",
          dict: "an object", type(None): "null"}


class Malformed(errors.InputError):
    """A record whose fields are not of the types its format has: counted, the record skipped."""


def kind(value: Any) -> str:
    return _NAMES.get(type(value), type(value).__name__)


def want_str(value: Any, what: str) -> str:
    if isinstance(value, str):
        return value
    raise Malformed(f"{what} is {kind(value)}, not a string")


def want_dict(value: Any, what: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise Malformed(f"{what} is {kind(value)}, not an object")


def category_of(request: str) -> str:
    for name, pattern in _CATEGORY:
        if pattern.search(request):
            return name
    return "instruction"


def split_reasoning(text: str) -> tuple[str | None, str]:
    """(reasoning, answer): think blocks out of the answer. A closing tag without its opening
    (the opening was cut off) makes everything before it reasoning, as aider does."""
    if "</" not in text:
        return None, text
    parts: list[str] = []
    kept: list[str] = []
    pos = 0
    while m := _OPEN.search(text, pos):
        close = f"</{m.group(1)}>"
        end = text.find(close, m.end())
        if end < 0:
            break
        kept.append(text[pos:m.start()])
        parts.append(text[m.end():end].strip())
        pos = end + len(close)
    rest = "".join(kept) + text[pos:] if kept else text
    if m := _REASONING_END.search(rest):
        parts.append(_OPENING.sub("", rest[:m.start()]).strip())
        rest = rest[m.end():]
    return "\n\n".join(p for p in parts if p) or None, rest.strip()


def repair(text: str) -> tuple[str, int]:
    """Lone surrogates replaced with U+FFFD, and how many there were."""
    if text.isascii() or not _SURROGATE.search(text):
        return text, 0
    return _SURROGATE.subn("\ufffd", text)


def settled(path: Path, settle: float) -> bool:
    """No write for `settle` seconds: the session is over, so its last turn is final."""
    try:
        return time.time() - path.stat().st_mtime >= settle
    except OSError:
        return False


def edit_block(name: str, args: dict[str, Any]) -> str | None:
    """A file edit a tool made, as a SEARCH/REPLACE block (or the new file in a fence)."""
    path = args.get("file_path") or args.get("path") or args.get("filepath") or ""
    path = want_str(path, f"file path of {name} input")
    for old_key, new_key in (("old_string", "new_string"), ("old_str", "new_str")):
        if old_key in args or new_key in args:
            old = want_str(args.get(old_key, ""), f"{old_key} of {name} input")
            new = want_str(args.get(new_key, ""), f"{new_key} of {name} input")
            return f"{path}\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE"
    if "edits" in args:
        edits = args["edits"]
        if not isinstance(edits, list):
            raise Malformed(f"edits of {name} input is {kind(edits)}, not a list")
        blocks = (edit_block(name, {"file_path": path, **want_dict(e, f"an edit of {name} input")}) for e in edits)
        return "\n".join(b for b in blocks if b) or None
    for key in ("content", "contents", "file_text", "changes"):
        if key in args:
            return f"{path}\n```\n{want_str(args[key], f'{key} of {name} input')}\n```"
    return None


def make(fmt: str, path: Path, where: str, place: dict[str, Any], messages: list[dict[str, str]],
         reasoning: str | None = None) -> Iterator[Item]:
    """The candidate for a finished conversation, its text repaired (and the repair counted)."""
    fixed = 0
    for m in messages:
        m["content"], n = repair(m["content"])
        fixed += n
    if reasoning:
        reasoning, n = repair(reasoning)
        fixed += n
    if fixed:
        yield BadInput(where, f"lone surrogate: {fixed} code unit{'s' if fixed > 1 else ''} replaced with U+FFFD")
    first = next((m["content"] for m in messages if m["role"] == "user"), "")
    yield Candidate("coder", category_of(first), messages, source="session",
                    provenance={"format": fmt, "file": str(path), **place}, reasoning=reasoning or None)


@dataclass
class Turn:
    """A request and what the assistant did about it, as it is read."""

    request: str
    line: int
    parent: str | None = None  # Claude Code: the request's parentUuid
    texts: list[str] = field(default_factory=list)
    edits: dict[Any, str] = field(default_factory=dict)  # tool call id -> edit block, in order
    reasoning: str | None = None
    interrupted: bool = False

    def finish(self, fmt: str, path: Path, where: str | None = None,
               place: dict[str, Any] | None = None) -> Iterator[Item]:
        if self.interrupted:
            yield Skip("interrupted")
            return
        reasoning, text = split_reasoning(self.texts[-1].strip()) if self.texts else (None, "")
        answer = "\n\n".join(x for x in (text, *self.edits.values()) if x)
        if not answer or not CODE.search(answer):
            yield Skip("no_code")
            return
        yield from make(fmt, path, where or f"{path}:{self.line}", place or {"line": self.line},
                        [{"role": "user", "content": self.request.strip()},
                         {"role": "assistant", "content": answer}], reasoning or self.reasoning)
