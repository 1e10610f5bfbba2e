"""LoRA supervised fine-tuning of one specialist: `python -m aitherd.train SPEC.json`.

Reads top to bottom: load the export, the tokenizer with its training chat template, turn the
records into token ids and labels (chat through the template, FIM as raw text; over-long and
untrainable records dropped and counted), the base model (4-bit NF4 on CUDA when configured,
bf16 on a GPU, fp32 on CPU), wrap it in LoRA (a fresh one, or the live adapter to continue
from), train with TRL's SFTTrainer (packing where correct, resume from the last checkpoint),
evaluate, save the adapter to `final/` and say how it went in `result.json`.
Runs the same under `accelerate launch -m aitherd.train SPEC.json` on several GPUs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from peft import LoraConfig, PeftModel
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer

from aitherd import errors
from aitherd.train.callbacks import ProgressCallback, StopOnSignal
from aitherd.train.records import prepare
from aitherd.train.spec import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OOM,
    RunFiles,
    TrainSpec,
)
from aitherd.train.templates import training_template


class BadInput(errors.InputError):
    """The base model or the export cannot be used; nothing was trained."""


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m aitherd.train SPEC.json", file=sys.stderr)
        return EXIT_BAD_INPUT
    spec = TrainSpec.read(Path(argv[0]))
    files = RunFiles(Path(spec.output_dir))
    files.root.mkdir(parents=True, exist_ok=True)
    try:
        result = train(spec, files)
    except BadInput as err:
        result = {"status": "failed", "error_kind": "bad_input", "error": str(err)}
    except torch.OutOfMemoryError as err:
        result = {"status": "failed", "error_kind": "oom", "error": f"out of memory: {err}"}
    except Exception as err:
        kind = "oom" if "out of memory" in str(err) or "can't allocate memory" in str(err) \
            else "error"
        if _is_main_process():
            _write_json(files.result, {"status": "failed", "error_kind": kind,
                                       "error": f"out of memory: {err}" if kind == "oom"
                                       else f"{type(err).__name__}: {err}",
                                       "spec_sha256": spec.sha256()})
        raise  # the traceback goes to train.log
    if _is_main_process():
        _write_json(files.result, {**result, "spec_sha256": spec.sha256()})
    print(json.dumps({"aitherd_train_result": result}), flush=True)
    if result["status"] in ("ok", "interrupted"):
        return EXIT_OK if result["status"] == "ok" else EXIT_INTERRUPTED
    return {"bad_input": EXIT_BAD_INPUT, "oom": EXIT_OOM}.get(result["error_kind"], EXIT_FAILED)


def train(spec: TrainSpec, files: RunFiles) -> dict[str, Any]:
    started = time.monotonic()
    stopper = StopOnSignal()

    # 1. The export: a DatasetDict of chat and FIM records in `train` (and maybe `validation`).
    train_set, eval_set = load_export(spec.export_path)

    # 2. Tokenizer and the chat template to train with (think block kept, turns marked).
    _check_base_model(spec.base_model)
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model)
    template = training_template(spec.base_family, tokenizer.chat_template)
    if template is None and spec.assistant_only_loss:
        from trl.chat_template_utils import get_training_chat_template

        template = get_training_chat_template(tokenizer) if tokenizer.chat_template else None
        if template is None:
            raise BadInput(f"no training chat template for family {spec.base_family!r}: the "
                           "tokenizer's template does not mark assistant turns ({% generation %}) "
                           "and TRL has no patched version of it")
    if template is not None:
        tokenizer.chat_template = template

    # 3. Token ids and labels per record, the way each type is served; nothing over max_length.
    data: dict[str, dict[str, int]] = {}
    train_set, data["train"] = prepare(train_set, tokenizer, template, spec.max_length,
                                       spec.assistant_only_loss, files.root / "tokens-train.arrow")
    if len(train_set) == 0:
        raise BadInput(f"export {spec.export_path}: no training record fits max_length "
                       f"{spec.max_length} with a token to train on ({data['train']})")
    if eval_set is not None:
        eval_set, data["eval"] = prepare(eval_set, tokenizer, template, spec.max_length,
                                         spec.assistant_only_loss, files.root / "tokens-eval.arrow")
        eval_set = eval_set if len(eval_set) else None

    # 4. The base model, at the precision the hardware allows.
    cuda = torch.cuda.is_available()
    precision, model_kwargs = _model_kwargs(spec, cuda)
    model = AutoModelForCausalLM.from_pretrained(spec.base_model, **model_kwargs)
    model.config.use_cache = False  # incompatible with gradient checkpointing

    # 5. LoRA on every attention and MLP projection: a fresh one, or the live adapter's weights
    #    to continue from (its own rank and modules then).
    lora: LoraConfig | None = LoraConfig(
        r=spec.lora.r, lora_alpha=spec.lora.alpha, lora_dropout=spec.lora.dropout,
        target_modules=list(spec.lora.target_modules), task_type="CAUSAL_LM")
    if spec.init_adapter:
        if not (Path(spec.init_adapter) / "adapter_config.json").is_file():
            raise BadInput(f"adapter to continue from {spec.init_adapter} is not a PEFT adapter")
        model = PeftModel.from_pretrained(model, spec.init_adapter, is_trainable=True)
        lora = None

    # 6. SFT arguments: every value from the spec, none of TRL's defaults left to chance.
    packing = _use_packing(spec)
    args = SFTConfig(
        output_dir=str(files.root),
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps if spec.max_steps else -1,
        max_length=spec.max_length,
        learning_rate=spec.learning_rate,
        lr_scheduler_type=spec.lr_scheduler,
        warmup_steps=spec.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=spec.weight_decay,
        per_device_train_batch_size=spec.per_device_batch_size,
        per_device_eval_batch_size=spec.per_device_batch_size,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        gradient_checkpointing=spec.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False},
        bf16=precision in ("bf16", "nf4"),
        fp16=False,
        use_cpu=not cuda,
        packing=packing,
        assistant_only_loss=False,  # the labels already carry the mask (see records.py)
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit,
        logging_steps=spec.logging_steps,
        eval_strategy="no",
        include_num_input_tokens_seen="all",
        report_to="none",
        disable_tqdm=True,
        seed=spec.seed,
        dataloader_num_workers=0,
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
        processing_class=tokenizer, peft_config=lora,
        callbacks=[ProgressCallback(files.progress), stopper],
    )

    # 7. Train, from the last checkpoint of this run directory if there is one.
    checkpoints = files.checkpoints()
    resume = str(checkpoints[-1]) if checkpoints else None
    output = trainer.train(resume_from_checkpoint=resume)
    base = {"global_step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
            "resumed_from": resume, "precision": precision, "packing": packing, "data": data,
            "init_adapter": spec.init_adapter}
    if stopper.requested and trainer.state.global_step < trainer.state.max_steps:
        return {"status": "interrupted", **base}

    # 8. Evaluate on the validation split, then save the adapter for the job to publish.
    metrics: dict[str, Any] = {"train": output.metrics}
    if eval_set is not None and spec.eval_at_end:
        metrics["eval"] = trainer.evaluate()
    trainer.save_model(str(files.final))  # the adapter, plus the tokenizer with its template
    return {"status": "ok", **base, "metrics": metrics,
            "train_examples": len(train_set),
            "eval_examples": len(eval_set) if eval_set is not None else 0,
            "seconds": round(time.monotonic() - started, 3), "versions": _versions()}


def load_export(path: str) -> tuple[Any, Any]:
    """The train and validation splits with the columns the records need (`messages`, and
    `format`, `prompt`, `completion` where FIM records exist); BadInput when unusable or empty."""
    root = Path(path)
    if not root.is_dir():
        raise BadInput(f"export {path} does not exist")
    try:
        names = json.loads((root / "dataset_dict.json").read_text())["splits"]
    except (OSError, ValueError, KeyError):
        raise BadInput(f"export {path} is not a saved DatasetDict (no dataset_dict.json)") from None
    if "train" not in names:
        raise BadInput(f"export {path} has no 'train' split")
    splits = {name: _load_split(root / name) for name in names if name in ("train", "validation")}
    for name, split in splits.items():
        if split is not None and "messages" not in split.column_names:
            raise BadInput(f"export {path}: split {name!r} has no 'messages' column")
    train_set = splits["train"]
    if train_set is None or len(train_set) == 0:
        raise BadInput(f"export {path} is empty: its 'train' split has no examples")
    eval_set = splits.get("validation")
    if eval_set is not None and len(eval_set) == 0:
        eval_set = None
    columns = [c for c in ("messages", "format", "prompt", "completion") if c in train_set.column_names]
    return train_set.select_columns(columns), (
        eval_set.select_columns(columns) if eval_set is not None else None)


def _load_split(path: Path) -> Dataset | None:
    """One saved split; None when it holds no rows (datasets cannot load a zero-row split)."""
    try:
        return Dataset.load_from_disk(str(path))
    except IndexError:
        return None
    except (FileNotFoundError, ValueError) as err:
        raise BadInput(f"export split {path} cannot be read: {err}") from None


def _check_base_model(name: str) -> None:
    """A local path must exist; a hub id must resolve (from the local cache when offline)."""
    looks_local = name.startswith(("/", "./", "../", "~")) or Path(name).exists()
    if looks_local and not Path(name).expanduser().is_dir():
        raise BadInput(f"base model {name} not found: no such directory")
    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise BadInput(f"base model {name} cannot be loaded: {err}") from None


def _model_kwargs(spec: TrainSpec, cuda: bool) -> tuple[str, dict[str, Any]]:
    """(precision, from_pretrained kwargs): nf4 QLoRA, bf16 LoRA on a GPU, fp32 on CPU."""
    kwargs: dict[str, Any] = {}
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if not cuda:
        if spec.quantization == "nf4":
            raise BadInput("quantization 'nf4' needs CUDA; none is available")
        return "fp32", {**kwargs, "dtype": torch.float32}
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    want_nf4 = spec.quantization == "nf4" or (spec.quantization == "auto" and _has_bnb())
    if want_nf4:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        return "nf4", {**kwargs, "dtype": torch.bfloat16, "device_map": {"": local_rank}}
    return "bf16", {**kwargs, "dtype": torch.bfloat16}


def _use_packing(spec: TrainSpec) -> bool:
    """Packed sequences must not attend to each other. FlashAttention's varlen kernels keep
    them apart; so does transformers' mask builder, which splits a batch at position_ids
    resets when no attention mask is given (the padding-free path TRL's BFD packing uses)."""
    if spec.packing != "auto":
        return spec.packing == "on"
    if (spec.attn_implementation or "").startswith("flash"):
        return True
    try:
        from transformers.masking_utils import find_packed_sequence_indices  # noqa: F401
    except ImportError:
        return False
    return True


def _has_bnb() -> bool:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return False
    return True


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _versions() -> dict[str, str]:
    import peft
    import transformers
    import trl

    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "peft": peft.__version__, "trl": trl.__version__}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)
