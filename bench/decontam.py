"""Decontamination figures: throughput, recall on planted copies, false positives on clean text.

Prints the index (aitherd.curate.decontam) beside a straightforward pairwise-overlap baseline
(set of n-grams per document, intersected with every test item part) on the same data; the
baseline runs on a subsample and its throughput is extrapolated (it says so).

    PYTHONPATH=. python bench/decontam.py [--docs 20000] [--data DIR]

The benchmarks are the copies aitherd ships (aitherd.benchmarks); --data DIR reads
gsm8k_test.jsonl, gsm8k_train.jsonl and mbpp_test.jsonl (optionally .gz) from DIR instead.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

from aitherd import benchmarks
from aitherd.curate import BenchmarkPaths, DecontamConfig, DecontamIndex, screen

WORDS = ["data", "value", "result", "item", "count", "index", "total", "name", "path", "line", "buffer", "cache", "node", "edge", "key", "queue", "stack", "parent", "child", "score", "weight", "limit", "offset", "config", "token", "batch"]


def gen_code(rng: random.Random) -> str:
    """A plausible Python function with random names and structure (clean by construction)."""
    fn = "_".join(rng.sample(WORDS, 2))
    args = rng.sample(WORDS, rng.randint(1, 3))
    body = [f"def {fn}({', '.join(args)}):", f'    """Compute the {rng.choice(WORDS)} of '
            f'{rng.choice(WORDS)} for each {rng.choice(WORDS)}."""']
    acc = rng.choice(WORDS) + "_acc"
    body.append(f"    {acc} = {rng.choice(['[]', '{}', '0', 'None', 'set()'])}")
    for _ in range(rng.randint(3, 9)):
        a, b = rng.sample([*args, acc], 2) if len(args) > 1 else (args[0], acc)
        body.append(rng.choice([
            f"    for {rng.choice(WORDS)}_i in range({rng.randint(1, 99)}):\n        {acc} = {a}",
            f"    if {a} > {rng.randint(0, 500)} and not {b}:\n        return {acc}",
            f"    {acc} = sorted({a}, key=lambda x: x[{rng.randint(0, 3)}])",
            f"    while {a} < {rng.randint(2, 40)}:\n        {a} += {rng.randint(1, 9)}",
            f"    try:\n        {acc} = {b}.get('{rng.choice(WORDS)}')\n    except KeyError:\n        pass",
            f"    print(f'{{{a}}} {rng.choice(WORDS)} {{{b}}}')",
        ]))
    body.append(f"    return {acc}")
    return "\n".join(body)


def data_file(data: Path | None, name: str) -> Path:
    """The shipped copy of benchmark `name`, or NAME.jsonl(.gz) under --data."""
    if data is None:
        return benchmarks.path(name)
    plain = data / f"{name}.jsonl"
    return plain if plain.exists() else data / f"{name}.jsonl.gz"


def load(data: Path | None) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    rd = lambda n: benchmarks.load(n, data_file(data, n))  # noqa: E731
    return benchmarks.load("humaneval"), rd("mbpp_test"), rd("gsm8k_test"), rd("gsm8k_train")


def clean_corpus(train: list[dict], n: int, rng: random.Random) -> list[str]:
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            r = train[i % len(train)]
            out.append(r["question"] + "\n\n" + r["answer"])
        elif kind == 1:
            out.append("Write a helper for the pipeline.\n```python\n" + gen_code(rng) + "\n```")
        else:
            r = train[(i * 7) % len(train)]
            out.append("user: can you check my reasoning?\n" + r["question"] +
                       "\nassistant: Sure. Here is a helper too:\n" + gen_code(rng) +
                       "\nAnd the arithmetic: " + r["answer"][:300])
    return out


def rename(code: str, rng: random.Random) -> str:
    defs = re.findall(r"def (\w+)\(([^)]*)\)", code)
    names = {n for d, a in defs for n in [d, *re.findall(r"(\w+)\s*(?:[:,=)]|$)", a)]} - {""}
    for n in sorted(names, key=len, reverse=True):
        code = re.sub(rf"\b{re.escape(n)}\b", f"{rng.choice(WORDS)}{rng.randint(0, 99)}", code)
    return code


def rewrap(text: str, width: int) -> str:
    out, cur = [], ""
    for w in text.split():
        if cur and len(cur) + len(w) > width:
            out.append(cur)
            cur = ""
        cur += w + " "
    return "\n".join([*out, cur])


