"""The miner's settings as worker processes receive them: plain, picklable, standard library only
(built from `GitMiningConfig` by `aitherd.sources.gitmine`)."""

from __future__ import annotations

import os
import pickle
import time
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
    model: Any = None  # the per-repo classifier (classify.Model), a PendingModel, or None
    prior: bool = True  # classify with the shipped cross-repo prior
    fix_confidence: float = 0.7  # a bugfix the model or prior is less sure of is framed as an edit


class ModelFailed(RuntimeError):
    """The repo model could not be made (the training's error, or why its process ended)."""


@dataclass(frozen=True)
class PendingModel:
    """A repo model still being trained (in its own process, beside the workers: polars' took
    1.5 s, one core idle, before any commit was mined), to be read from `path` once written
    there: the model (or None: the repo has too few prefixed commits), or a ModelFailed."""

    path: str
    timeout: float = 900.0

    def write(self, value: Any) -> None:
        """Written whole or not at all (a reader never sees half a pickle)."""
        tmp = f"{self.path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)

    def read(self, wait: bool) -> tuple[bool, Any]:
        """(True, the model) once written; (False, None) while it is not and `wait` is False.
        ModelFailed when the training failed, or nothing came within `timeout` seconds."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with open(self.path, "rb") as f:
                    value = pickle.load(f)
            except FileNotFoundError:
                if not wait:
                    return False, None
                if time.monotonic() > deadline:
                    raise ModelFailed(f"no repo model after {self.timeout:.0f} s") from None
                time.sleep(0.01)
                continue
            if isinstance(value, ModelFailed):
                raise value
            return True, value
