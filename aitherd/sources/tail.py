"""Reading growing files incrementally: (inode, byte offset) marks, rotation and truncation
handled, a partial last line left for the next read.

A mark is {"inode": int, "offset": int, "line": int}. A new inode (the file was rotated or
replaced) or a size below the offset (truncated) starts the file over; the caller's content
hashes make re-reading harmless.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Lines:
    """The complete new lines of a file after a mark, as (line number, line without its newline,
    byte offset after it); `mark(line, offset)` is the mark for a position. Cheaper than
    `read_lines` when a reader needs a mark only now and then."""

    def __init__(self, path: Path, mark: dict[str, Any] | None) -> None:
        st = os.stat(path)
        mark = mark or {}
        self.path, self.inode = path, st.st_ino
        self.offset, self.line = int(mark.get("offset", 0)), int(mark.get("line", 0))
        if mark.get("inode") != st.st_ino or st.st_size < self.offset:
            self.offset, self.line = 0, 0

    def mark(self, line: int, offset: int) -> dict[str, Any]:
        return {"inode": self.inode, "offset": offset, "line": line}

    def __iter__(self) -> Iterator[tuple[int, bytes, int]]:
        offset, line_no = self.offset, self.line
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            for line in fh:
                if line[-1:] != b"\n":
                    return  # a partial last line: the writer is not done with it
                offset += len(line)
                line_no += 1
                yield line_no, line[:-1], offset


def read_lines(path: Path, mark: dict[str, Any] | None) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """(line number, line without newline, mark after this line) for each complete new line."""
    lines = Lines(path, mark)
    for line_no, line, offset in lines:
        yield line_no, line, lines.mark(line_no, offset)
