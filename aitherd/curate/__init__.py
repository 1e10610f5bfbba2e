"""Curation: every harvested candidate passes redact, judge, decontam and dedup before storage.

Public names load on first use (PEP 562), so `aitherd.curate.config` and `.reports` stay light
for the daemon process; the steps themselves (numpy, datasketch) load in job workers only.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "BenchmarkPaths": "config", "CurationConfig": "config", "DecontamConfig": "config",
    "DedupConfig": "config", "JudgeConfig": "config", "LLMJudgeConfig": "config",
    "RedactConfig": "config", "DecontamError": "decontam", "DecontamIndex": "decontam",
    "screen": "decontam", "Curator": "pipeline", "Stats": "pipeline", "Step": "steps",
    "decontam_report": "reports", "rejected": "reports",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'aitherd.curate' has no attribute {name!r}")
    return getattr(importlib.import_module(f"aitherd.curate.{_WHERE[name]}"), name)
