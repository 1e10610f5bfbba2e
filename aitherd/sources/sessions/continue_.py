"""Continue (the IDE extension) sessions: `~/.continue/sessions/<sessionId>.json`, one JSON
document per session that Continue rewrites whole on every change (core/util/history.ts), next to
`sessions.json`, the index of sessions (a list: skipped).

A session is `{sessionId, title, workspaceDirectory, history: [{message, contextItems,
toolCallStates?, reasoning?}]}`, a message `{role: user|assistant|thinking|system|tool, content:
string or [{type: text, text}], toolCalls?: [{id, function: {name, arguments}}]}`. A turn is a
user message and what follows up to the next: the assistant's last text and its edits
(`single_find_and_replace`, `multi_edit`, `edit_existing_file`, `create_new_file`), less the tool
calls whose state is `errored` or `canceled`; reasoning from the answer's `reasoning` or the
`thinking` messages before it. Attached context items are not part of the request.

The mark is the file's stamp (inode, size, mtime) and the number of turns done, with a
fingerprint of the last one: an unchanged file is not read at all, a grown one gives only its
new turns, a rewritten history (an earlier message edited and resubmitted) is read again from
the start (the store's content hashes keep it free of duplicates). The last turn waits until
the file has been quiet for `settle` seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aitherd.sources.items import BadInput, Checkpoint, Item, Skip
from aitherd.sources.sessions.common import Malformed, Turn, edit_block, kind, settled, want_dict
from aitherd.sources.sessions.openai import content_text

EDIT_TOOLS = {"single_find_and_replace", "multi_edit", "edit_existing_file", "create_new_file"}
_FAILED = {"errored", "canceled"}


def _fingerprint(request: str) -> str:
    return hashlib.sha1(request.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _groups(path: Path, history: list[Any]) -> tuple[list[BadInput], list[tuple[Turn, list[BadInput]]]]:
    """The bad items before the first request, and each turn (its request's index as `line`)
    with the bad items read while it was open."""
    before: list[BadInput] = []
    groups: list[tuple[Turn, list[BadInput]]] = []
    turn: Turn | None = None
    thinking: list[str] = []
    for i, raw in enumerate(history):
        try:
            item = want_dict(raw, "history item")
            msg = want_dict(item.get("message"), "message")
            role = msg.get("role")
            text = content_text(msg.get("content"), "a message")
            if role == "user":
                turn, thinking = Turn(text, i), []
                groups.append((turn, []))
            elif turn is None:
                continue
            elif role == "thinking":
                thinking.append(text)
            elif role == "assistant":
                reasoning = item.get("reasoning")
                thought = reasoning.get("text") if isinstance(reasoning, dict) else None
                if text.strip():
                    turn.texts.append(text)
                    turn.reasoning = (thought if isinstance(thought, str) and thought.strip()
                                      else "\n\n".join(t for t in thinking if t.strip()) or None)
                    thinking = []
                _edits(turn, msg, item)
        except Malformed as err:
            (groups[-1][1] if groups else before).append(
                BadInput(f"{path}:history[{i}]", f"malformed record: {err}"))
    return before, groups


def _edits(turn: Turn, msg: dict[str, Any], item: dict[str, Any]) -> None:
    calls = msg.get("toolCalls") or []
    if not isinstance(calls, list):
        raise Malformed(f"toolCalls is {kind(calls)}, not a list")
    states = item.get("toolCallStates") or []
    failed = {s.get("toolCallId") for s in states if isinstance(s, dict) and s.get("status") in _FAILED} \
        if isinstance(states, list) else set()
    for call in calls:
        call = want_dict(call, "a tool call")
        fn = want_dict(call.get("function"), "function of a tool call")
        name, cid = fn.get("name"), call.get("id")
        if name not in EDIT_TOOLS or cid in failed:
            continue
        raw = fn.get("arguments")
        try:
            args = json.loads(raw) if isinstance(raw, str) else None
        except ValueError:
            args = None
        if not isinstance(args, dict):
            raise Malformed(f"arguments of {name} are not a JSON object")
        if block := edit_block(name, args):
            turn.edits[cid if isinstance(cid, str) else object()] = block


def harvest_continue(path: Path, mark: dict[str, Any] | None, settle: float = 600) -> Iterator[Item]:
    """The new finished turns of a Continue session file."""
    st = os.stat(path)
    stamp = [st.st_ino, st.st_size, st.st_mtime_ns]
    mark = dict(mark or {})
    if mark.get("stamp") == stamp:
        return  # unchanged since it was read whole
    done = int(mark.get("turns", 0)) if mark.get("inode") == st.st_ino else 0
    base = {"inode": st.st_ino}
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as err:
        # Not JSON (or caught half-written): read again when it changes.
        yield BadInput(str(path), f"not JSON: {err}")
        yield Checkpoint({**mark, **base, "stamp": stamp})
        return
    if isinstance(doc, list):
        yield Skip("not_a_session")  # sessions.json, the index
        yield Checkpoint({**base, "stamp": stamp})
        return
    history = doc.get("history") if isinstance(doc, dict) else None
    if not isinstance(history, list):
        yield BadInput(str(path), f"not a Continue session: history is {kind(history)}, not a list")
        yield Checkpoint({**base, "stamp": stamp})
        return
    early, groups = _groups(path, history)
    if done > len(groups) or (done and _fingerprint(groups[done - 1][0].request) != mark.get("last")):
        done = 0  # the history was rewritten: read it again from the start
    last = mark.get("last") if done else None
    if not done:
        yield from early
    quiet = settled(path, settle)
    for n, (turn, bads) in enumerate(groups[done:], start=done + 1):
        if n == len(groups) and not quiet:
            # The last turn may still be going on: keep the stamp out of the mark, so the file
            # is read again, and this turn taken, once it has been quiet.
            yield Checkpoint({**base, "stamp": None, "turns": n - 1, "last": last})
            return
        yield from bads
        yield from turn.finish("continue", path, f"{path}:history[{turn.line}]", {"item": turn.line})
        last = _fingerprint(turn.request)
        yield Checkpoint({**base, "stamp": stamp if n == len(groups) else None, "turns": n, "last": last})
    if done == len(groups):
        yield Checkpoint({**base, "stamp": stamp, "turns": done, "last": last})
