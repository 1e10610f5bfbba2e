"""Fixtures for the training tests and benchmark: a tiny Qwen2 model with a BPE tokenizer trained
from the test data, and exports in the contract shape (DatasetDict on disk + Export row).

Heavy imports (torch, transformers, datasets, tokenizers) happen inside the functions only.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BOS, EOS, PAD = "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"
USER, ASSISTANT = "<｜User｜>", "<｜Assistant｜>"
THINK_TOKENS = ["<think>", "</think>"]
FIM_TOKENS = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]

# The stock DeepSeek-R1-Distill template in short: it drops everything up to `</think>`.
STOCK_R1_TEMPLATE = (
    "{% set ns = namespace(system_prompt='') %}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{% set ns.system_prompt = m['content'] %}{% endif %}"
    "{% endfor %}{{ bos_token }}{{ ns.system_prompt }}"
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}"
    "{% elif m['role'] == 'assistant' %}{% set c = m['content'] %}"
    "{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}"
    "{{ '<｜Assistant｜>' + c + '<｜end▁of▁sentence｜>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
)


def coder_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    ops = [("add", "+"), ("sub", "-"), ("mul", "*")]
    for i in range(n):
        name, op = ops[i % len(ops)]
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        if i % 4 == 3:  # a FIM record: the FIM prompt as user content, the middle as the answer
            prompt = (f"<|fim_prefix|>def {name}_{a}(x):\n<|fim_suffix|>\n    return y"
                      "<|fim_middle|>")
            out.append({"messages": [{"role": "user", "content": prompt},
                                     {"role": "assistant", "content": f"    y = x {op} {b}"}]})
            continue
        out.append({"messages": [
            {"role": "system", "content": "You are a careful coding assistant."},
            {"role": "user",
             "content": f"Write a Python function {name}_{a} that returns x {op} {b}."},
            {"role": "assistant",
             "content": f"```python\ndef {name}_{a}(x):\n    return x {op} {b}\n```"},
        ]})
    return out


def reasoner_records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        out.append({"messages": [
            {"role": "user", "content": f"What is {a} plus {b}?"},
            {"role": "assistant",
             "content": f"<think>\nI add {a} and {b}: {a} + {b} = {a + b}.\n</think>\n\n"
                        f"The answer is {a + b}."},
        ]})
    return out


def build_tiny_model(dest: Path, texts: list[str], *, vocab_size: int = 512) -> Path:
    """A 2-layer Qwen2 with random weights and a byte-level BPE tokenizer trained on `texts`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    dest.mkdir(parents=True, exist_ok=True)
    specials = [BOS, EOS, PAD, USER, ASSISTANT, *THINK_TOKENS, *FIM_TOKENS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        additional_special_tokens=[USER, ASSISTANT, *FIM_TOKENS])
    tokenizer.chat_template = STOCK_R1_TEMPLATE
    tokenizer.save_pretrained(dest)

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(dest)
    return dest


def corpus_texts(records: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for r in records for m in r["messages"]]


def write_export(state_dir: Path, specialist: str, records: list[dict[str, Any]], *,
                 export_id: str | None = None, family: str = "deepseek-r1-distill-qwen",
                 validation: int = 4, engine: Any = None) -> tuple[str, Path]:
    """A DatasetDict export in the contract layout, its `latest` symlink and its Export row."""
    from datasets import Dataset, DatasetDict

    export_id = export_id or f"{specialist}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
    root = state_dir / "exports" / specialist / family
    path = root / export_id
    cut = len(records) - validation if len(records) > validation else len(records)
    features_source = records or coder_records(1)
    empty = Dataset.from_list(features_source).select([])
    train = Dataset.from_list(records[:cut]) if records[:cut] else empty
    val = Dataset.from_list(records[cut:]) if records[cut:] else empty
    DatasetDict({"train": train, "validation": val}).save_to_disk(str(path))
    latest = root / "latest"
    if latest.is_symlink() or latest.exists():
        latest.unlink()
    latest.symlink_to(export_id)
    if engine is not None:
        from sqlmodel import Session

        from aitherd.store.models import Export

        with Session(engine) as s:
            s.add(Export(id=export_id, specialist=specialist, base_family=family, path=str(path),
                         counts={"train": len(train), "validation": len(val)}))
            s.commit()
    return export_id, path


def make_ctx(state_dir: Path, train: Any, *, run_id: int = 1) -> Any:
    """A JobContext like the worker's, with `[train]` mounted and progress captured in a list."""
    import io
    from types import SimpleNamespace

    from aitherd.config import Loaded, Paths
    from aitherd.jobs.context import JobContext
    from aitherd.logs import get_logger
    from aitherd.store import open_store

    state_dir.mkdir(parents=True, exist_ok=True)
    loaded = Loaded(config=SimpleNamespace(train=train), source=None,  # type: ignore[arg-type]
                    paths=Paths(state_dir=state_dir, socket=state_dir / "control.sock"), repos=())
    return JobContext(job="train", run_id=run_id, trigger="manual", loaded=loaded,
                      engine=open_store(state_dir / "aitherd.db"),
                      log=get_logger("test.train"), _channel=io.StringIO())


def progress_messages(ctx: Any) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in ctx._channel.getvalue().splitlines()]
