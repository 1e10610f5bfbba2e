"""Exact and near-duplicate removal, within a run, across sources and across runs.

Near duplicates: MinHash over word 5-gram shingles of the text's canonical form (comments
dropped, the names the code binds numbered: see `canonical.py`), so a renamed, reflowed or
commented copy of code is the same example; numpy, stable xxhash token hashes so stored
signatures stay valid across processes, and datasketch's LSH. The better-scored copy wins; a
stored loser is marked rejected `duplicate` pointing at the winner. A stored signature carries
its scheme's version after the hash values: one made by an older scheme is recomputed.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np
from sqlalchemy import Engine, select, update
from sqlalchemy import text as sql
from sqlmodel import col

from aitherd.candidate import Candidate, normalise
from aitherd.curate.canonical import canonical
from aitherd.curate.config import DedupConfig
from aitherd.store.models import Example

_WORDS = re.compile(rb"\w+")
_MUL = np.uint64(0x9E3779B97F4A7C15)
_MASK32 = np.uint64(0xFFFFFFFF)
# One statement, many parameter sets (executemany): a signature onto a stored row.
_SET_SIG = sql("UPDATE example SET near_dup_signature = :s WHERE content_hash = :h")
SIGNATURE_VERSION = 2  # 1: raw word shingles; 2: shingles of the canonical form


def _xxh() -> Any:
    try:
        import xxhash
    except ImportError as err:
        raise ImportError("near-duplicate removal needs: pip install xxhash") from err
    return xxhash.xxh3_64_intdigest


def _lsh(threshold: float, num_perm: int) -> Any:
    try:
        from datasketch import MinHashLSH
    except ImportError as err:
        raise ImportError("near-duplicate removal needs: pip install datasketch") from err
    # Candidates are verified against the real threshold, so the LSH errs towards recall.
    return MinHashLSH(threshold=threshold * 0.9, num_perm=num_perm, weights=(0.2, 0.8))


class _Sig:
    """What MinHashLSH reads from a MinHash (building a real one re-draws its permutations)."""

    __slots__ = ("hashvalues",)

    def __init__(self, hashvalues: np.ndarray) -> None:
        self.hashvalues = hashvalues

    def __len__(self) -> int:
        return len(self.hashvalues)


def exact_key(c: Candidate) -> str:
    """Case- and whitespace-insensitive hash of all the example's text."""
    return hashlib.sha1(normalise(c.text()).lower().encode()).hexdigest()


