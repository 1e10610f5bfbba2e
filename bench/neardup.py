"""Near-duplicate figures: 100K examples through the Deduper (numpy MinHash + datasketch LSH).

Beside it, a baseline computing the same signatures with datasketch's own `MinHash.update` per
shingle (subsample, extrapolated: it says so). Planted near copies (a few words edited) measure
recall; distinct documents measure false merges.

    PYTHONPATH=. python bench/neardup.py [--docs 100000]
"""

from __future__ import annotations

import argparse
import random
import re
import time

from aitherd.candidate import Candidate
from aitherd.curate import DedupConfig
from aitherd.curate.dedup import Deduper

VOCAB = [f"w{i}" for i in range(5000)]


def doc(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCAB, k=words))


def edit(text: str, rng: random.Random, k: int) -> str:
    w = text.split()
    for _ in range(k):
        w[rng.randrange(len(w))] = rng.choice(VOCAB)
    return " ".join(w)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--words", type=int, default=200)
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument("--baseline-docs", type=int, default=2000)
    a = ap.parse_args()
    rng = random.Random(0)
    n_orig = int(a.docs * (1 - a.dup_share))
    texts = [doc(rng, a.words) for _ in range(n_orig)]
    # near copies: 1 edit per 100 words keeps 5-shingle Jaccard around 0.9
    dups = [edit(texts[rng.randrange(n_orig)], rng, a.words // 100) for _ in range(a.docs - n_orig)]
    cands = [Candidate(specialist="coder", category="instruction", source="bench",
                       messages=[{"role": "assistant", "content": t}], quality=0.5)
             for t in texts + dups]
    mb = sum(len(t) for t in texts + dups) / 1e6
    t0 = time.perf_counter()
    d = Deduper(DedupConfig(), None)
    for c in cands:
        d.check(c)
    dt = time.perf_counter() - t0
    orig_dropped = sum(c.status == "rejected" for c in cands[:n_orig])
    dup_caught = sum(c.status == "rejected" for c in cands[n_orig:])
    # baseline: datasketch MinHash.update per shingle, same shingles
    from datasketch import MinHash
    sub = texts[: a.baseline_docs]
    t0 = time.perf_counter()
    for t in sub:
        w = re.findall(r"\w+", t.lower())
        m = MinHash(num_perm=128)
        for i in range(len(w) - 4):
            m.update(" ".join(w[i:i + 5]).encode())
    bdt = (time.perf_counter() - t0) / len(sub) * a.docs
    print(f"{a.docs} docs ({a.words} words, {mb:.1f} MB), {len(dups)} planted near copies; "
          "5-word shingles, 128 perms, Jaccard 0.8")
    print(f"{'':28}{'ours (numpy MinHash+LSH)':>26}{'datasketch update()':>22}")
    print(f"{'total s for all docs':28}{dt:>26.1f}{bdt:>22.1f}   "
          f"(baseline: signatures only, {len(sub)} docs, extrapolated)")
    print(f"{'docs/s':28}{a.docs / dt:>26.0f}{a.docs / bdt:>22.0f}")
    print(f"{'near copies caught':28}{dup_caught / len(dups):>26.4f}")
    print(f"{'distinct docs wrongly merged':28}{orig_dropped / n_orig:>26.5f}")


if __name__ == "__main__":
    main()
