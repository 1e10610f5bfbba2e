"""Writing session logs shaped like the real ones, and reading what a session source yields."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from items_util import outputs

from aitherd.candidate import Candidate
from aitherd.sources.items import BadInput


def claude_line(kind: str, content: Any, uuid: str, parent: str | None, **extra: Any) -> str:
    """One Claude Code transcript line (the common fields Claude Code writes on every record)."""
    msg: dict[str, Any] = {"role": kind, "content": content}
    if kind == "assistant":
        msg.update(id=f"msg_{uuid}", model="claude-sonnet-4-5", stop_reason="end_turn", usage={})
    return json.dumps({"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/repo",
                       "sessionId": "s1", "version": "2.0.31", "gitBranch": "main", "type": kind,
                       "message": msg, "uuid": uuid, "timestamp": "2026-11-20T10:00:00Z", **extra})


def tool_use(tid: str, name: str, inp: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": tid, "name": name, "input": inp}


def tool_result(tid: str, content: str, is_error: bool = False) -> dict[str, Any]:
    block: dict[str, Any] = {"tool_use_id": tid, "type": "tool_result", "content": content}
    if is_error:
        block["is_error"] = True
    return block


def codex_line(payload: Any, kind: str = "response_item") -> str:
    """One Codex CLI rollout line."""
    return json.dumps({"timestamp": "2026-11-20T10:00:00.000Z", "type": kind, "payload": payload})


def codex_user(text: str) -> str:
    return codex_line({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})


def codex_call(name: str, args: Any, call_id: str) -> str:
    return codex_line({"type": "function_call", "name": name, "arguments": json.dumps(args), "call_id": call_id})


def codex_output(call_id: str, output: str, kind: str = "function_call_output") -> str:
    return codex_line({"type": kind, "call_id": call_id, "output": output})


def write(path: Path, lines: list[str], *, quiet: bool = False) -> Path:
    """Write the lines; `quiet` dates the file an hour back (the session is over)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    if quiet:
        age(path)
    return path


def age(path: Path, seconds: float = 3600) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def cands(items: Iterable[Any]) -> list[Candidate]:
    return [c for c in items if isinstance(c, Candidate)]


def bad(items: Iterable[Any]) -> list[BadInput]:
    return [c for c in items if isinstance(c, BadInput)]


def bad_lines(items: Iterable[Any]) -> list[int]:
    """The line numbers of the bad input reported."""
    return [int(b.where.rsplit(":", 1)[1]) for b in bad(items)]


def skips(items: Iterable[Any]) -> list[str]:
    return [o for o in outputs(items) if isinstance(o, str) and o.startswith("skip:")]


def answer(c: Candidate) -> str:
    return c.messages[-1]["content"]


def request(c: Candidate) -> str:
    return c.messages[0]["content"]
