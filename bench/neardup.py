"""Near-duplicate figures on two corpora in one run, beside datasketch as the baseline.

1. Generated: 100K examples of random words with 10% planted near copies (a few words edited):
   throughput of the Deduper (numpy MinHash + datasketch LSH) beside datasketch's own
   `MinHash.update` per shingle (subsample, extrapolated: it says so), copies caught, distinct
   documents merged.
2. Real code (default: functions of transformers and sympy from site-packages; `--corpus DIR`
   for any other): each function as an example ("Write `name`" + the code), and beside it
     - the function with its name and one parameter renamed,
     - every name it binds renamed and the code reflowed (2-space indent, operators spaced
       differently, blank lines dropped),
     - one comment line added;
   and pairs of different functions that share a name (5-shingle Jaccard of their text < 0.5).
   Prints the share of copies caught and of distinct pairs merged, for aitherd's signature
   and for plain word shingles (the signature before identifiers were normalised).

    PYTHONPATH=. python bench/neardup.py [--docs 100000] [--corpus DIR ...] [--functions 1500]
"""

from __future__ import annotations

import argparse
import ast
import itertools
import random
import re
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from aitherd.candidate import Candidate
from aitherd.curate import DedupConfig
from aitherd.curate.dedup import Deduper, MinHasher, similarity

VOCAB = [f"w{i}" for i in range(5000)]


def doc(rng: random.Random, words: int) -> str:
    return " ".join(rng.choices(VOCAB, k=words))


def edit(text: str, rng: random.Random, k: int) -> str:
    w = text.split()
    for _ in range(k):
        w[rng.randrange(len(w))] = rng.choice(VOCAB)
    return " ".join(w)


def candidate(text: str, quality: float = 0.5) -> Candidate:
    return Candidate(specialist="coder", category="instruction", source="bench",
                     messages=[{"role": "assistant", "content": text}], quality=quality)