def planted(he: list[dict], mbpp: list[dict], gsm: list[dict], rng: random.Random) -> list[tuple[str, str, str]]:
    """(text, benchmark, item) for every item in four disguises."""
    out = []
    for r in he:
        src = r["prompt"] + r["canonical_solution"]
        out += [(src, "humaneval", r["task_id"]),
                (src.replace("    ", "\t").replace(", ", ","), "humaneval", r["task_id"]),
                (rename(src, rng), "humaneval", r["task_id"]),
                ("user: finish this\n" + r["prompt"] + "\nassistant: ok", "humaneval", r["task_id"])]
    for r in mbpp:
        item = f"mbpp/{r['task_id']}"
        out += [(r["text"] + "\n" + r["code"], "mbpp", item),
                (r["text"] + "\n" + r["code"].replace("\r\n", "\n").replace("  ", "    "), "mbpp", item),
                (r["text"] + "\n" + rename(r["code"], rng), "mbpp", item),
                ("Q: " + r["text"] + "\nA: here\n```python\n" + r["code"] + "\n```", "mbpp", item)]
    for i, r in enumerate(gsm):
        item = f"gsm8k/{i}"
        q = re.sub(r"\d+", lambda m: str(int(m.group()) + 3), r["question"])
        out += [(r["question"] + "\n" + r["answer"], "gsm8k", item),
                (rewrap(r["question"], 20), "gsm8k", item),
                (q.upper(), "gsm8k", item),
                ("Hey, quick one for my kid's homework: " + r["question"] + " Thanks!", "gsm8k", item)]
    return out


def baseline(texts: list[str], idx: DecontamIndex, cfg: DecontamConfig) -> list[bool]:
    """Pairwise: each document's n-gram set against every item part's (text view only)."""
    def grams(t: str) -> set[tuple[str, ...]]:
        w = re.findall(r"\w+", re.sub(r"\d+", "0", t.lower()))
        return {tuple(w[i:i + cfg.n]) for i in range(len(w) - cfg.n + 1)}
    parts = [g for g in (grams(p.text) for p in idx.parts) if len(g) >= cfg.min_item_ngrams]
    return [any(len(g & d) / len(g) > cfg.threshold for g in parts) for d in map(grams, texts)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=30000)
    ap.add_argument("--baseline-docs", type=int, default=300)
    ap.add_argument("--data", type=Path, default=None,
                    help="a folder of benchmark JSONL files to use instead of the shipped copies")
    a = ap.parse_args()
    rng = random.Random(0)
    he, mbpp, gsm, train = load(a.data)
    print(f"benchmarks: {a.data or 'the copies shipped in aitherd.benchmarks'}")
    cfg = DecontamConfig(benchmarks=BenchmarkPaths(gsm8k=data_file(a.data, "gsm8k_test"),
                                                   mbpp=data_file(a.data, "mbpp_test")))
    t0 = time.perf_counter()
    idx = DecontamIndex.from_config(cfg)
    build = time.perf_counter() - t0
    clean = clean_corpus(train, a.docs, rng)
    mb = sum(len(t.encode()) for t in clean) / 1e6
    t0 = time.perf_counter()
    hits = screen(clean, idx, batch=256)
    dt = time.perf_counter() - t0
    plant = planted(he, mbpp, gsm, rng)
    found = {h["index"]: h for h in screen([p[0] for p in plant], idx)}
    recall = sum(i in found for i in range(len(plant))) / len(plant)
    right = sum(i in found and found[i]["item"] == p[2] for i, p in enumerate(plant)) / len(plant)
    sub = clean[: a.baseline_docs]
    t0 = time.perf_counter()
    bhits = baseline(sub, idx, cfg)
    bdt = time.perf_counter() - t0
    bmb = sum(len(t.encode()) for t in sub) / 1e6
    bplant = baseline([p[0] for p in plant[::16]], idx, cfg)
    print(f"benchmarks: {', '.join(idx.benchmarks)} ({len(idx.parts)} item parts), "
          f"n={cfg.n} (text) / {cfg.code_n} (code), threshold >{cfg.threshold} of the item's n-grams")
    print(f"clean corpus: {len(clean)} docs (gsm8k train math, generated code, chat), {mb:.1f} MB")
    print(f"{'':24}{'index (ours)':>18}{'pairwise baseline':>22}")
    print(f"{'index build s':24}{build:>18.2f}{'-':>22}")
    print(f"{'throughput MB/s (1 core)':24}{mb / dt:>18.1f}{bmb / bdt:>22.3f}   "
          f"(baseline on {len(sub)} docs, extrapolated)")
    print(f"{'docs/s':24}{len(clean) / dt:>18.0f}{len(sub) / bdt:>22.1f}")
    print(f"{'recall on planted':24}{recall:>18.4f}{sum(bplant) / len(bplant):>22.4f}   "
          f"({len(plant)} planted: verbatim, reformatted, renamed, chat-wrapped; baseline 1/16)")
    print(f"{'  ...matching item':24}{right:>18.4f}")
    print(f"{'false positives clean':24}{len(hits) / len(clean):>18.5f}{sum(bhits) / len(sub):>22.5f}"
          f"   ({len(hits)} of {len(clean)})")
    code_only = sum(h["index"] % 3 == 1 for h in hits)
    print(f"   of which on generated code only: {code_only}; the rest contain gsm8k *train* text "
          "that nearly copies a test question (real overlap in GSM8K, e.g.):")
    for h in hits[:3]:
        print("   ", {k: h[k] for k in ("index", "item", "part", "overlap")})


if __name__ == "__main__":
    main()
