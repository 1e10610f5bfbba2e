"""Reading growing files incrementally: (inode, byte offset) marks, rotation and truncation
handled, a partial last line left for the next read.

A mark is {"inode": int, "offset": int, "line": int}. A new inode (the file was rotated or
replaced) or a size below the offset (truncated) starts the file over; the caller's content
hashes make re-reading harmless. With `settle`, a last line without a newline is read once the
file has been quiet that long (the writer finished without one); the mark then says so
(`"open": true`), and a newline written after it later is not counted as a line of its own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def read_lines(path: Path, mark: dict[str, Any] | None, *,
               settle: float | None = None) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """(line number, line without newline, mark after this line) for each complete new line, and
    for a last line without a newline when the file has not been written for `settle` seconds."""
    st = os.stat(path)
    mark = dict(mark or {})
    offset, line_no = int(mark.get("offset", 0)), int(mark.get("line", 0))
    if mark.get("inode") != st.st_ino or st.st_size < offset:
        offset, line_no, mark = 0, 0, {}
    with open(path, "rb") as fh:
        fh.seek(offset)
        if mark.get("open") and fh.read(1) == b"\n":
            offset += 1  # the newline that closes a line already read whole
        fh.seek(offset)
        pending = b""
        while chunk := fh.read(CHUNK):
            pending += chunk
            start = 0
            while (nl := pending.find(b"\n", start)) != -1:
                line = pending[start:nl]
                offset += nl - start + 1
                line_no += 1
                start = nl + 1
                yield line_no, line, {"inode": st.st_ino, "offset": offset, "line": line_no}
            pending = pending[start:]
        if pending and settle is not None and time.time() - os.fstat(fh.fileno()).st_mtime >= settle:
            offset += len(pending)
            line_no += 1
            yield line_no, pending, {"inode": st.st_ino, "offset": offset, "line": line_no, "open": True}
