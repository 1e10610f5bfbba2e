"""The training path on a GPU: bf16 LoRA and QLoRA through aitherd.train beside a bare TRL script.

Builds a Qwen2 with random weights at a configurable shape (default Qwen2.5-0.5B's: hidden 896,
intermediate 4864, 24 layers, 14 heads, 2 KV heads, vocab 151936, rope_theta 1e6, tied
embeddings; no hub), the tiny BPE tokenizer of the test fixtures, and an export in the contract
shape (chat records only: a bare TRL script cannot mix chat and raw-text FIM records). Then runs:

- `bf16`:  the job's own path (TrainSpec.build, launch.run_trainer, `python -m aitherd.train`,
           ProgressCallback, StopOnSignal) with quantization "none" (fp32 on CPU);
- `qlora`: the same with quantization "nf4" (4-bit NF4, double quant, bf16 compute; CUDA and
           bitsandbytes only);
- `bare`, `bare-qlora`: a bare TRL SFTTrainer script with the same settings (as in
           bench/train_overhead.py), unquantized and NF4.

It prints per mode the median step time, tokens/s (over the timed steps: the first two and the
last are left out) and peak GPU memory (torch.cuda.max_memory_allocated in the trainer process),
and the overhead of ours vs bare TRL (goal: at most +5%). Checks, as flags:
`--check-adapter` (the QLoRA adapter saved, reloads onto the non-quantized base and changes its
outputs; on CPU the fp32 adapter stands in), `--check-resume` (a run stopped by SIGTERM resumes
from its checkpoint and finishes), `--oom` (a too-large batch fails as "out of memory", exit 3,
error_kind "oom"; GPU only). `--out DIR` writes gpu_train.json with every figure.

CPU proof (about 2 minutes; QLoRA is skipped with a note):
    PYTHONPATH=. .venv/bin/python bench/gpu_train.py --device cpu --tiny --check-adapter --check-resume

On the GPU machine, which lacks trl, datasets, bitsandbytes (and their needs dill, multiprocess,
and what aitherd.train.job imports: pydantic, sqlmodel, SQLAlchemy, APScheduler, tzlocal): first,
here, in the checkout the device tool sends (with this file in it),
fetch the wheels (51 MB in all, bitsandbytes 43 MB of it; the versions are this venv's):
    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
      trl==1.16.0 datasets==5.2.0 bitsandbytes==0.50.2 dill==0.4.1 multiprocess==0.70.19 \
      pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
      sqlmodel==0.0.50 sqlalchemy==2.1.9 apscheduler==3.11.3 tzlocal==5.4.5
    du -sh .whl   # 51M: within the 64 MiB a call carries, with the working tree
then one device call (carry [".whl"], timeout_s 540; about 5 minutes at the default shape):
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit; nvidia-smi -L; python3 -m pip show pyarrow fsspec transformers | grep -E '^(Name|Version)'; PYTHONUNBUFFERED=1 python3 bench/gpu_train.py --check-adapter --check-resume --oom --out $OUT 2>&1 | tee $OUT/log
The machine has transformers 5.17 (this venv 5.24; trl 1.16 needs >= 4.56.2); datasets 5.2 needs
pyarrow >= 24 and fsspec <= 2026.9.0: it imported there on 2026-11-27 (H100); if it ever fails,
carry datasets 4.x instead. Figures of that run: README, training section.
(Check the versions above against `pip show` in this venv before fetching; a 1.5B shape:
`--hidden 1536 --intermediate 8960 --layers 28 --heads 12`.)
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
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

MODES = ("bf16", "bare", "qlora", "bare-qlora")

# Runs the real trainer entry point and, on the way out, writes the process's peak GPU memory.
WRAP = textwrap.dedent('''
    import atexit, json, sys
    import torch
    def _peak():
        if torch.cuda.is_available():
            json.dump({"peak_bytes": torch.cuda.max_memory_allocated()}, open(sys.argv[2], "w"))
    atexit.register(_peak)
    from aitherd.train.trainer import main
    code = main(sys.argv[1:2])
    _peak()
    sys.exit(code)
''')

BARE = textwrap.dedent('''
    import json, sys, time
    from datasets import Dataset
    from peft import LoraConfig
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer
    from aitherd.train.templates import DEEPSEEK_R1_DISTILL

    spec = json.load(open(sys.argv[1]))
    out, nf4 = sys.argv[2], sys.argv[3] == "nf4"
    cuda = torch.cuda.is_available()
    marks = []

    class Clock(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            marks.append((time.time(), state.num_input_tokens_seen))

    train = Dataset.load_from_disk(spec["export_path"] + "/train").select_columns(["messages"])
    tok = AutoTokenizer.from_pretrained(spec["base_model"])
    tok.chat_template = DEEPSEEK_R1_DISTILL
    kwargs = {"dtype": torch.bfloat16 if cuda else torch.float32}
    if nf4:
        from transformers import BitsAndBytesConfig
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kwargs["device_map"] = {"": 0}
    model = AutoModelForCausalLM.from_pretrained(spec["base_model"], **kwargs)
    model.config.use_cache = False
    lora = LoraConfig(r=spec["lora"]["r"], lora_alpha=spec["lora"]["alpha"],
                      lora_dropout=spec["lora"]["dropout"],
                      target_modules=spec["lora"]["target_modules"], task_type="CAUSAL_LM")
    args = SFTConfig(output_dir=out, max_steps=spec["max_steps"], max_length=spec["max_length"],
                     learning_rate=spec["learning_rate"], lr_scheduler_type=spec["lr_scheduler"],
                     warmup_steps=spec["warmup_ratio"],
                     per_device_train_batch_size=spec["per_device_batch_size"],
                     gradient_accumulation_steps=spec["gradient_accumulation_steps"],
                     gradient_checkpointing=spec["gradient_checkpointing"],
                     gradient_checkpointing_kwargs={"use_reentrant": False},
                     bf16=cuda, use_cpu=not cuda, packing=True, assistant_only_loss=True,
                     save_steps=spec["save_steps"], logging_steps=1,
                     include_num_input_tokens_seen="all", report_to="none", disable_tqdm=True,
                     seed=spec["seed"])
    SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok,
               peft_config=lora, callbacks=[Clock()]).train()
    peak = torch.cuda.max_memory_allocated() if cuda else None
    json.dump({"marks": marks, "peak_bytes": peak}, open(out + "/marks.json", "w"))
''')


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--tiny", action="store_true", help="the fixtures' 2-layer hidden-64 shape")
    p.add_argument("--modes", default=",".join(MODES), help=f"comma list of {', '.join(MODES)}")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--records", type=int, default=3000, help="chat records in the export")
    p.add_argument("--hidden", type=int, default=896)
    p.add_argument("--intermediate", type=int, default=4864)
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--heads", type=int, default=14)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--vocab-size", type=int, default=151936, help="embedding rows (>= tokenizer)")
    p.add_argument("--check-adapter", action="store_true")
    p.add_argument("--check-resume", action="store_true")
    p.add_argument("--oom", action="store_true", help="force an out-of-memory (GPU only)")
    p.add_argument("--out", type=Path, help="write gpu_train.json with the figures here")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    opts = p.parse_args(argv)
    if opts.tiny:
        opts.hidden, opts.intermediate, opts.layers, opts.heads, opts.kv_heads = 64, 128, 2, 4, 2
        opts.vocab_size, opts.max_length, opts.batch = 0, 256, 4
        opts.steps, opts.records = min(opts.steps, 12), min(opts.records, 300)
    return opts


def build_model(dest: Path, opts: argparse.Namespace) -> Path:
    """A Qwen2 at the asked shape with random weights, and the fixtures' tokenizer."""
    import torch
    from train_fixtures import build_tiny_tokenizer, coder_records, corpus_texts, reasoner_records
    from transformers import Qwen2Config, Qwen2ForCausalLM

    tokenizer = build_tiny_tokenizer(dest, corpus_texts(coder_records(200) + reasoner_records(200)))
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=max(opts.vocab_size, len(tokenizer)), hidden_size=opts.hidden,
        intermediate_size=opts.intermediate, num_hidden_layers=opts.layers,
        num_attention_heads=opts.heads, num_key_value_heads=opts.kv_heads,
        max_position_embeddings=32768, rope_theta=1_000_000.0, rms_norm_eps=1e-6,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True)
    model = Qwen2ForCausalLM(config)
    if opts.device == "cuda":
        model = model.to(torch.bfloat16)
    model.save_pretrained(dest)
    print(f"model: Qwen2 random weights, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
          f"params, hidden {opts.hidden}, {opts.layers} layers, {opts.heads}/{opts.kv_heads} heads, "
          f"intermediate {opts.intermediate}, vocab {config.vocab_size} (tokenizer {len(tokenizer)})")
    return dest


