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

CHUNK = 1 << 20


def read_lines(path: Path, mark: dict[str, Any] | None) -> Iterator[tuple[int, bytes, dict[str, Any]]]:
    """(line number, line without newline, mark after this line) for each complete new line."""
    st = os.stat(path)
    mark = dict(mark or {})
    offset, line_no = int(mark.get("offset", 0)), int(mark.get("line", 0))
    if mark.get("inode") != st.st_ino or st.st_size < offset:
        offset, line_no = 0, 0
    with open(path, "rb") as fh:
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
