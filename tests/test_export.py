"""The nightly export: mix and sizes, FIM on top of the mix, think tags per family, HF dataset on
disk, atomicity. (What makes the data trustworthy, FIM spans, group split, lengths: see
test_export_quality.py.)"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from aitherd.candidate import Candidate
from aitherd.config import Loaded, Paths, parse_config
from aitherd.export.families import FAMILIES, TokenizerError, resolve_fim
from aitherd.export.job import run_export
from aitherd.export.sample import largest_remainder
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.store import Export, open_store, session
from aitherd.store.examples import insert_candidates

CODE = "def f{i}(x):\n    y = x + {i}\n    z = y * 2\n    w = z - 1\n    return w\n"


def coder(i: int, category: str, source: str = "git", weight: float = 1.0,
          path: str | None = None) -> Candidate:
    code = CODE.format(i=i)
    return Candidate("coder", category, [
        {"role": "user", "content": f"Write function number {i} ({category})."},
        {"role": "assistant", "content": f"Here it is:\n```python\n{code}```\n"}],
        source=source, license="MIT", weight=weight, quality=0.8,
        provenance={"repo": "/src/app", "commit": f"c{i}", "path": path or f"app/mod{i}.py"})


def reasoner(i: int, category: str) -> Candidate:
    if category == "non_reasoning":
        return Candidate("reasoner", category, [
            {"role": "user", "content": f"What is the capital of country {i}?"},
            {"role": "assistant", "content": f"City {i}."}], source="chronicle")
    return Candidate("reasoner", category, [
        {"role": "user", "content": f"Compute {i} + {i}."},
        {"role": "assistant", "content": f"The answer is {2 * i}."}],
        source="teacher", reasoning=f"{i} plus {i} is {2 * i}.", answer=str(2 * i), weight=1.3)


def make_ctx(tmp: Path, export: dict | None = None, store: list[Candidate] | None = None) -> JobContext:
    state = tmp / "state"
    state.mkdir(parents=True, exist_ok=True)
    engine = open_store(state / "aitherd.db")
    if store:
        insert_candidates(engine, store)
    cfg = parse_config({"export": export or {}})
    loaded = Loaded(cfg, None, Paths(state, tmp / "c.sock"), ())
    return JobContext(job="export", run_id=1, trigger="manual", loaded=loaded, engine=engine,
                      log=get_logger("test"))


def corpus(n_per_cat: int = 60, short: dict[str, int] | None = None) -> list[Candidate]:
    short = short or {}
    out = []
    for cat in ("instruction", "editing", "debugging", "review", "test_generation"):
        out += [coder(hash((cat, i)) % 10**6, cat) for i in range(short.get(cat, n_per_cat))]
    for cat in ("math", "logic", "planning", "code", "non_reasoning"):
        out += [reasoner(hash((cat, i)) % 10**6, cat) for i in range(n_per_cat)]
    return out


def latest(ctx: JobContext, specialist: str, family: str = "deepseek-r1-distill-qwen") -> Path:
    return ctx.loaded.paths.state_dir / "exports" / specialist / family / "latest"


def rows_of(path: Path) -> list[dict]:
    from datasets import load_from_disk

    dd = load_from_disk(str(path))
    return [*dd["train"], *dd["validation"]]


def test_mix_and_size_hit_targets_within_one(tmp_path):
    ctx = make_ctx(tmp_path, {"coder": {"size": 101}, "reasoner": {"size": 50}}, corpus())
    result = run_export(ctx)
    assert result.status == "ok", result
    every = rows_of(latest(ctx, "coder"))
    rows = [r for r in every if r["format"] == "chat"]
    assert len(rows) == 101
    # FIM on top: 30% of the chat records that carry code (all but the 10 reviews)
    assert sum(r["format"] == "fim" for r in every) == round(0.3 * 91)
    targets = largest_remainder(101, {"instruction": .4, "editing": .25, "debugging": .2,
                                      "review": .1, "test_generation": .05})
    got = {c: sum(r["category"] == c for r in rows) for c in targets}
    assert all(abs(got[c] - targets[c]) <= 1 for c in targets), (got, targets)
    reasoning_rows = rows_of(latest(ctx, "reasoner"))
    assert len(reasoning_rows) == 50
    assert sum(r["category"] == "non_reasoning" for r in reasoning_rows) == 5


def test_a_short_category_is_reported_and_filled(tmp_path):
    ctx = make_ctx(tmp_path, {"coder": {"size": 100}}, corpus(short={"review": 3}))
    assert run_export(ctx).status == "ok"
    meta = json.loads((latest(ctx, "coder") / "export.json").read_text())
    assert meta["plan"]["shortfall"] == {"review": 7}
    assert sum(meta["plan"]["filled_from"].values()) == 7 and meta["formats"]["chat"] == 100
    card = (latest(ctx, "coder") / "README.md").read_text()
    assert "| review | 10 | 3 | 3 | 7 | 0 |" in card and "redistribute" in card
    assert "the gap was filled from categories with spare examples" in card
    ctx2 = make_ctx(tmp_path / "none", {"coder": {"size": 100}, "fill": "none"},
                    corpus(short={"review": 3}))
    run_export(ctx2)
    assert sum(r["format"] == "chat" for r in rows_of(latest(ctx2, "coder"))) == 93


def test_fim_records_are_raw_text_with_the_family_tokens_and_round_trip(tmp_path):
    ctx = make_ctx(tmp_path, {"coder": {"size": 100}}, corpus())
    run_export(ctx)
    rows = rows_of(latest(ctx, "coder"))
    fims = [r for r in rows if r["format"] == "fim"]
    assert len(fims) == round(0.3 * 90)
    originals = {c.content_hash: c.messages[1]["content"] for c in corpus()}
    for r in fims:
        assert r["messages"] == []  # not wrapped in chat turns
        assert r["prompt"] == f"<|fim_prefix|>{r['fim_prefix']}<|fim_suffix|>{r['fim_suffix']}<|fim_middle|>"
        assert r["completion"] == r["fim_middle"] and r["fim_middle"].strip()
        whole = r["fim_prefix"] + r["fim_middle"] + r["fim_suffix"]
        assert f"```python\n{whole}```" in originals[r["id"].removesuffix(":fim")]
    card = (latest(ctx, "coder") / "README.md").read_text()
    assert "`fim`: raw text, no chat template" in card and "`chat`: `messages`" in card
    assert "The category targets apply to the chat records" in card


def test_think_tags_follow_the_family(tmp_path):
    ctx = make_ctx(tmp_path, {"reasoner": {"size": 40}, "families": ["deepseek-r1-distill-qwen", "gemma"]},
                   corpus())
    assert run_export(ctx).status == "ok"
    r1 = rows_of(latest(ctx, "reasoner"))
    thinking = next(r for r in r1 if r["category"] == "math")
    answer = thinking["messages"][-1]["content"]
    assert answer.startswith("<think>\n") and "\n</think>\n\nThe answer is" in answer
    plain = next(r for r in r1 if r["category"] == "non_reasoning")
    assert plain["messages"][-1]["content"].startswith("<think>\n\n</think>\n\nCity")
    gemma = rows_of(latest(ctx, "reasoner", "gemma"))
    g = next(r for r in gemma if r["category"] == "math")
    assert g["messages"][0] == {"role": "system", "content": "<|think|>"}
    assert g["messages"][-1]["content"].startswith("<|channel>thought\n")
    assert "<channel|>The answer is" in g["messages"][-1]["content"]
    g_plain = next(r for r in gemma if r["category"] == "non_reasoning")
    # Gemma 4 with thinking off opens the answer with an empty thought channel, no <|think|>
    assert g_plain["messages"][-1]["content"].startswith("<|channel>thought\n<channel|>City")
    assert all(m["role"] != "system" for m in g_plain["messages"])


def test_export_opens_with_load_dataset_and_load_from_disk(tmp_path):
    from datasets import load_dataset, load_from_disk

    ctx = make_ctx(tmp_path, {"coder": {"size": 60}, "validation_fraction": 0.1}, corpus())
    run_export(ctx)
    path = latest(ctx, "coder").resolve()
    a, b = load_from_disk(str(path)), load_dataset(str(path))
    assert set(a) == set(b) == {"train", "validation"}
    total = a["train"].num_rows + a["validation"].num_rows
    assert total == 60 + round(0.3 * 54)  # chat records, and FIM on top
    assert sorted(a["train"]["id"]) == sorted(b["train"]["id"])
    assert a["validation"].num_rows >= 1
    with session(ctx.engine) as s:
        row = s.get(Export, path.name)
    assert row is not None and row.counts["rows"] == total and len(row.sha256) == 64


def test_same_seed_same_export_and_weights_matter(tmp_path):
    data = corpus()
    ids = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        ctx = make_ctx(tmp_path / name, {"coder": {"size": 50}, "seed": seed}, data)
        run_export(ctx)
        ids.append(sorted(r["id"] for r in rows_of(latest(ctx, "coder"))))
    assert ids[0] == ids[1] and ids[0] != ids[2]
    heavy = [coder(10**7 + i, "instruction", source="teacher", weight=50.0) for i in range(20)]
    light = [coder(2 * 10**7 + i, "instruction") for i in range(200)]
    ctx = make_ctx(tmp_path / "w", {"coder": {"size": 50, "mix": {"instruction": 1.0}}},
                   heavy + light)
    run_export(ctx)
    got = {r["id"] for r in rows_of(latest(ctx, "coder"))}
    assert sum(c.content_hash in got for c in heavy) >= 15  # 40% of picks from 9% of rows


def test_a_crash_mid_export_leaves_the_previous_latest_intact(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path, {"coder": {"size": 40}}, corpus())
    run_export(ctx)
    before = os.readlink(latest(ctx, "coder"))
    import aitherd.export.write as write

    def crash(*_a, **_k):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(write, "_fsync_tree", crash)
    with pytest.raises(KeyboardInterrupt):
        run_export(ctx)
    root = latest(ctx, "coder").parent
    assert os.readlink(latest(ctx, "coder")) == before
    assert sum(r["format"] == "chat" for r in rows_of(latest(ctx, "coder"))) == 40
    assert list(root.glob(".tmp-*"))
    monkeypatch.undo()
    run_export(ctx)
    assert not list(root.glob(".tmp-*")) and os.readlink(latest(ctx, "coder")) != before


def test_old_exports_are_pruned_to_the_keep_count(tmp_path):
    ctx = make_ctx(tmp_path, {"coder": {"size": 20}, "keep": 2}, corpus(10))
    for _ in range(4):
        run_export(ctx)
    root = latest(ctx, "coder").parent
    kept = sorted(p.name for p in root.iterdir() if not p.name.startswith(".") and p.name != "latest")
    assert len(kept) == 2 and os.readlink(root / "latest") == kept[-1]


def test_fim_tokens_come_from_the_tokenizer_and_must_be_single_tokens(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    specials = ["[UNK]", "<\uff5cfim\u2581begin\uff5c>", "<\uff5cfim\u2581hole\uff5c>",
                "<\uff5cfim\u2581end\uff5c>"]
    tok.train_from_iterator([CODE.format(i=i) for i in range(50)],
                            trainers.BpeTrainer(vocab_size=300, special_tokens=specials))
    path = tmp_path / "tok"
    path.mkdir()
    tok.save(str(path / "tokenizer.json"))
    from aitherd.export.families import load_tokenizer

    loaded = load_tokenizer(str(path))
    fim = resolve_fim(FAMILIES["deepseek-r1-distill-qwen"], loaded)
    assert (fim.prefix, fim.suffix, fim.middle) == tuple(specials[1:])
    with pytest.raises(TokenizerError, match="not a single token"):
        resolve_fim(FAMILIES["qwen2.5-coder"], loaded,
                    type("O", (), {"fim_prefix": "<|fim_prefix|>", "fim_suffix": None,
                                   "fim_middle": None})())
    ctx = make_ctx(tmp_path / "run", {"coder": {"size": 30},
                                      "family": {"deepseek-r1-distill-qwen": {"tokenizer": str(path)}}},
                   corpus(10))
    assert run_export(ctx).status == "ok"
    card = (latest(ctx, "coder") / "README.md").read_text()
    assert f"read from {path}" in card and "In tokens, as the trainer renders each record" in card
    fim_row = next(r for r in rows_of(latest(ctx, "coder")) if r["format"] == "fim")
    assert fim_row["prompt"].startswith("<\uff5cfim\u2581begin\uff5c>")


def test_competition_export_uses_the_field_mapping_and_template(tmp_path):
    import csv

    ctx = make_ctx(tmp_path, {"reasoner": {"size": 20}, "competition": {
        "enabled": True, "format": "csv", "fields": {"row_id": "id", "problem": "prompt",
                                                     "solution": "response", "label": "answer"},
        "prompt_template": "Solve: {question}"}}, corpus(10))
    run_export(ctx)
    path = latest(ctx, "reasoner") / "competition" / "reasoner.csv"
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 20 and set(rows[0]) == {"row_id", "problem", "solution", "label"}
    assert all(r["problem"].startswith("Solve: ") for r in rows)
    math_row = next(r for r in rows if r["problem"].startswith("Solve: Compute"))
    assert math_row["solution"].startswith("<think>\n") and math_row["label"].isdigit()


def test_nothing_to_export_is_a_clear_skip(tmp_path):
    result = run_export(make_ctx(tmp_path))
    assert result.status == "skipped" and "no accepted examples" in result.message


def test_aitherctl_exports_and_diff_through_the_daemon(make_daemon):
    d = make_daemon({"export": {"coder": {"size": 30, "fim_fraction": 0}, "reasoner": {"size": 10}}},
                    fake_jobs=False)
    d.state.mkdir(parents=True)
    engine = open_store(d.state / "aitherd.db")
    insert_candidates(engine, corpus(12, short={"review": 1}))  # review short by 2 at first
    d.start()
    out = d.ctl("export", "--wait")
    assert out.returncode == 0 and "export" in out.stdout and " ok " in out.stdout, out.stdout + out.stderr
    insert_candidates(engine, [coder(9_000_000 + i, "review") for i in range(5)])
    assert d.ctl("run", "export", "--wait").returncode == 0
    listed = json.loads(d.ctl("exports", "--json", "--specialist", "coder").stdout)["exports"]
    assert len(listed) == 2 and listed[0]["latest"] and not listed[1]["latest"]
    new, old = listed[0]["id"], listed[1]["id"]
    diff = json.loads(d.ctl("export", "diff", old, new, "--json").stdout)
    assert diff["rows"] == [30, 30] and diff["added"] == diff["removed"] > 0
    text = d.ctl("export", "diff", old, new).stdout
    assert "added" in text and "category review: 1 -> 3 (+2)" in text
    assert d.ctl("export", "diff", old, "nope").returncode == 2
    table = d.ctl("exports").stdout
    assert "latest" in table and "deepseek-r1-distill-qwen" in table


def test_examples_and_corpus_views(make_daemon):
    d = make_daemon()
    d.state.mkdir(parents=True)
    engine = open_store(d.state / "aitherd.db")
    bad = coder(77, "review")
    bad.reject("secret", kind="aws_access_key")
    insert_candidates(engine, [*corpus(3), bad])
    d.start()
    out = json.loads(d.ctl("examples", "--rejected", "--reason", "secret", "--json").stdout)["examples"]
    assert len(out) == 1 and out[0]["curation"] == {"secret": {"kind": "aws_access_key"}}
    assert "secret" in d.ctl("examples", "--rejected").stdout
    assert d.ctl("examples", "--rejected", "--reason", "duplicate").stdout.strip() == "no examples match"
    data = json.loads(d.ctl("corpus", "--json").stdout)
    review = data["coder"]["categories"]["review"]
    assert review == {"target": 3000, "accepted": 3, "rejected": 1}
    assert data["coder"]["sources"]["git"]["instruction"] == 3
    text = d.ctl("corpus").stdout
    assert "coder (target 30000)" in text and "instruction" in text
