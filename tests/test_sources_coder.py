"""The coder harvest end to end on a real repository, session logs, a corpus and datasets."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from items_util import last_mark, outputs
from sqlalchemy import text
from support import git

from aitherd.config import Loaded, Paths, RepoEntry, parse_config
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.sources.coder import harvest_coder
from aitherd.sources.coder_config import CoderSources
from aitherd.sources.corpus import CorpusSource, code_score, harvest_file
from aitherd.sources.reasoner import content_digest
from aitherd.store import open_store

MODULE = '''"""Prices."""


def total(items):
    """Sum the price of every item."""
    s = 0
    for it in items:
        s += it.price
    return s


def checkout(cart):
    """Charge the cart's total."""
    amount = total(cart.items)
    return amount
'''
TESTS = '''from shop import total


def test_total_of_nothing():
    assert total([]) == 0
    assert total([]) >= 0
'''


def make_world(tmp: Path) -> tuple[Path, Path, Path, dict]:
    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "d@e.com")
    git(repo, "config", "user.name", "D")
    (repo / "shop.py").write_text(MODULE)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feat: prices")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_shop.py").write_text(TESTS)
    (repo / "shop.py").write_text(MODULE.replace("s = 0", "s = 0  # running sum"))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Fix comment and add tests")
    logs = tmp / "logs"
    logs.mkdir()
    (logs / "chat.jsonl").write_text("\n".join(json.dumps({"messages": [
        {"role": "user", "content": f"Write function {i}"},
        {"role": "assistant", "content": f"```python\ndef f{i}():\n    return {i}\n```"}]}) for i in range(30)) + "\n")
    corpus = tmp / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r) for r in [
        {"q": "Reverse a string in Python", "a": "def rev(s):\n    return s[::-1]\n"},
        {"q": "What is the capital of France?", "a": "Paris is the capital of France."},
        {"q": "Fix the loop", "a": "for (int i = 0; i < n; i++) {\n    sum += a[i];\n}"}]) + "\n")
    data = tmp / "data"
    data.mkdir()
    (data / "magicoder.jsonl").write_text("\n".join(json.dumps(
        {"lang": "python", "raw_index": i, "index": i, "seed": "s", "openai_fingerprint": "fp",
         "problem": f"Write a function that adds {i}.", "solution": f"```python\ndef add(x):\n    return x + {i}\n```"})
        for i in range(5)) + "\n")
    (data / "commitpackft.jsonl").write_text(json.dumps(
        {"commit": "abc", "old_file": "a.py", "new_file": "a.py", "old_contents": "x = 1\n",
         "new_contents": "x = 2\n", "subject": "Fix wrong constant", "message": "Fix wrong constant",
         "lang": "Python", "license": "mit", "repos": "o/r"}) + "\n")
    (data / "code_feedback.jsonl").write_text(json.dumps(
        {"id": 7, "messages": [{"role": "user", "content": "Write a test for add"},
                               {"role": "assistant", "content": "```python\ndef test_add():\n    assert add(1) == 2\n```"}]}) + "\n")
    sources = {"batch_size": 7, "corpus": [{"path": str(corpus), "instruction": "q", "response": "a",
                                            "license": "CC0"}],
               "datasets": {name: {"path": str(data / f"{name}.jsonl")}
                            for name in ("magicoder", "commitpackft", "code_feedback")}}
    return repo, logs, corpus, sources


def context(tmp: Path, repo: Path, logs: Path, state: str) -> JobContext:
    cfg = parse_config({"logs": [{"path": str(logs), "kind": "openai"}]})
    (tmp / state).mkdir(exist_ok=True)
    loaded = Loaded(cfg, None, Paths(tmp / state, tmp / "c.sock"), (RepoEntry(path=str(repo), refs=["main"]),))
    return JobContext(job="harvest_coder", run_id=1, trigger="manual", loaded=loaded,
                      engine=open_store(tmp / state / "aitherd.db"), log=get_logger("t"))


def by_source(ctx: JobContext) -> dict[str, int]:
    with ctx.engine.connect() as conn:
        return dict(conn.execute(text("SELECT source, count(*) FROM example GROUP BY source")).all())


def test_every_source_lands_once_and_reruns_add_nothing(tmp_path):
    repo, logs, _corpus, sources = make_world(tmp_path)
    ctx = context(tmp_path, repo, logs, "s")
    cfg = CoderSources.model_validate(sources)
    result = harvest_coder(ctx, cfg, lambda b: b)
    assert result.status == "ok", result
    got = by_source(ctx)
    assert got["git"] >= 2 and got["session"] == 30 and got["corpus"] == 2
    assert got["codegraph"] >= 3  # implement + explain for each documented function, tests for total
    assert got["hf:magicoder-oss-instruct-75k"] == 5 and got["hf:commitpackft"] == 1 and got["hf:code-feedback"] == 1
    with ctx.engine.connect() as conn:
        tests = conn.execute(text("SELECT messages FROM example WHERE source='codegraph' AND category='test_generation'")).all()
        licenses = dict(conn.execute(text("SELECT source, license FROM example WHERE license IS NOT NULL")).all())
    assert tests and "test_total_of_nothing" in tests[0][0]
    assert licenses["corpus"] == "CC0" and licenses["hf:magicoder-oss-instruct-75k"] == "MIT"
    assert ctx.counts["skipped.not_code"] == 1
    before = content_digest(ctx.engine)
    ctx.counts.clear()
    harvest_coder(ctx, cfg, lambda b: b)
    assert content_digest(ctx.engine) == before
    assert not any(k.startswith("stored.") and v for k, v in ctx.counts.items())


def test_a_crash_mid_harvest_then_a_rerun_gives_the_same_store(tmp_path):
    repo, logs, _corpus, sources = make_world(tmp_path)
    cfg = CoderSources.model_validate(sources)
    clean = context(tmp_path, repo, logs, "clean")
    harvest_coder(clean, cfg, lambda b: b)
    crashed = context(tmp_path, repo, logs, "crashed")
    calls = 0

    def dies(batch):
        nonlocal calls
        calls += 1
        if calls == 4:
            raise KeyboardInterrupt("killed")
        return batch

    with pytest.raises(KeyboardInterrupt):
        harvest_coder(crashed, cfg, dies)
    assert content_digest(crashed.engine) != content_digest(clean.engine)
    harvest_coder(crashed, cfg, lambda b: b)
    assert content_digest(crashed.engine) == content_digest(clean.engine)


def test_a_corrupt_repo_is_recorded_and_the_rest_still_runs(tmp_path):
    _repo, logs, _corpus, sources = make_world(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    ctx = context(tmp_path, broken, logs, "s")
    result = harvest_coder(ctx, CoderSources.model_validate(sources), lambda b: b)
    assert result.status == "ok" and "cannot resolve 'main'" in result.message
    assert ctx.counts["errors.git"] == 1 and by_source(ctx)["session"] == 30


SAMPLE = Path(__file__).parent / "data" / "code_detector_sample.jsonl"


def test_the_code_detector_keeps_prose_out_on_a_labelled_mixed_sample():
    """Markdown lists with nested bullets, indented poems, math answers that parse as Python,
    str(dict) data and prose, against code in a dozen languages, fenced and not."""
    rows = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    assert len(rows) >= 120 and {r["kind"] for r in rows if not r["code"]} >= {
        "markdown_list", "poem", "math", "str_dict", "prose"}
    hits = [(code_score(r["text"]) >= 0.5, r["code"], r["kind"]) for r in rows]
    tp = sum(p and c for p, c, _ in hits)
    precision, recall = tp / sum(p for p, _, _ in hits), tp / sum(c for _, c, _ in hits)
    wrong = [(k, r["text"][:60]) for (p, c, k), r in zip(hits, rows, strict=True) if p != c]
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, wrong)


def corpus_file(tmp: Path, body: bytes) -> CorpusSource:
    path = tmp / "corpus.jsonl"
    path.write_bytes(body)
    return CorpusSource(path=str(path), instruction="q", response="a")


def test_blank_lines_are_not_malformed_and_structured_answers_are_not_code(tmp_path):
    rec = json.dumps({"q": "Reverse a string", "a": "def rev(s):\n    return s[::-1]\n"}).encode()
    data = json.dumps({"q": "Classify", "a": {"label": "positive", "score": 0.9}}).encode()
    src = corpus_file(tmp_path, b"\n" + rec + b"\n\n   \n" + data + b"\n\n")
    out = outputs(harvest_file(src, None))
    assert [o if isinstance(o, str) else o.source for o in out] == ["corpus", "skip:not_text"]


def test_the_last_record_without_a_newline_is_read_once_the_file_is_quiet(tmp_path):
    recs = [json.dumps({"q": f"Write f{i}", "a": f"def f{i}():\n    return {i}\n"}) for i in range(3)]
    src = corpus_file(tmp_path, "\n".join(recs).encode())
    assert len(outputs(harvest_file(src, None))) == 2  # just written: the last one may grow
    old = time.time() - 120
    os.utime(src.path, (old, old))
    items = list(harvest_file(src, None))
    assert [c.provenance["line"] for c in outputs(items)] == [1, 2, 3]
    assert outputs(harvest_file(src, last_mark(items))) == []
