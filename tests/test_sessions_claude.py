"""Claude Code transcripts as they really are: odd field types, lone surrogates, failed tool
calls, slash commands and local command output, files that yield nothing."""

from __future__ import annotations

import json

from items_util import last_mark, outputs
from sessions_util import answer, bad, bad_lines, cands, claude_line, request, skips, tool_result, tool_use, write

from aitherd.sources.sessions import harvest_jsonl

EDIT = {"file_path": "/repo/p.py", "old_string": "return s[0]", "new_string": "return s[0] if s else None"}


def test_records_of_unexpected_types_are_counted_with_file_and_line_and_reading_goes_on(tmp_path):
    lines = [
        claude_line("user", "Fix the crash in parse() when the input is empty", "u1", None),
        json.dumps({"type": "assistant", "uuid": "a0", "parentUuid": "u1", "message": "error"}),
        claude_line("assistant", [{"type": "text", "text": None}], "a1", "u1"),
        claude_line("assistant", [tool_use("t1", "Edit", "p.py: return s[0] -> return s[0] if s else None")], "a2", "a1"),
        claude_line("user", 7, "u2", "a2"),
        claude_line("assistant", [tool_use("t2", "Edit", {**EDIT, "old_string": 12})], "a3", "a2"),
        claude_line("assistant", ["a bare string where a block belongs"], "a4", "a2"),
        json.dumps([1, 2, 3]),
        claude_line("assistant", [tool_use("t3", "Edit", EDIT)], "a5", "a2"),
        claude_line("user", [tool_result("t3", "The file /repo/p.py has been updated.")], "u3", "a5"),
        claude_line("assistant", [{"type": "text", "text": "Fixed: empty input now returns None."}], "a6", "u3"),
        claude_line("user", "Now write a pytest for parse", "u4", "a6"),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef test_parse():\n    assert parse('') is None\n```"}],
                    "a7", "u4"),
        claude_line("user", "thanks", "u5", "a7"),
    ]
    out = list(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    assert bad_lines(out) == [2, 3, 4, 5, 6, 7, 8]
    whys = [b.why for b in bad(out)]
    assert whys[0] == "malformed record: message is a string, not an object"
    assert whys[1] == "malformed record: text of a text block is null, not a string"
    assert whys[2] == "malformed record: Edit input is a string, not an object"
    assert whys[3] == "malformed record: content of a user message is an integer, not a string or a list"
    assert whys[4] == "malformed record: old_string of Edit input is an integer, not a string"
    assert all(b.where.startswith(str(tmp_path / "s.jsonl") + ":") for b in bad(out))
    fix, test = cands(out)
    assert request(fix) == "Fix the crash in parse() when the input is empty" and fix.category == "debugging"
    assert answer(fix) == ("Fixed: empty input now returns None.\n\n/repo/p.py\n<<<<<<< SEARCH\nreturn s[0]\n=======\n"
                           "return s[0] if s else None\n>>>>>>> REPLACE")
    assert test.category == "test_generation"


def test_a_lone_surrogate_is_replaced_and_counted_and_the_candidate_encodes(tmp_path):
    lines = [claude_line("user", "Fix the emoji \ud83d bug in render()", "u1", None),
             claude_line("assistant", [{"type": "text", "text": "Done \udc00:\n```python\ndef render(s):\n"
                                                                 "    return s\n```"}], "a1", "u1"),
             claude_line("user", "thanks", "u2", "a1")]
    assert "\\ud83d" in lines[0]  # Claude Code writes the lone half as an escape, as json.dumps does
    out = list(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    (c,) = cands(out)
    assert request(c) == "Fix the emoji \ufffd bug in render()"
    assert answer(c).startswith("Done \ufffd:")
    assert c.content_hash and all(m["content"].encode("utf-8") for m in c.messages)
    (b,) = bad(out)
    assert b.where == f"{tmp_path / 's.jsonl'}:1" and b.why == "lone surrogate: 2 code units replaced with U+FFFD"


def test_a_failed_edit_is_not_part_of_the_answer(tmp_path):
    bad_edit = {"file_path": "/repo/cart.py", "old_string": "def total(", "new_string": "def grand_total("}
    lines = [
        claude_line("user", "Rename total to grand_total in cart.py", "u1", None),
        claude_line("assistant", [tool_use("t1", "Edit", bad_edit)], "a1", "u1"),
        claude_line("user", [tool_result("t1", "<tool_use_error>File has not been read yet. Read it first before "
                                               "writing to it.</tool_use_error>", is_error=True)], "u2", "a1"),
        claude_line("assistant", [tool_use("t2", "Read", {"file_path": "/repo/cart.py"})], "a2", "u2"),
        claude_line("user", [tool_result("t2", "     1\u2192def total(items):\n")], "u3", "a2"),
        claude_line("assistant", [tool_use("t3", "Edit", {**bad_edit, "old_string": "def total(items):",
                                                          "new_string": "def grand_total(items):"})], "a3", "u3"),
        claude_line("user", [tool_result("t3", "The file /repo/cart.py has been updated.")], "u4", "a3"),
        claude_line("assistant", [tool_use("t4", "Write", {"file_path": "/repo/x.py", "content": "x = 1\n"})], "a4", "u4"),
        claude_line("user", [tool_result("t4", "The user doesn't want to proceed with this tool use. The tool use "
                                               "was rejected.", is_error=True)], "u5", "a4"),
        claude_line("assistant", [{"type": "text", "text": "Renamed total to grand_total."}], "a5", "u5"),
        claude_line("user", "thanks", "u6", "a5"),
    ]
    (c,) = cands(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    assert c.category == "editing"
    assert answer(c) == ("Renamed total to grand_total.\n\n/repo/cart.py\n<<<<<<< SEARCH\ndef total(items):\n"
                         "=======\ndef grand_total(items):\n>>>>>>> REPLACE")


TEMPLATE = ("# Fix an issue\n\nYou are fixing a reported problem. Refactor what you touch, write unit tests "
            "for it, then review the change.\n\nThe problem: $ARGUMENTS\n" + "Follow the house style. " * 120)


def test_slash_commands_and_local_command_output_are_not_requests(tmp_path):
    code = "```python\ndef parse(s):\n    return s[0] if s else None\n```"
    lines = [
        claude_line("user", "Caveat: The messages below were generated by the user while running local commands. "
                            "DO NOT respond to these messages.", "m1", None, isMeta=True),
        claude_line("user", "<command-name>/clear</command-name>\n<command-message>clear</command-message>\n"
                            "<command-args></command-args>", "m2", "m1"),
        claude_line("user", "<local-command-stdout></local-command-stdout>", "m3", "m2"),
        claude_line("user", "<command-message>fix-issue is running\u2026</command-message>\n<command-name>/fix-issue"
                            "</command-name>\n<command-args>the parser crashes on empty input</command-args>",
                    "c1", "m3"),
        claude_line("user", [{"type": "text", "text": TEMPLATE.replace("$ARGUMENTS", "the parser crashes")}],
                    "c2", "c1"),
        claude_line("assistant", [{"type": "text", "text": f"Guarded the empty case:\n{code}"}], "a1", "c2"),
        claude_line("user", "<local-command-stderr>error: hook failed</local-command-stderr>", "m4", "a1"),
        claude_line("user", "<bash-input>git status</bash-input>", "m5", "m4"),
        claude_line("user", "<bash-stdout>On branch main</bash-stdout><bash-stderr></bash-stderr>", "m6", "m5"),
        claude_line("user", "<system-reminder>The user opened cart.py</system-reminder>\nWrite a function that "
                            "reverses a string", "u1", "m6"),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef rev(s):\n    return s[::-1]\n```"}],
                    "a2", "u1"),
        # A template-only command: its answer belongs to no request of the user's.
        claude_line("user", "<command-name>/review</command-name>\n<command-message>review</command-message>\n"
                            "<command-args></command-args>", "c3", "a2"),
        claude_line("user", [{"type": "text", "text": "Review the diff of this branch.\n" + TEMPLATE}], "c4", "c3",
                    isMeta=True),
        claude_line("assistant", [{"type": "text", "text": "Findings:\n```python\nassert total([]) == 0\n```"}],
                    "a3", "c4"),
        claude_line("user", "<command-name>/compact</command-name>\n<command-message>compact</command-message>\n"
                            "<command-args>focus on the parser</command-args>", "c5", "a3"),
    ]
    out = list(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    fix, rev = cands(out)
    assert request(fix) == "the parser crashes on empty input" and fix.category == "debugging"
    assert answer(fix).startswith("Guarded the empty case:")
    assert request(rev) == "Write a function that reverses a string" and rev.category == "instruction"
    assert answer(rev) == "```python\ndef rev(s):\n    return s[::-1]\n```"
    assert "skip:slash_command" in skips(out)
    assert not bad(out)


def test_an_interrupted_turn_is_dropped(tmp_path):
    lines = [
        claude_line("user", "Write a function that parses dates", "u1", None),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef parse_date(s):\n```"}], "a1", "u1"),
        claude_line("user", [{"type": "text", "text": "[Request interrupted by user]"}], "u2", "a1"),
        claude_line("user", "Use datetime.strptime instead", "u3", "u2"),
    ]
    out = list(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    assert cands(out) == [] and skips(out) == ["skip:interrupted"]


def test_every_file_read_gets_its_position_saved_even_when_it_yields_nothing(tmp_path):
    chat = write(tmp_path / "s.jsonl", [
        json.dumps({"type": "summary", "summary": "Chat", "leafUuid": "x"}),
        claude_line("user", "what's the weather like", "u1", None),
        claude_line("assistant", [{"type": "text", "text": "I can't check the weather."}], "a1", "u1"),
        claude_line("user", "ok, bye", "u2", "a1"),
        claude_line("assistant", [{"type": "text", "text": "Bye!"}], "a2", "u2"),
        json.dumps({"type": "file-history-snapshot", "messageId": "m", "snapshot": {}}),
    ], quiet=True)
    agent = write(tmp_path / "agent-1a2b.jsonl", [
        claude_line("user", "Search the repo for parse()", "s1", None, isSidechain=True),
        claude_line("assistant", [{"type": "text", "text": "```python\ndef parse(s): ...\n```"}], "s2", "s1",
                    isSidechain=True),
    ], quiet=True)
    for log in (chat, agent):
        out = list(harvest_jsonl(log, "claude", None))
        assert cands(out) == []
        mark = last_mark(out)
        assert mark is not None and mark["offset"] == log.stat().st_size, log
        assert outputs(harvest_jsonl(log, "claude", mark)) == []
    assert skips(harvest_jsonl(chat, "claude", None)) == ["skip:no_code", "skip:no_code"]


def test_messages_claude_code_writes_itself_are_not_the_answer(tmp_path):
    code = "```python\ndef ping():\n    return 'pong'\n```"
    lines = [
        claude_line("user", "Write a ping function", "u1", None),
        claude_line("assistant", [{"type": "text", "text": code}], "a1", "u1"),
        claude_line("assistant", [{"type": "text", "text": "API Error: 529 Overloaded"}], "a2", "a1",
                    isApiErrorMessage=True),
        claude_line("assistant", [{"type": "text", "text": "No response requested."}], "a3", "a2"),
        claude_line("user", "thanks", "u2", "a3"),
    ]
    lines[3] = lines[3].replace('"model": "claude-sonnet-4-5"', '"model": "<synthetic>"')
    (c,) = cands(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    assert answer(c) == code


def test_a_tool_result_flagged_not_an_error_keeps_its_edit(tmp_path):
    lines = [
        claude_line("user", "Rename total to grand_total in cart.py", "u1", None),
        claude_line("assistant", [tool_use("t1", "Edit", {"file_path": "cart.py", "old_string": "def total(",
                                                          "new_string": "def grand_total("})], "a1", "u1"),
        claude_line("user", [{**tool_result("t1", "The file cart.py has been updated."), "is_error": False}],
                    "u2", "a1"),
        claude_line("assistant", [tool_use("t2", "Bash", {"command": "pytest -q"})], "a2", "u2"),
        claude_line("user", [{**tool_result("t2", "1 failed"), "is_error": True}], "u3", "a2"),
        claude_line("user", "thanks", "u4", "a2"),
    ]
    (c,) = cands(harvest_jsonl(write(tmp_path / "s.jsonl", lines), "claude", None))
    assert "def grand_total(" in answer(c)
