"""Curation gives the same results on a fixed corpus as it did before it was made faster and
reshaped into steps: the stored examples, their status, reason, quality, curation notes and
near-dup signatures, a re-harvest, and a recheck under a stricter threshold.

`tests/data/curation_fixture.jsonl` mixes real code and docstring prose (cut from installed
packages), exact, reflowed and renamed copies, planted secrets, a refusal, boilerplate, broken
syntax, MBPP test items, an over-long answer and JSON data. The expected results in
`tests/data/curation_fixture_expected.json` were written by the curation of commit be1a729 (before
issue 22's speed work and issue 21's steps), with this file run as a script:

    PYTHONPATH=<a checkout of that commit> python tests/test_curate_fixture.py > tests/data/curation_fixture_expected.json
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import text

DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "curation_fixture.jsonl"
EXPECTED = DATA / "curation_fixture_expected.json"


def _rows(engine: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT content_hash, status, reason, quality, quality_reasons, curation, messages, "
            "near_dup_signature FROM example ORDER BY id")).all()
    return [{"hash": r[0], "status": r[1], "reason": r[2], "quality": r[3],
             "quality_reasons": json.loads(r[4]), "curation": json.loads(r[5]),
             "messages": hashlib.sha1(r[6].encode()).hexdigest(),
             "signature": hashlib.sha1(r[7]).hexdigest() if r[7] is not None else None} for r in rows]


def curate_fixture(state: Path, **settings: Any) -> dict[str, Any]:
    """Harvest the fixture through curation into a fresh store, twice, then recheck it (each
    Curator with the `[curation]` settings given)."""
    from aitherd.config import Loaded, Paths, parse_config
    from aitherd.curate import CurationConfig, Curator
    from aitherd.logs import get_logger
    from aitherd.runs import JobContext
    from aitherd.sources.corpus import CorpusSource, harvest_file
    from aitherd.sources.harvest import FnSource, Harvest
    from aitherd.store import open_store

    loaded = Loaded(parse_config({}), None, Paths(state, state / "c.sock"), ())
    engine = open_store(state / "aitherd.db")
    src = CorpusSource(path=str(FIXTURE), settle=0)
    out: dict[str, Any] = {}
    for run in (1, 2):
        ctx = JobContext(job="harvest_coder", run_id=run, trigger="manual", loaded=loaded, engine=engine,
                         log=get_logger("test"))
        curator = Curator(CurationConfig(**settings), engine)
        harvest = Harvest(ctx, curator.process, 16, curator.save_signatures)
        harvest.run(FnSource("corpus", f"run{run}", lambda mark: harvest_file(src, mark)))
        out[f"run{run}"] = {"counts": dict(sorted(ctx.counts.items())), "steps": curator.stats.as_dict()}
    out["stored"] = _rows(engine)
    stricter = Curator(CurationConfig(**{**settings, "judge": {"threshold": 0.75}}), engine)
    out["recheck"] = stricter.recheck(chunk=50)
    out["after_recheck"] = [(r["hash"], r["status"], r["reason"]) for r in _rows(engine)]
    return out


def _same_as_before(got: dict[str, Any]) -> None:
    got = json.loads(json.dumps(got))
    expected = json.loads(EXPECTED.read_text(encoding="utf-8"))
    assert got["run1"] == expected["run1"]
    assert got["run2"] == expected["run2"]
    assert len(got["stored"]) == len(expected["stored"])
    for mine, theirs in zip(got["stored"], expected["stored"], strict=True):
        assert mine == theirs, mine["hash"]
    assert got["recheck"] == expected["recheck"]
    assert got["after_recheck"] == expected["after_recheck"]


def test_curation_of_the_fixture_corpus_is_unchanged(tmp_path: Path) -> None:
    _same_as_before(curate_fixture(tmp_path, workers=1))


def test_curation_in_worker_processes_gives_the_same_results(tmp_path: Path, monkeypatch: Any) -> None:
    """Redaction, the judge and the near-dup signatures in two forked workers, every batch."""
    from aitherd.curate.parallel import Workers

    started: list[int] = []
    start = Workers._start

    def counted_start(self: Workers) -> Any:
        started.append(self.n)
        return start(self)

    monkeypatch.setattr(Workers, "min_batch", 2)
    monkeypatch.setattr(Workers, "_start", counted_start)
    _same_as_before(curate_fixture(tmp_path, workers=2))
    assert started and set(started) == {2}


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(curate_fixture(Path(tmp)), sys.stdout, indent=1, sort_keys=True)
        print()
