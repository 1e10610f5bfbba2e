"""Scrape cost of the daemon's metrics with a large store, beside the per-scrape baseline.

Times one full scrape (generate_latest over the daemon's registry, with the scrape-time
collectors of aitherd.scrape on a real SQLite store) and, beside it, the two store reads it is
built from: the per-scrape example count by specialist, category and status (a covering index)
and the per-source / per-reason table scan that a background thread runs at most every 5 minutes
instead of on every scrape. The baseline is the count the daemon ran on every scrape before
(specialist and status only).

    PYTHONPATH=. python bench/metrics_scrape.py [--examples 200000] [--db PATH_TO/aitherd.db]

--db times an existing store (a copy: it is opened read-write for the schema check).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from prometheus_client import generate_latest
from sqlalchemy import text

from aitherd.config import parse_config
from aitherd.metrics import Metrics
from aitherd.store.db import open_store

SOURCES = ["git", "codegraph", "session", "corpus", "hf:magicoder", "chronicle", "teacher", "augment:verification"]
CATEGORIES = ["instruction", "editing", "debugging", "review", "test_generation"]
REASONS = ["duplicate", "contaminated", "low_quality", "secret", "too_long"]


def fill(engine, n: int) -> None:
    rng = random.Random(0)
    body = json.dumps([{"role": "user", "content": "x" * 1200}, {"role": "assistant", "content": "y" * 800}])
    for start in range(0, n, 10_000):
        rows = []
        for i in range(start, min(n, start + 10_000)):
            rejected = rng.random() < 0.2
            rows.append({"s": "coder", "c": rng.choice(CATEGORIES), "st": "rejected" if rejected else "accepted",
                         "r": rng.choice(REASONS) if rejected else None, "src": rng.choice(SOURCES), "m": body,
                         "h": f"h{i}"})
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO example (specialist, category, status, reason, messages, source, provenance, weight, "
                "quality_reasons, curation, content_hash, created_at) VALUES (:s, :c, :st, :r, :m, :src, '{}', "
                "1.0, '[]', '{}', :h, '2024-01-01 00:00:00')"), rows)


def timed(fn, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=200_000)
    ap.add_argument("--db", type=Path, help="an existing aitherd.db (a copy) instead of a generated one")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aitherd-bench-"))
    db = a.db or tmp / "aitherd.db"
    engine = open_store(db)
    if a.db is None:
        fill(engine, a.examples)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM example")).scalar_one()
    corpus = f"{db} ({rows} examples, {db.stat().st_size / 1e6:.0f} MB)"
    metrics = Metrics()
    loaded = SimpleNamespace(config=parse_config({}))
    collector = metrics.watch_state(engine, db.parent, db, lambda: loaded, lambda: None)
    t0 = time.perf_counter()
    collector.scan.wait(600)
    first_scan = (time.perf_counter() - t0) * 1000

    def query(sql: str):
        def run() -> None:
            with engine.connect() as conn:
                conn.execute(text(sql)).all()
        return run

    baseline = timed(query("SELECT specialist, status, count(*) FROM example GROUP BY specialist, status"))
    per_scrape = timed(query("SELECT specialist, category, status, count(*) FROM example "
                             "GROUP BY specialist, status, category"))
    scan = timed(query("SELECT specialist, source, status, reason, count(*) FROM example "
                       "GROUP BY specialist, source, status, reason"), rounds=3)
    scrape = timed(lambda: generate_latest(metrics.registry))
    print(f"corpus: {corpus}")
    print(f"{'':44}{'ms (median)':>12}")
    print(f"{'baseline: old per-scrape count (spec, status)':44}{baseline:12.1f}")
    print(f"{'per-scrape count (spec, category, status)':44}{per_scrape:12.1f}")
    print(f"{'full scrape (all collectors)':44}{scrape:12.1f}")
    print(f"{'source/reason scan (background, <= 1 / 5 min)':44}{scan:12.1f}   (first one at start: {first_scan:.0f})")
    engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
