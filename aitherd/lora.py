"""The `[lora]` section: one LoRA shape read by the trainer (PEFT's LoraConfig), the vLLM supervisor
(`--max-lora-rank`) and evaluation (which adapters it may load: only those the server can serve).

Low on purpose (pydantic only): train, evaluate and serve all import it, none of them each other.
vLLM's `LoRAConfig.max_lora_rank` is a Literal of 1, 8, 16, 32, 64, 128, 256, 320 and 512 (default
16, which refuses r=32 adapters); the supervisor passes r rounded up to the next of those, or
`max_rank` when it is set (room for adapters trained at a larger rank earlier).

The keys used to live in `[train.lora]` and `[serve] max_lora_rank`; `migrate_legacy` moves them
here with a deprecation note each, so an old config keeps working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aitherd.sections import section_of

# The values vLLM accepts for --max-lora-rank (vllm/config/lora.py, MaxLoRARanks).
VLLM_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
# All attention and MLP projections of Qwen2 and Gemma decoders; PEFT's own default is only q,v.
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def serving_rank(r: int) -> int:
    """The smallest rank vLLM accepts for --max-lora-rank that loads an adapter of rank r."""
    for rank in VLLM_MAX_LORA_RANKS:
        if rank >= r:
            return rank
    raise ValueError(f"rank {r} is above {VLLM_MAX_LORA_RANKS[-1]}, the largest vLLM can load")


class LoraTraining(BaseModel):
    """What the trainer needs: the part of `[lora]` that changes the adapter (and the training
    spec's identity, so it holds exactly these four keys)."""

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=32, ge=1, le=VLLM_MAX_LORA_RANKS[-1])
    alpha: int = Field(default=64, ge=1)
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: list(ALL_PROJECTIONS), min_length=1)


class LoraSection(LoraTraining):
    """`[lora]`: rank, scaling, dropout and modules of every adapter aitherd trains, and the
    largest rank the model server reserves room for."""

    # vLLM's --max-lora-rank; 0: r rounded up to the next value vLLM accepts.
    max_rank: int = Field(default=0, ge=0)

    @field_validator("max_rank")
    @classmethod
    def _vllm_rank(cls, value: int) -> int:
        if value and value not in VLLM_MAX_LORA_RANKS:
            raise ValueError(f"vLLM accepts a max rank of {', '.join(map(str, VLLM_MAX_LORA_RANKS))} "
                             f"(or 0: r rounded up), got {value}")
        return value

    @model_validator(mode="after")
    def _fits(self) -> LoraSection:
        if self.max_rank and self.max_rank < self.r:
            raise ValueError(f"max_rank {self.max_rank} is below r = {self.r}: the model server could not "
                             "load the adapters aitherd trains")
        return self

    @property
    def server_rank(self) -> int:
        """What the vLLM supervisor passes as --max-lora-rank."""
        return self.max_rank or serving_rank(self.r)

    def training(self) -> LoraTraining:
        return LoraTraining(r=self.r, alpha=self.alpha, dropout=self.dropout,
                            target_modules=list(self.target_modules))


def adapter_rank(path: str | Path) -> int | None:
    """The largest rank of a PEFT adapter directory (`r`, or a larger one in `rank_pattern`), as
    vLLM checks it against --max-lora-rank; None when adapter_config.json is missing or unreadable."""
    try:
        data = json.loads((Path(path) / "adapter_config.json").read_text())
        ranks = [int(data["r"]), *(int(v) for v in (data.get("rank_pattern") or {}).values())]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return max(ranks)


def unservable(path: str | Path, max_rank: int) -> str | None:
    """Why the model server could not load this adapter (its rank is above `max_rank`), or None."""
    rank = adapter_rank(path)
    if rank is not None and rank > max_rank:
        return (f"adapter {path} has rank {rank}, above the model server's --max-lora-rank {max_rank} "
                "([lora] r rounded up, or [lora] max_rank): vLLM would refuse to load it")
    return None


def lora_config_of(config: object) -> LoraSection:
    """The `[lora]` section of a daemon Config, or the defaults where it has none."""
    return section_of(config, "lora", LoraSection)


def migrate_legacy(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Move `[train.lora]` and `[serve] max_lora_rank` (the keys before `[lora]`) into `[lora]`;
    returns the new raw config and one deprecation note per key moved. Setting a key both ways
    is an error: which one was meant cannot be told."""
    notes: list[str] = []
    train, serve = data.get("train"), data.get("serve")
    lora = data.get("lora")
    if isinstance(train, dict) and "lora" in train:
        if lora is not None:
            raise ValueError("both [train.lora] (deprecated) and [lora] are set: keep [lora] only")
        data = {**data, "lora": train["lora"], "train": {k: v for k, v in train.items() if k != "lora"}}
        notes.append("[train.lora] is deprecated: rename the section to [lora] (the trainer, the "
                     "vLLM supervisor and evaluation all read it)")
    if isinstance(serve, dict) and "max_lora_rank" in serve:
        moved = dict(data.get("lora") or {}) if isinstance(data.get("lora") or {}, dict) else None
        if moved is None:
            return data, notes  # [lora] is not a table: its own validation says so
        if "max_rank" in moved:
            raise ValueError("both [serve] max_lora_rank (deprecated) and [lora] max_rank are set: "
                             "keep [lora] max_rank only")
        value = serve["max_lora_rank"]
        if value not in VLLM_MAX_LORA_RANKS:
            raise ValueError(f"[serve] max_lora_rank (deprecated; now [lora] max_rank): vLLM accepts "
                             f"{', '.join(map(str, VLLM_MAX_LORA_RANKS))}, got {value!r}")
        moved["max_rank"] = value
        data = {**data, "lora": moved, "serve": {k: v for k, v in serve.items() if k != "max_lora_rank"}}
        notes.append("[serve] max_lora_rank is deprecated: set [lora] max_rank instead, or leave it "
                     "out (r rounded up to a rank vLLM accepts)")
    return data, notes
