"""Math answer checking figures: throughput (checks/s, CPU-seconds on one core) and agreement with
labelled verdicts, for three checkers side by side in one run:

- ours: aitherd's extraction and its plain-number comparison alone (no sympy; anything that is
  not a plain number on both sides counts as "not equal");
- math-verify alone, used as its README shows: `verify(parse(gold), parse(model_output))`, the
  gold wrapped in `$...$` when it has no LaTeX delimiters (its parser needs them);
- math-verify on the final answers our extraction reads (LaTeX-wrapped, plain-text forms
  rewritten): what the combined checker would be without its number fast path;
- ours plus the evaluated middle path (aitherd.answer_eval: parsed and evaluated, no sympy;
  a pair it is unsure of counts as "not equal");
- numbers, then math-verify: the combined checker as it was before the middle path (baseline);
- aitherd.answers.check, what STaR and the reasoner harvest call: numbers, then the evaluated
  middle path, then math-verify for whatever neither decides.

Corpora:
1. The labelled set (tests/data/answer_pairs.jsonl, its math rows): fractions, decimals,
   thousands separators, units, LaTeX, sets/tuples/intervals, negatives, expressions, letters,
   MATH-style rationales and GSM8K solutions, each pair marked equivalent or not.
2. GSM8K-shaped model outputs (default: the shipped GSM8K train split, `--corpus` for any
   {question, answer} .jsonl[.gz]): each gold solution in five output styles, checked against
   its own answer (equivalent) and the answer plus one (not).

The process is pinned to one CPU; rates are checks per CPU-second (time.process_time), after a
warm-up call so that imports are counted once, apart.

    PYTHONPATH=. python bench/answer_check.py [--pairs PATH] [--corpus PATH] [--limit 300]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitherd import answers, benchmarks  # noqa: E402

Pair = tuple[str, str, bool, str]  # solution, reference, equivalent, group
STYLES = {
    "####": lambda steps, gold, full: full,
    "boxed": lambda steps, gold, full: f"{steps}\nSo the answer is $\\boxed{{{gold}}}$.",
    "answer_is": lambda steps, gold, full: f"{steps}\nThe answer is {gold}. Let me know if you have 2 more questions!",
    "think": lambda steps, gold, full: f"<think>\n{steps}\nChecking: 1, 2, 3 steps.\n</think>\n\n**Answer:** {gold}",
    "plain": lambda steps, gold, full: f"{steps}\nSo the total is {gold}.",
}


def ours(solution: str, reference: str) -> bool:
    predicted = answers.extract_answer(solution)
    return predicted is not None and bool(answers.fast_equal(predicted, answers.reference_answer(reference)))


def math_verify_alone(solution: str, reference: str) -> bool:
    from math_verify import parse, verify  # type: ignore[import-untyped]

    gold = reference if any(t in reference for t in ("$", "\\(", "\\[", "\\boxed", "####")) else f"${reference}$"
    return bool(verify(parse(gold), parse(solution)))


def math_verify_extracted(solution: str, reference: str) -> bool:
    predicted = answers.extract_answer(solution)
    return predicted is not None and bool(answers.symbolic_equal(predicted, answers.reference_answer(reference)))


def _numbers_then(fallback: Callable[[str, str], object]) -> Callable[[str, str], bool]:
    """A checker: the plain-number comparison first, `fallback` where it cannot decide."""

    def check(solution: str, reference: str) -> bool:
        predicted = answers.extract_answer(solution)
        if predicted is None:
            return False
        gold = answers.reference_answer(reference)
        fast = answers.fast_equal(predicted, gold)
        return bool(fast if fast is not None else fallback(predicted, gold))

    return check


evaluated = _numbers_then(answers.evaluated_equal)
numbers_then_math_verify = _numbers_then(answers.symbolic_equal)


def combined(solution: str, reference: str) -> bool:
    return answers.check(solution, reference)


COMBINED = "aitherd.answers.check (numbers, evaluated, math-verify)"
CHECKERS: dict[str, Callable[[str, str], bool]] = {
    "ours (extraction + exact numbers)": ours,
    "ours + evaluated middle path (no sympy)": evaluated,
    "math-verify alone": math_verify_alone,
    "math-verify on our extracted answers": math_verify_extracted,
    "numbers, then math-verify (before the middle path)": numbers_then_math_verify,
    COMBINED: combined,
}


def labelled(path: Path) -> list[Pair]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [(r["solution"], r["reference"], r["equivalent"], r["group"]) for r in rows if r["kind"] == "math"]


def gsm8k_shaped(corpus: str | None, limit: int) -> list[Pair]:
    rows = benchmarks.load("gsm8k_train", corpus)
    step = max(1, len(rows) // limit)
    pairs: list[Pair] = []
    for row in rows[::step][:limit]:
        full = row["answer"]
        steps, gold = (part.strip() for part in full.rsplit("####", 1))
        wrong = str(int(float(gold.replace(",", ""))) + 1)
        for name, make in STYLES.items():
            text = make(steps, gold, full)
            pairs += [(text, gold, True, name), (text, f"#### {wrong}", False, name)]
    return pairs


def measure(check: Callable[[str, str], bool], pairs: list[Pair], min_cpu: float) -> tuple[int, float, Counter[str]]:
    """(agreeing pairs, checks per CPU-second, misses per group): one pass for agreement, more
    passes for the rate until `min_cpu` CPU-seconds have been spent."""
    misses: Counter[str] = Counter()
    agree, done = 0, 0
    start = time.process_time()
    for solution, reference, equivalent, group in pairs:
        if check(solution, reference) == equivalent:
            agree += 1
        else:
            misses[group] += 1
    done += len(pairs)
    while time.process_time() - start < min_cpu:
        for solution, reference, _eq, _group in pairs:
            check(solution, reference)
        done += len(pairs)
    return agree, done / (time.process_time() - start), misses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=Path, default=ROOT / "tests" / "data" / "answer_pairs.jsonl",
                    help="labelled pairs, one JSON object a line: solution, reference, kind, equivalent, group")
    ap.add_argument("--corpus", help="GSM8K-shaped {question, answer} .jsonl[.gz] (default: shipped GSM8K train)")
    ap.add_argument("--limit", type=int, default=300, help="GSM8K solutions to use (x5 styles x2 references)")
    ap.add_argument("--min-cpu", type=float, default=1.0, help="CPU-seconds to spend per rate at least")
    ap.add_argument("--cpu", type=int, default=None, help="the CPU to pin to (default: the first allowed)")
    args = ap.parse_args()

    cpu = args.cpu if args.cpu is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    import logging

    logging.getLogger("math_verify").setLevel(logging.ERROR)  # its per-timeout warnings
    t0 = time.process_time()
    import math_verify  # type: ignore[import-untyped]  # noqa: F401  (the one-off import cost, counted apart)
    imported = time.process_time() - t0
    from importlib.metadata import version

    corpora: dict[str, list[Pair]] = {"labelled": labelled(args.pairs),
                                      "gsm8k": gsm8k_shaped(args.corpus, args.limit)}
    lab, gsm = corpora["labelled"], corpora["gsm8k"]
    print(f"corpus 1: labelled pairs {args.pairs.relative_to(ROOT) if args.pairs.is_relative_to(ROOT) else args.pairs}"
          f" ({len(lab)} math pairs, {sum(p[2] for p in lab)} equivalent, {len(set(p[3] for p in lab))} groups)")
    print(f"corpus 2: {args.corpus or 'GSM8K train (shipped with aitherd)'}: {len(gsm) // 10} solutions x "
          f"{len(STYLES)} output styles ({', '.join(STYLES)}) x (own answer, answer + 1) = {len(gsm)} pairs")
    print(f"pinned to CPU {cpu}; rates are checks per CPU-second (time.process_time); math-verify "
          f"{version('math-verify')}, import {imported:.2f} CPU-s once per worker process\n")
    print(f"{'checker':<56} {'labelled agree':>16} {'checks/s':>9}   {'GSM8K agree':>13} {'checks/s':>9}")
    results: dict[str, dict[str, Any]] = {}
    for name, check in CHECKERS.items():
        check(*lab[0][:2])  # warm-up: imports and compiled patterns are not timed
        answers.STATS.clear()
        row = {corpus: measure(check, pairs, args.min_cpu) for corpus, pairs in corpora.items()}
        results[name] = row
        (la, lr, _), (ga, gr, _) = row["labelled"], row["gsm8k"]
        print(f"{name:<56} {f'{la}/{len(lab)}':>9} {100 * la / len(lab):5.1f}% {lr:>9,.0f}   "
              f"{100 * ga / len(gsm):12.1f}% {gr:>9,.0f}")
    print("\nlabelled-set misses per group:")
    for name, row in results.items():
        misses = row["labelled"][2]
        print(f"  {name}: {', '.join(f'{g} {n}' for g, n in misses.most_common()) or 'none'}")
    answers.STATS.clear()
    for solution, reference, _eq, _g in lab:
        answers.check(solution, reference)
    decided = dict(answers.STATS)
    print(f"\nhow aitherd.answers.check decided the labelled set: {decided}")
    print(f"labelled math pairs still going to math-verify: {decided.get('math_verify', 0)}/{len(lab)} "
          f"({100 * decided.get('math_verify', 0) / len(lab):.1f}%)")
    for corpus, label in (("labelled", "labelled set as a whole"), ("gsm8k", "GSM8K-shaped, what STaR checks")):
        rate = results[COMBINED][corpus][1]
        print(f"goal >= 2,000 checks/s on one core ({label}): {rate:,.0f} {'met' if rate >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
