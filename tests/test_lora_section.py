"""One `[lora]` section: a change there reaches the trainer's LoraConfig, the vLLM supervisor's
`--max-lora-rank` and evaluation's generators; the old keys ([train.lora], [serve] max_lora_rank)
still load with a deprecation note; ranks vLLM cannot load are refused at config time."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from serve_support import ready, serve_section
from train_fixtures import build_tiny_model, coder_records, corpus_texts, make_ctx, write_export

from aitherd.config import ConfigError, Loaded, Paths, load, parse_config
from aitherd.evaluate.generate import EndpointGenerator, GenerationError, LocalGenerator, make_generator
from aitherd.lora import VLLM_MAX_LORA_RANKS, LoraSection, adapter_rank, serving_rank
from aitherd.metrics import Metrics
from aitherd.serve.launch import vllm_args
from aitherd.store import open_store
from aitherd.train.spec import TrainSpec


def _adapter_dir(path: Path, r: int) -> Path:
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": r, "lora_alpha": 2 * r,
                                                          "target_modules": ["q_proj"]}))
    return path


def test_one_lora_change_reaches_the_trainer_the_supervisor_and_evaluation(tmp_path):
    pytest.importorskip("trl")
    pytest.importorskip("peft")
    from aitherd.serve.service import Serving
    from aitherd.train.job import run_train

    model = build_tiny_model(tmp_path / "tiny-qwen2", corpus_texts(coder_records(30)))
    part = {"max_length": 128, "max_steps": 2, "per_device_batch_size": 2}
    cfg = parse_config({
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]},
        "train": {"base_model": str(model), "gradient_accumulation_steps": 1, "save_steps": 2,
                  "coder": part, "reasoner": {**part, "enabled": False}},
        "serve": serve_section()})

    # The trainer: PEFT's LoraConfig in the published adapter.
    ctx = make_ctx(tmp_path / "state", cfg.train, lora=cfg.lora)
    write_export(ctx.loaded.paths.state_dir, "coder", coder_records(20), engine=ctx.engine)
    result = run_train(ctx)
    assert result.status == "ok", result
    trained = ctx.loaded.paths.state_dir / "adapters" / "coder" / "v0001"
    peft_cfg = json.loads((trained / "adapter_config.json").read_text())
    assert (peft_cfg["r"], peft_cfg["lora_alpha"], peft_cfg["lora_dropout"]) == (8, 16, 0.0)
    assert set(peft_cfg["target_modules"]) == {"q_proj", "v_proj"}

    # The supervisor: the command line vLLM was started with (the stand-in refuses other ranks).
    async def served_flags() -> str:
        state = tmp_path / "serve"
        state.mkdir()
        loaded = Loaded(config=cfg, source=None, paths=Paths(state_dir=state, socket=state / "c.sock"), repos=())
        engine = open_store(loaded.paths.db)
        s = Serving(loaded, engine, Metrics())
        await s.start()
        try:
            await ready(s)
            assert s.supervisor is not None
            return s.supervisor.log.path.read_text()
        finally:
            await s.stop()
            engine.dispose()

    assert "--enable-lora --max-lora-rank 8 " in asyncio.run(served_flags())

    # Evaluation: the local generator loads the trained r=8 adapter, refuses one the server could not load.
    gen = make_generator(cfg.evaluate, str(model), cfg.lora)
    assert isinstance(gen, LocalGenerator) and gen.max_rank == 8
    gen.prepare("eval:coder@v0001", str(trained))
    with pytest.raises(GenerationError, match="rank 16, above the model server's --max-lora-rank 8"):
        gen.prepare("eval:coder@v0002", str(_adapter_dir(tmp_path / "r16", 16)))
    gen.close()


def test_the_endpoint_generator_refuses_an_adapter_above_the_rank_before_asking_the_server(tmp_path):
    pytest.importorskip("openai")
    cfg = parse_config({"lora": {"r": 16}, "evaluate": {"endpoint": {"base_url": "http://127.0.0.1:9/v1"}}})
    gen = make_generator(cfg.evaluate, "/m", cfg.lora)
    assert isinstance(gen, EndpointGenerator) and gen.max_rank == 16
    with pytest.raises(GenerationError, match="rank 32, above"):  # port 9 is never asked
        gen.prepare("eval:coder@v1", str(_adapter_dir(tmp_path / "a", 32)))
    gen.close()


def test_the_server_rank_is_r_rounded_up_to_a_rank_vllm_accepts_or_max_rank():
    assert [serving_rank(r) for r in (1, 2, 8, 9, 24, 32, 33, 300, 321, 512)] == [
        1, 8, 8, 16, 32, 32, 64, 320, 512, 512]
    assert LoraSection(r=24).server_rank == 32
    assert LoraSection(r=16, max_rank=64).server_rank == 64
    args = vllm_args(parse_config({}).serve, "/m", 1, LoraSection(r=100))
    assert args[args.index("--max-lora-rank") + 1] == "128"
    assert set(VLLM_MAX_LORA_RANKS) == {1, 8, 16, 32, 64, 128, 256, 320, 512}


@pytest.mark.parametrize(("lora", "message"), [
    ({"r": 0}, "lora.r: expected greater than or equal to 1"),
    ({"alpha": 0}, "lora.alpha: expected greater than or equal to 1"),
    ({"r": 600}, "lora.r: expected less than or equal to 512"),
    ({"max_rank": 24}, "vLLM accepts a max rank of 1, 8, 16, 32, 64, 128, 256, 320, 512"),
    ({"r": 64, "max_rank": 32}, "max_rank 32 is below r = 64"),
    ({"target_modules": []}, "lora.target_modules"),
    ({"rank": 8}, "lora.rank: unknown key"),
])
def test_a_lora_section_vllm_or_peft_cannot_use_is_refused_naming_the_key(lora, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_config({"lora": lora}, "cfg.toml")


def test_the_old_keys_still_load_with_a_deprecation_note(tmp_path):
    path = tmp_path / "aitherd.toml"
    path.write_text('[train]\nlearning_rate = 1e-4\n[train.lora]\nr = 64\nalpha = 128\n'
                    '[serve]\nmax_lora_rank = 128\n')
    loaded = load(path, find_repos=False)
    lora = loaded.config.lora
    assert (lora.r, lora.alpha, lora.max_rank, lora.server_rank) == (64, 128, 128, 128)
    assert loaded.config.train.learning_rate == 1e-4
    assert len(loaded.notes) == 2 and all(n.startswith(f"{path}: ") for n in loaded.notes)
    assert "[train.lora] is deprecated" in loaded.notes[0] and "[lora] max_rank" in loaded.notes[1]
    assert "--max-lora-rank 128" in " ".join(vllm_args(loaded.config.serve, "/m", 1, lora))
    # What the daemon hands its workers (the config as JSON) parses again without the old keys.
    assert parse_config(loaded.config.model_dump(mode="json")).lora == lora


def test_an_old_key_beside_its_new_one_or_an_old_rank_vllm_refuses_is_an_error():
    with pytest.raises(ConfigError, match=r"both \[train.lora\] \(deprecated\) and \[lora\] are set"):
        parse_config({"train": {"lora": {"r": 8}}, "lora": {"r": 8}})
    with pytest.raises(ConfigError, match=r"both \[serve\] max_lora_rank \(deprecated\) and \[lora\] max_rank"):
        parse_config({"serve": {"max_lora_rank": 32}, "lora": {"max_rank": 32}})
    with pytest.raises(ConfigError, match=r"\[serve\] max_lora_rank .*got 24"):
        parse_config({"serve": {"max_lora_rank": 24}})


def test_the_training_spec_keeps_its_identity_whatever_the_server_rank(tmp_path):
    from aitherd.train.config import TrainConfig

    def spec(**lora: object) -> TrainSpec:
        return TrainSpec.build(TrainConfig(), "coder", "e1", tmp_path, tmp_path / "run", lora=LoraSection(**lora))

    # Only what shapes the adapter is in the spec (the same four keys as before [lora]), so
    # raising max_rank neither restarts a run nor retrains an adapter.
    assert set(spec().model_dump()["lora"]) == {"r", "alpha", "dropout", "target_modules"}
    assert spec().sha256() == spec(max_rank=128).sha256() != spec(r=16).sha256()
    assert TrainSpec.build(TrainConfig(), "coder", "e1", tmp_path, tmp_path / "run").sha256() == spec().sha256()


def test_adapter_rank_reads_r_and_the_largest_rank_pattern(tmp_path):
    path = _adapter_dir(tmp_path / "a", 8)
    assert adapter_rank(path) == 8
    data = json.loads((path / "adapter_config.json").read_text())
    (path / "adapter_config.json").write_text(json.dumps({**data, "rank_pattern": {"q_proj": 64}}))
    assert adapter_rank(path) == 64
    assert adapter_rank(tmp_path / "missing") is None


def test_check_config_says_which_old_keys_a_file_still_uses(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "aitherd.toml"
    path.write_text(f'[daemon]\nstate_dir = "{tmp_path / "state"}"\n[train.lora]\nr = 16\n')
    out = subprocess.run([sys.executable, "-m", "aitherd", "--check-config", "-c", str(path)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert f"deprecated: {path}: [train.lora] is deprecated: rename the section to [lora]" in out.stdout
