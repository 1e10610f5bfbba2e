"""The benchmark job end to end: code suites through the sandbox with the candidate loaded under its
hidden name, reasoning returned apart from the content, the team's held-out split, and the local
generator on the tiny test model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from evaluate_support import BASE, BenchServer, adapter, add_adapter, evaluate_config, make_ctx
from sqlmodel import select

from aitherd.evaluate.job import run_benchmark
from aitherd.store import session
from aitherd.store.models import BenchmarkResult, Example, Export


@pytest.fixture
def server(tmp_path: Path) -> Iterator[BenchServer]:
    srv = BenchServer(tmp_path)
    yield srv
    srv.close()


def stored(ctx: Any) -> dict[tuple[int | None, str], BenchmarkResult]:
    with session(ctx.engine) as s:
        return {(r.adapter_id, r.benchmark): r for r in s.exec(select(BenchmarkResult)).all()}


def test_the_coder_is_benchmarked_on_humaneval_and_mbpp_in_the_sandbox(server: BenchServer, tmp_path: Path) -> None:
    cand = "eval:coder@v0002"
    server.script({BASE: {"wrong_share": 1.0}, cand: {"needs_load": True}})
    ctx = make_ctx(tmp_path / "state", evaluate_config(server, sample_size=8))
    row = add_adapter(ctx, "coder", "v0002")
    result = run_benchmark(ctx)
    assert result.status == "ok", result.error
    assert result.verdicts["coder"] == "deploy", result.message
    results = stored(ctx)
    for suite in ("humaneval", "mbpp"):
        ours, base = results[(row.id, suite)], results[(None, suite)]
        assert (ours.passed, ours.total, base.passed) == (8, 8, 0)
        settings = ours.details["settings"]
        assert "seccomp" in settings["sandbox"] and settings["served_as"] == cand
        # HumanEval: the prompt's bare function returns None; MBPP: the function is not there.
        assert {i["error"] for i in base.details["items"]} == {"humaneval": {"AssertionError"},
                                                                "mbpp": {"NameError"}}[suite]
        assert all(i["answer"].startswith(("def ", "from ", "import ")) or "def " in i["answer"]
                   for i in ours.details["items"])
    admin = [r for r in server.requests() if "admin" in r]
    assert admin == [{"admin": "load_lora_adapter", "lora_name": cand, "lora_path": row.path},
                     {"admin": "unload_lora_adapter", "lora_name": cand}]
    assert adapter(ctx, "coder", "v0002").scores["suites"] == {"humaneval": 1.0, "mbpp": 1.0}


def test_reasoning_returned_apart_from_the_content_is_read_too(server: BenchServer, tmp_path: Path) -> None:
    server.script({BASE: {}, "eval:reasoner@v0002": {}}, reasoning_field=True)
    ctx = make_ctx(tmp_path / "state", evaluate_config(server, sample_size=10))
    row = add_adapter(ctx, "reasoner", "v0002")
    assert run_benchmark(ctx).verdicts["reasoner"] == "deploy"
    assert stored(ctx)[(row.id, "gsm8k")].passed == 10


def heldout_export(ctx: Any, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """An export whose validation split holds five checkable math questions and one FIM row."""
    from datasets import Dataset, DatasetDict

    rows, answers = [], {}
    with session(ctx.engine) as s:
        for i in range(5):
            question = f"What is {i + 17} plus {i * 3 + 25}?"
            total = (i + 17) + (i * 3 + 25)
            messages = [{"role": "user", "content": question},
                        {"role": "assistant", "content": f"<think>\nadd\n</think>\n\nThe answer is {total}."}]
            s.add(Example(specialist="reasoner", category="math", messages=messages, source="test",
                          content_hash=f"h{i}", answer=str(total)))
            rows.append({"id": f"h{i}", "format": "chat", "category": "math", "messages": messages})
            answers[question] = f"<think>\nadding\n</think>\n\n\\boxed{{{total}}}"
        s.commit()
    rows.append({"id": "fim1", "format": "fim", "category": "math",
                 "messages": [{"role": "user", "content": "<|fim_prefix|>a<|fim_suffix|>c<|fim_middle|>"},
                              {"role": "assistant", "content": "b"}]})
    path = tmp_path / "export-1"
    DatasetDict({"train": Dataset.from_list(rows[:1]), "validation": Dataset.from_list(rows)}).save_to_disk(str(path))
    with session(ctx.engine) as s:
        s.add(Export(id="export-1", specialist="reasoner", base_family="deepseek-r1-distill-qwen", path=str(path)))
        s.commit()
    return "export-1", answers


def test_the_held_out_split_of_the_adapters_export_is_scored(server: BenchServer, tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path / "state", evaluate_config(server, sample_size=10, heldout_max_items=100))
    export_id, answers = heldout_export(ctx, tmp_path)
    server.script({BASE: {"wrong_share": 1.0}, "eval:reasoner@v0002": {}}, heldout=answers)
    row = add_adapter(ctx, "reasoner", "v0002", export_id=export_id, eval_loss=0.4321)
    result = run_benchmark(ctx)
    assert result.verdicts["reasoner"] == "deploy"
    results = stored(ctx)
    ours, base = results[(row.id, "heldout")], results[(None, "heldout")]
    assert (ours.passed, ours.total, base.passed) == (5, 5, 0)  # the FIM row has no answer to check
    assert ours.details["settings"]["export_id"] == export_id
    assert ours.details["metrics"]["eval_loss"] == 0.4321
    assert {i["category"] for i in ours.details["items"]} == {"math"}
    assert "heldout" in result.message and "eval loss 0.4321" in result.message and "[not scored]" in result.message
    assert adapter(ctx, "reasoner", "v0002").scores["gate"]["suites"]["heldout"]["scored"] is False


def test_the_local_generator_runs_the_job_on_the_tiny_model(tmp_path: Path) -> None:
    """No server: transformers in the worker, base and adapter, generation and eval loss."""
    from peft import LoraConfig, get_peft_model
    from train_fixtures import build_tiny_model, corpus_texts, reasoner_records, write_export
    from transformers import AutoModelForCausalLM

    records = reasoner_records(12)
    model_dir = build_tiny_model(tmp_path / "tiny", corpus_texts(records))
    lora = get_peft_model(AutoModelForCausalLM.from_pretrained(model_dir),
                          LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                     init_lora_weights=False))  # not a no-op: B is random too
    adapter_dir = tmp_path / "adapter"
    lora.save_pretrained(adapter_dir)
    cfg = evaluate_config(None, generator="local", sample_size=2, heldout_max_items=4, local_batch_size=2,
                          max_tokens={"gsm8k": 6, "heldout": 6})
    ctx = make_ctx(tmp_path / "state", cfg, base_model=str(model_dir))
    export_id, _ = write_export(ctx.loaded.paths.state_dir, "reasoner", records, engine=ctx.engine)
    row = add_adapter(ctx, "reasoner", "v0001", base_model=str(model_dir), path=adapter_dir, export_id=export_id)
    result = run_benchmark(ctx)
    assert result.status == "ok", result.error
    assert result.verdicts["reasoner"] == "reject"  # a random model scores about nothing
    results = stored(ctx)
    gsm8k = results[(row.id, "gsm8k")]
    assert gsm8k.total == 2 and gsm8k.details["settings"]["generator"].startswith("local transformers")
    assert all(i["tokens"] and i["tokens"] <= 6 for i in gsm8k.details["items"])
    losses = [results[(key, "heldout")].details["metrics"]["eval_loss"] for key in (row.id, None)]
    assert all(isinstance(x, float) and x > 0 for x in losses)
    assert losses[0] != losses[1]  # the adapter was applied for one and not the other
    assert json.loads((adapter_dir / "aitherd_adapter.json").read_text())["base_model"] == str(model_dir)