def make_export(state: Path, n: int) -> tuple[str, Path]:
    from train_fixtures import coder_records, reasoner_records, write_export

    records = [r for r in coder_records(n) + reasoner_records(n) if r["format"] == "chat"]
    return write_export(state, "coder", records, validation=8)


def make_spec(opts: argparse.Namespace, model: Path, export: tuple[str, Path], root: Path,
              quant: str, **over: Any) -> Any:
    from aitherd.train.config import TrainConfig
    from aitherd.train.spec import RunFiles, TrainSpec

    part = {"max_steps": opts.steps, "max_length": opts.max_length,
            "per_device_batch_size": opts.batch, **over.pop("part", {})}
    cfg = TrainConfig.model_validate({
        "base_model": str(model), "gradient_accumulation_steps": 1, "quantization": quant,
        "packing": "on", "save_steps": over.pop("save_steps", opts.steps * 10),
        "logging_steps": 1, "eval_at_end": False, "coder": part})
    files = RunFiles(root)
    root.mkdir(parents=True, exist_ok=True)
    spec = TrainSpec.build(cfg, "coder", export[0], export[1], root)
    return spec, files


def run_ours(work: Path, spec: Any, files: Any, stop_at: int | None = None) -> dict[str, Any]:
    """The job's launch path (job._prepare_run_dir, launch.run_trainer) with the trainer wrapped
    to report its peak GPU memory; `stop_at` sends SIGTERM once that step is logged."""
    from aitherd.train.job import _prepare_run_dir
    from aitherd.train.launch import run_trainer

    resumed = _prepare_run_dir(files, spec.sha256())
    spec.write(files.spec)
    wrap = work / "wrap_trainer.py"
    wrap.write_text(WRAP)
    peak_file = files.root / "peak.json"
    peak_file.unlink(missing_ok=True)
    seen: list[dict[str, Any]] = []
    outcome = run_trainer(files, [sys.executable, str(wrap), str(files.spec), str(peak_file)],
                          on_event=seen.append,
                          should_stop=lambda: stop_at is not None and any(
                              e.get("event") == "log" and e["step"] >= stop_at for e in seen))
    begin = next((e for e in seen if e.get("event") == "begin"), {"resumed_step": 0})
    # tokens seen since begin = tokens/s x s/step x steps (the callback's running figures)
    marks = [(e["time"], (e.get("tokens_per_s") or 0) * (e.get("step_s") or 0)
              * (e["step"] - begin["resumed_step"])) for e in seen if e.get("event") == "log"]
    peak = json.loads(peak_file.read_text())["peak_bytes"] if peak_file.exists() else None
    return {"returncode": outcome.returncode, "result": outcome.result, "error":
            None if outcome.ok else outcome.error(), "marks": marks, "peak_bytes": peak,
            "events": seen, "resumed_dir": resumed}


