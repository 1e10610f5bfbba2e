"""[sources.coder]: which coding sources run, and how (light: the config imports it).

Repositories come from [[repos]] (git mining and code patterns), session logs from [[logs]] of
kinds openai, claude, codex, aider and continue. A source is on when its table is present and enabled.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aitherd.durations import Duration
from aitherd.sources.codegraph import CodeGraphConfig
from aitherd.sources.coder_datasets import CODER_ADAPTERS
from aitherd.sources.corpus import CorpusSource
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.reasoner_datasets import DatasetSource


class SessionsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    # A session's last turn counts as finished after this long without a write to its file.
    settle: Duration = 600.0


class CoderSources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=500, ge=1)
    git: GitMiningConfig = Field(default_factory=GitMiningConfig)
    codegraph: CodeGraphConfig = Field(default_factory=CodeGraphConfig)
    sessions: SessionsConfig = Field(default_factory=SessionsConfig)
    corpus: list[CorpusSource] = Field(default_factory=list)
    datasets: dict[str, DatasetSource] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_datasets(self) -> CoderSources:
        unknown = sorted(set(self.datasets) - set(CODER_ADAPTERS))
        if unknown:
            raise ValueError(f"unknown coding dataset {unknown[0]!r}; expected one of "
                             f"{', '.join(CODER_ADAPTERS)}")
        return self
