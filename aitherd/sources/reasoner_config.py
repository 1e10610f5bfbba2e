"""[sources.reasoner]: which reasoning sources run, and how (light: the config imports it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aitherd.durations import Duration
from aitherd.sources.chronicle import ChronicleMapping
from aitherd.sources.generate import AugmentConfig, TeacherConfig
from aitherd.sources.non_reasoning import NonReasoning
from aitherd.sources.reasoner_datasets import ADAPTERS, DatasetSource


class ReasonerSources(BaseModel):
    """[sources.reasoner]: a source is on when its table is present (and enabled)."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(default=200, ge=1)
    chronicle: ChronicleMapping = Field(default_factory=ChronicleMapping)
    # A trace file's last record without a newline is read once the file has been quiet this long.
    settle: Duration = 60.0
    teacher: TeacherConfig | None = None
    augment: AugmentConfig | None = None
    datasets: dict[str, DatasetSource] = Field(default_factory=dict)
    non_reasoning: NonReasoning = Field(default_factory=NonReasoning)

    @model_validator(mode="after")
    def _known_datasets(self) -> ReasonerSources:
        unknown = sorted(set(self.datasets) - set(ADAPTERS))
        if unknown:
            raise ValueError(f"unknown reasoning dataset {unknown[0]!r}; expected one of "
                             f"{', '.join(ADAPTERS)}")
        return self
