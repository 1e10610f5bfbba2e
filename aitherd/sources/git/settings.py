"""The miner's settings as worker processes receive them: plain, picklable, standard library only
(built from `GitMiningConfig` by `aitherd.sources.gitmine`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    repo: str
    tip: str  # the tip of the range being mined: generated-file checks read files there
    context_lines: int = 10
    max_diff_bytes: int = 200_000
    max_hunk_lines: int = 120
    min_changed_lines: int = 1
    max_example_chars: int = 12_000
    max_example_files: int = 5
    max_split_examples: int = 6
    python_context_lines: int = 30  # file lines around a Python hunk with no window of its own (0: off)
    docs_keep: float = 1.0
    docs_weight: float = 0.5
    skip_vague: bool = True  # skip examples whose intent names no change (see examples.vague)
    review_days: int = 365
    skip_paths: tuple[str, ...] = ()
    translations: bool = False  # mine translation catalogs (files.is_translation) too
    credential_files: tuple[str, ...] | None = None  # None: aitherd.sources.credfiles' defaults
    llm: dict[str, Any] | None = None  # an EndpointConfig as a dict; None: no LLM labelling
    label_cache: str | None = None  # SQLite file of LLM labels by commit sha
    model: Any = None  # the per-repo classifier (classify.Model), or None
    prior: bool = True  # classify with the shipped cross-repo prior
    fix_confidence: float = 0.7  # a bugfix the model or prior is less sure of is framed as an edit
