"""Coding turns from AI session logs: Claude Code and Codex CLI session JSONL, OpenAI `messages`
JSONL, and Aider chat history Markdown; read incrementally.

A turn is a user request and the assistant's final answer to it (tool calls and their output
are dropped, file edits the assistant made are kept as SEARCH/REPLACE blocks). Only turns with
code or edits are kept. A turn is emitted once the next user request shows it is over; the
watermark stays at the start of the unfinished turn, so the next run reads it whole.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aitherd.candidate import Candidate
from aitherd.sources.items import BadInput, Checkpoint, Item, Skip
from aitherd.sources.tail import read_lines

_CODE = re.compile(r"```|<<<<<<< SEARCH|^(def|class|function|fn|func|import|from) ", re.MULTILINE)
_CATEGORY = (("debugging", re.compile(r"\b(fix|bug|error|exception|traceback|fails?|failing|broken|crash|"
                                      r"off by one|wrong|incorrect|not working|doesn'?t work)", re.I)),
             ("test_generation", re.compile(r"\b(unit ?tests?|write tests?|add tests?|pytest|test cases?)\b",
                                            re.I)),
             ("review", re.compile(r"\b(review|critique|what'?s wrong with|code smell)\b", re.I)),
             ("editing", re.compile(r"\b(refactor|rename|change|update|modify|edit|replace|move|convert)\b",
                                    re.I)))
_EDIT_TOOLS = {"Edit", "MultiEdit", "Write", "str_replace_based_edit_tool", "apply_patch"}


def category_of(request: str) -> str:
    for name, pattern in _CATEGORY:
        if pattern.search(request):
            return name
    return "instruction"


@dataclass
class Turn:
    request: str
    answer_parts: list[str] = field(default_factory=list)
    edits: list[str] = field(default_factory=list)
    start: dict[str, Any] = field(default_factory=dict)  # mark before the turn's first line
    line: int = 0
    parent: str | None = None  # Claude Code: the parentUuid of the request

    def candidate(self, fmt: str, path: Path) -> Candidate | None:
        answer = self.answer_parts[-1].strip() if self.answer_parts else ""
        if self.edits:
            answer = (answer + "\n\n" if answer else "") + "\n\n".join(self.edits)
        if not answer or not _CODE.search(answer):
            return None
        return Candidate("coder", category_of(self.request),
                         [{"role": "user", "content": self.request.strip()},
                          {"role": "assistant", "content": answer}],
                         source="session", provenance={"format": fmt, "file": str(path), "line": self.line})


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def _edit_block(name: str, args: dict[str, Any]) -> str | None:
    path = args.get("file_path") or args.get("path") or ""
    if "old_string" in args and "new_string" in args:
        return f"{path}\n<<<<<<< SEARCH\n{args['old_string']}\n=======\n{args['new_string']}\n>>>>>>> REPLACE"
    if "edits" in args:
        return "\n".join(filter(None, (_edit_block(name, {"file_path": path, **e}) for e in args["edits"])))
    if "content" in args:
        return f"{path}\n```\n{args['content']}\n```"
    if isinstance(args.get("input"), str) and "*** Begin Patch" in args["input"]:
        return f"```diff\n{args['input']}\n```"
    return None


def _claude(record: dict[str, Any]) -> tuple[str, Any] | None:
    """('user', text) | ('assistant', (texts, edits)) | None for noise."""
    if record.get("isSidechain") or record.get("type") not in ("user", "assistant"):
        return None
    blocks = _blocks((record.get("message") or {}).get("content"))
    if record["type"] == "user":
        text = "\n".join(b.get("text", "") for b in blocks if b.get("type") == "text").strip()
        if not text or text.startswith("<command-") or text.startswith("Caveat:"):
            return None  # tool results, slash-command echoes
        return "user", text
    texts = [b.get("text", "") for b in blocks if b.get("type") == "text" and b.get("text")]
    edits = [e for b in blocks if b.get("type") == "tool_use" and b.get("name") in _EDIT_TOOLS
             if (e := _edit_block(b["name"], b.get("input") or {}))]
    return "assistant", (texts, edits)


def _codex(record: dict[str, Any]) -> tuple[str, Any] | None:
    if record.get("type") != "response_item":
        return None
    p = record.get("payload") or {}
    if p.get("type") == "message":
        texts = [c.get("text", "") for c in p.get("content") or []
                 if c.get("type") in ("input_text", "output_text") and c.get("text")]
        if p.get("role") == "user":
            text = "\n".join(t for t in texts if not t.lstrip().startswith("<")).strip()
            return ("user", text) if text else None
        if p.get("role") == "assistant":
            return "assistant", (texts, [])
    if p.get("type") in ("function_call", "custom_tool_call"):
        try:
            args = json.loads(p.get("arguments") or "{}") if p.get("type") == "function_call" \
                else {"input": p.get("input")}
        except ValueError:
            return None
        if isinstance(args, dict) and isinstance(args.get("command"), list):
            args = {"input": " ".join(map(str, args["command"]))}
        edit = _edit_block(p.get("name", ""), args) if isinstance(args, dict) else None
        return ("assistant", ([], [edit])) if edit else None
    return None


def _settled(path: Path, settle: float) -> bool:
    """No write for `settle` seconds: the session is over, so its last turn is final."""
    try:
        return time.time() - path.stat().st_mtime >= settle
    except OSError:
        return False


def harvest_jsonl(path: Path, fmt: str, mark: dict[str, Any] | None,
                  settle: float = 600) -> Iterator[Item]:
    """Claude Code or Codex session JSONL: (mark, candidate or error) per finished coding turn.
    The last turn is finished by the next request, or by `settle` seconds without a write."""
    parse = _claude if fmt == "claude" else _codex
    turn: Turn | None = None
    before: dict[str, Any] = dict(mark or {})
    for line_no, raw, after in read_lines(path, mark):
        try:
            record = json.loads(raw)
            item = parse(record) if isinstance(record, dict) else None
        except ValueError as err:
            yield BadInput(f"{path}:{line_no}", f"malformed line: {err}")
            if turn is None:
                yield Checkpoint(after)
            before = after
            continue
        if item is not None and item[0] == "user":
            parent = record.get("parentUuid")
            if turn is not None and parent is not None and parent == turn.parent:
                # A request with the same parent as the pending one: the user edited or retried
                # it, so the pending turn is an abandoned branch, not an accepted answer.
                yield Skip("abandoned_branch")
                yield Checkpoint(before)
            elif turn is not None and (cand := turn.candidate(fmt, path)) is not None:
                # The previous turn is over: once stored, reading may resume where this starts.
                yield cand
                yield Checkpoint(before)
            turn = Turn(request=item[1], start=before, line=line_no, parent=parent)
        elif item is not None and turn is not None:
            texts, edits = item[1]
            turn.answer_parts.extend(texts)
            turn.edits.extend(edits)
        before = after
    # The last turn may still be going on: leave it (and the mark) for the next read, unless
    # the file has been quiet long enough for the session to be over.
    if turn is not None and _settled(path, settle) and (cand := turn.candidate(fmt, path)) is not None:
        yield cand
        yield Checkpoint(before)


def harvest_openai(path: Path, mark: dict[str, Any] | None) -> Iterator[Item]:
    """OpenAI chat JSONL: one conversation per line, kept when an assistant turn has code."""
    for line_no, raw, after in read_lines(path, mark):
        try:
            messages = json.loads(raw)["messages"]
            kept = [{"role": m["role"], "content": m["content"]} for m in messages
                    if m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
                    and m.get("content")]
        except (ValueError, KeyError, TypeError) as err:
            yield BadInput(f"{path}:{line_no}", f"malformed line: {type(err).__name__}: {err}")
            yield Checkpoint(after)
            continue
        while kept and kept[-1]["role"] != "assistant":
            kept.pop()
        if not kept or not any(m["role"] == "assistant" and _CODE.search(m["content"]) for m in kept):
            yield Skip("no_code")
            yield Checkpoint(after)
            continue
        first_user = next((m["content"] for m in kept if m["role"] == "user"), "")
        yield Candidate("coder", category_of(first_user), kept, source="session",
                        provenance={"format": "openai", "file": str(path), "line": line_no})
        yield Checkpoint(after)


def harvest_aider(path: Path, mark: dict[str, Any] | None,
                  settle: float = 600) -> Iterator[Item]:
    """Aider's .aider.chat.history.md: '#### ' lines are the user, '> ' lines tool output."""
    turn: Turn | None = None
    before: dict[str, Any] = dict(mark or {})
    answer: list[str] = []
    for line_no, raw, after in read_lines(path, mark):
        line = raw.decode("utf-8", "replace")
        if line.startswith("#### "):
            if turn is not None and not answer:  # a request spanning several '####' lines
                turn.request += "\n" + line[5:]
            else:
                if turn is not None:
                    turn.answer_parts = ["\n".join(answer)]
                    if (cand := turn.candidate("aider", path)) is not None:
                        yield cand
                        yield Checkpoint(before)
                turn, answer = Turn(request=line[5:], start=before, line=line_no), []
        elif line.startswith("# aider chat started at"):
            if turn is not None and answer:
                turn.answer_parts = ["\n".join(answer)]
                if (cand := turn.candidate("aider", path)) is not None:
                    yield cand
                    yield Checkpoint(before)
            turn, answer = None, []
        elif turn is not None and not line.startswith(">"):
            answer.append(line)
        before = after
    if turn is not None and answer and _settled(path, settle):
        turn.answer_parts = ["\n".join(answer)]
        if (cand := turn.candidate("aider", path)) is not None:
            yield cand
            yield Checkpoint(before)
