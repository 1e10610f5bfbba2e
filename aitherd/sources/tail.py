"""Reading growing files incrementally: (inode, byte offset) marks, rotation and truncation
handled, a partial last line left for the next read.

A mark is {"inode": int, "offset": int, "line": int}. A new inode (the file was rotated or
replaced) or a size below the offset (truncated) starts the file over; the caller's content
hashes make re-reading harmless. With `settle`, a last line without a newline is read once the
file has been quiet that long (the writer finished without one); the mark then says so
(`"open": true`), and a newline written after it later is not counted as a line of its own.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Lines:
    """The complete new lines of a file after a mark, as (line number, line without its newline,
    byte offset after it); `mark(line, offset)` is the mark for a position. Cheaper than
    `read_lines` when a reader needs a mark only now and then. With `settle` (seconds), a last
    line without a newline is a line too once the file has not been written for that long."""

    def __init__(self, path: Path, mark: dict[str, Any] | None, settle: float | None = None) -> None:
        st = os.stat(path)
        mark = mark or {}
        self.path, self.inode, self.settle = path, st.st_ino, settle
        self.offset, self.line = int(mark.get("offset", 0)), int(mark.get("line", 0))
        self.reopen = bool(mark.get("open"))
        self.open_at: int | None = None  # offset after a last line read without its newline
        if mark.get("inode") != st.st_ino or st.st_size < self.offset:
            self.offset, self.line, self.reopen = 0, 0, False

    def mark(self, line: int, offset: int) -> dict[str, Any]:
        mark: dict[str, Any] = {"inode": self.inode, "offset": offset, "line": line}
        if offset == self.open_at:
            mark["open"] = True
        return mark

    def __iter__(self) -> Iterator[tuple[int, bytes, int]]:
        offset, line_no = self.offset, self.line
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            if self.reopen and fh.read(1) == b"\n":
                offset += 1  # the newline that closes a line already read whole
            fh.seek(offset)
            for line in fh:
                if line[-1:] != b"\n":
                    # A partial last line: the writer is not done with it, unless it has been quiet.
                    if self.settle is not None and time.time() - os.fstat(fh.fileno()).st_mtime >= self.settle:
                        self.open_at = offset + len(line)
                        yield line_no + 1, line, self.open_at
                    return
                offset += len(line)
                line_no += 1
                yield line_no, line[:-1], offset


def read_lines(path: Path, mark: dict[str, Any] | None, *,
               settle: float | None = None) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """(line number, line without newline, mark after this line) for each complete new line, and
    for a last line without a newline when the file has not been written for `settle` seconds."""
    lines = Lines(path, mark, settle)
    for line_no, line, offset in lines:
        yield line_no, line, lines.mark(line_no, offset)


def json_objects(path: Path, mark: dict[str, Any] | None, *, settle: float | None = None,
                 ) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]] | Any]:
    """(line number, JSON object, mark after it) per new record of a JSONL file. A blank line
    yields only its Checkpoint; a line that is not a JSON object yields a BadInput with
    file:line, then its Checkpoint. Callers pass items through and handle the tuples."""
    from aitherd.sources.items import BadInput, Checkpoint

    for line_no, raw, new_mark in read_lines(path, mark, settle=settle):
        if not raw.strip():
            yield Checkpoint(new_mark)
            continue
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as err:
            yield BadInput(f"{path}:{line_no}", f"malformed line: {err}")
            yield Checkpoint(new_mark)
            continue
        yield line_no, record, new_mark
