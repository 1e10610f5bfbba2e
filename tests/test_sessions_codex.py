"""Codex CLI rollouts as they really are: patches through every shell form and the apply_patch
tool, failed calls, odd field types, interrupted turns."""

from __future__ import annotations

import json

from items_util import last_mark, outputs
from sessions_util import (
    answer,
    bad,
    bad_lines,
    cands,
    codex_call,
    codex_line,
    codex_output,
    codex_user,
    request,
    skips,
    write,
)

from aitherd.sources.sessions import harvest_jsonl


def patch(path: str, old: str, new: str) -> str:
    return f"*** Begin Patch\n*** Update File: {path}\n@@\n-{old}\n+{new}\n*** End Patch"


P1 = patch("pager.py", "    return items[start:end - 1]", "    return items[start:end]")
P2 = patch("pager.py", "PAGE = 10", "PAGE = 20")
P3 = patch("README.md", "Pages of 10.", "Pages of 20.")
P4 = patch("tests/test_pager.py", "    assert len(page) == 9", "    assert len(page) == 10")
FAILED = patch("pager.py", "    return nothing", "    return items")
OK_OUT = "Chunk ID: 9f1c\nWall time: 0.0512 seconds\nProcess exited with code 0\nOriginal token count: 9\nOutput:\n" \
         "Success. Updated the following files:\nM pager.py\n"


def test_patches_are_extracted_from_every_shell_form_without_the_wrapper(tmp_path):
    lines = [
        codex_line({"id": "r1", "timestamp": "2026-11-20T10:00:00Z", "cwd": "/r", "originator": "codex_cli_rs",
                    "cli_version": "0.120.0"}, "session_meta"),
        codex_user("<environment_context>\n  <cwd>/r</cwd>\n</environment_context>"),
        codex_user("# AGENTS.md instructions for /r\n\n<INSTRUCTIONS>\nUse pytest.\n</INSTRUCTIONS>"),
        codex_user("Fix the off-by-one in pager.py and make pages 20 long"),
        codex_line({"type": "reasoning", "summary": [], "encrypted_content": "gAAAA"}),
        codex_call("exec_command", {"cmd": f"apply_patch <<'EOF'\n{P1}\nEOF\n", "workdir": "/r",
                                    "yield_time_ms": 1000}, "c1"),
        codex_output("c1", OK_OUT),
        codex_call("shell_command", {"command": f"bash -lc \"apply_patch <<'PATCH'\n{P2}\nPATCH\n\"",
                                     "workdir": "/r"}, "c2"),
        codex_output("c2", "Exit code: 0\nWall time: 0.1 seconds\nOutput:\nSuccess.\n"),
        codex_call("shell", {"command": ["bash", "-lc", f"apply_patch <<'EOF'\n{P3}\nEOF"]}, "c3"),
        codex_output("c3", json.dumps({"output": "Success.", "metadata": {"exit_code": 0, "duration_seconds": 0.1}})),
        codex_line({"type": "custom_tool_call", "status": "completed", "call_id": "c4", "name": "apply_patch",
                    "input": P4 + "\n"}),
        codex_output("c4", json.dumps({"output": "Success.", "metadata": {"exit_code": 0}}), "custom_tool_call_output"),
        codex_call("exec_command", {"cmd": f"apply_patch <<'EOF'\n{FAILED}\nEOF\n"}, "c5"),
        codex_output("c5", "Chunk ID: 1\nWall time: 0.01 seconds\nProcess exited with code 1\nOutput:\n"
                           "apply_patch verification failed: Failed to find expected lines in pager.py\n"),
        codex_call("shell", {"command": ["apply_patch", FAILED]}, "c6"),
        codex_output("c6", json.dumps({"output": "error", "metadata": {"exit_code": 1}})),
        codex_line({"type": "custom_tool_call", "status": "completed", "call_id": "c7", "name": "apply_patch",
                    "input": FAILED}),
        codex_line({"type": "patch_apply_end", "call_id": "c7", "success": False, "stdout": "", "stderr": "no match"},
                   "event_msg"),
        codex_call("exec_command", {"cmd": "pytest -q"}, "c8"),
        codex_output("c8", "Process exited with code 1\nOutput:\n1 failed"),
        codex_line({"type": "message", "role": "assistant", "phase": "final_answer",
                    "content": [{"type": "output_text", "text": "Fixed the slice and made pages 20 long."}]}),
        codex_line({"type": "token_count", "info": None}, "event_msg"),
        codex_user("thanks"),
    ]
    (c,) = cands(harvest_jsonl(write(tmp_path / "rollout.jsonl", lines), "codex", None))
    assert request(c) == "Fix the off-by-one in pager.py and make pages 20 long" and c.category == "debugging"
    text = answer(c)
    assert text == "\n\n".join(["Fixed the slice and made pages 20 long."] +
                               [f"```diff\n{p}\n```" for p in (P1, P2, P3, P4)])
    assert "EOF" not in text and "bash" not in text and "PATCH\n" not in text and "nothing" not in text


