"""The training spec: everything one trainer subprocess needs, as one JSON file.

The job writes it; `python -m aitherd.train SPEC.json` reads it. Its sha256 (over what changes
the result, not where files live) says whether a run directory's checkpoints can be resumed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from aitherd.lora import LoraTraining
from aitherd.train.config import TrainConfig

# Exit codes of the trainer subprocess; result.json in the run directory says the same in words.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2  # missing base model, empty or malformed export
EXIT_OOM = 3
EXIT_INTERRUPTED = 75  # stopped on request after saving a checkpoint (EX_TEMPFAIL)


class TrainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    specialist: str
    export_id: str
    export_path: str
    output_dir: str
    base_model: str
    base_family: str
    epochs: float
    max_steps: int | None
    max_length: int
    learning_rate: float
    lr_scheduler: str
    warmup_ratio: float
    weight_decay: float
    per_device_batch_size: int
    gradient_accumulation_steps: int
    gradient_checkpointing: bool
    packing: str
    assistant_only_loss: bool
    quantization: str
    attn_implementation: str | None
    save_steps: int
    save_total_limit: int
    logging_steps: int
    eval_at_end: bool
    seed: int
    lora: LoraTraining  # from [lora]: r, alpha, dropout, target_modules
    # Continue from this adapter's weights instead of a fresh LoRA on the base (start_from =
    # "live"); None: from the base. The version is part of the spec's identity, the path not.
    init_adapter: str | None = None
    init_adapter_version: str | None = None

    @classmethod
    def build(cls, cfg: TrainConfig, specialist: str, export_id: str, export_path: Path,
              output_dir: Path, init_adapter: tuple[str, Path] | None = None,
              lora: LoraTraining | None = None) -> TrainSpec:
        """Resolve [train], [train.<specialist>] and [lora] (`lora`; its defaults when None) into one
        flat spec; `init_adapter` is the (version, path) of the adapter to continue from."""
        part = cfg.specialist(specialist)
        return cls(
            init_adapter=str(init_adapter[1]) if init_adapter else None,
            init_adapter_version=init_adapter[0] if init_adapter else None,
            specialist=specialist, export_id=export_id, export_path=str(export_path),
            output_dir=str(output_dir), base_model=cfg.base_model, base_family=cfg.base_family,
            epochs=part.epochs, max_steps=part.max_steps, max_length=part.max_length,
            learning_rate=part.learning_rate or cfg.learning_rate,
            lr_scheduler=cfg.lr_scheduler, warmup_ratio=cfg.warmup_ratio,
            weight_decay=cfg.weight_decay,
            per_device_batch_size=part.per_device_batch_size or cfg.per_device_batch_size,
            gradient_accumulation_steps=(part.gradient_accumulation_steps
                                         or cfg.gradient_accumulation_steps),
            gradient_checkpointing=cfg.gradient_checkpointing, packing=cfg.packing,
            assistant_only_loss=cfg.assistant_only_loss, quantization=cfg.quantization,
            attn_implementation=cfg.attn_implementation, save_steps=cfg.save_steps,
            save_total_limit=cfg.save_total_limit, logging_steps=cfg.logging_steps,
            eval_at_end=cfg.eval_at_end, seed=cfg.seed,
            lora=LoraTraining(**(lora or LoraTraining()).model_dump(include=set(LoraTraining.model_fields))),
        )

    def sha256(self) -> str:
        """Identity of the training itself: same value, same adapter (up to hardware noise)."""
        data = self.model_dump(exclude={"output_dir", "export_path", "init_adapter"})
        if data["init_adapter_version"] is None:  # specs written before the option hash as before
            del data["init_adapter_version"]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> TrainSpec:
        return cls.model_validate_json(Path(path).read_text())


class RunFiles:
    """The files of one run directory, STATE_DIR/train/<specialist>/<export_id>/."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.spec = self.root / "spec.json"
        self.progress = self.root / "progress.jsonl"
        self.result = self.root / "result.json"
        self.log = self.root / "train.log"
        self.final = self.root / "final"

    def checkpoints(self) -> list[Path]:
        found = [p for p in self.root.glob("checkpoint-*") if p.is_dir()
                 and p.name.removeprefix("checkpoint-").isdigit()]
        return sorted(found, key=lambda p: int(p.name.removeprefix("checkpoint-")))