def generated(a: argparse.Namespace) -> None:
    rng = random.Random(0)
    n_orig = int(a.docs * (1 - a.dup_share))
    texts = [doc(rng, a.words) for _ in range(n_orig)]
    # near copies: 1 edit per 100 words keeps 5-shingle Jaccard around 0.9
    dups = [edit(texts[rng.randrange(n_orig)], rng, a.words // 100) for _ in range(a.docs - n_orig)]
    cands = [candidate(t) for t in texts + dups]
    mb = sum(len(t) for t in texts + dups) / 1e6
    t0, c0 = time.perf_counter(), time.process_time()
    d = Deduper(DedupConfig(), None)
    for c in cands:
        d.check(c)
    dt, cdt = time.perf_counter() - t0, time.process_time() - c0
    orig_dropped = sum(c.status == "rejected" for c in cands[:n_orig])
    dup_caught = sum(c.status == "rejected" for c in cands[n_orig:])
    from datasketch import MinHash
    sub = texts[: a.baseline_docs]
    t0 = time.perf_counter()
    for t in sub:
        w = re.findall(r"\w+", t.lower())
        m = MinHash(num_perm=128)
        for i in range(len(w) - 4):
            m.update(" ".join(w[i:i + 5]).encode())
    bdt = (time.perf_counter() - t0) / len(sub) * a.docs
    print(f"generated: {a.docs} docs ({a.words} words, {mb:.1f} MB), {len(dups)} planted near copies; "
          "5-word shingles, 128 perms, Jaccard 0.8")
    print(f"{'':34}{'ours (numpy MinHash+LSH)':>26}{'datasketch update()':>22}")
    print(f"{'  total s for all docs, wall (CPU)':34}{f'{dt:.1f} ({cdt:.1f})':>26}{bdt:>22.1f}   "
          f"(baseline: signatures only, {len(sub)} docs, extrapolated)")
    print(f"{'  docs/s':34}{a.docs / dt:>26.0f}{a.docs / bdt:>22.0f}")
    print(f"{'  near copies caught':34}{dup_caught / len(dups):>26.4f}")
    print(f"{'  distinct docs wrongly merged':34}{orig_dropped / n_orig:>26.5f}")


# --- real code --------------------------------------------------------------------------------

def functions(dirs: list[Path], limit: int, rng: random.Random) -> list[tuple[str, str, ast.FunctionDef]]:
    """(file, dedented source, node) of functions of 6 to 60 lines."""
    out = []
    files = [(d, p) for d in dirs for p in sorted(d.rglob("*.py"))]
    rng.shuffle(files)
    for d, p in files:
        if len(out) >= limit * 6:
            break
        try:
            text = p.read_text("utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and 6 <= (node.end_lineno or 0) - node.lineno <= 60:
                src = ast.get_source_segment(text, node)
                if src:
                    out.append((str(p.relative_to(d.parent)), textwrap.dedent(" " * node.col_offset + src), node))
    rng.shuffle(out)
    return out


def bound_names(node: ast.FunctionDef) -> list[str]:
    names = [node.name] + [a.arg for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs)
                           if a.arg not in ("self", "cls")]
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            names.append(sub.id)
    return list(dict.fromkeys(n for n in names if len(n) > 1))


def rename(src: str, names: list[str], rng: random.Random) -> str:
    for n in sorted(set(names), key=len, reverse=True):
        new = f"{rng.choice(['val', 'tmp', 'item', 'node', 'acc', 'buf'])}_{rng.randrange(1000)}"
        src = re.sub(rf"(?<![\w.]){re.escape(n)}(?!\w)", new, src)
    return src


def reflow(code: str) -> str:
    """Re-indent to 2 spaces, drop blank lines, space `=`, `,` and operators differently (code
    lines only, not the inside of docstrings)."""
    out, in_doc = [], False
    for line in code.split("\n"):
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        body = line.strip()
        if not in_doc:
            code, sep, comment = body.partition("  # ")
            code = re.sub(r"\s*(\*\*=?|//=?|->|:=|==|!=|<=|>=|[-+*/%<>]=?|=)\s*", lambda m: f" {m.group(1)} ", code)
            body = re.sub(r"\s*,\s*", ",", code) + (" # " + comment if sep else "")
        if body.count('"""') % 2:
            in_doc = not in_doc
        out.append(" " * (indent // 2) + body)
    return "\n".join(out)


def commented(src: str) -> str:
    lines = src.split("\n")
    body = next((i for i, ln in enumerate(lines) if i and ln.strip()), 1)
    indent = len(lines[body]) - len(lines[body].lstrip())
    return "\n".join([*lines[:body], " " * indent + "# keep the order stable for callers", *lines[body:]])


def example(name: str, src: str) -> str:
    return f"Write `{name}`.\n```python\n{src}\n```"


def shingles(text: str) -> set[str]:
    w = re.findall(r"\w+", text.lower())
    return {" ".join(w[i:i + 5]) for i in range(max(1, len(w) - 4))}


def caught(hasher: MinHasher, a: str, b: str, threshold: float) -> bool:
    return similarity(hasher.signature(a), hasher.signature(b)) >= threshold


class WordShingles(MinHasher):
    """The signature of plain lowercased word shingles: the baseline."""

    def signature(self, text: str) -> np.ndarray:
        return self.words(text)


def real_code(a: argparse.Namespace) -> None:
    rng = random.Random(1)
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    dirs = a.corpus or [site / n for n in ("transformers", "sympy") if (site / n).is_dir()]
    funcs = functions(dirs, a.functions, rng)
    copies: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for _, src, node in funcs[: a.functions]:
        names = bound_names(node)
        one = rename(src, [node.name, *[n for n in names[1:2]]], rng)
        new_name = re.search(r"def (\w+)", one).group(1)  # type: ignore[union-attr]
        every = rename(src, names, rng)
        every_name = re.search(r"def (\w+)", every).group(1)  # type: ignore[union-attr]
        orig = example(node.name, src)
        copies["name and one parameter renamed"].append((orig, example(new_name, one)))
        copies["every bound name renamed + reflowed"].append((orig, example(every_name, reflow(every))))
        copies["one comment line added"].append((orig, example(node.name, commented(src))))
    by_name: dict[str, list[str]] = defaultdict(list)
    for _, src, node in funcs:
        by_name[node.name].append(src)
    distinct: list[tuple[str, str]] = []
    for name, srcs in sorted(by_name.items()):
        for x, y in itertools.pairwise(srcs):
            sx, sy = shingles(x), shingles(y)
            if len(sx & sy) / len(sx | sy) < 0.5 and len(distinct) < a.pairs:
                distinct.append((example(name, x), example(name, y)))
    cfg = DedupConfig()
    ours, words = MinHasher(cfg.num_perm, cfg.shingle), WordShingles(cfg.num_perm, cfg.shingle)
    names = [str(d.relative_to(site)) if d.is_relative_to(site) else str(d) for d in dirs]
    print(f"real code: {'site-packages: ' if any(d.is_relative_to(site) for d in dirs) else ''}"
          f"{', '.join(names)}: {a.functions} functions of 6-60 lines, {len(distinct)} same-name pairs "
          f"with different bodies; estimated Jaccard >= {cfg.threshold}")
    print(f"{'':40}{'ours (identifiers normalised)':>30}{'word shingles':>16}")
    for what, pairs in copies.items():
        o = sum(caught(ours, x, y, cfg.threshold) for x, y in pairs) / len(pairs)
        w = sum(caught(words, x, y, cfg.threshold) for x, y in pairs) / len(pairs)
        print(f"  {what + ' caught':38}{o:>30.3f}{w:>16.3f}")
    o = sum(caught(ours, x, y, cfg.threshold) for x, y in distinct)
    w = sum(caught(words, x, y, cfg.threshold) for x, y in distinct)
    print(f"  {'distinct same-name pairs merged':38}{f'{o} of {len(distinct)}':>30}{f'{w} of {len(distinct)}':>16}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--words", type=int, default=200)
    ap.add_argument("--dup-share", type=float, default=0.1)
    ap.add_argument("--baseline-docs", type=int, default=2000)
    ap.add_argument("--corpus", type=Path, action="append", help="real source folder (default transformers, sympy)")
    ap.add_argument("--functions", type=int, default=1500)
    ap.add_argument("--pairs", type=int, default=300)
    a = ap.parse_args()
    generated(a)
    real_code(a)


if __name__ == "__main__":
    main()
