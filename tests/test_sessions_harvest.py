"""A coder harvest over a folder of mixed real-shaped session logs, bad records included: the run
finishes ok, every bad record is counted with its reason and file:line, and a second run reads
nothing again."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sessions_util import (
    age,
    claude_line,
    codex_call,
    codex_line,
    codex_output,
    codex_user,
    tool_result,
    tool_use,
    write,
)
from sqlalchemy import text

from aitherd.config import Loaded, Paths, parse_config
from aitherd.runs import JobContext
from aitherd.sources.coder import harvest_coder
from aitherd.sources.coder_config import CoderSources
from aitherd.store import open_store

PATCH = "*** Begin Patch\n*** Update File: pager.py\n@@\n-    return items[start:end - 1]\n+    return items[start:end]\n" \
        "*** End Patch"


class Recorder:
    """A logger that keeps what it is told."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def _keep(self, event: str, **kw: Any) -> None:
        self.events.append((event, kw))

    debug = info = warning = error = exception = _keep


def world(tmp: Path) -> tuple[list[dict[str, str]], set[tuple[str, str]]]:
    """The logs, as [[logs]] entries, and the bad records in them as (file:line, reason)."""
    claude = tmp / "claude" / "-home-me-repo"
    s = write(claude / "3f1e.jsonl", [
        claude_line("user", "Fix the emoji \ud83d crash in render()", "u1", None),
        json.dumps({"type": "assistant", "uuid": "a0", "parentUuid": "u1", "message": "error"}),
        claude_line("assistant", [{"type": "text", "text": None}], "a1", "u1"),
        claude_line("assistant", [tool_use("t1", "Edit", {"file_path": "r.py", "old_string": "s[0]",
                                                          "new_string": "s[:1]"})], "a2", "a1"),
        claude_line("user", [tool_result("t1", "File has not been read yet.", is_error=True)], "u2", "a2"),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef render(s):\n    return s[:1]\n```"}],
                    "a3", "u2"),
        "{truncated",
        claude_line("user", "<command-name>/clear</command-name>\n<command-message>clear</command-message>\n"
                            "<command-args></command-args>", "c1", "a3"),
        claude_line("user", "<local-command-stdout></local-command-stdout>", "c2", "c1"),
    ], quiet=True)
    write(claude / "agent-9c.jsonl", [
        claude_line("user", "Find render()", "x1", None, isSidechain=True),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef render(s): ...\n```"}], "x2", "x1",
                    isSidechain=True)], quiet=True)
    codex = tmp / "codex" / "2026" / "11" / "20"
    r = write(codex / "rollout-2026-11-20T10-00-00-0199.jsonl", [
        codex_line({"id": "0199", "cwd": "/r", "cli_version": "0.120.0"}, "session_meta"),
        codex_user("Fix the off-by-one in pager.py"),
        codex_line("oops"),
        codex_call("exec_command", {"cmd": f"apply_patch <<'EOF'\n{PATCH}\nEOF\n"}, "c1"),
        codex_output("c1", "Process exited with code 0\nOutput:\nSuccess."),
        codex_line({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Fixed."}]}),
    ], quiet=True)
    aider = tmp / "aider"
    aider.mkdir()
    (aider / ".aider.chat.history.md").write_text(
        "# aider chat started at 2026-11-20 10:00:00\n\n> Aider v0.86.2  \n\n#### fix the totals in cart.py  \n\n"
        "cart.py\n```python\n<<<<<<< SEARCH\nfor i in range(len(items) - 1):\n=======\n"
        "for i in range(len(items)):\n>>>>>>> REPLACE\n```\n\n> Applied edit to cart.py  \n")
    age(aider / ".aider.chat.history.md")
    cont = tmp / "continue" / "sessions"
    cont.mkdir(parents=True)
    (cont / "sessions.json").write_text(json.dumps([{"sessionId": "0b7c", "title": "t", "dateCreated": "1",
                                                     "workspaceDirectory": ""}]))
    (cont / "0b7c.json").write_text(json.dumps({"sessionId": "0b7c", "title": "t", "workspaceDirectory": "", "history": [
        {"message": {"role": "user", "content": "Write a function that reverses a list"}, "contextItems": []},
        {"message": {"role": "assistant", "content": {"text": "x"}}, "contextItems": []},
        {"message": {"role": "assistant", "content": "```python\ndef rev(x):\n    return x[::-1]\n```"},
         "contextItems": []}]}))
    for p in cont.iterdir():
        age(p)
    o = write(tmp / "openai" / "chat.jsonl", [
        json.dumps({"messages": [{"role": "user", "content": "Write a function that squares"},
                                 {"role": "assistant", "content": "```python\ndef sq(x):\n    return x * x\n```"}]}),
        json.dumps({"messages": ["Write a function that cubes", {"role": "assistant", "content": "x ** 3"}]}),
    ])
    entries = [{"path": str(tmp / "claude"), "kind": "claude"}, {"path": str(tmp / "codex"), "kind": "codex"},
               {"path": str(aider), "kind": "aider"}, {"path": str(cont), "kind": "continue"},
               {"path": str(tmp / "openai"), "kind": "openai"}]
    expected = {(f"{s}:1", "lone surrogate"), (f"{s}:2", "malformed record"), (f"{s}:3", "malformed record"),
                (f"{s}:7", "malformed line"), (f"{r}:3", "malformed record"),
                (f"{cont / '0b7c.json'}:history[1]", "malformed record"), (f"{o}:2", "malformed record")}
    return entries, expected


def context(tmp: Path, entries: list[dict[str, str]]) -> JobContext:
    loaded = Loaded(parse_config({"logs": entries}), None, Paths(tmp, tmp / "c.sock"), ())
    return JobContext(job="harvest_coder", run_id=1, trigger="manual", loaded=loaded,
                      engine=open_store(tmp / "aitherd.db"), log=Recorder())


def marks(ctx: JobContext) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        return dict(conn.execute(text("SELECT key, value FROM watermark WHERE source = 'session'")).all())


def test_mixed_real_shaped_logs_harvest_ok_with_every_bad_record_counted_and_a_rerun_reads_nothing(tmp_path):
    entries, expected = world(tmp_path / "logs")
    ctx = context(tmp_path, entries)
    cfg = CoderSources()
    result = harvest_coder(ctx, cfg, lambda batch: batch)
    assert result.status == "ok", result
    reported = {(kw["where"], kw["why"].split(":")[0]) for event, kw in ctx.log.events if event == "bad_input"}
    assert reported == expected
    assert ctx.counts["errors.session"] == len(expected)
    assert ctx.counts["stored.session"] == 5  # claude, codex, aider, continue, openai: one turn each
    with ctx.engine.connect() as conn:
        rows = [json.loads(m) for (m,) in conn.execute(text("SELECT messages FROM example WHERE source = 'session'"))]
    requests = sorted(m[0]["content"] for m in rows)
    assert requests == ["Fix the emoji \ufffd crash in render()", "Fix the off-by-one in pager.py",
                        "Write a function that reverses a list", "Write a function that squares",
                        "fix the totals in cart.py"]
    assert all("File has not been read" not in m[1]["content"] and "s[:1]\n>>>>>>>" not in m[1]["content"]
               for m in rows)
    files = {k for k in marks(ctx)}
    assert len(files) == 7  # every file read has its position saved, the ones that gave nothing too

    before = marks(ctx)
    ctx.counts.clear()
    ctx.log.events.clear()
    again = harvest_coder(ctx, cfg, lambda batch: batch)
    assert again.status == "ok" and not again.message.count("problems")
    assert ctx.counts == {} and marks(ctx) == before
