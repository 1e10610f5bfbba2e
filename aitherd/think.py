"""Chain-of-thought text without think tags: every source stores reasoning bare, and the export
wraps it in the target model's own tags. A trace that arrives already wrapped (`<think>...</think>`,
even twice) is unwrapped here, so an export never reads `<think>\\n<think>...`.

Unbalanced tags are left as they are: a trace cut off mid-thought is for the caller to reject.
"""

from __future__ import annotations

import re

OPEN, CLOSE = "<think>", "</think>"
_TAG = re.compile(r"</?think>")


def _match_close(text: str, start: int) -> int:
    """Index of the `</think>` closing the `<think>` at `start`, or -1 when it never closes."""
    depth = 0
    for m in _TAG.finditer(text, start):
        depth += 1 if m.group() == OPEN else -1
        if depth == 0:
            return m.start()
    return -1


def unwrap(reasoning: str | None) -> str | None:
    """`reasoning` without the think tags wrapped around the whole of it (nested wrappers too);
    None when nothing is left."""
    if reasoning is None:
        return None
    text = reasoning.strip()
    while text.startswith(OPEN) and _match_close(text, 0) == len(text) - len(CLOSE):
        text = text[len(OPEN):-len(CLOSE)].strip()
    return text or None


def split(text: str) -> tuple[str | None, str]:
    """(reasoning, answer) of a reply that opens with a think block, or whose reasoning ends in a
    lone `</think>` (chat templates that open the block in the prompt); (None, text) otherwise,
    and for a block that never closes."""
    body = text.lstrip()
    if body.startswith(OPEN):
        end = _match_close(body, 0)
        if end == -1:
            return None, text
        return unwrap(body[:end + len(CLOSE)]), body[end + len(CLOSE):].strip()
    if OPEN not in body and body.count(CLOSE) == 1:
        thought, answer = body.split(CLOSE)
        return unwrap(thought), answer.strip()
    return None, text
