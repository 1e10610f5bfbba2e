"""Continue (the IDE extension) session files: ~/.continue/sessions/<id>.json, one JSON document
per session that Continue rewrites whole (core/util/history.ts), next to a sessions.json index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from items_util import last_mark, outputs
from sessions_util import age, answer, bad, cands, request, skips

from aitherd.sources.sessions import harvest_continue


def item(role: str, content: Any, **extra: Any) -> dict[str, Any]:
    message = {"role": role, "content": content, **extra.pop("message", {})}
    return {"message": message, "contextItems": extra.pop("contextItems", []), **extra}


def call(cid: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}


def state(cid: str, status: str) -> dict[str, Any]:
    return {"toolCallId": cid, "status": status, "toolCall": {"id": cid, "type": "function"}, "parsedArgs": {}}


EDIT = {"filepath": "src/parser.py", "old_string": "return s[0]", "new_string": "return s[0] if s else None"}


def session(history: list[Any]) -> dict[str, Any]:
    return {"sessionId": "0b7c", "title": "Fix parser", "workspaceDirectory": "file:///home/me/repo",
            "history": history, "mode": "agent", "chatModelTitle": "Claude Sonnet"}


def save(path: Path, doc: Any, quiet: bool = True) -> Path:
    path.write_text(json.dumps(doc))
    if quiet:
        age(path)
    return path


HISTORY = [
    item("user", [{"type": "text", "text": "Fix the crash in parse() on empty input"}],
         contextItems=[{"name": "parser.py", "description": "src/parser.py", "content": "def parse(s): ...",
                        "id": {"providerTitle": "file", "itemId": "1"}}]),
    item("assistant", "", message={"toolCalls": [call("c1", "single_find_and_replace", {**EDIT, "old_string": "x"}),
                                                 call("c2", "single_find_and_replace", EDIT)]},
         toolCallStates=[state("c1", "errored"), state("c2", "done")]),
    item("tool", "Could not find x", message={"toolCallId": "c1"}),
    item("tool", "Edit applied", message={"toolCallId": "c2"}),
    item("assistant", "Fixed: parse() returns None for empty input."),
    "a history item that is a bare string",
    item("user", "Write a function that reverses a list"),
    item("thinking", "Slicing is simplest."),
    item("assistant", 42),
    item("assistant", "```python\ndef rev(x):\n    return x[::-1]\n```",
         reasoning={"active": False, "text": "Slicing is simplest.", "startAt": 1}),
]


def test_a_session_file_gives_its_turns_with_edits_reasoning_and_bad_items_counted(tmp_path):
    path = save(tmp_path / "0b7c.json", session(HISTORY))
    out = list(harvest_continue(path, None))
    fix, rev = cands(out)
    assert request(fix) == "Fix the crash in parse() on empty input" and fix.category == "debugging"
    assert answer(fix) == ("Fixed: parse() returns None for empty input.\n\nsrc/parser.py\n<<<<<<< SEARCH\n"
                           "return s[0]\n=======\nreturn s[0] if s else None\n>>>>>>> REPLACE")
    assert rev.reasoning == "Slicing is simplest." and answer(rev).startswith("```python")
    assert [(b.where, b.why) for b in bad(out)] == [
        (f"{path}:history[5]", "malformed record: history item is a string, not an object"),
        (f"{path}:history[8]", "malformed record: content of a message is an integer, not a string or a list")]
    assert fix.provenance["format"] == "continue" and fix.provenance["item"] == 0


def test_an_unchanged_file_is_not_read_again_and_a_grown_one_gives_only_new_turns(tmp_path):
    path = save(tmp_path / "0b7c.json", session(HISTORY))
    out = list(harvest_continue(path, None))
    mark = last_mark(out)
    assert outputs(harvest_continue(path, mark)) == []
    grown = [*HISTORY, item("user", "Add a docstring to rev"),
             item("assistant", "", message={"toolCalls": [call("c3", "edit_existing_file", {
                 "filepath": "src/rev.py", "changes": 'def rev(x):\n    """Reverse x."""\n    return x[::-1]'})]},
                  toolCallStates=[state("c3", "done")])]
    save(path, session(grown))
    got = cands(harvest_continue(path, mark))
    assert [request(c) for c in got] == ["Add a docstring to rev"]
    assert answer(got[0]) == 'src/rev.py\n```\ndef rev(x):\n    """Reverse x."""\n    return x[::-1]\n```'


def test_a_rewritten_history_is_read_from_the_start(tmp_path):
    path = save(tmp_path / "0b7c.json", session(HISTORY))
    mark = last_mark(list(harvest_continue(path, None)))
    save(path, session([item("user", "Write a function that squares"),
                        item("assistant", "```python\ndef sq(x):\n    return x * x\n```")]))
    assert [request(c) for c in cands(harvest_continue(path, mark))] == ["Write a function that squares"]


def test_a_session_still_being_written_keeps_its_last_turn_for_later(tmp_path):
    path = save(tmp_path / "0b7c.json", session(HISTORY[:5]), quiet=False)
    out = list(harvest_continue(path, None))
    assert cands(out) == []
    age(path)
    assert [request(c) for c in cands(harvest_continue(path, last_mark(out)))] == [
        "Fix the crash in parse() on empty input"]


def test_the_sessions_index_and_broken_files_are_skipped_and_counted(tmp_path):
    index = save(tmp_path / "sessions.json", [{"sessionId": "0b7c", "title": "Fix parser", "dateCreated": "1",
                                               "workspaceDirectory": "file:///home/me/repo"}])
    out = list(harvest_continue(index, None))
    assert skips(out) == ["skip:not_a_session"] and last_mark(out) is not None
    assert outputs(harvest_continue(index, last_mark(out))) == []
    broken = tmp_path / "1.json"
    broken.write_text('{"sessionId": "1", "history": [')
    out = list(harvest_continue(broken, None))
    assert [b.why.split(":")[0] for b in bad(out)] == ["not JSON"]
    assert outputs(harvest_continue(broken, last_mark(out))) == []
