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

# The stock chat template of DeepSeek-R1-Distill-Qwen, as its tokenizer_config.json ships it
# (llama.cpp keeps the same text as models/templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja).
# It drops everything up to `</think>` from assistant turns and opens the answer with `<think>\n`.
STOCK_R1_TEMPLATE = r"""{% if not add_generation_prompt is defined -%}
  {%- set add_generation_prompt = false -%}
{%- endif -%}
{%- set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') -%}
{%- for message in messages -%}
  {%- if message['role'] == 'system' -%}
    {%- set ns.system_prompt = message['content'] -%}
  {%- endif -%}
{%- endfor -%}{{bos_token}}{{ns.system_prompt}}
{%- for message in messages -%}
  {%- if message['role'] == 'user' -%}
    {%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}
  {%- endif -%}
  {%- if message['role'] == 'assistant' and message['tool_calls'] -%}
    {%- set ns.is_tool = false -%}
    {%- for tool in message['tool_calls']-%}
      {%- if not ns.is_first -%}
        {{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}
        {%- set ns.is_first = true -%}
      {%- else -%}
        {{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}
      {%- endif -%}
    {%- endfor -%}
    {{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}
  {%- endif -%}
  {%- if message['role'] == 'assistant' and message['content'] is not none -%}
    {%- if ns.is_tool -%}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}
      {%- set ns.is_tool = false -%}
    {%- else -%}
      {%- set content = message['content'] -%}
      {%- if '</think>' in content -%}
        {%- set content = content.split('</think>')[-1] -%}
      {%- endif -%}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}
    {%- endif -%}
  {%- endif -%}
  {%- if message['role'] == 'tool' -%}
    {%- set ns.is_tool = true -%}
    {%- if ns.is_output_first -%}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}
      {%- set ns.is_output_first = false -%}
      {%- else -%}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}
    {%- endif -%}
  {%- endif -%}
{%- endfor -%}
{%- if ns.is_tool -%}{{'<｜tool▁outputs▁end｜>'}}
{%- endif -%}
{%- if add_generation_prompt and not ns.is_tool -%}{{'<｜Assistant｜><think>\n'}}
{%- endif %}"""


def chat(messages: list[dict[str, str]]) -> dict[str, Any]:
    """A chat record as the export writes it (every column the trainer reads)."""
    return {"format": "chat", "messages": messages, "prompt": None, "completion": None}


def fim(prefix: str, middle: str, suffix: str) -> dict[str, Any]:
    """A raw-text FIM record as the export writes it."""
    return {"format": "fim", "messages": [], "completion": middle,
            "prompt": f"<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>"}


def coder_records(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    ops = [("add", "+"), ("sub", "-"), ("mul", "*")]
    for i in range(n):
        name, op = ops[i % len(ops)]
        a, b = rng.randint(1, 99), rng.randint(1, 99)
        if i % 4 == 3:  # a FIM record: raw text, the middle is what is trained
            out.append(fim(f"def {name}_{a}(x):\n", f"    y = x {op} {b}\n", "    return y\n"))
            continue
        out.append(chat([
            {"role": "system", "content": "You are a careful coding assistant."},
            {"role": "user",
             "content": f"Write a Python function {name}_{a} that returns x {op} {b}."},
            {"role": "assistant",
             "content": f"<think>\n\n</think>\n\n```python\ndef {name}_{a}(x):\n    return x {op} {b}\n```"},
        ]))
    return out


def reasoner_records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(1, 50), rng.randint(1, 50)
        out.append(chat([
            {"role": "user", "content": f"What is {a} plus {b}?"},
            {"role": "assistant",
             "content": f"<think>\nI add {a} and {b}: {a} + {b} = {a + b}.\n</think>\n\n"
                        f"The answer is {a + b}."},
        ]))
    return out


def build_tiny_tokenizer(dest: Path, texts: list[str], *, vocab_size: int = 512) -> Any:
    """A byte-level BPE tokenizer trained on `texts` with the R1-distill special tokens, saved
    to `dest` (tokenizer.json and tokenizer_config.json, BOS added like the real one)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    dest.mkdir(parents=True, exist_ok=True)
    specials = [BOS, EOS, PAD, USER, ASSISTANT, *THINK_TOKENS, *FIM_TOKENS]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(  # add_special_tokens=True adds BOS
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        additional_special_tokens=[USER, ASSISTANT, *FIM_TOKENS])
    tokenizer.chat_template = STOCK_R1_TEMPLATE
    tokenizer.save_pretrained(dest)
    return tokenizer


def build_tiny_model(dest: Path, texts: list[str], *, vocab_size: int = 512) -> Path:
    """A 2-layer Qwen2 with random weights and a byte-level BPE tokenizer trained on `texts`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tiny_tokenizer(dest, texts, vocab_size=vocab_size)

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    Qwen2ForCausalLM(config).save_pretrained(dest)
    return dest


def corpus_texts(records: list[dict[str, Any]]) -> list[str]:
    return [m["content"] for r in records for m in r["messages"]] + [
        str(r.get(k) or "") for r in records for k in ("prompt", "completion")]


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


def make_ctx(state_dir: Path, train: Any, *, run_id: int = 1, lora: Any = None) -> Any:
    """A JobContext like the worker's, with `[train]` (and `[lora]` when given) mounted and
    progress captured in a list."""
    import io
    from types import SimpleNamespace

    from aitherd.config import Loaded, Paths
    from aitherd.logs import get_logger
    from aitherd.runs import JobContext
    from aitherd.store import open_store

    state_dir.mkdir(parents=True, exist_ok=True)
    sections = {"train": train, **({"lora": lora} if lora is not None else {})}
    loaded = Loaded(config=SimpleNamespace(**sections), source=None,  # type: ignore[arg-type]
                    paths=Paths(state_dir=state_dir, socket=state_dir / "control.sock"), repos=())
    return JobContext(job="train", run_id=run_id, trigger="manual", loaded=loaded,
                      engine=open_store(state_dir / "aitherd.db"),
                      log=get_logger("test.train"), _channel=io.StringIO())


def progress_messages(ctx: Any) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in ctx._channel.getvalue().splitlines()]
