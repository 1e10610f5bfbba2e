"""Session logs in their real on-disk shapes: Claude Code, Codex CLI, OpenAI messages, Aider."""

from __future__ import annotations

import json
from pathlib import Path

from items_util import last_mark, outputs

from aitherd.sources.sessions import harvest_aider, harvest_jsonl, harvest_openai


def claude_line(kind: str, content, uuid: str, parent: str | None, **extra) -> str:
    msg = {"role": kind, "content": content}
    if kind == "assistant":
        msg.update(id="msg_1", model="claude", stop_reason="end_turn", usage={})
    return json.dumps({"type": kind, "uuid": uuid, "parentUuid": parent, "isSidechain": False,
                       "sessionId": "s1", "cwd": "/repo", "gitBranch": "main",
                       "timestamp": "2026-11-20T10:00:00Z", "version": "2.0", "message": msg, **extra})


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def cands(items):
    return [c for c in outputs(items) if not isinstance(c, str)]


def test_claude_code_turns_keep_the_final_answer_and_edits_and_drop_tool_noise(tmp_path):
    lines = [
        json.dumps({"type": "summary", "summary": "Fixing the parser", "leafUuid": "x"}),
        claude_line("user", "Fix the crash in parse() when the input is empty", "u1", None),
        claude_line("assistant", [{"type": "thinking", "thinking": "hmm", "signature": "s"},
                                  {"type": "text", "text": "Let me look."},
                                  {"type": "tool_use", "id": "t1", "name": "Read", "input": {"file_path": "p.py"}}],
                    "a1", "u1"),
        claude_line("user", [{"type": "tool_result", "tool_use_id": "t1", "content": "def parse(s): ..."}], "u2", "a1"),
        claude_line("assistant", [{"type": "tool_use", "id": "t2", "name": "Edit", "input": {
            "file_path": "p.py", "old_string": "return s[0]", "new_string": "return s[0] if s else None"}}],
                    "a2", "u2"),
        claude_line("assistant", [{"type": "text", "text": "Fixed: empty input now returns None."}], "a3", "a2"),
        json.dumps({"type": "file-history-snapshot", "snapshot": {}}),
        claude_line("user", "thanks! what's the weather", "u3", "a3"),
        claude_line("assistant", [{"type": "text", "text": "I can't check the weather."}], "a4", "u3"),
        claude_line("user", "Now write a pytest for parse", "u5", "a4"),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef test_parse():\n    assert parse('') is None\n```"}],
                    "a5", "u5"),
        "{truncated json",
    ]
    log = write(tmp_path / "s.jsonl", lines)
    out = list(harvest_jsonl(log, "claude", None))
    got = cands(out)
    assert len(got) == 1  # the weather turn has no code; the pytest turn is not finished yet
    fix = got[0]
    assert fix.category == "debugging" and fix.source == "session"
    answer = fix.messages[1]["content"]
    assert answer.startswith("Fixed: empty input now returns None.")
    assert "<<<<<<< SEARCH\nreturn s[0]\n=======\nreturn s[0] if s else None\n>>>>>>> REPLACE" in answer
    assert "Let me look" not in answer and "def parse(s): ..." not in answer
    errors = [c for c in outputs(out) if isinstance(c, str) and not c.startswith("skip:")]
    assert "skip:no_code" in outputs(out)  # the weather turn
    assert errors and errors[0].endswith(":12: malformed line: Expecting property name enclosed in "
                                         "double quotes: line 1 column 2 (char 1)")
    # The unfinished turn is read again next time, and completes once the session goes on.
    mark = last_mark(out)
    with open(log, "a") as fh:
        fh.write(claude_line("user", "great, commit it", "u6", "a5") + "\n")
    more = cands(harvest_jsonl(log, "claude", mark))
    assert [c.category for c in more] == ["test_generation"]
    assert "def test_parse" in more[0].messages[1]["content"]


def test_codex_rollouts(tmp_path):
    def item(payload):
        return json.dumps({"timestamp": "2026-11-20T10:00:00Z", "type": "response_item", "payload": payload})
    lines = [
        json.dumps({"timestamp": "t", "type": "session_meta", "payload": {"id": "x", "cwd": "/r"}}),
        item({"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "<environment_context>cwd=/r</environment_context>"}]}),
        item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Refactor util.py to use pathlib"}]}),
        item({"type": "reasoning", "summary": [], "encrypted_content": "zzz"}),
        item({"type": "function_call", "name": "shell", "call_id": "c1", "arguments": json.dumps(
            {"command": ["apply_patch", "*** Begin Patch\n*** Update File: util.py\n-import os\n+from pathlib import Path\n*** End Patch"]})}),
        item({"type": "function_call_output", "call_id": "c1", "output": "Done!"}),
        item({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Switched util.py to pathlib."}]}),
        json.dumps({"timestamp": "t", "type": "event_msg", "payload": {"type": "token_count"}}),
        item({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ok"}]}),
    ]
    got = cands(harvest_jsonl(write(tmp_path / "rollout.jsonl", lines), "codex", None))
    assert len(got) == 1 and got[0].category == "editing"
    answer = got[0].messages[1]["content"]
    assert answer.startswith("Switched util.py to pathlib.") and "*** Begin Patch" in answer
    assert "Done!" not in answer and "environment_context" not in got[0].messages[0]["content"]


def test_openai_messages_jsonl(tmp_path):
    conv = {"messages": [{"role": "system", "content": "You code."},
                         {"role": "user", "content": "Write a function that reverses a list"},
                         {"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]},
                         {"role": "tool", "tool_call_id": "1", "content": "noise"},
                         {"role": "assistant", "content": "```python\ndef rev(x):\n    return x[::-1]\n```"}]}
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    log = write(tmp_path / "o.jsonl", [json.dumps(conv), json.dumps(chat), '{"no": "messages"}'])
    out = outputs(harvest_openai(log, None))
    assert [m["role"] for m in out[0].messages] == ["system", "user", "assistant"]
    assert out[0].category == "instruction"
    assert out[1] == "skip:no_code" and out[2].endswith(":3: malformed record: messages is missing")


def test_aider_chat_history(tmp_path):
    text = """# aider chat started at 2026-11-20 10:00:00

> Aider v0.80.0
> Model: x

#### the totals are off by one
#### in cart.py

The loop skips the last item.

cart.py
```python
<<<<<<< SEARCH
for i in range(len(items) - 1):
=======
for i in range(len(items)):
>>>>>>> REPLACE
```

> Applied edit to cart.py

#### thanks

You're welcome.

# aider chat started at 2026-11-21 09:00:00

#### add a docstring to total()
"""
    got = cands(harvest_aider(write(tmp_path / ".aider.chat.history.md", text.splitlines()), None))
    assert len(got) == 1
    fix = got[0]
    assert fix.messages[0]["content"] == "the totals are off by one\nin cart.py"
    assert fix.category == "debugging" and "<<<<<<< SEARCH" in fix.messages[1]["content"]
    assert "Applied edit" not in fix.messages[1]["content"]


def test_the_last_turn_is_taken_once_the_session_has_been_quiet(tmp_path):
    import os
    import time

    log = write(tmp_path / "s.jsonl", [
        claude_line("user", "Write a function that squares", "u1", None),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef sq(x):\n    return x * x\n```"}], "a1", "u1")])
    assert cands(harvest_jsonl(log, "claude", None, settle=600)) == []  # maybe still going on
    old = time.time() - 3600
    os.utime(log, (old, old))
    out = list(harvest_jsonl(log, "claude", None, settle=600))
    assert [c.category for c in outputs(out)] == ["instruction"]
    assert cands(harvest_jsonl(log, "claude", last_mark(out), settle=600)) == []  # not twice


def test_an_edited_prompt_drops_the_abandoned_branch(tmp_path):
    log = write(tmp_path / "s.jsonl", [
        claude_line("user", "Write a function that sorts users", "u1", "root"),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef s(u):\n    return sorted(u)\n```"}], "a1", "u1"),
        # The user edits the prompt: a new request hanging off the same parent.
        claude_line("user", "Write a function that sorts users by name", "u2", "root"),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef s(u):\n    return sorted(u, key=lambda x: x.name)\n```"}], "a2", "u2"),
        claude_line("user", "thanks", "u3", "a2"),
    ])
    out = list(harvest_jsonl(log, "claude", None))
    got = cands(out)
    assert len(got) == 1 and "by name" in got[0].messages[0]["content"]
    assert "key=lambda x: x.name" in got[0].messages[1]["content"]
    assert "skip:abandoned_branch" in outputs(out)


def test_openai_lines_of_odd_shapes_are_counted_and_reasoning_is_kept_apart(tmp_path):
    lines = [
        json.dumps({"messages": ["Write a function that cubes", {"role": "assistant", "content": "x ** 3"}]}),
        json.dumps({"messages": [{"role": "user", "content": 3}]}),
        json.dumps({"messages": {"role": "user"}}),
        json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "Write a function that cubes"}]},
                                 {"role": "assistant", "content": "<think>Multiply three times.</think>\n\n"
                                                                  "```python\ndef cube(x):\n    return x ** 3\n```"}]}),
        json.dumps({"messages": [{"role": "user", "content": "Write a function that squares"},
                                 {"role": "assistant", "reasoning_content": "Multiply twice.",
                                  "content": "```python\ndef sq(x):\n    return x * x\n```"}]}),
    ]
    out = list(harvest_openai(write(tmp_path / "o.jsonl", lines), None))
    assert [str(b).split(": ", 1)[1] for b in out if type(b).__name__ == "BadInput"] == [
        "malformed record: a message is a string, not an object",
        "malformed record: content of a message is an integer, not a string or a list",
        "malformed record: messages is an object, not a list"]
    cube, sq = cands(out)
    assert cube.reasoning == "Multiply three times." and cube.messages[-1]["content"].startswith("```python")
    assert sq.reasoning == "Multiply twice."
    assert last_mark(out)["offset"] == (tmp_path / "o.jsonl").stat().st_size
