"""Jupyter notebooks read as their cells, not as JSON.

A notebook's diff is JSON: escaped source lines (`"    x = 1\\n",`), execution counts, outputs,
base64 plots. An example made of it asks a model to edit escaped JSON (jakevdp's
PythonDataScienceHandbook: 107 of its 192 examples). Here the two sides of a notebook are read
whole and written as a script in Jupytext's percent format: each cell after a `# %%` line, a
markdown cell's text as comments under `# %% [markdown]`, IPython magics and shell escapes
(`%matplotlib inline`, `!pip install x`) commented out; outputs and counts left out. The
two scripts are diffed with the miner's context, and the hunks stand for the notebook's
(a change to outputs alone gives none). The fence is the kernel's language.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from aitherd.sources.git.parse import Hunk, hunks

# The comment a cell marker and a markdown line take, by the kernel's language (Jupytext's).
_COMMENT = {"python": "#", "r": "#", "julia": "#", "ruby": "#", "bash": "#", "sh": "#", "perl": "#",
            "powershell": "#", "javascript": "//", "typescript": "//", "java": "//", "scala": "//",
            "kotlin": "//", "c++": "//", "cpp": "//", "c": "//", "csharp": "//", "c#": "//", "go": "//",
            "rust": "//", "groovy": "//", "sql": "--", "haskell": "--", "lua": "--", "matlab": "%",
            "octave": "%", "q": "/", "sas": "*"}
_FENCE = {"c++": "cpp", "c#": "csharp", "sh": "bash", "octave": "matlab"}


def language(nb: dict[str, Any]) -> str:
    """The notebook's language, lowercase ('python' where its metadata says none)."""
    meta = nb.get("metadata")
    if not isinstance(meta, dict):
        return "python"
    for key in ("kernelspec", "language_info"):
        info = meta.get(key)
        if isinstance(info, dict):
            name = info.get("language") if key == "kernelspec" else info.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip().lower()
    return "python"


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", cell.get("input", ""))  # nbformat 3 calls a code cell's source "input"
    return "".join(src) if isinstance(src, list) else src if isinstance(src, str) else ""


def script(raw: bytes | str) -> tuple[str, str] | None:
    """(the notebook as a percent-format script, the fence language), or None when `raw` is no
    notebook (not JSON, or no cells)."""
    try:
        nb = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(nb, dict):
        return None
    cells = nb.get("cells")
    if cells is None and isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in nb["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    if not isinstance(cells, list):
        return None
    lang = language(nb)
    mark = _COMMENT.get(lang, "#")
    out = []
    for cell in cells:
        if not isinstance(cell, dict):
            continue
        text = _source(cell).rstrip("\n")
        kind = cell.get("cell_type")
        if kind == "code":
            if lang == "python":  # IPython's magics and shell escapes are no Python
                text = "\n".join(f"# {ln}" if ln.lstrip().startswith(("%", "!")) else ln for ln in text.split("\n"))
            out.append(f"{mark} %%\n{text}" if text else f"{mark} %%")
        elif kind in ("markdown", "raw", "heading"):
            lines = [f"{mark} {ln}" if ln else mark for ln in text.split("\n")] if text else []
            out.append("\n".join([f"{mark} %% [{'markdown' if kind == 'heading' else kind}]", *lines]))
    return "\n\n".join(out) + "\n", _FENCE.get(lang, lang)


def diff(path: str, before: str, after: str, context: int) -> list[Hunk]:
    """The hunks between two scripts, as git would give them with `-U<context>`."""
    old, new = before.splitlines(), after.splitlines()
    body = "\n".join(difflib.unified_diff(old, new, n=context, lineterm=""))
    at = body.find("\n@@ ")
    return [] if at < 0 else hunks(path, body[at + 1:] + "\n", 0)