def test_odd_field_types_in_a_rollout_are_counted_and_reading_goes_on(tmp_path):
    lines = [
        codex_user("Write a function that adds two numbers"),
        codex_line("not an object"),
        codex_line({"type": "function_call", "name": "shell", "arguments": {"command": ["ls"]}, "call_id": "x"}),
        codex_line({"type": "function_call", "name": "shell", "arguments": "{not json", "call_id": "y"}),
        codex_line({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": None}]}),
        codex_line({"type": "message", "role": "assistant", "content": 5}),
        codex_line({"type": "message", "role": "assistant",
                    "content": [{"type": "output_text", "text": "```python\ndef add(a, b):\n    return a + b\n```"}]}),
        codex_user("thanks"),
    ]
    out = list(harvest_jsonl(write(tmp_path / "r.jsonl", lines), "codex", None))
    assert bad_lines(out) == [2, 3, 4, 5, 6]
    assert [b.why for b in bad(out)][:3] == ["malformed record: payload is a string, not an object",
                                             "malformed record: arguments of a function call is an object, "
                                             "not a JSON string",
                                             "malformed record: arguments of a function call are not JSON"]
    (c,) = cands(out)
    assert answer(c).startswith("```python\ndef add")


def test_an_aborted_turn_is_dropped_and_a_quiet_rollout_is_marked_read(tmp_path):
    lines = [
        codex_user("Write a function that parses dates"),
        codex_line({"type": "message", "role": "assistant",
                    "content": [{"type": "output_text", "text": "```python\ndef parse_date(s):\n```"}]}),
        codex_line({"type": "turn_aborted", "reason": "interrupted"}, "event_msg"),
        codex_user("what time is it?"),
        codex_line({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Noon."}]}),
    ]
    log = write(tmp_path / "r.jsonl", lines, quiet=True)
    out = list(harvest_jsonl(log, "codex", None))
    assert cands(out) == [] and skips(out) == ["skip:interrupted", "skip:no_code"]
    assert last_mark(out)["offset"] == log.stat().st_size
    assert outputs(harvest_jsonl(log, "codex", last_mark(out))) == []


def test_an_older_rollout_without_the_envelope_is_read_too(tmp_path):
    lines = [json.dumps({"id": "0f1e", "timestamp": "2025-06-01T10:00:00Z", "instructions": None}),
             json.dumps({"record_type": "state"}),
             json.dumps({"type": "message", "role": "user", "content": [{"type": "input_text",
                                                                          "text": "Fix the off-by-one in pager.py"}]}),
             json.dumps({"type": "function_call", "name": "shell", "call_id": "c1",
                         "arguments": json.dumps({"command": ["apply_patch", P1]})}),
             json.dumps({"type": "function_call_output", "call_id": "c1",
                         "output": json.dumps({"output": "Done!", "metadata": {"exit_code": 0}})}),
             json.dumps({"type": "message", "role": "assistant", "content": [{"type": "output_text",
                                                                               "text": "Fixed the slice."}]})]
    (c,) = cands(harvest_jsonl(write(tmp_path / "rollout-old.jsonl", lines, quiet=True), "codex", None))
    assert answer(c) == f"Fixed the slice.\n\n```diff\n{P1}\n```"
