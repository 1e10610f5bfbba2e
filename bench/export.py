"""Export figures: 50K examples (30K coder + 20K reasoner) to training-ready datasets.

    python bench/export.py [--examples 50000] [--tokenizer DIR_OR_TOKENIZER_JSON]

Prints the export's wall time beside the 60 s target and its peak memory (the export runs in
a child process, as in the daemon's worker). With --tokenizer, length statistics come from
that real tokenizer; otherwise they are estimated from characters.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CODER = ("instruction", "editing", "debugging", "review", "test_generation")
REASONER = ("math", "logic", "planning", "code", "non_reasoning")


def populate(db: Path, n: int) -> None:
    from aitherd.candidate import Candidate
    from aitherd.store import open_store
    from aitherd.store.examples import insert_candidates

    rng = random.Random(1)
    engine = open_store(db)
    # 10% more than the export takes, in the target mix, so sampling has a choice.
    coder_cats = [c for c, share in zip(CODER, (40, 25, 20, 10, 5), strict=True) for _ in range(share)]
    reasoner_cats = [c for c, share in zip(REASONER, (35, 15, 20, 20, 10), strict=True) for _ in range(share)]
    n_coder, n_reasoner = int(n * 0.6 * 1.1), int(n * 0.4 * 1.1)
    batch = []
    for i in range(n_coder + n_reasoner):
        if i < n_coder:
            body = "\n".join(f"    v{j} = v{j - 1} * {rng.randint(2, 9)} + {i}" for j in range(1, rng.randint(5, 40)))
            code = f"def f{i}(v0):\n{body}\n    return v0\n"
            batch.append(Candidate("coder", coder_cats[i % 100], [
                {"role": "user", "content": f"Task {i}: write a function that folds its input."},
                {"role": "assistant", "content": f"```python\n{code}```"}], source="git", license="MIT",
                quality=rng.random()))
        else:
            steps = " ".join(f"Step {k}: {i} * {k} = {i * k}." for k in range(rng.randint(3, 60)))
            cat = reasoner_cats[i % 100]
            batch.append(Candidate("reasoner", cat, [
                {"role": "user", "content": f"Problem {i}: multiply through."},
                {"role": "assistant", "content": f"The answer is {i}."}], source="teacher",
                reasoning=None if cat == "non_reasoning" else steps, answer=str(i), weight=1.3))
        if len(batch) >= 5000:
            insert_candidates(engine, batch)
            batch = []
    insert_candidates(engine, batch)
    engine.dispose()


CHILD = r"""
import json, sys, time
from pathlib import Path
from aitherd.config import Loaded, Paths, parse_config
from aitherd.export.job import run_export
from aitherd.jobs.context import JobContext
from aitherd.logs import get_logger
from aitherd.store import open_store
state = Path(sys.argv[1]); export = json.loads(sys.argv[2])
engine = open_store(state / "aitherd.db")
loaded = Loaded(parse_config({"export": export}), None, Paths(state, state / "c.sock"), ())
ctx = JobContext(job="export", run_id=0, trigger="bench", loaded=loaded, engine=engine, log=get_logger("bench"))
t0 = time.perf_counter(); result = run_export(ctx); elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "status": result.status, "message": result.message}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=50_000)
    ap.add_argument("--tokenizer", default="")
    args = ap.parse_args()
    state = Path(tempfile.mkdtemp(prefix="aitherd-bench-export-"))
    t0 = time.perf_counter()
    populate(state / "aitherd.db", args.examples)
    fill = time.perf_counter() - t0
    export = {"coder": {"size": args.examples * 3 // 5}, "reasoner": {"size": args.examples * 2 // 5}}
    if args.tokenizer:
        export["family"] = {"deepseek-r1-distill-qwen": {"tokenizer": args.tokenizer}}
    out = subprocess.run([sys.executable, "-c", CHILD, str(state), json.dumps(export)], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    card = next((state / "exports" / "coder").glob("*/latest")) / "README.md"
    lengths = card.read_text().split("## Lengths", 1)[1].strip().splitlines()[0]
    print(f"store filled with {int(args.examples * 1.1)} candidates in {fill:.1f} s (not part of the figure)")
    print(f"{'figure':34}  {'measured':>10}  {'target':>8}")
    print(f"{'export of ' + str(args.examples) + ' examples':34}  {result['seconds']:>8.1f} s  {'< 60 s':>8}  "
          f"{'ok' if result['seconds'] < 60 else 'MISSED'}")
    print(f"{'peak memory of the export process':34}  {peak_mb:>7.0f} MB")
    print(f"status: {result['status']}: {result['message']}")
    print(f"coder lengths: {lengths}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
