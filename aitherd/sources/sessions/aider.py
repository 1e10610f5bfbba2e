"""Aider chat histories (`.aider.chat.history.md` at a repo's root), read incrementally by the
layout aider writes (aider/io.py):

- each launch appends `# aider chat started at YYYY-MM-DD HH:MM:SS`;
- a user input is a blank line, then one `#### LINE` per line, each ending with two spaces (a
  Markdown hard break);
- tool output is `> TEXT` plus the two spaces; a multi-line message gets `> ` on its first line
  only, the two spaces on its last;
- the assistant's answer is its Markdown as is: headings (`#### If you use npm:`, no trailing
  spaces), fences, SEARCH/REPLACE blocks (`>>>>>>> REPLACE` starts with `>` but is content).

So a `#### ` line is a user line when it ends with the two spaces. A history whose trailing
spaces were stripped (an editor, a pre-commit hook) is read by position instead: a `#### ` line
right after assistant text, or opening an answer, is a heading. Inside a fence nothing is a
turn marker.

Aider's own commands (`/add`, `/run`, `!cmd`) are not requests (`/ask Q` logs Q again as its own
input, which is), nor are answers to aider's questions that it logs as input (`Add file to the
chat? (Y)es/(N)o/... [Yes]: all`). In architect mode the plan is handed to the editor model as a new input
(after `Edit the files? ... y`, or equal to the plan): that is part of the same turn. When aider
answers an edit with "The LLM did not conform to the edit format" it sends the error back and
the model retries: the failed attempt and the error text are dropped, the retry kept. Reasoning
(`<think>`, aider's `<thinking-content-...>`) goes to the example's reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitherd.sources.items import Checkpoint, Item, Skip
from aitherd.sources.sessions.common import CODE, make, settled, split_reasoning
from aitherd.sources.tail import Lines

_HEADER = "# aider chat started at"
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_WS = re.compile(r"\s+")
_RETRY = "The LLM did not conform to the edit format"
# An answer to one of aider's questions, which aider logs as input when a group's choice applies
# ("Add file to the chat? (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [Yes]: all").
_ANSWER = re.compile(r"\? \(Y\)es/\(N\)o\b[^\n]*\]: *\S*$")
# Tail modes: what ends a tool message's unprefixed lines.
_RAW_TAIL, _BLOCK_TAIL, _ERROR_TAIL = 1, 2, 3


@dataclass
class _Turn:
    request: str
    line: int
    parts: list[list[str]] = field(default_factory=list)  # answers, split by tool output
    open: bool = False


class AiderReader:
    def __init__(self, path: Path, lines: Lines) -> None:
        self.path, self.lines = path, lines
        self.raw: bool | None = None  # lines keep aider's two trailing spaces
        self.fence: str | None = None
        self.tail = 0
        self.tail_body = self.end_pending = False
        self.block: list[str] | None = None  # the user lines being read
        self.block_at = (0, 0)  # the position before the block
        self.block_line = 0
        self.prev = "start"  # the last non-blank line: start, user, tool or text
        self.blank = True
        self.after_command = False
        self.editor_next = False
        self.turn: _Turn | None = None

    def line(self, text: str, no: int, at: tuple[int, int]) -> list[Item] | None:
        """Read one line (`at` is the position before it); what it completes, if anything."""
        c = text[:1]
        if c == "#" and text.startswith(_HEADER):
            out = self._close_block() if self.block is not None else []
            out += self._finish()
            out.append(Checkpoint(self.lines.mark(*at)))
            self.fence, self.tail, self.prev, self.editor_next, self.blank = None, 0, "start", False, True
            return out
        if self.tail and self._in_tail(text):
            return None
        if self.fence is not None:
            if not (c in "#>" and self._breaks_fence(text)):
                if (c == "`" or c == "~" or (c == " " and text.lstrip()[:1] in "`~")) and _closes(text, self.fence):
                    self.fence = None
                if self.turn is not None:
                    self._add(text)
                self.blank = False
                return None
            self.fence = None
        if c == "#" and self._is_user(text):
            if self.block is None:
                self.block, self.block_at, self.block_line = [], at, no
            self.block.append(text[5:].rstrip())
            self.prev, self.blank = "user", False
            return None
        done = self._close_block() if self.block is not None else None
        if c == ">" and (len(text) == 1 or text[1] == " "):
            self._tool(text)
        elif not text.strip():
            if self.turn is not None:
                self._add(text)
            self.blank = True
        else:
            if self.turn is not None:
                self._add(text)
            if c in "`~ " and (m := _FENCE.match(text)):
                self.fence = m.group(1)
            self.prev, self.blank = "text", False
        return done

    def end(self, at: tuple[int, int], quiet: bool) -> list[Item]:
        """At the end of the file: finish the last turn if the session is over."""
        if quiet:
            out = self._close_block() if self.block is not None else []
            return [*out, *self._finish(), Checkpoint(self.lines.mark(*at))]
        if self.turn is None and self.block is None:
            return [Checkpoint(self.lines.mark(*at))]
        return []

    def _is_user(self, text: str) -> bool:
        if not (text.startswith("#### ") or text.rstrip() == "####"):
            return False
        if self.raw is None:
            self.raw = text.endswith("  ")
        if self.raw:
            return text.endswith("  ")
        if self.block is not None:
            return True
        # Stripped history: after assistant text, or right after a request, it is a heading.
        return self.prev != "text" and (self.prev != "user" or self.after_command)

    def _breaks_fence(self, text: str) -> bool:
        """An unclosed fence (a cut-off answer) ends at aider's own lines."""
        return bool(self.raw) and text.endswith("  ") and (
            (text.startswith("#### ") and self.blank) or text.startswith(("> Tokens: ", "> Applied edit to ")))

    def _in_tail(self, text: str) -> bool:
        """True when the line belongs to the tool message being skipped."""
        if self.tail == _RAW_TAIL:
            if text.startswith("#### ") and text.endswith("  "):
                self.tail = 0
                return False
            if text.endswith("  "):
                self.tail = 0
            return True
        if self.tail == _BLOCK_TAIL:
            if not text.strip() or text.startswith(("#### ", ">")):
                self.tail = 0
                return False
            return True
        # The error aider sends back after a malformed edit, trailing spaces stripped: it ends
        # with one of these lines of aider's (editblock_coder.py), or at the next tool line.
        stripped = text.strip()
        if text.startswith(">") and self.tail_body and not text.startswith(">>>"):
            self.tail = 0
            return False
        if self.end_pending and stripped:
            self.end_pending = False
            if not stripped.startswith("# The other "):
                self.tail = 0
                return False
        if stripped.startswith(("^^^ ", "Just reply with fixed versions of the")):
            self.tail = 0
        elif stripped.startswith("The SEARCH section must exactly match"):
            self.end_pending = True
        if stripped and not text.startswith(">"):
            self.tail_body = True
        return True

    def _tool(self, text: str) -> None:
        if self.raw is None:
            self.raw = text.endswith("  ")
        body = text[1:].strip()
        if self.turn is not None:
            self.turn.open = False
        self.prev, self.blank = "tool", False
        if body.startswith(_RETRY):
            if self.turn is not None and self.turn.parts:
                self.turn.parts.pop()  # the attempt aider rejected
            if not self.raw:
                self.tail, self.tail_body, self.end_pending = _ERROR_TAIL, False, False
            return
        self.editor_next = body.startswith("Edit the files?") and body.endswith((": y", ": a"))
        if not self.raw:
            self.tail = _BLOCK_TAIL
        elif not text.endswith("  "):
            self.tail = _RAW_TAIL

    def _add(self, text: str) -> None:
        turn = self.turn
        assert turn is not None
        if not turn.open:
            if not text.strip():
                return
            turn.parts.append([])
            turn.open = True
        turn.parts[-1].append(text)

    def _close_block(self) -> list[Item]:
        lines, self.block = self.block or [], None
        text = "\n".join(lines).strip()
        if len(lines) == 1 and _ANSWER.search(text):
            return []  # an answer to aider's question: the turn in hand goes on
        if self.turn is not None and (self.editor_next or self._echoes(text)):
            self.editor_next = False
            return []  # the architect's plan handed to the editor: the same turn goes on
        self.editor_next = False
        out = self._finish()
        out.append(Checkpoint(self.lines.mark(*self.block_at)))
        self.after_command = not text or text == "<blank>" or text.startswith(("/", "!"))
        if not self.after_command:
            self.turn = _Turn(text, self.block_line)
        return out

    def _echoes(self, text: str) -> bool:
        parts = self.turn.parts if self.turn is not None else []
        if not parts or not text:
            return False
        _, last = split_reasoning("\n".join(parts[-1]).strip())
        return _WS.sub(" ", last).strip() == _WS.sub(" ", text).strip()

    def _finish(self) -> list[Item]:
        turn, self.turn = self.turn, None
        if turn is None:
            return []
        thoughts, texts = [], []
        for part in turn.parts:
            thought, answer = split_reasoning("\n".join(part).strip())
            if thought:
                thoughts.append(thought)
            if answer:
                texts.append(answer)
        answer = "\n\n".join(texts)
        if not answer or not CODE.search(answer):
            return [Skip("no_code")]
        return list(make("aider", self.path, f"{self.path}:{turn.line}", {"line": turn.line},
                         [{"role": "user", "content": turn.request},
                          {"role": "assistant", "content": answer}], "\n\n".join(thoughts) or None))


def _closes(text: str, fence: str) -> bool:
    s = text.strip()
    return len(s) >= len(fence) and s == fence[0] * len(s)


def harvest_aider(path: Path, mark: dict[str, Any] | None, settle: float = 600) -> Iterator[Item]:
    """Turns of an aider chat history, from the mark on; the last waits until the file is quiet."""
    lines = Lines(path, mark)
    reader = AiderReader(path, lines)
    at = (lines.line, lines.offset)
    read = reader.line
    for line_no, raw, offset in lines:
        if out := read(raw.decode("utf-8", "replace").rstrip("\r"), line_no, at):
            yield from out
        at = (line_no, offset)
    yield from reader.end(at, settled(path, settle))
