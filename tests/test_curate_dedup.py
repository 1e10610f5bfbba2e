"""Exact and near duplicates: within a batch, across sources and across runs; the better wins."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_curate_support import coder, config

from aitherd.curate import Curator
from aitherd.store.db import open_store
from aitherd.store.examples import insert_candidates
from aitherd.store.models import Example

WORDS = ["alpha", "beta", "gamma", "delta", "parse", "config", "retry", "socket", "buffer", "index", "cache", "token", "stream", "worker", "queue", "batch", "merge", "split", "filter", "apply", "commit", "branch", "rebase", "schema", "table"]


def _doc(seed: int, n: int = 120) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) + str(rng.randrange(50)) for _ in range(n))


def _curator(engine):  # type: ignore[no-untyped-def]
    return Curator(config(decontam={"enabled": False}, judge={"enabled": False}), engine)


def _edit(text: str, k: int) -> str:
    words = text.split()
    for i in range(0, k * 37, 37):  # change a word every 37 words
        words[i % len(words)] = "changed"
    return " ".join(words)


def test_exact_and_near_duplicates_within_a_run(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    a = _doc(1)
    cands = [coder("q", a, source="git"), coder("q", a.upper(), source="session"),
             coder("q", _edit(a, 1), source="corpus"), coder("q", _doc(2)), coder("q", _doc(3))]
    out = list(_curator(engine).process(cands))
    assert [c.status for c in out] == ["accepted", "rejected", "rejected", "accepted", "accepted"]
    assert out[1].curation["duplicate"]["kind"] == "exact"
    assert out[2].curation["duplicate"]["kind"] == "near"
    assert out[2].curation["duplicate"]["of"] == out[0].content_hash


def test_better_copy_wins_even_when_it_comes_later(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    a = _doc(7)
    worse, better = coder("q", a, quality=0.6), coder("q", _edit(a, 2), quality=0.9)
    out = list(_curator(engine).process([worse, better]))
    assert worse.status == "rejected" and worse.curation["duplicate"]["of"] == better.content_hash
    assert better.status == "accepted"
    assert len(out) == 2


def test_across_runs_through_the_store(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    first = _curator(engine)
    a, b = _doc(11), _doc(12)
    insert_candidates(engine, first.process([coder("q", a, quality=0.7), coder("q", b, quality=0.7)]))
    assert first.save_signatures() == 2
    with engine.connect() as conn:
        sigs = conn.execute(select(Example.near_dup_signature)).scalars().all()
    assert all(s is not None and len(s) == (128 + 1) * 8 for s in sigs)  # values + the scheme's version
    # a later run: a near copy of `a` (worse) is dropped, a near copy of `b` (better) wins
    second = _curator(engine)
    late = [coder("q", _edit(a, 1), quality=0.5), coder("q", _edit(b, 1), quality=0.95),
            coder("q", a, quality=0.99)]
    out = list(second.process(late))
    insert_candidates(engine, out)
    assert [c.status for c in out] == ["rejected", "accepted", "rejected"]
    assert out[2].curation["duplicate"]["kind"] == "exact"
    with engine.connect() as conn:
        rows = {r.content_hash: r for r in conn.execute(select(Example)).all()}
    old_b = rows[coder("q", b).content_hash]
    assert (old_b.status, old_b.reason) == ("rejected", "duplicate")
    assert old_b.curation["duplicate"]["of"] == out[1].content_hash


def test_signatures_backfilled_for_rows_stored_without_one(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    insert_candidates(engine, [coder("q", _doc(21))])  # as the daemon would, without signature
    cur = _curator(engine)
    with engine.connect() as conn:
        assert conn.execute(select(Example.near_dup_signature)).scalar_one() is not None
    assert next(iter(cur.process([coder("q", _edit(_doc(21), 1))]))).reason == "duplicate"


CODE = """def merge_intervals(intervals, gap=0):
    ordered = sorted(intervals, key=lambda pair: pair[0])
    merged = []
    for start, end in ordered:
        if merged and start <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
"""


def _example(name: str, code: str) -> str:
    return f"Write `{name}`: merge overlapping intervals.\n```python\n{code}```"


def test_renamed_reflowed_and_commented_copies_of_code_are_near_duplicates(tmp_path: Path) -> None:
    one = CODE.replace("merge_intervals", "join_ranges").replace("intervals", "spans")
    every = one
    for old, new in {"ordered": "by_start", "merged": "out", "start": "lo", "end": "hi", "pair": "p", "gap": "slack"}.items():
        every = re.sub(rf"\b{old}\b", new, every)
    every = every.replace("    ", "  ").replace(" <= ", "<=").replace(", ", ",")  # reflowed
    comment = CODE.replace("    merged = []\n", "    merged = []  # the result, kept sorted\n    # walk in order of start\n")
    cands = [coder("q", _example("merge_intervals", CODE), quality=0.9),
             coder("q", _example("join_ranges", one), quality=0.5),
             coder("q", _example("join_ranges", every), quality=0.5),
             coder("q", _example("merge_intervals", comment), quality=0.5)]
    out = list(_curator(open_store(tmp_path / "s.db")).process(cands))
    assert [c.status for c in out] == ["accepted", "rejected", "rejected", "rejected"], [c.curation for c in out]
    assert all(c.curation["duplicate"]["of"] == out[0].content_hash for c in out[1:])


def test_different_functions_that_share_a_name_stay_apart(tmp_path: Path) -> None:
    a = """def normalize(path):
    parts = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)
"""
    b = """def normalize(vector):
    length = math.sqrt(sum(x * x for x in vector))
    if length == 0:
        raise ValueError("cannot normalize the zero vector")
    return [x / length for x in vector]
"""
    out = list(_curator(open_store(tmp_path / "s.db")).process(
        [coder("q", f"Write `normalize`.\n```python\n{a}```"), coder("q", f"Write `normalize`.\n```python\n{b}```")]))
    assert [c.status for c in out] == ["accepted", "accepted"]


def test_signatures_of_an_older_scheme_are_recomputed(tmp_path: Path) -> None:
    from sqlalchemy import update

    from aitherd.curate.dedup import MinHasher

    engine = open_store(tmp_path / "s.db")
    first = coder("q", _example("merge_intervals", CODE), quality=0.9)
    insert_candidates(engine, [first])
    old = MinHasher().words(first.text()).astype("<u8").tobytes()  # as an earlier version stored it
    with engine.begin() as conn:
        conn.execute(update(Example).values(near_dup_signature=old))
    renamed = coder("q", _example("join_ranges", CODE.replace("merge_intervals", "join_ranges")), quality=0.5)
    out = list(_curator(engine).process([renamed]))
    assert out[0].reason == "duplicate"
    with engine.connect() as conn:
        assert len(conn.execute(select(Example.near_dup_signature)).scalar_one()) == (128 + 1) * 8


def test_prose_binds_nothing_and_stays_as_it_is() -> None:
    from aitherd.curate.canonical import canonical

    prose = ("For each apple in the basket, let me know the weight. Let x be Colin's age; issue #12 "
             "is open as usual: see https://example.org/a//b and score = 3 / 4 of the total.")
    assert canonical(prose) == prose
    assert canonical("a line\n  # a comment line\nx = 1  # inline\n") == "a line\n  \nv0 = 1  \n"
