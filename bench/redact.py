"""Secret redaction figures: throughput and recall of the keyword-gated rules.

Beside it: the same regexes without the keyword gate, and detect-secrets (all plugins, line by
line) on a subsample, extrapolated (it says so). The corpus mixes generated code, GSM8K train
text and git-log/diff-like text; 1% of documents carry a planted secret of each kind in turn.

    PYTHONPATH=. python bench/redact.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from decontam import gen_code
from test_curate_redact import SECRETS

from aitherd import benchmarks
from aitherd.curate import RedactConfig
from aitherd.curate.redact import RULES, Redactor


def diff(rng: random.Random) -> str:
    h = f"{rng.getrandbits(160):040x}"
    return (f"commit {h}\nAuthor: Dev {rng.randint(1, 99)} <dev@example.com>\n\n    Fix retry loop\n\n"
            f"diff --git a/app/net.py b/app/net.py\n--- a/app/net.py\n+++ b/app/net.py\n"
            f"@@ -10,7 +10,8 @@\n-    delay = {rng.randint(1, 9)}\n+    delay = min(delay * 2, 30)\n"
            f"+    log.info('retrying %s in %ss', url, delay)\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--ds-docs", type=int, default=300)
    ap.add_argument("--gsm8k-train", type=Path, default=None,
                    help="GSM8K train JSONL for the math text (default: the copy aitherd ships)")
    a = ap.parse_args()
    rng = random.Random(0)
    train = benchmarks.load("gsm8k_train", a.gsm8k_train)
    docs, planted = [], []
    kinds = list(SECRETS)
    for i in range(a.docs):
        d = [gen_code(rng), train[i % len(train)]["question"] + "\n" + train[i % len(train)]["answer"],
             diff(rng)][i % 3]
        if i % 100 == 0:
            kind = kinds[(i // 100) % len(kinds)]
            secret, tmpl = SECRETS[kind]
            d += "\n" + tmpl.format(s=secret) + "\n"
            planted.append((i, kind, secret))
        docs.append(d)
    mb = sum(len(d.encode()) for d in docs) / 1e6
    r = Redactor(RedactConfig())
    t0 = time.perf_counter()
    out = [r.redact(d)[0] for d in docs]
    dt = time.perf_counter() - t0
    recall = sum(secret not in out[i] for i, _, secret in planted) / len(planted)
    clean_changed = sum(out[i] != docs[i] for i in range(len(docs)) if i % 100) / (len(docs) - len(planted))
    t0 = time.perf_counter()
    for d in docs:  # baseline: every rule on every document
        for rule in RULES:
            rule.pattern.sub("", d)
    ungated = time.perf_counter() - t0
    ds = "not installed"
    try:
        ds_r = Redactor(RedactConfig(detect_secrets=True))
        sub = docs[: a.ds_docs]
        t0 = time.perf_counter()
        for d in sub:
            ds_r._detect_secrets(d, __import__("collections").Counter(), 0)
        ds = f"{sum(len(d.encode()) for d in sub) / 1e6 / (time.perf_counter() - t0):.2f}"
    except ImportError:
        pass
    print(f"{a.docs} docs, {mb:.1f} MB (generated code, gsm8k train, git diffs); "
          f"{len(planted)} planted secrets of {len(kinds)} kinds")
    print(f"{'':26}{'gated (ours)':>14}{'ungated regex':>15}{'detect-secrets':>16}")
    print(f"{'throughput MB/s (1 core)':26}{mb / dt:>14.1f}{mb / ungated:>15.1f}{ds:>16}"
          f"   (detect-secrets: {a.ds_docs} docs, line by line, extrapolated)")
    print(f"{'planted secrets removed':26}{recall:>14.4f}")
    print(f"{'clean docs changed':26}{clean_changed:>14.5f}   (emails @example.com are kept)")


if __name__ == "__main__":
    main()
