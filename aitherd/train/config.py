"""Training configuration: the `[train]` section of the daemon config, with per-specialist parts.
The adapter's shape (rank, alpha, dropout, modules) is the `[lora]` section (aitherd.lora), which
serving and evaluation read too.

Light on purpose (pydantic only): the daemon validates it at start; the trainer subprocess gets
the resolved values for one specialist in its spec.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aitherd import specialists
from aitherd.lora import ALL_PROJECTIONS  # noqa: F401 - re-exported for callers of the old home
from aitherd.sections import section_of

SPECIALISTS = specialists.NAMES


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecialistTrain(_Section):
    """Values that differ per specialist; anything left unset here falls back to [train]."""

    enabled: bool = True
    epochs: float = Field(default=1.0, gt=0)
    max_length: int = Field(default=8192, ge=16)
    learning_rate: float | None = None
    per_device_batch_size: int | None = None
    gradient_accumulation_steps: int | None = None
    max_steps: int | None = None  # caps the run (smoke tests, benchmarks); None: full epochs


class CoderTrain(SpecialistTrain):
    epochs: float = Field(default=specialists.CODER.epochs, gt=0)
    max_length: int = Field(default=specialists.CODER.max_length, ge=16)


class ReasonerTrain(SpecialistTrain):
    epochs: float = Field(default=specialists.REASONER.epochs, gt=0)
    max_length: int = Field(default=specialists.REASONER.max_length, ge=16)


class TrainConfig(_Section):
    """`[train]`: how aitherd trains its LoRA specialists. Every key has a default."""

    base_model: str = "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B"  # local path or hub id
    base_family: str = "deepseek-r1-distill-qwen"  # the export family to train from (see [export])
    learning_rate: float = Field(default=2e-4, gt=0)
    lr_scheduler: str = "cosine"
    warmup_ratio: float = Field(default=0.03, ge=0.0, lt=1.0)
    weight_decay: float = Field(default=0.0, ge=0.0)
    per_device_batch_size: int = Field(default=1, ge=1)
    gradient_accumulation_steps: int = Field(default=16, ge=1)
    gradient_checkpointing: bool = True
    # "auto": pack when the attention path keeps packed sequences apart (see trainer.py).
    packing: Literal["auto", "on", "off"] = "auto"
    assistant_only_loss: bool = True
    # "auto": QLoRA (4-bit NF4) when CUDA and bitsandbytes are present, bf16 LoRA on a GPU
    # without them, fp32 on CPU.
    quantization: Literal["auto", "nf4", "none"] = "auto"
    attn_implementation: str | None = None  # e.g. "flash_attention_2"; None: transformers' choice
    save_steps: int = Field(default=100, ge=1)
    save_total_limit: int = Field(default=2, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    eval_at_end: bool = True
    seed: int = 42
    # Extra arguments for `accelerate launch` (several GPUs); empty: a plain `python -m`.
    accelerate_args: list[str] = Field(default_factory=list)
    # Python interpreter with the training extras; empty: the worker's own.
    python: str = ""
    keep_checkpoints: bool = False  # keep a finished run's checkpoints (they hold optimizer state)
    # Where Sunday's run starts: a fresh LoRA on the base model ("base", as STaR prescribes: no
    # drift compounding over iterations), or the specialist's live adapter, trained further
    # ("live"; from the base when none is live). Recorded in the adapter's lineage.
    start_from: Literal["base", "live"] = "base"
    coder: CoderTrain = Field(default_factory=CoderTrain)
    reasoner: ReasonerTrain = Field(default_factory=ReasonerTrain)

    def specialist(self, name: str) -> SpecialistTrain:
        if name not in SPECIALISTS:
            expected = ", ".join(SPECIALISTS)
            raise ValueError(f"unknown specialist {name!r}; expected one of {expected}")
        section: SpecialistTrain = getattr(self, name)
        return section


def train_config_of(config: object) -> TrainConfig:
    """The `[train]` section of a daemon Config, or the defaults until the daemon mounts it."""
    return section_of(config, "train", TrainConfig)
