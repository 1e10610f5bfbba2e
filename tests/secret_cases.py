"""The held-out secrets set (tests/fixtures/secrets_heldout.txt) and how a finder is scored on it.

A finder maps a text to (start, end, ...) spans it would redact. A marked secret is caught when
every character of it lies inside spans; a false positive is a line with a redacted character
that holds no marked secret.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HELDOUT = Path(__file__).resolve().parent / "fixtures" / "secrets_heldout.txt"
_MARK = re.compile("⟦(.*?)⟧", re.DOTALL)


@dataclass
class Doc:
    kind: str
    title: str
    text: str
    secrets: list[tuple[int, int]] = field(default_factory=list)


def load(path: Path = HELDOUT) -> list[Doc]:
    docs: list[Doc] = []
    for block in re.split(r"^=== ", path.read_text(encoding="utf-8"), flags=re.MULTILINE)[1:]:
        head, _, body = block.partition(" ===\n")
        kind, _, title = head.partition(": ")
        text, secrets, last = [], [], 0
        pos = 0
        for m in _MARK.finditer(body):
            text.append(body[last:m.start()])
            pos += m.start() - last
            secrets.append((pos, pos + len(m.group(1))))
            text.append(m.group(1))
            pos += len(m.group(1))
            last = m.end()
        text.append(body[last:])
        docs.append(Doc(kind, title, "".join(text), secrets))
    return docs


Finder = Callable[[str], Sequence[Sequence[Any]]]


def score(docs: list[Doc], find: Finder) -> dict[str, Any]:
    """Recall (overall and per document kind), missed secrets and false-positive lines."""
    caught, total = Counter(), Counter()
    missed: list[tuple[str, str]] = []
    fp_lines: list[tuple[str, str]] = []
    for d in docs:
        spans = [(int(s[0]), int(s[1])) for s in find(d.text)]
        covered = bytearray(len(d.text))
        for s, e in spans:
            covered[s:e] = b"\x01" * (e - s)
        for s, e in d.secrets:
            total[d.kind] += 1
            if all(covered[s:e]):
                caught[d.kind] += 1
            else:
                missed.append((d.title, d.text[s:e]))
        line_start = 0
        for line in d.text.split("\n"):
            end = line_start + len(line)
            has_secret = any(s < end and e > line_start for s, e in d.secrets)
            if not has_secret and any(covered[line_start:end]):
                fp_lines.append((d.title, line))
            line_start = end + 1
    n = sum(total.values())
    return {"recall": sum(caught.values()) / n if n else 1.0, "caught": sum(caught.values()), "total": n,
            "by_kind": {k: (caught[k], total[k]) for k in sorted(total)},
            "missed": missed, "false_positive_lines": fp_lines}


def detect_secrets_finder() -> Finder:
    """detect-secrets 1.5 (all plugins, default settings) line by line, as a baseline."""
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = [c() for c in get_mapping_from_secret_type_to_class().values()]

    def find(text: str) -> list[tuple[int, int]]:
        spans, offset = [], 0
        for line in text.split("\n"):
            for p in plugins:
                for found in p.analyze_line(filename="x", line=line):
                    v = found.secret_value
                    at = line.find(v) if v else -1
                    if at >= 0:
                        spans.append((offset + at, offset + at + len(v)))
            offset += len(line) + 1
        return spans

    return find
