"""Coding turns from AI session logs, read incrementally: Claude Code and Codex CLI session JSONL
(jsonl.py, claude.py, codex.py), OpenAI `messages` JSONL (openai.py), aider chat histories
(aider.py) and Continue session files (continue_.py).

A turn is a user request and the assistant's final answer to it: tool calls and their output
are dropped, the file edits the assistant made (and that did not fail) are kept as
SEARCH/REPLACE blocks or patches, reasoning goes to the example's reasoning. Only turns with
code or edits are kept. Every field of a record may be missing, null or of another type: a
record that cannot be used is `BadInput` with file:line, and reading goes on. Every file read
gets a checkpoint, so a second run reads nothing again.
"""

from aitherd.sources.sessions.aider import harvest_aider
from aitherd.sources.sessions.common import category_of
from aitherd.sources.sessions.continue_ import harvest_continue
from aitherd.sources.sessions.jsonl import harvest_jsonl
from aitherd.sources.sessions.openai import harvest_openai

__all__ = ["category_of", "harvest_aider", "harvest_continue", "harvest_jsonl", "harvest_openai"]
