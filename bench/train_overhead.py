"""Per-step time of `python -m aitherd.train` beside a bare TRL script doing the same steps.

Builds a tiny Qwen2 (2 layers, hidden 64) and a BPE tokenizer from generated data, writes an
export in the contract shape, then alternates the two runs and prints per-step medians side by
side. Both use the same SFT arguments, chat template, LoRA and data; the step times of the first
two steps and the last (warm-up, final save) are left out.

    PYTHONPATH=. .venv/bin/python bench/train_overhead.py [--steps 40] [--rounds 2]   # a venv with .[train] or .[test]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from train_fixtures import (  # noqa: E402
    build_tiny_model,
    coder_records,
    corpus_texts,
    reasoner_records,
    write_export,
)

from aitherd.train.config import TrainConfig  # noqa: E402
from aitherd.train.spec import RunFiles, TrainSpec  # noqa: E402

BARE = textwrap.dedent('''
    import json, sys, time
    from datasets import Dataset
    from peft import LoraConfig
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer
    from aitherd.train.templates import DEEPSEEK_R1_DISTILL

    spec = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    times = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            times.append(time.time())

    train = Dataset.load_from_disk(spec["export_path"] + "/train").select_columns(["messages"])
    tok = AutoTokenizer.from_pretrained(spec["base_model"])
    tok.chat_template = DEEPSEEK_R1_DISTILL
    model = AutoModelForCausalLM.from_pretrained(spec["base_model"], dtype=torch.float32)
    lora = LoraConfig(r=32, lora_alpha=64, lora_dropout=spec["lora"]["dropout"],
                      target_modules=spec["lora"]["target_modules"], task_type="CAUSAL_LM")
    args = SFTConfig(output_dir=out, max_steps=spec["max_steps"], max_length=spec["max_length"],
                     learning_rate=2e-4, lr_scheduler_type="cosine",
                     warmup_steps=spec["warmup_ratio"],
                     per_device_train_batch_size=spec["per_device_batch_size"],
                     gradient_accumulation_steps=spec["gradient_accumulation_steps"],
                     gradient_checkpointing=True,
                     gradient_checkpointing_kwargs={"use_reentrant": False},
                     bf16=False, use_cpu=True, packing=True, assistant_only_loss=True,
                     save_steps=spec["save_steps"], logging_steps=1,
                     include_num_input_tokens_seen="all", report_to="none", disable_tqdm=True,
                     seed=spec["seed"])
    SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok,
               peft_config=lora, callbacks=[Clock()]).train()
    json.dump(times, open(out + "/times.json", "w"))
''')


def step_times(stamps: list[float]) -> list[float]:
    deltas = [b - a for a, b in itertools.pairwise(stamps)]
    return deltas[2:-1]


def run(cmd: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=256)
    opts = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="aitherd-train-bench-"))
    # Chat records only: a bare TRL script cannot mix chat and raw-text FIM records in one run.
    records = [r for r in coder_records(200) + reasoner_records(200) if r["format"] == "chat"]
    model = build_tiny_model(work / "model", corpus_texts(records))
    export_id, export_path = write_export(work / "state", "coder", records, validation=8)
    cfg = TrainConfig.model_validate({
        "base_model": str(model), "gradient_accumulation_steps": 1,
        "save_steps": opts.steps * 10, "logging_steps": 1, "eval_at_end": False,
        "coder": {"max_steps": opts.steps, "max_length": opts.max_length,
                  "per_device_batch_size": opts.batch}})

    ours: list[float] = []
    bare: list[float] = []
    for i in range(opts.rounds):
        files = RunFiles(work / "runs" / f"aitherd-{i}")
        files.root.mkdir(parents=True)
        spec = TrainSpec.build(cfg, "coder", export_id, export_path, files.root)
        spec.write(files.spec)
        run([sys.executable, "-m", "aitherd.train", str(files.spec)])
        events = [json.loads(x) for x in files.progress.read_text().splitlines()]
        ours += step_times([e["time"] for e in events if e["event"] == "log"])

        bare_dir = work / "runs" / f"bare-{i}"
        bare_dir.mkdir()
        script = work / "bare_trl.py"
        script.write_text(BARE)
        run([sys.executable, str(script), str(files.spec), str(bare_dir)])
        bare += step_times(json.loads((bare_dir / "times.json").read_text()))

    med_ours, med_bare = statistics.median(ours), statistics.median(bare)
    print(f"tiny Qwen2 (2 layers, hidden 64, LoRA r=32 on 7 projections), CPU fp32, "
          f"{opts.steps} steps x {opts.rounds} rounds, batch {opts.batch}, "
          f"max_length {opts.max_length}, packing, assistant-only loss")
    print(f"{'':18}{'median step':>14}{'mean step':>12}{'steps timed':>13}")
    for name, xs in (("bare TRL script", bare), ("aitherd.train", ours)):
        print(f"{name:18}{statistics.median(xs) * 1000:>11.1f} ms"
              f"{statistics.mean(xs) * 1000:>9.1f} ms{len(xs):>13}")
    print(f"overhead of aitherd.train per step: {(med_ours / med_bare - 1) * 100:+.1f}% "
          "(target: at most +5%)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