class MinHasher:
    def __init__(self, num_perm: int = 128, shingle: int = 5, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.a = rng.integers(1, 2**63, num_perm, dtype=np.uint64) | np.uint64(1)
        self.b = rng.integers(0, 2**63, num_perm, dtype=np.uint64)
        self.shingle, self.num_perm = shingle, num_perm
        self._h = _xxh()

    def signature(self, text: str) -> np.ndarray:
        """The signature of the text's canonical form (what near duplicates are judged on)."""
        return self.words(canonical(text))

    def words(self, text: str) -> np.ndarray:
        """The signature of the text's lowercased word shingles, as they are."""
        words = _WORDS.findall(text.lower().encode("utf-8", "replace"))
        h = np.fromiter(map(self._h, words), dtype=np.uint64, count=len(words))
        n = min(self.shingle, max(len(h), 1))
        m = len(h) - n + 1
        if m <= 0:
            return np.full(self.num_perm, np.uint64(0xFFFFFFFF), np.uint64)
        g = h[:m].copy()
        for k in range(1, n):
            g *= _MUL
            g ^= h[k : k + m]
        g = np.unique(g)
        return (((g[:, None] * self.a[None, :]) + self.b[None, :]) >> np.uint64(32)).min(axis=0)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


def to_bytes(sig: np.ndarray) -> bytes:
    """A signature as stored: its values, then the scheme's version."""
    return np.append(sig, np.uint64(SIGNATURE_VERSION)).astype("<u8").tobytes()


def from_bytes(raw: bytes, num_perm: int) -> np.ndarray | None:
    """A stored signature, or None when an older scheme or another size made it."""
    arr = np.frombuffer(raw, dtype="<u8")
    if len(arr) != num_perm + 1 or int(arr[-1]) != SIGNATURE_VERSION:
        return None
    return arr[:-1].astype(np.uint64)


class Deduper:
    """Remembers what is kept (stored accepted rows and this run's), decides on each candidate."""

    def __init__(self, cfg: DedupConfig, engine: Engine | None) -> None:
        self.cfg, self.engine = cfg, engine
        self.hasher = MinHasher(cfg.num_perm, cfg.shingle) if cfg.near else None
        self.lsh = _lsh(cfg.threshold, cfg.num_perm) if cfg.near else None
        self.sigs: dict[str, np.ndarray] = {}
        self.quality: dict[str, float] = {}
        self.exact: dict[str, str] = {}  # exact key -> content hash
        self.known: set[str] = set()  # content hashes in the store
        self.emitted: dict[str, Candidate] = {}
        self.pending_sigs: dict[str, bytes] = {}
        if engine is not None:
            self._load(engine)

    def _load(self, engine: Engine) -> None:
        stale: list[tuple[str, float]] = []  # stored without a signature, or an outdated one
        with engine.connect() as conn:
            self.known = set(conn.execute(select(Example.content_hash)).scalars())
            if self.hasher is None:
                return
            accepted = Example.status == "accepted"
            stored = conn.execute(
                select(Example.content_hash, Example.quality, Example.near_dup_signature).where(accepted)
            )
            for h, q, raw in stored:
                sig = from_bytes(raw, self.cfg.num_perm) if raw is not None else None
                if sig is None:
                    stale.append((h, q or 0.0))
                else:
                    self._add(h, sig, q or 0.0)
            backfill: list[dict[str, Any]] = []
            quality = dict(stale)
            for i in range(0, len(stale), 500):  # compute those once, from the stored text
                rows = conn.execute(
                    select(Example.content_hash, Example.messages, Example.reasoning, Example.answer).where(
                        col(Example.content_hash).in_([h for h, _ in stale[i : i + 500]])
                    )
                )
                for h, msgs, reasoning, answer in rows:
                    parts = [str(m.get("content") or "") for m in msgs]
                    arr = self.hasher.signature("\n".join([*parts, *(x for x in (reasoning, answer) if x)]))
                    backfill.append({"h": h, "s": to_bytes(arr)})
                    self._add(h, arr, quality[h])
        if backfill:
            self._write_sigs(engine, backfill)

    @staticmethod
    def _write_sigs(engine: Engine, rows: list[dict[str, Any]]) -> set[str]:
        """Set signatures on stored rows, in one transaction and one statement per 500 rows;
        returns the hashes of the rows that exist (the others are not written)."""
        done: set[str] = set()
        with engine.begin() as conn:
            for i in range(0, len(rows), 500):
                chunk = rows[i:i + 500]
                stored = set(conn.execute(select(Example.content_hash).where(
                    col(Example.content_hash).in_([r["h"] for r in chunk]))).scalars())
                found = [r for r in chunk if r["h"] in stored]
                if found:
                    conn.execute(_SET_SIG, found)
                done |= stored
        return done

    def _add(self, h: str, sig: np.ndarray, q: float) -> None:
        if self.lsh is not None and h not in self.sigs:
            self.lsh.insert(h, _Sig(sig), check_duplication=False)
        self.sigs[h], self.quality[h] = sig, q

    def _remove(self, h: str) -> None:
        if self.lsh is not None and h in self.sigs:
            self.lsh.remove(h)
        self.sigs.pop(h, None)

    def check(self, c: Candidate, sig: np.ndarray | None = None) -> None:
        """Reject `c` as a duplicate, or keep it (possibly demoting a worse kept copy); `sig` is
        its signature when computed already (`self.hasher.signature(c.text())`)."""
        h = c.content_hash
        key = exact_key(c)
        if h in self.known or key in self.exact:
            c.reject("duplicate", of=self.exact.get(key, h), kind="exact")
            return
        if sig is None and self.hasher is not None:
            sig = self.hasher.signature(c.text())
        q = c.quality if c.quality is not None else 0.0
        if sig is not None and self.lsh is not None:
            best, best_sim = None, 0.0
            for other in self.lsh.query(_Sig(sig)):
                s = similarity(sig, self.sigs[other])
                if s >= self.cfg.threshold and s > best_sim:
                    best, best_sim = other, s
            if best is not None:
                if q <= self.quality[best]:
                    c.reject("duplicate", of=best, kind="near", similarity=round(best_sim, 3))
                    return
                self._demote(best, h, best_sim)
        self.exact[key] = h
        self.emitted[h] = c
        if sig is not None:
            self._add(h, sig, q)
            self.pending_sigs[h] = to_bytes(sig)

    def _demote(self, loser: str, winner: str, sim: float) -> None:
        self._remove(loser)
        detail = {"of": winner, "kind": "near", "similarity": round(sim, 3), "replaced": True}
        if loser in self.emitted:
            self.emitted[loser].reject("duplicate", **detail)
        if self.engine is not None:
            with self.engine.begin() as conn:
                row = conn.execute(
                    select(Example.curation).where(Example.content_hash == loser)
                ).first()
                if row is not None:
                    cur = dict(row[0] or {})
                    cur["duplicate"] = detail
                    conn.execute(
                        update(Example)
                        .where(Example.content_hash == loser)
                        .values(status="rejected", reason="duplicate", curation=cur)
                    )

    def save_signatures(self) -> int:
        """Write this run's signatures onto rows inserted since; returns how many.

        Rows not stored yet keep their signature pending for the next call (and a row stored
        without one gets it computed when the next run loads the store).
        """
        if self.engine is None or not self.pending_sigs:
            return 0
        for h in [h for h in self.pending_sigs if self.emitted[h].status != "accepted"]:
            del self.pending_sigs[h]
        rows = [{"h": h, "s": s} for h, s in self.pending_sigs.items()]
        done = self._write_sigs(self.engine, rows)
        for h in done:
            del self.pending_sigs[h]
        return len(done)
