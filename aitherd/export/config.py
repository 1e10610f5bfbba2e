"""Export configuration: target sizes and mixes, base families, FIM share, competition format."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aitherd import specialists
from aitherd.candidate import CODER_CATEGORIES, REASONER_CATEGORIES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_mix(mix: dict[str, float], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(mix) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown category {unknown[0]!r}; expected {', '.join(allowed)}")
    if any(v < 0 for v in mix.values()) or abs(sum(mix.values()) - 1.0) > 1e-6:
        raise ValueError(f"{where}: shares must be >= 0 and add up to 1, got {sum(mix.values()):g}")


class CoderExport(_Section):
    size: int = Field(default=specialists.CODER.export_size, ge=1)
    mix: dict[str, float] = Field(default_factory=lambda: dict(specialists.CODER.mix))
    # Share of the corpus turned into Fill-in-the-Middle records, chosen deterministically.
    fim_fraction: float = Field(default=0.30, ge=0, le=1)

    @model_validator(mode="after")
    def _mix_ok(self) -> CoderExport:
        _check_mix(self.mix, CODER_CATEGORIES, "export.coder.mix")
        return self


class ReasonerExport(_Section):
    size: int = Field(default=specialists.REASONER.export_size, ge=1)
    # non_reasoning: plain answers without chain of thought, so the model learns when not to think.
    mix: dict[str, float] = Field(default_factory=lambda: dict(specialists.REASONER.mix))

    @model_validator(mode="after")
    def _mix_ok(self) -> ReasonerExport:
        _check_mix(self.mix, REASONER_CATEGORIES, "export.reasoner.mix")
        return self


class FamilyOverride(_Section):
    """Per base family: a local tokenizer (directory with tokenizer.json, or the file) to read
    FIM tokens from and measure lengths with; explicit tokens override what is read."""

    tokenizer: str = ""
    fim_prefix: str | None = None
    fim_suffix: str | None = None
    fim_middle: str | None = None


class CompetitionExport(_Section):
    enabled: bool = False
    format: Literal["csv", "jsonl", "parquet"] = "csv"
    specialists: list[Literal["coder", "reasoner"]] = Field(default_factory=lambda: ["reasoner"])  # type: ignore[arg-type]
    # Output column -> field: id, prompt, response, reasoning, answer, category, source.
    fields: dict[str, str] = Field(default_factory=lambda: {
        "id": "id", "prompt": "prompt", "response": "response"})
    # Placeholders: {question} (the last user turn), {system}, {category}.
    prompt_template: str = "{question}"
    include_reasoning: bool = True


class ExportConfig(_Section):
    seed: int = 1234
    validation_fraction: float = Field(default=0.02, ge=0, lt=1)
    keep: int = Field(default=5, ge=1)
    # What to do when a category has fewer examples than its target: spread the gap over the
    # categories that have more ("redistribute"), or export fewer examples ("none").
    fill: Literal["redistribute", "none"] = "redistribute"
    families: list[str] = Field(default_factory=lambda: ["deepseek-r1-distill-qwen"])
    coder: CoderExport = Field(default_factory=CoderExport)
    reasoner: ReasonerExport = Field(default_factory=ReasonerExport)
    family: dict[str, FamilyOverride] = Field(default_factory=dict)
    competition: CompetitionExport = Field(default_factory=CompetitionExport)

    @model_validator(mode="after")
    def _families_known(self) -> ExportConfig:
        from aitherd.export.families import FAMILIES

        for name in [*self.families, *self.family]:
            if name not in FAMILIES:
                raise ValueError(f"export: unknown base family {name!r}; expected one of "
                                 f"{', '.join(FAMILIES)}")
        return self
