"""Answer extraction figures: every GSM8K gold answer wrapped in five output styles, read back by
aitherd's extractor and, beside it, by lm-eval's strict-match and flexible-extract regexes.

Styles: plain (the worked steps, then the number alone on the last line), `####` (the gold
solution as written), boxed (steps, then `$\\boxed{n}$`), think (steps in a think block with
other numbers, then `**Answer:** n`), prose (steps, then "The answer is n." and a sentence with
another number). A style is read correctly when the extracted number equals the gold exactly.

    PYTHONPATH=. python bench/extraction.py [--corpus PATH.jsonl]   # GSM8K-shaped rows
"""

from __future__ import annotations

import argparse
import sys
import time

from aitherd import benchmarks
from aitherd.evaluate.extract import STRICT, flexible, gold_number, numeric_answer, same_number

STYLES = {
    "plain": lambda steps, gold, full: f"{steps}\n{gold}",
    "####": lambda steps, gold, full: full,
    "boxed": lambda steps, gold, full: f"{steps}\nSo the answer is $\\boxed{{{gold}}}$.",
    "think": lambda steps, gold, full: (f"<think>\n{steps}\nLet me double-check: 1, 2, 3 steps, all fine.\n"
                                        f"</think>\n\n**Answer:** {gold}"),
    "prose": lambda steps, gold, full: (f"{steps}\nThe answer is {gold}. Let me know if you have 2 more "
                                        "questions!"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", help="a .jsonl[.gz] of {question, answer} rows (default: the shipped GSM8K test)")
    args = ap.parse_args()
    rows = benchmarks.load("gsm8k_test", args.corpus)
    print(f"corpus: {args.corpus or 'GSM8K test (shipped with aitherd)'}, {len(rows)} gold answers x "
          f"{len(STYLES)} styles\n")
    print(f"{'style':<8} {'aitherd':>9} {'lm-eval strict':>15} {'lm-eval flexible':>17}")
    total_ok = total = 0
    t0 = time.perf_counter()
    for name, make in STYLES.items():
        ours = strict = flex = 0
        misses: list[str] = []
        for row in rows:
            gold = gold_number(row["answer"])
            steps = row["answer"].rsplit("####", 1)[0].strip()
            text = make(steps, gold, row["answer"])
            if same_number(numeric_answer(text).answer, gold):
                ours += 1
            else:
                misses.append(text[-120:])
            m = STRICT.search(text)
            strict += bool(m) and same_number(m.group(1).rstrip("."), gold)
            flex += same_number(flexible(text), gold)  # lm-eval does not strip think blocks
        total_ok += ours
        total += len(rows)
        print(f"{name:<8} {100 * ours / len(rows):>8.2f}% {100 * strict / len(rows):>14.2f}% "
              f"{100 * flex / len(rows):>16.2f}%")
        for miss in misses[:3]:
            print(f"         missed: ...{miss!r}")
    took = time.perf_counter() - t0
    print(f"\naitherd extraction accuracy over all styles: {100 * total_ok / total:.2f}% "
          f"({total_ok}/{total}), {1e6 * took / total:.0f} us per output")


if __name__ == "__main__":
    sys.exit(main())
