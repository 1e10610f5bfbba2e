"""What the trainer trains on, checked without training: the R1 template against the template
DeepSeek ships (multi-turn included), chat and FIM records as token ids and labels, over-long
and untrainable records dropped and counted, what a published adapter holds, a trainer left by
a killed worker, the start-from-live option in the spec."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from train_fixtures import (
    EOS,
    STOCK_R1_TEMPLATE,
    build_tiny_tokenizer,
    chat,
    coder_records,
    corpus_texts,
    fim,
    make_ctx,
    reasoner_records,
    write_export,
)

from aitherd.train.config import TrainConfig
from aitherd.train.records import IGNORE, encode, prepare
from aitherd.train.spec import RunFiles, TrainSpec
from aitherd.train.templates import DEEPSEEK_R1_DISTILL


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):
    from transformers import AutoTokenizer

    path = tmp_path_factory.mktemp("tok")
    build_tiny_tokenizer(path, corpus_texts(coder_records(40) + reasoner_records(40)))
    return AutoTokenizer.from_pretrained(path)


MULTI_TURN = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2 plus 3?"},
    {"role": "assistant", "content": "<think>\n2 + 3 = 5.\n</think>\n\nIt is 5."},
    {"role": "user", "content": "And times 4?"},
    {"role": "assistant", "content": "<think>\nIt was 5; 5 * 4 = 20.\n</think>\n\nIt is 20."},
]


@pytest.mark.parametrize("messages", [MULTI_TURN, MULTI_TURN[1:], MULTI_TURN[:3]])
def test_the_r1_template_renders_the_prompt_byte_identical_to_the_stock_template(tokenizer, messages):
    render = tokenizer.apply_chat_template
    ours = render(messages, chat_template=DEEPSEEK_R1_DISTILL, tokenize=False)
    served = render(messages[:-1], chat_template=STOCK_R1_TEMPLATE, tokenize=False, add_generation_prompt=True)
    answer = messages[-1]["content"]
    assert served.endswith("<｜Assistant｜><think>\n") and answer.startswith("<think>\n")
    assert ours == served + answer[len("<think>\n"):] + EOS  # earlier think blocks dropped as served


def test_only_the_final_answer_and_its_end_token_are_trained_in_a_conversation(tokenizer):
    ids, labels = encode(chat(MULTI_TURN), tokenizer, DEEPSEEK_R1_DISTILL, True)
    trained = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE])
    assert trained == MULTI_TURN[-1]["content"] + EOS
    ids, labels = encode(chat(MULTI_TURN), tokenizer, DEEPSEEK_R1_DISTILL, False)
    assert labels == ids


def test_fim_records_are_raw_text_with_loss_on_the_middle_and_eos_only(tokenizer):
    record = fim("def add(a, b):\n", "    total = a + b\n", "    return total\n")
    ids, labels = encode(record, tokenizer, DEEPSEEK_R1_DISTILL, True)
    text = tokenizer.decode(ids)
    assert text == (f"{tokenizer.bos_token}<|fim_prefix|>def add(a, b):\n<|fim_suffix|>    return total\n"
                    f"<|fim_middle|>    total = a + b\n{EOS}")
    assert "<｜User｜>" not in text and "<｜Assistant｜>" not in text  # no chat turns around it
    trained = tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != IGNORE])
    assert trained == f"    total = a + b\n{EOS}"


def test_over_long_and_untrainable_records_never_reach_the_trainer_and_are_counted(tokenizer, tmp_path):
    from datasets import Dataset

    long_answer = chat([{"role": "user", "content": "Go."}, {"role": "assistant", "content": "step " * 300}])
    no_answer = chat([{"role": "user", "content": "Only a question."}])
    rows = [*coder_records(8), long_answer, no_answer]
    data = Dataset.from_list([{k: r.get(k) for k in ("format", "messages", "prompt", "completion")} for r in rows])
    kept, counts = prepare(data, tokenizer, DEEPSEEK_R1_DISTILL, 128, True, tmp_path / "tokens.arrow")
    assert counts == {"records": 10, "kept": 8, "kept_chat": 6, "kept_fim": 2,
                      "dropped_over_max_length": 1, "dropped_no_trainable_tokens": 1}
    assert kept.column_names == ["input_ids", "labels"]
    for row in kept:
        assert len(row["input_ids"]) <= 128 and any(x != IGNORE for x in row["labels"])
        assert row["labels"][-1] == tokenizer.eos_token_id  # the end token is always trained
    assert (tmp_path / "tokens.arrow").exists()


def test_a_published_adapter_holds_no_pickled_training_arguments(tmp_path):
    from aitherd.train.adapters import publish

    ctx = make_ctx(tmp_path / "state", TrainConfig())
    final = tmp_path / "final"
    final.mkdir()
    for name in ("adapter_config.json", "adapter_model.safetensors", "tokenizer.json", "training_args.bin"):
        (final / name).write_text("x")
    row = publish(ctx.engine, ctx.loaded.paths.state_dir, "coder", final, {"lineage": {}}, run_id=1)
    names = sorted(p.name for p in Path(row.path).iterdir())
    assert names == ["adapter_config.json", "adapter_model.safetensors", "aitherd_adapter.json", "tokenizer.json"]


def _fake_trainer(spec: Path, *, ignore_term: bool = False) -> subprocess.Popen:
    handler = "signal.SIG_IGN" if ignore_term else "lambda *a: sys.exit(75)"
    code = f"import signal, sys, time; signal.signal(signal.SIGTERM, {handler}); print('up', flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", code, "-m", "aitherd.train", str(spec)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"
    return proc


def test_a_trainer_left_by_a_killed_worker_is_stopped_before_its_run_dir_is_reused(tmp_path):
    from aitherd.train.launch import reap_stale_trainer

    files = RunFiles(tmp_path / "run")
    files.root.mkdir()
    pid_file = files.root / "trainer.pid"
    assert reap_stale_trainer(files) is None  # nothing left behind

    orphan = _fake_trainer(files.spec)
    pid_file.write_text(str(orphan.pid))
    note = reap_stale_trainer(files, grace_s=10)
    assert note == f"waited for orphaned trainer {orphan.pid} to stop"
    assert orphan.wait(timeout=5) == 75 and not pid_file.exists()

    stubborn = _fake_trainer(files.spec, ignore_term=True)
    pid_file.write_text(str(stubborn.pid))
    assert "killed orphaned trainer" in (reap_stale_trainer(files, grace_s=0.5) or "")
    assert stubborn.wait(timeout=5) == -signal.SIGKILL

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    pid_file.write_text(str(bystander.pid))  # a reused pid: not a trainer of this run
    assert "stale trainer.pid" in (reap_stale_trainer(files) or "")
    time.sleep(0.2)
    assert bystander.poll() is None and not pid_file.exists()
    bystander.kill()
    bystander.wait()


def test_the_train_job_reaps_a_stale_trainer_pid_before_anything_else(tmp_path):
    from aitherd.train.job import run_train

    ctx = make_ctx(tmp_path / "state", TrainConfig(base_model=str(tmp_path / "missing")))
    export_id, _ = write_export(ctx.loaded.paths.state_dir, "coder", coder_records(4), validation=1,
                                engine=ctx.engine)
    files = RunFiles(ctx.loaded.paths.state_dir / "train" / "coder" / export_id)
    files.root.mkdir(parents=True)
    orphan = _fake_trainer(files.spec)
    (files.root / "trainer.pid").write_text(str(orphan.pid))
    result = run_train(ctx, ["coder"])
    assert result.status == "failed" and "not found" in (result.error or "")  # the base is missing
    assert orphan.wait(timeout=5) == 75 and not (files.root / "trainer.pid").exists()


def test_start_from_live_is_part_of_the_spec_and_defaults_to_the_base(tmp_path):
    cfg = TrainConfig()
    assert cfg.start_from == "base"
    base = TrainSpec.build(cfg, "coder", "e1", tmp_path / "x", tmp_path / "run")
    assert base.init_adapter is None
    live = TrainSpec.build(cfg.model_copy(update={"start_from": "live"}), "coder", "e1", tmp_path / "x",
                           tmp_path / "run", init_adapter=("v0003", tmp_path / "adapters" / "v0003"))
    assert (live.init_adapter_version, live.init_adapter) == ("v0003", str(tmp_path / "adapters" / "v0003"))
    assert live.sha256() != base.sha256()
    moved = live.model_copy(update={"init_adapter": "/elsewhere/v0003"})
    assert moved.sha256() == live.sha256()  # where the adapter lives is not what it is
    assert json.loads(base.model_dump_json())["init_adapter"] is None
