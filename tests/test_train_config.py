"""Training config defaults, the spec's identity, the light import rule, training templates,
atomic publishing and the GPU arbitration hook: everything that needs no trainer subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import ValidationError
from sqlmodel import Session, select
from train_fixtures import coder_records, make_ctx, write_export

from aitherd.lora import LoraSection
from aitherd.store.models import Adapter
from aitherd.train import adapters as adapters_mod
from aitherd.train.config import ALL_PROJECTIONS, TrainConfig, train_config_of
from aitherd.train.gpu import NoopArbiter, set_gpu_arbiter
from aitherd.train.job import run_train
from aitherd.train.launch import trainer_command
from aitherd.train.spec import TrainSpec
from aitherd.train.templates import DEEPSEEK_R1_DISTILL, GEMMA, training_template

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")


def test_defaults_follow_the_issue():
    cfg, lora = TrainConfig(), LoraSection()
    assert (cfg.learning_rate, cfg.lr_scheduler) == (2e-4, "cosine")
    assert (lora.r, lora.alpha, lora.server_rank) == (32, 64, 32)
    assert lora.target_modules == ALL_PROJECTIONS and len(ALL_PROJECTIONS) == 7
    assert (cfg.coder.epochs, cfg.coder.max_length) == (1, 8192)
    assert (cfg.reasoner.epochs, cfg.reasoner.max_length) == (2, 4096)
    assert cfg.gradient_checkpointing and cfg.assistant_only_loss and cfg.warmup_ratio > 0
    assert cfg.quantization == "auto" and cfg.packing == "auto"


def test_unknown_keys_are_refused_and_the_section_mounts_from_a_dict():
    with pytest.raises(ValidationError, match="extra"):
        TrainConfig.model_validate({"learning_rat": 1e-4})
    with pytest.raises(ValidationError):
        TrainConfig.model_validate({"reasoner": {"epoch": 2}})

    class Cfg:
        train: ClassVar = {"base_model": "/models/r1", "reasoner": {"epochs": 3}}

    mounted = train_config_of(Cfg())
    assert mounted.base_model == "/models/r1" and mounted.reasoner.epochs == 3
    assert train_config_of(object()) == TrainConfig()


def test_spec_resolves_per_specialist_values_and_its_hash_ignores_locations(tmp_path):
    cfg = TrainConfig(reasoner={"learning_rate": 1e-4, "max_length": 2048})
    a = TrainSpec.build(cfg, "reasoner", "e1", tmp_path / "x", tmp_path / "run-a")
    b = TrainSpec.build(cfg, "reasoner", "e1", tmp_path / "y", tmp_path / "run-b")
    coder = TrainSpec.build(cfg, "coder", "e1", tmp_path / "x", tmp_path / "run-a")
    assert (a.learning_rate, a.max_length, a.epochs) == (1e-4, 2048, 2)
    assert (coder.learning_rate, coder.max_length, coder.epochs) == (2e-4, 8192, 1)
    assert a.sha256() == b.sha256() != coder.sha256()
    a.write(tmp_path / "spec.json")
    assert TrainSpec.read(tmp_path / "spec.json") == a


def test_the_job_module_imports_no_heavy_library():
    code = ("import sys, aitherd.train, aitherd.train.job, aitherd.train.config; "
            f"print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"})
    assert out.stdout.strip() == "[]"


def test_trainer_command_is_python_m_or_accelerate_launch(tmp_path):
    spec = tmp_path / "spec.json"
    assert trainer_command(spec, "/venv/bin/python") == [
        "/venv/bin/python", "-m", "aitherd.train", str(spec)]
    cmd = trainer_command(spec, "py", ["--num_processes", "2"])
    assert cmd == ["py", "-m", "accelerate.commands.launch", "--num_processes", "2",
                   "-m", "aitherd.train", str(spec)]


def test_family_templates_are_chosen_by_base_family():
    assert training_template("deepseek-r1-distill", None) == DEEPSEEK_R1_DISTILL
    assert training_template("gemma-3", None) == GEMMA
    marked = "{% generation %}{{ m }}{% endgeneration %}"
    assert training_template("other", marked) == marked
    assert training_template("other", "{{ m }}") is None


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from train_fixtures import BOS, EOS, PAD, corpus_texts, reasoner_records
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus_texts(reasoner_records(20)), trainer=trainers.BpeTrainer(
        vocab_size=300, special_tokens=[BOS, EOS, PAD, "<｜User｜>", "<｜Assistant｜>",
                                        "<start_of_turn>", "<end_of_turn>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS,
                                   pad_token=PAD)


def _split(tokenizer, template: str, messages: list[dict]) -> tuple[str, str]:
    out = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=True,
                                        return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    trained = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if m])
    prompt = tokenizer.decode([i for i, m in zip(ids, mask, strict=True) if not m])
    return trained, prompt


def test_r1_training_template_keeps_the_think_block_and_trains_the_end_token(tokenizer):
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What is 2 plus 3?"},
                {"role": "assistant",
                 "content": "<think>\n2 + 3 = 5.\n</think>\n\nThe answer is 5."}]
    trained, prompt = _split(tokenizer, DEEPSEEK_R1_DISTILL, messages)
    assert trained == "<think>\n2 + 3 = 5.\n</think>\n\nThe answer is 5.<｜end▁of▁sentence｜>"
    assert prompt == "<｜begin▁of▁sentence｜>Be brief.<｜User｜>What is 2 plus 3?<｜Assistant｜>"
    cue = tokenizer.apply_chat_template(messages[:2], chat_template=DEEPSEEK_R1_DISTILL,
                                        tokenize=False, add_generation_prompt=True)
    assert cue == prompt + "<think>\n"  # inference continues exactly where training's prompt ends


def test_gemma_training_template_marks_model_turns(tokenizer):
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]
    trained, prompt = _split(tokenizer, GEMMA, messages)
    assert trained == "Hello.<end_of_turn>\n"
    assert prompt.endswith("<start_of_turn>model\n")


def test_publish_leaves_nothing_behind_when_recording_fails(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path / "state", TrainConfig())
    source = tmp_path / "final"
    source.mkdir()
    (source / "adapter_config.json").write_text("{}")

    class Broken(Session):
        def commit(self) -> None:
            raise RuntimeError("disk full")

    monkeypatch.setattr(adapters_mod, "Session", Broken)
    with pytest.raises(RuntimeError, match="disk full"):
        adapters_mod.publish(ctx.engine, ctx.loaded.paths.state_dir, "coder", source,
                             {"lineage": {"export_id": "e1"}}, run_id=1)
    monkeypatch.undo()
    assert list((ctx.loaded.paths.state_dir / "adapters" / "coder").iterdir()) == []
    with Session(ctx.engine) as s:
        assert s.exec(select(Adapter)).all() == []

    row = adapters_mod.publish(ctx.engine, ctx.loaded.paths.state_dir, "coder", source,
                               {"lineage": {"export_id": "e1"}}, run_id=1)
    second = adapters_mod.publish(ctx.engine, ctx.loaded.paths.state_dir, "coder", source,
                                  {"lineage": {"export_id": "e2"}}, run_id=2)
    assert (row.version, second.version, row.state) == ("v0001", "v0002", "candidate")
    meta = json.loads((Path(second.path) / "aitherd_adapter.json").read_text())
    assert meta["lineage"] == {"export_id": "e2", "parent_version": "v0001"}


class RecordingArbiter(NoopArbiter):
    kind = "test"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def acquire(self, purpose: str) -> str:
        self.calls.append(f"acquire {purpose}")
        return "server asleep"

    def release(self) -> str:
        self.calls.append("release")
        return "server awake"


def test_the_gpu_is_asked_for_around_training_and_given_back_on_failure(tmp_path):
    arbiter = RecordingArbiter()
    set_gpu_arbiter(arbiter)
    try:
        ctx = make_ctx(tmp_path / "state", TrainConfig(base_model=str(tmp_path / "missing")))
        assert run_train(ctx).status == "skipped" and arbiter.calls == []  # nothing to train
        write_export(ctx.loaded.paths.state_dir, "coder", coder_records(4), validation=1,
                     engine=ctx.engine)
        result = run_train(ctx, ["coder"])
    finally:
        set_gpu_arbiter(None)
    assert arbiter.calls == ["acquire train", "release"]
    assert result.status == "failed" and "server asleep" in (result.message or "")
    assert "server awake" in (result.message or "")


def test_unknown_specialists_are_refused(tmp_path):
    ctx = make_ctx(tmp_path / "state", TrainConfig())
    result = run_train(ctx, ["poet"])
    assert result.status == "failed" and "unknown specialist 'poet'" in (result.error or "")


def test_the_daemon_worker_runs_the_train_job_and_relays_its_result(tmp_path):
    from aitherd.config import Config
    from aitherd.store import open_store

    state = tmp_path / "state"
    state.mkdir()
    open_store(state / "aitherd.db").dispose()
    spec = {"job": "train", "run_id": 7, "trigger": "manual", "parent_pid": os.getpid(),
            "config": Config().model_dump(mode="json"), "config_source": None,
            "state_dir": str(state), "socket": str(tmp_path / "s.sock"), "repos": []}
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "AITHERD_JOB_MODULE": "aitherd.jobs.stages"}
    out = subprocess.run([sys.executable, "-m", "aitherd.worker"], input=json.dumps(spec),
                         capture_output=True, text=True, env=env, timeout=60, check=True)
    messages = [json.loads(line) for line in out.stdout.splitlines()]
    result = messages[-1]
    assert result["type"] == "result" and result["status"] == "skipped"
    assert "coder: no export for base family 'deepseek-r1-distill-qwen'" in result["message"]


def test_a_run_dir_keeps_complete_checkpoints_of_the_same_spec_only(tmp_path):
    from aitherd.train.job import _prepare_run_dir
    from aitherd.train.spec import RunFiles

    files = RunFiles(tmp_path / "run")
    spec = TrainSpec.build(TrainConfig(), "coder", "e1", tmp_path / "x", files.root)
    files.root.mkdir()
    spec.write(files.spec)
    for step, complete in ((2, True), (4, True), (6, False)):  # 6: killed while saving
        (files.root / f"checkpoint-{step}").mkdir()
        if complete:
            (files.root / f"checkpoint-{step}" / "trainer_state.json").write_text("{}")
    (files.final).mkdir()

    assert _prepare_run_dir(files, spec.sha256()) == str(files.root / "checkpoint-4")
    assert [c.name for c in files.checkpoints()] == ["checkpoint-2", "checkpoint-4"]
    assert not files.final.exists()

    changed = spec.model_copy(update={"learning_rate": 1e-4}).sha256()
    assert _prepare_run_dir(files, changed) is None
    assert files.checkpoints() == []


def test_reload_reports_a_train_change(make_daemon):
    d = make_daemon().start()
    d.write_config({"train": {"coder": {"max_length": 4096}, "start_from": "live"}})
    out = d.ctl("reload")
    assert out.returncode == 0, out.stderr
    assert "no changes" not in out.stdout
    assert "train.coder.max_length: 8192 -> 4096 (from the next run)" in out.stdout
    assert "train.start_from: base -> live" in out.stdout
    out = d.ctl("reload")
    assert "no changes" in out.stdout


def test_a_worker_killed_while_the_daemon_is_up_is_resumed_like_after_a_crash(make_daemon):
    d = make_daemon()
    d.plan({"train": {"steps": 400, "sleep": 0.05}})
    d.start()
    first = d.api("POST", "/v1/jobs/train/run")["run_id"]
    pid = d.wait_for(lambda: _worker_pid(d, first), 20, "the worker's pid")
    d.wait_for(lambda: (d.api("GET", f"/v1/runs/{first}").get("progress") or {}).get("done"), 20, "progress")
    os.kill(pid, 9)
    killed = d.wait_run(first)
    assert killed["status"] == "interrupted" and "SIGKILL" in killed["error"]
    resumed = d.wait_for(lambda: [r for r in d.runs(job="train") if r["parent_run_id"] == first], 20, "resume")[0]
    assert resumed["trigger"] == "resume"
    pid = d.wait_for(lambda: _worker_pid(d, resumed["id"]), 20, "the resumed worker")
    os.kill(pid, 9)  # killed again: recorded, left for the next daemon start, not retried in a loop
    assert d.wait_run(resumed["id"])["status"] == "interrupted"
    time.sleep(1.0)  # a resume, had one been started, would be there by now
    assert [r["id"] for r in d.runs(job="train")] == [resumed["id"], first]


def _worker_pid(d, run_id: int) -> int | None:
    import sqlite3

    with sqlite3.connect(d.state / "aitherd.db") as conn:
        row = conn.execute("SELECT pid FROM run WHERE id = ?", (run_id,)).fetchone()
    return row[0] if row and row[0] else None