def run_bare(work: Path, spec: Any, quant: str) -> dict[str, Any]:
    out = work / "runs" / f"bare-{quant}"
    out.mkdir(parents=True, exist_ok=True)
    spec_path = out / "spec.json"
    spec.write(spec_path)
    script = work / "bare_trl.py"
    script.write_text(BARE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
        "PYTHONPATH")])), "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, str(script), str(spec_path), str(out), quant], env=env,
                          capture_output=True, text=True)
    if proc.returncode:
        return {"returncode": proc.returncode, "error": proc.stderr[-3000:], "marks": []}
    data = json.loads((out / "marks.json").read_text())
    return {"returncode": 0, "error": None, "marks": data["marks"], "peak_bytes": data["peak_bytes"]}


def figures(run: dict[str, Any]) -> dict[str, Any]:
    """Median step time and tokens/s over the timed steps (first two and last left out)."""
    marks = run["marks"]
    if len(marks) < 5:
        return {"error": run.get("error") or f"only {len(marks)} steps logged"}
    timed = marks[2:-1]
    deltas = [b[0] - a[0] for a, b in itertools.pairwise(timed)]
    tokens = timed[-1][1] - timed[0][1]
    span = timed[-1][0] - timed[0][0]
    peak = run.get("peak_bytes")
    return {"median_step_s": statistics.median(deltas), "mean_step_s": statistics.mean(deltas),
            "tokens_per_s": tokens / span if span else None, "steps_timed": len(deltas),
            "tokens_per_step": tokens / len(deltas),
            "peak_gib": peak / 2**30 if peak else None}


