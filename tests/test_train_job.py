"""The train job end to end on a tiny Qwen2 built here: a real LoRA trained on CPU from a real
export, published as a candidate adapter; kill and resume; clear errors and no adapter row."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from sqlmodel import Session, select
from train_fixtures import (
    build_tiny_model,
    coder_records,
    corpus_texts,
    make_ctx,
    progress_messages,
    reasoner_records,
    write_export,
)

from aitherd.store.models import Adapter
from aitherd.train.config import TrainConfig
from aitherd.train.job import run_train
from aitherd.train.spec import RunFiles, TrainSpec

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = corpus_texts(coder_records(60) + reasoner_records(60))
    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny-qwen2", texts)


def tiny_config(model: Path, **specialist: object) -> TrainConfig:
    part = {"max_length": 128, "max_steps": 6, "per_device_batch_size": 2, **specialist}
    return TrainConfig.model_validate({
        "base_model": str(model), "gradient_accumulation_steps": 1, "save_steps": 3,
        "coder": part, "reasoner": part})


def adapters(ctx) -> list[Adapter]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(Adapter)).all())


def test_trains_a_candidate_adapter_per_specialist_that_loads_and_changes_outputs(
        tiny_model, tmp_path):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    ctx = make_ctx(tmp_path / "state", tiny_config(tiny_model))
    coder_id, _ = write_export(ctx.loaded.paths.state_dir, "coder", coder_records(40),
                               engine=ctx.engine)
    reasoner_id, _ = write_export(ctx.loaded.paths.state_dir, "reasoner", reasoner_records(40))

    result = run_train(ctx)

    assert result.status == "ok", result
    assert "GPU arbitration is a no-op" in (result.message or "")
    assert result.adapters == {"coder": "v0001", "reasoner": "v0001"}
    assert all(isinstance(v, int | float) for v in result.counts.values()), result.counts
    rows = {r.specialist: r for r in adapters(ctx)}
    assert {r.state for r in rows.values()} == {"candidate"}
    assert rows["coder"].export_id == coder_id and rows["reasoner"].export_id == reasoner_id
    assert rows["coder"].run_id == ctx.run_id

    path = Path(rows["reasoner"].path)
    assert path == ctx.loaded.paths.state_dir / "adapters" / "reasoner" / "v0001"
    meta = json.loads((path / "aitherd_adapter.json").read_text())
    assert meta["lineage"] == {"export_id": reasoner_id, "export_sha256": None,
                               "base_model": str(tiny_model), "parent_version": None,
                               "spec_sha256": meta["lineage"]["spec_sha256"],
                               "start_from": "base", "init_adapter": None}
    assert not (path / "training_args.bin").exists()  # a pickle: not part of what is published
    assert meta["training"]["learning_rate"] == 2e-4 and meta["training"]["lora"]["r"] == 32
    assert meta["result"]["global_step"] == 6 and meta["result"]["precision"] == "fp32"
    assert "eval_loss" in meta["metrics"]["eval"]
    lora_cfg = json.loads((path / "adapter_config.json").read_text())
    assert set(lora_cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj",
                                               "gate_proj", "up_proj", "down_proj"}
    assert (lora_cfg["r"], lora_cfg["lora_alpha"]) == (32, 64)
    coder_meta = json.loads((Path(rows["coder"].path) / "aitherd_adapter.json").read_text())
    assert coder_meta["result"]["data"]["train"] == {"records": 36, "kept": 36, "kept_chat": 27, "kept_fim": 9}
    assert not list(path.parent.glob(".tmp-*"))
    run_dir = RunFiles(ctx.loaded.paths.state_dir / "train" / "reasoner" / reasoner_id)
    assert run_dir.checkpoints() == []  # finished runs drop their optimizer state

    stages = {m["stage"] for m in progress_messages(ctx) if m["type"] == "progress"}
    assert {"train coder", "train reasoner"} <= stages
    log_lines = [json.loads(x) for x in run_dir.progress.read_text().splitlines()]
    logged = [x for x in log_lines if x["event"] == "log"]
    assert logged and {"loss", "learning_rate", "tokens_per_s", "eta_s"} <= set(logged[-1])
    # Live figures reach the daemon as typed gauge messages, not as entries in the counts.
    gauges = {(m["name"], m["labels"]["specialist"]) for m in progress_messages(ctx) if m["type"] == "gauge"}
    assert {("train_loss", "coder"), ("train_step", "reasoner"), ("train_tokens_per_second", "reasoner")} <= gauges
    assert not any(k.endswith(("_tokens_per_s", "_eta_s", "_learning_rate", "_status")) for k in result.counts)

    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    ids = torch.tensor([[1, 5, 9, 20, 33, 40]])
    with torch.no_grad():
        before = base(ids).logits
        tuned = PeftModel.from_pretrained(base, str(path))
        after = tuned(ids).logits
    assert (after - before).abs().max().item() > 1e-4

    again = run_train(ctx)  # same exports, same config: nothing to do
    assert again.status == "skipped" and "already trained" in (again.message or "")
    assert len(adapters(ctx)) == 2


def test_a_killed_run_resumes_from_its_last_checkpoint(tiny_model, tmp_path):
    cfg = tiny_config(tiny_model, max_steps=24)
    cfg = cfg.model_copy(update={"save_steps": 2})
    ctx = make_ctx(tmp_path / "state", cfg)
    export_id, export_path = write_export(ctx.loaded.paths.state_dir, "reasoner",
                                          reasoner_records(40), engine=ctx.engine)
    files = RunFiles(ctx.loaded.paths.state_dir / "train" / "reasoner" / export_id)
    files.root.mkdir(parents=True)
    TrainSpec.build(cfg, "reasoner", export_id, export_path, files.root).write(files.spec)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "aitherd.train", str(files.spec)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if files.progress.exists() and '"checkpoint"' in files.progress.read_text():
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    complete = [c for c in files.checkpoints() if (c / "trainer_state.json").exists()]
    assert complete, "no checkpoint before the kill"
    step = int(complete[-1].name.split("-")[1])
    assert step < 24

    result = run_train(ctx, ["reasoner"])

    assert result.status == "ok", result
    counts = {**ctx.counts, **result.counts}  # what the worker reports
    assert counts["reasoner_resumed_step"] == step
    assert counts["reasoner_step"] == 24
    meta = json.loads((ctx.loaded.paths.state_dir / "adapters/reasoner/v0001"
                       / "aitherd_adapter.json").read_text())
    assert meta["result"]["resumed_from"].endswith(f"checkpoint-{step}")


def test_sigterm_saves_a_checkpoint_and_reports_interrupted(tiny_model, tmp_path):
    ctx = make_ctx(tmp_path / "state", tiny_config(tiny_model, max_steps=200))
    export_id, _ = write_export(ctx.loaded.paths.state_dir, "coder", coder_records(40),
                                engine=ctx.engine)
    original = ctx.progress

    def progress(stage, done=None, total=None, *, force=False):  # stop once training runs
        if done:
            ctx.request_stop()
        original(stage, done, total, force=force)

    ctx.progress = progress
    result = run_train(ctx, ["coder"])

    assert result.status == "interrupted", result
    assert "resumes from its last checkpoint" in (result.message or "")
    files = RunFiles(ctx.loaded.paths.state_dir / "train" / "coder" / export_id)
    assert files.checkpoints() and (files.checkpoints()[-1] / "trainer_state.json").exists()
    assert int(files.checkpoints()[-1].name.split("-")[1]) < 200
    assert adapters(ctx) == []


def test_a_missing_base_model_fails_clearly_without_an_adapter(tmp_path):
    ctx = make_ctx(tmp_path / "state", tiny_config(tmp_path / "no-such-model"))
    write_export(ctx.loaded.paths.state_dir, "coder", coder_records(8), engine=ctx.engine)

    result = run_train(ctx, ["coder"])

    assert result.status == "failed"
    assert "base model" in (result.error or "") and "not found" in (result.error or "")
    assert adapters(ctx) == []
    assert not (ctx.loaded.paths.state_dir / "adapters").exists()


def test_an_empty_export_fails_clearly_without_an_adapter(tiny_model, tmp_path):
    ctx = make_ctx(tmp_path / "state", tiny_config(tiny_model))
    write_export(ctx.loaded.paths.state_dir, "reasoner", [], engine=ctx.engine)

    result = run_train(ctx, ["reasoner"])

    assert result.status == "failed"
    assert "is empty" in (result.error or "")
    assert adapters(ctx) == []
    assert not list((ctx.loaded.paths.state_dir / "adapters").glob("*/*"))


def test_a_specialist_without_an_export_is_skipped_with_a_reason(tiny_model, tmp_path):
    ctx = make_ctx(tmp_path / "state", tiny_config(tiny_model))

    result = run_train(ctx)

    assert result.status == "skipped"
    assert "coder: no export" in (result.message or "")
    assert "reasoner: no export" in (result.message or "")


def test_out_of_memory_is_a_clear_failure(tmp_path, monkeypatch):
    import torch

    from aitherd.train import trainer
    from aitherd.train.launch import Outcome
    from aitherd.train.spec import EXIT_OOM

    spec = TrainSpec.build(TrainConfig(), "coder", "e1", tmp_path / "export", tmp_path / "run")
    spec.write(tmp_path / "spec.json")

    def out_of_memory(*_args: object) -> dict:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(trainer, "train", out_of_memory)
    assert trainer.main([str(tmp_path / "spec.json")]) == EXIT_OOM
    result = json.loads(RunFiles(tmp_path / "run").result.read_text())
    assert result["status"] == "failed" and result["error_kind"] == "oom"
    assert not (tmp_path / "run" / "final").exists()
    assert Outcome(EXIT_OOM, result).error().startswith("out of memory")


def test_a_crash_in_the_trainer_is_recorded_before_the_traceback(tmp_path, monkeypatch):
    from aitherd.train import trainer

    spec = TrainSpec.build(TrainConfig(), "coder", "e1", tmp_path / "export", tmp_path / "run")
    spec.write(tmp_path / "spec.json")

    def crash(*_args: object) -> dict:
        raise KeyError("lm_head")

    monkeypatch.setattr(trainer, "train", crash)
    with pytest.raises(KeyError):
        trainer.main([str(tmp_path / "spec.json")])
    result = json.loads(RunFiles(tmp_path / "run").result.read_text())
    assert (result["status"], result["error"]) == ("failed", "KeyError: 'lm_head'")


def test_trains_from_a_real_nightly_export(tiny_model, tmp_path):
    """The hand-off: what the export job writes is what training reads, FIM and think tags too."""
    from aitherd.candidate import Candidate
    from aitherd.config import Loaded, Paths, parse_config
    from aitherd.export.job import run_export
    from aitherd.logs import get_logger
    from aitherd.runs import JobContext
    from aitherd.store import open_store
    from aitherd.store.examples import insert_candidates

    state = tmp_path / "state"
    state.mkdir()
    engine = open_store(state / "aitherd.db")
    cands = [Candidate("coder", "instruction", r["messages"], source="test") for r in coder_records(40)
             if r["format"] == "chat"]
    cands += [Candidate("coder", "instruction", [  # source files: FIM records come from these
        {"role": "user", "content": f"Write mul_{i}."},
        {"role": "assistant", "content": f"```python\ndef mul_{i}(x):\n    y = x * {i}\n    z = y + 1\n"
                                         f"    return z\n```"}], source="git", provenance={"path": f"m{i}.py"})
              for i in range(10)]
    cands += [Candidate("reasoner", "math", [r["messages"][0], {"role": "assistant", "content": "42"}],
                        source="test", reasoning="think it through") for r in reasoner_records(40)]
    insert_candidates(engine, cands)
    part = {"max_length": 128, "max_steps": 3, "per_device_batch_size": 2}
    cfg = parse_config({"export": {"coder": {"size": 30, "mix": {"instruction": 1.0}},
                                   "reasoner": {"size": 30, "mix": {"math": 1.0}}},
                        "train": {"base_model": str(tiny_model), "gradient_accumulation_steps": 1,
                                  "save_steps": 3, "coder": part, "reasoner": part}})
    loaded = Loaded(cfg, None, Paths(state, state / "c.sock"), ())

    def ctx(job: str) -> JobContext:
        return JobContext(job=job, run_id=1, trigger="manual", loaded=loaded, engine=engine,
                          log=get_logger("test"), _channel=io.StringIO())

    assert run_export(ctx("export")).status == "ok"
    exported = json.loads((state / "exports/coder/deepseek-r1-distill-qwen/latest/export.json").read_text())
    assert exported["formats"]["fim"] >= 1 and exported["fit"]["exact"]  # the base model's tokenizer
    result = run_train(ctx("train"))
    assert result.status == "ok", result
    with Session(engine) as s:
        made = {a.specialist: a for a in s.exec(select(Adapter)).all()}
    assert set(made) == {"coder", "reasoner"}
    assert all(a.state == "candidate" and a.export_id for a in made.values())


def test_over_long_records_are_dropped_not_truncated_and_counted_in_the_run(tiny_model, tmp_path):
    from train_fixtures import chat

    ctx = make_ctx(tmp_path / "state", tiny_config(tiny_model, max_steps=2))
    too_long = chat([{"role": "user", "content": "Count."}, {"role": "assistant", "content": "one two " * 200}])
    write_export(ctx.loaded.paths.state_dir, "coder", [too_long, *coder_records(20)], engine=ctx.engine)

    result = run_train(ctx, ["coder"])

    assert result.status == "ok", result
    assert result.counts["coder_train_dropped_over_max_length"] == 1
    assert "records dropped: over_max_length 1" in (result.message or "")
    meta = json.loads((ctx.loaded.paths.state_dir / "adapters/coder/v0001/aitherd_adapter.json").read_text())
    assert meta["result"]["data"]["train"]["kept"] == 16 and meta["result"]["train_examples"] == 16


def test_sunday_can_continue_from_the_live_adapter_and_the_lineage_says_so(tiny_model, tmp_path):
    from safetensors.torch import load_file

    cfg = tiny_config(tiny_model)
    ctx = make_ctx(tmp_path / "state", cfg)
    write_export(ctx.loaded.paths.state_dir, "coder", coder_records(40), engine=ctx.engine)
    assert run_train(ctx, ["coder"]).status == "ok"  # v0001, from the base
    with Session(ctx.engine) as s:
        first = s.exec(select(Adapter)).one()
        first.state = "live"
        s.add(first)
        s.commit()
    # a learning rate too small to move anything: v0002's weights are where training started
    onward = cfg.model_copy(update={"start_from": "live", "learning_rate": 1e-12})
    ctx2 = make_ctx(tmp_path / "state", onward, run_id=2)

    result = run_train(ctx2, ["coder"])

    assert result.status == "ok", result
    assert "continued from v0001" in (result.message or "")
    root = ctx.loaded.paths.state_dir / "adapters" / "coder"
    meta = json.loads((root / "v0002" / "aitherd_adapter.json").read_text())
    assert meta["lineage"]["start_from"] == "live" and meta["lineage"]["init_adapter"] == "v0001"
    assert meta["training"]["init_adapter_version"] == "v0001"
    before, after = load_file(root / "v0001" / "adapter_model.safetensors"), load_file(root / "v0002" / "adapter_model.safetensors")
    lora_b = [k for k in before if "lora_B" in k]
    assert lora_b and any(before[k].abs().max() > 0 for k in lora_b)  # v0001 moved away from zero
    assert all(torch_allclose(before[k], after[k]) for k in before)


def torch_allclose(a, b) -> bool:
    import torch

    return bool(torch.allclose(a, b, atol=1e-6))
