"""Codex CLI rollouts (`~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<id>.jsonl`): records to turn
events.

A line is `{timestamp, type, payload}`. `response_item` payloads give the user's requests
(`message` role user, less the injected `<environment_context>`, `<user_instructions>` and
`# AGENTS.md instructions` messages), the assistant's text (`message` role assistant) and its
edits: a patch (`*** Begin Patch` ... `*** End Patch`) through the `apply_patch` tool (a
`custom_tool_call` with the patch as `input`, or a `function_call`) or inside a shell call:
`exec_command {"cmd": "..."}`, `shell_command {"command": "..."}`, `shell {"command": [...]}`
or `local_shell_call`, usually as `apply_patch <<'EOF' ... EOF` under `bash -lc`. Only the
patch itself is kept. A call whose output shows it failed (a non-zero exit code, "verification
failed", `patch_apply_end` with `success: false`) is dropped; `turn_aborted` marks the turn
interrupted. Older rollouts, with a metadata first line and the items themselves as lines (no
envelope), are read the same way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aitherd.sources.sessions.common import Malformed, kind, want_dict, want_str
from aitherd.sources.sessions.jsonl import EDIT, FAIL, INTERRUPT, REQUEST, TEXT, Event

_PATCH = re.compile(r"\*\*\* Begin Patch\r?\n.*?\n\*\*\* End Patch", re.S)
_EXIT = re.compile(r"^(?:Exit code:|Process exited with code) (-?\d+)", re.M)
_COMMAND_KEYS = ("cmd", "command", "input", "patch")
_SKIPPED = (b'"turn_context"', b'"session_meta"', b'"compacted"')
_OUTPUTS = (b'"function_call_output"', b'"custom_tool_call_output"')
_TEXT_ITEMS = ("input_text", "output_text", "text")
_ITEM_TYPES = ("message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
               "local_shell_call")


def patches(value: Any) -> list[str]:
    """Every apply_patch patch in a command (a string, or a list of arguments)."""
    if isinstance(value, list):
        value = "\n".join(v for v in value if isinstance(v, str))
    if not isinstance(value, str) or "*** Begin Patch" not in value:
        return []
    return _PATCH.findall(value)


def failed(output: Any) -> bool:
    """True when a tool call's output says it failed."""
    if not isinstance(output, str):
        return False
    text = output.lstrip()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            meta = doc.get("metadata")
            code = meta.get("exit_code") if isinstance(meta, dict) else None
            if isinstance(code, int) and not isinstance(code, bool):
                return code != 0
            inner = doc.get("output")
            text = inner if isinstance(inner, str) else ""
    head = text[:2000]
    if m := _EXIT.search(head):
        return int(m.group(1)) != 0
    return "verification failed" in head or head.startswith(("error:", "Error:", "Failed to"))


def _injected(text: str) -> bool:
    """Context Codex adds to the conversation as user messages: not the user's request."""
    s = text.lstrip()
    return s.startswith("<") or s.startswith("# AGENTS.md instructions for ")


class CodexParser:
    def __init__(self) -> None:
        self.awaiting: set[str] = set()  # ids of edit calls whose outcome is still to come

    def skip(self, raw: bytes) -> bool:
        if not raw.endswith(b"}"):
            return False
        i = raw.find(b'"type":')
        if i < 0:
            return False
        i += 8 if raw[i + 7:i + 8] == b" " else 7
        if raw.startswith(_SKIPPED, i):
            return True
        if raw.startswith(b'"event_msg"', i):
            return not (b'"turn_aborted"' in raw or (self.awaiting and b'"patch_apply_end"' in raw)
                        or (self.awaiting and b'"exec_command_end"' in raw))
        if raw.startswith(b'"response_item"', i):
            j = raw.find(b'"type":', i)
            if j >= 0:
                j += 8 if raw[j + 7:j + 8] == b" " else 7
                # Tool output matters only for an edit awaiting its outcome; reasoning never.
                return (not self.awaiting and raw.startswith(_OUTPUTS, j)) or raw.startswith(b'"reasoning"', j)
        return False

    def feed(self, rec: dict[str, Any]) -> tuple[Event, ...] | list[Event]:
        t = rec.get("type")
        if t == "event_msg":
            return self._event(want_dict(rec.get("payload"), "payload"))
        if t == "response_item":
            p = want_dict(rec.get("payload"), "payload")
        elif t in _ITEM_TYPES and "payload" not in rec:
            p = rec  # rollouts before the {timestamp, type, payload} envelope: the item itself
        else:
            return ()
        pt = p.get("type")
        if pt == "message":
            return self._message(p)
        if pt in ("function_call", "custom_tool_call", "local_shell_call"):
            return self._call(p, pt)
        if pt in ("function_call_output", "custom_tool_call_output"):
            cid = p.get("call_id")
            if isinstance(cid, str) and cid in self.awaiting:
                self.awaiting.discard(cid)
                if failed(p.get("output")):
                    return ((FAIL, cid),)
        return ()

    def _event(self, p: dict[str, Any]) -> tuple[Event, ...]:
        pt = p.get("type")
        if pt == "turn_aborted":
            return ((INTERRUPT,),)
        cid = p.get("call_id")
        if not isinstance(cid, str) or cid not in self.awaiting:
            return ()
        code = p.get("exit_code")
        if (pt == "patch_apply_end" and p.get("success") is False) or (
                pt == "exec_command_end" and isinstance(code, int) and code != 0):
            self.awaiting.discard(cid)
            return ((FAIL, cid),)
        return ()

    @staticmethod
    def _message(p: dict[str, Any]) -> tuple[Event, ...]:
        content = p.get("content")
        if content is None:
            parts: list[str] = []
        elif isinstance(content, str):
            parts = [content]
        elif isinstance(content, list):
            parts = []
            for item in content:
                c = want_dict(item, "a content item")
                if c.get("type") in _TEXT_ITEMS:
                    parts.append(want_str(c.get("text"), f"text of an {c.get('type')} item"))
        else:
            raise Malformed(f"content of a message is {kind(content)}, not a string or a list")
        role = p.get("role")
        if role == "user":
            text = "\n".join(t for t in parts if not _injected(t)).strip()
            return ((REQUEST, text, None),) if text else ()
        if role == "assistant":
            text = "\n".join(parts)
            return ((TEXT, text),) if text.strip() else ()
        return ()

    def _call(self, p: dict[str, Any], pt: str) -> tuple[Event, ...]:
        found: list[str] = []
        if pt == "function_call":
            raw = p.get("arguments")
            if not isinstance(raw, str):
                raise Malformed(f"arguments of a function call is {kind(raw)}, not a JSON string")
            try:
                args = json.loads(raw)
            except ValueError:
                raise Malformed("arguments of a function call are not JSON") from None
            if isinstance(args, dict):
                for key in _COMMAND_KEYS:
                    found += patches(args.get(key))
        elif pt == "custom_tool_call":
            found = patches(want_str(p.get("input"), "input of a custom tool call"))
        else:  # local_shell_call: {action: {type: exec, command: [...]}}
            action = p.get("action")
            found = patches(action.get("command")) if isinstance(action, dict) else []
        if not found:
            return ()
        cid = p.get("call_id")
        if isinstance(cid, str):
            self.awaiting.add(cid)
        block = "\n\n".join(f"```diff\n{x}\n```" for x in found)
        return ((EDIT, cid if isinstance(cid, str) else object(), block),)