def check_adapter(adapter: Path, base: Path, device: str) -> dict[str, Any]:
    """The saved adapter loads onto the non-quantized base and changes its outputs."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    weights = load_file(str(adapter / "adapter_model.safetensors"))
    finite = all(torch.isfinite(t).all().item() for t in weights.values())
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tok = AutoTokenizer.from_pretrained(str(adapter))
    ids = tok("def add_1(x):\n    return x + 1", return_tensors="pt").input_ids.to(device)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype).to(device).eval()
    with torch.no_grad():
        before = model(ids).logits.float()
        tuned = PeftModel.from_pretrained(model, str(adapter)).eval()
        after = tuned(ids).logits.float()
    diff = (after - before).abs().max().item()
    return {"ok": finite and diff > 0, "tensors": len(weights), "finite": finite,
            "max_logit_change": diff}


def main(argv: list[str] | None = None) -> int:
    opts = parse(argv)
    if opts.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    if opts.device == "cuda" and not torch.cuda.is_available():
        print("--device cuda: no CUDA device visible (use --device cpu --tiny for the CPU proof)")
        return 2
    try:
        import bitsandbytes  # noqa: F401
        has_bnb = True
    except ImportError:
        has_bnb = False
    modes = [m.strip() for m in opts.modes.split(",") if m.strip()]
    work = Path(tempfile.mkdtemp(prefix="aitherd-gpu-train-"))
    gpu = torch.cuda.get_device_name(0) if opts.device == "cuda" else "none (CPU, fp32)"
    report: dict[str, Any] = {"device": gpu, "torch": torch.__version__, "options": {
        k: str(v) for k, v in vars(opts).items()}, "modes": {}, "checks": {}}
    print(f"device: {gpu}; torch {torch.__version__}; corpus: generated coder+reasoner chat records "
          f"(tests/train_fixtures.py), {opts.steps} steps, batch {opts.batch}, max_length "
          f"{opts.max_length}, packing, LoRA r=32 on 7 projections")
    started = time.monotonic()
    model = build_model(work / "model", opts)
    export = make_export(work / "state", opts.records)
    runs: dict[str, dict[str, Any]] = {}
    for mode in modes:
        nf4 = mode in ("qlora", "bare-qlora")
        if nf4 and not (opts.device == "cuda" and has_bnb):
            print(f"{mode}: SKIPPED: QLoRA needs CUDA and bitsandbytes "
                  f"(device {opts.device}, bitsandbytes {'present' if has_bnb else 'missing'})")
            report["modes"][mode] = {"skipped": "needs CUDA and bitsandbytes"}
            continue
        spec, files = make_spec(opts, model, export, work / "runs" / mode, "nf4" if nf4 else "none")
        t0 = time.monotonic()
        runs[mode] = run_bare(work, spec, "nf4" if nf4 else "none") if mode.startswith("bare") \
            else run_ours(work, spec, files)
        fig = figures(runs[mode])
        if mode in ("bf16", "qlora"):
            fig["precision"] = runs[mode]["result"].get("precision")
        fig["wall_s"] = round(time.monotonic() - t0, 1)
        report["modes"][mode] = fig
        if "error" in fig:
            print(f"{mode}: FAILED: {fig['error']}")
    print(f"\n{'mode':12}{'precision':>10}{'median step':>13}{'tokens/s':>11}{'tokens/step':>12}{'peak GPU mem':>14}{'wall':>8}")
    for mode, fig in report["modes"].items():
        if "median_step_s" in fig:
            peak = f"{fig['peak_gib']:.2f} GiB" if fig["peak_gib"] else "n/a (CPU)"
            print(f"{mode:12}{fig.get('precision') or '-':>10}{fig['median_step_s'] * 1000:>10.1f} ms"
                  f"{fig['tokens_per_s']:>11.0f}{fig['tokens_per_step']:>12.0f}{peak:>14}{fig['wall_s']:>7.0f}s")
    for ours, bare in (("bf16", "bare"), ("qlora", "bare-qlora")):
        a, b = report["modes"].get(ours, {}), report["modes"].get(bare, {})
        if "median_step_s" in a and "median_step_s" in b:
            over = (a["median_step_s"] / b["median_step_s"] - 1) * 100
            report[f"overhead_{ours}_pct"] = over
            print(f"overhead of aitherd.train ({ours}) vs bare TRL ({bare}) per step: {over:+.1f}% "
                  "(goal: at most +5%)")

    checks = report["checks"]
    if opts.check_adapter:
        source = "qlora" if "qlora" in runs else "bf16"
        final = work / "runs" / source / "final"
        if final.is_dir():
            checks["adapter"] = {"from": source, **check_adapter(final, model, opts.device)}
        else:
            checks["adapter"] = {"from": source, "ok": False, "error": "no final/ adapter saved"}
        print(f"check adapter ({source} adapter onto the unquantized base): {checks['adapter']}")
    if opts.check_resume:
        quant = "nf4" if opts.device == "cuda" and has_bnb else "none"
        steps = max(6, opts.steps // 3)
        spec, files = make_spec(opts, model, export, work / "runs" / "resume", quant,
                                save_steps=steps, part={"max_steps": 2 * steps})
        first = run_ours(work, spec, files, stop_at=steps // 2)
        second = run_ours(work, spec, files)
        begins = [e for e in second["events"] if e.get("event") == "begin"]
        resumed_step = begins[0]["resumed_step"] if begins else None
        checks["resume"] = {
            "ok": first["returncode"] == 75 and second["returncode"] == 0
            and bool(resumed_step) and second["result"].get("global_step") == 2 * steps,
            "quantization": quant, "first_exit": first["returncode"], "stopped_at":
            first["result"].get("global_step"), "resumed_from": second["result"].get("resumed_from"),
            "resumed_step": resumed_step, "final_step": second["result"].get("global_step"),
            "error": second["error"]}
        print(f"check resume (SIGTERM at step {steps // 2}, rerun): {checks['resume']}")
    if opts.oom:
        if opts.device != "cuda":
            print("oom: SKIPPED: forcing an out-of-memory needs a GPU")
        else:
            big = make_export(work / "state-oom", 20000)
            spec, files = make_spec(opts, model, big, work / "runs" / "oom", "none",
                                    part={"max_steps": 2, "per_device_batch_size": 4096})
            got = run_ours(work, spec, files)
            err = got["error"] or ""
            checks["oom"] = {"ok": got["returncode"] == 3 and got["result"].get("error_kind") == "oom"
                             and err.startswith("out of memory"), "exit": got["returncode"],
                             "error_kind": got["result"].get("error_kind"), "error": err[:300]}
            print(f"check oom (batch 4096 x {opts.max_length}): {checks['oom']}")
    report["seconds"] = round(time.monotonic() - started, 1)
    print(f"total {report['seconds']} s; work dir {work}{'' if opts.keep else ' (removed)'}")
    if opts.out:
        opts.out.mkdir(parents=True, exist_ok=True)
        (opts.out / "gpu_train.json").write_text(json.dumps(report, indent=2, default=str))
    if not opts.keep:
        shutil.rmtree(work, ignore_errors=True)
    failed = [m for m, f in report["modes"].items() if "error" in f] + [
        c for c, v in checks.items() if not v.get("ok")]
    if failed:
        print(f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
