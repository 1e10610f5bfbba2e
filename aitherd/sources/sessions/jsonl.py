"""Claude Code and Codex CLI session JSONL, read incrementally: one record a line, turned into
events by the format's parser (claude.py, codex.py) and into turns here.

A turn is emitted once the next request (or a command that ends it) shows it is over, followed
by a checkpoint at the start of what comes next; the last turn waits until the file has been
quiet for `settle` seconds. Every file read gets a checkpoint at its end once nothing is
pending, so a file that yields nothing is not read again. A line that is not JSON or a record
of the wrong shape is `BadInput` with file:line, and reading goes on.

Each parser has `skip(raw)`: lines it can tell from their bytes carry nothing it uses (tool
output, progress records) are passed over unparsed; parsing every byte of a log with json
would cap the reader near json's own speed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from aitherd.sources.items import BadInput, Checkpoint, Item, Skip
from aitherd.sources.sessions.common import Malformed, Turn, kind, settled
from aitherd.sources.tail import Lines

# Events a parser makes of a record.
REQUEST = "request"  # (REQUEST, text, parent uuid or None): a new turn
END = "end"  # (END, skip reason or None): the turn is over and no new one starts (a command)
TEXT = "text"  # (TEXT, text): assistant text
EDIT = "edit"  # (EDIT, call key, block): a file edit made by a tool call
FAIL = "fail"  # (FAIL, call key): that call failed, its edit did not happen
INTERRUPT = "interrupt"  # (INTERRUPT,): the user stopped the turn
Event = tuple[Any, ...]


class Parser(Protocol):
    def skip(self, raw: bytes) -> bool: ...

    def feed(self, record: dict[str, Any]) -> tuple[Event, ...] | list[Event]: ...


_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set by JSONDecoder.__init__


def loads(raw: bytes) -> Any:
    """json.loads for one UTF-8 line, without its per-call overhead (the C scanner, then the full
    decoder only for its exact error message)."""
    s = raw.decode("utf-8")
    try:
        value, end = _scan(s, 0)
    except StopIteration:
        return json.loads(s)  # raises with the reason (or parses what starts with whitespace)
    if end != len(s) and s[end:].strip():
        return json.loads(s)
    return value


def read_jsonl(path: Path, fmt: str, parser: Parser, mark: dict[str, Any] | None,
               settle: float) -> Iterator[Item]:
    turn: Turn | None = None
    lines = Lines(path, mark)
    at_line, at = lines.line, lines.offset  # the position before the line in hand
    skip, feed = parser.skip, parser.feed
    for line_no, raw, offset in lines:
        if skip(raw):
            at_line, at = line_no, offset
            continue
        try:
            record = loads(raw)
            if not isinstance(record, dict):
                raise Malformed(f"record is {kind(record)}, not an object")
            events = feed(record)
        except Malformed as err:
            yield BadInput(f"{path}:{line_no}", f"malformed record: {err}")
            events = ()
        except ValueError as err:  # not JSON, not UTF-8
            yield BadInput(f"{path}:{line_no}", f"malformed line: {err}")
            events = ()
        except (TypeError, AttributeError, KeyError, IndexError, RecursionError) as err:
            yield BadInput(f"{path}:{line_no}", f"malformed record: {type(err).__name__}: {err}")
            events = ()
        for ev in events:
            what = ev[0]
            if what in (REQUEST, END):
                if turn is not None:
                    if what == REQUEST and turn.parent is not None and ev[2] == turn.parent:
                        # A request with the same parent as the pending one: the user edited or
                        # retried it, so the pending turn is an abandoned branch.
                        yield Skip("abandoned_branch")
                    else:
                        yield from turn.finish(fmt, path)
                if what == END and ev[1]:
                    yield Skip(ev[1])
                # Everything before this line is done: reading may resume here.
                yield Checkpoint(lines.mark(at_line, at))
                turn = Turn(ev[1], line_no, ev[2]) if what == REQUEST else None
            elif turn is None:
                continue
            elif what == TEXT:
                turn.texts.append(ev[1])
            elif what == EDIT:
                turn.edits[ev[1]] = ev[2]
            elif what == FAIL:
                turn.edits.pop(ev[1], None)
            elif what == INTERRUPT:
                turn.interrupted = True
        at_line, at = line_no, offset
    # The last turn may still be going on: leave it (and the mark at its start) for the next
    # read, unless the file has been quiet long enough for the session to be over.
    if turn is not None and settled(path, settle):
        yield from turn.finish(fmt, path)
        turn = None
    if turn is None:
        yield Checkpoint(lines.mark(at_line, at))


def harvest_jsonl(path: Path, fmt: str, mark: dict[str, Any] | None, settle: float = 600) -> Iterator[Item]:
    """Claude Code (`fmt="claude"`) or Codex CLI (`fmt="codex"`) session JSONL."""
    from aitherd.sources.sessions.claude import ClaudeParser
    from aitherd.sources.sessions.codex import CodexParser

    parser: Parser = ClaudeParser() if fmt == "claude" else CodexParser()
    return read_jsonl(path, fmt, parser, mark, settle)
