"""Data a careful ML engineer would sign: FIM only on source code at syntax boundaries and on top
of the chat mix, answers opened as the family serves them, validation split by group with no
verbatim leak, lengths measured with the real tokenizer and nothing cut silently."""

from __future__ import annotations

import ast
import json
import os
import re
import textwrap
from pathlib import Path

import pytest
from test_export import CODE, coder, latest, make_ctx, rows_of

from aitherd.candidate import Candidate
from aitherd.export.job import run_export

JS = """export function clamp(value, low, high) {
  if (value < low) {
    return low;
  }
  const bounded = Math.min(value, high);
  return bounded;
}
"""


def ex(i: int, category: str, answer: str, prov: dict, *, user: str | None = None,
       source: str = "git", reasoning: str | None = None) -> Candidate:
    return Candidate("coder", category, [{"role": "user", "content": user or f"Task {i} ({category})."},
                                         {"role": "assistant", "content": answer}],
                     source=source, provenance=prov, reasoning=reasoning, quality=0.8)


def meta_of(ctx, specialist: str = "coder", family: str = "deepseek-r1-distill-qwen") -> dict:
    return json.loads((latest(ctx, specialist, family) / "export.json").read_text())


def test_fim_only_on_source_code_by_provenance_never_prose_diffs_or_reviews(tmp_path):
    prose = ["README.md", "docs/index.rst", "CHANGES", "LICENSE", "notes.txt", "setup.cfg"]
    store = []
    for i in range(60):  # a Python fence in a prose file is still prose
        store.append(ex(i, "instruction", f"Update the docs:\n```python\n{CODE.format(i=i)}```\n",
                        {"repo": "/r", "commit": f"p{i}", "path": prose[i % len(prose)]}))
    for i in range(60, 90):  # review answers hold diffs
        diff = "".join(f"-    a{k} = {k}\n+    a{k} = {k + i}\n" for k in range(5))
        store.append(ex(i, "review", f"Bug.\n\n```diff\n@@ -1,5 +1,5 @@\n{diff}```\n",
                        {"repo": "/r", "commit": f"r{i}", "fixed_by": f"f{i}", "path": f"m{i}.py"}))
    for i in range(90, 120):  # no language in provenance: the fence label is not evidence
        store.append(ex(i, "instruction", f"```python\n{CODE.format(i=i)}```\n", {}, source="corpus"))
    for i in range(120, 150):
        store.append(ex(i, "instruction", f"```python\n{CODE.format(i=i)}```\n",
                        {"repo": "/r", "commit": f"s{i}", "path": f"pkg/m{i}.py"}))
    for i in range(150, 170):  # a dataset row with its language; an unlabelled fence
        store.append(ex(i, "instruction", f"Sure:\n```\n{JS.replace('clamp', f'clamp{i}')}```\nDone.",
                        {"index": i, "lang": "javascript"}, source="hf:magicoder-oss-instruct-75k"))
    ctx = make_ctx(tmp_path, {"coder": {"size": 170, "mix": {"instruction": 0.9, "review": 0.1},
                                        "fim_fraction": 1.0}}, store)
    assert run_export(ctx).status == "ok"
    by_hash = {c.content_hash: c for c in store}
    fims = [r for r in rows_of(latest(ctx, "coder")) if r["format"] == "fim"]
    origins = [by_hash[r["id"].removesuffix(":fim")] for r in fims]
    assert len(fims) == 50  # every eligible example, and only those
    assert all(o.provenance.get("path", "").endswith(".py") or o.provenance.get("lang") == "javascript"
               for o in origins)
    assert not any("@@" in r["prompt"] or r["completion"].startswith(("+", "-")) for r in fims)
    meta = meta_of(ctx)
    assert meta["fim"]["languages"] == {"python": 30, "javascript": 20}
    assert meta["fim"]["code_bearing_chat"] == 50


def _is_python_span(r: dict) -> bool:
    """The middle is whole statements, a block, or one expression of code that parses."""
    whole = r["fim_prefix"] + r["fim_middle"] + r["fim_suffix"]
    ast.parse(whole)
    middle = r["fim_middle"]
    if r["fim_kind"] == "expression":
        ast.parse(middle, mode="eval")
        return True
    ast.parse(textwrap.dedent(middle))
    return (r["fim_prefix"] == "" or r["fim_prefix"].endswith("\n")) and middle.endswith("\n")


def test_fim_middles_are_syntax_spans_never_whitespace(tmp_path):
    import fnmatch
    import posixpath
    import shlex

    funcs = []  # real code: functions and methods of the standard library
    for module in (ast, textwrap, shlex, fnmatch, posixpath):
        source = Path(module.__file__).read_text()
        for n in ast.walk(ast.parse(source)):
            if isinstance(n, ast.FunctionDef):
                f = textwrap.dedent(ast.get_source_segment(source, n, padded=True) or "")
                if f.count("\n") >= 4 and "\t" not in f:
                    funcs.append(f + "\n")
    funcs = funcs[:80]
    store = [ex(i, "instruction", f"```python\n{f}```\n", {"repo": "/r", "commit": f"c{i}", "path": f"m{i}.py"})
             for i, f in enumerate(funcs)]
    store += [ex(100 + i, "instruction", f"```js\n{JS.replace('clamp', f'clamp{i}')}```\n",
                 {"repo": "/r", "commit": f"j{i}", "path": f"web/c{i}.ts"}) for i in range(20)]
    ctx = make_ctx(tmp_path, {"coder": {"size": len(store), "mix": {"instruction": 1.0},
                                        "fim_fraction": 1.0}}, store)
    assert run_export(ctx).status == "ok"
    fims = [r for r in rows_of(latest(ctx, "coder")) if r["format"] == "fim"]
    assert len(fims) == len(store)
    kinds = {r["fim_kind"] for r in fims}
    assert kinds == {"statement", "block", "expression"}
    for r in fims:
        assert re.search(r"\w", r["fim_middle"]) and len(r["fim_middle"].strip()) >= 3
        assert (r["fim_prefix"] + r["fim_suffix"]).strip()
        if "def " in r["fim_prefix"] + r["fim_middle"] + r["fim_suffix"]:
            assert _is_python_span(r), r
        elif r["fim_kind"] != "expression":  # JS: whole lines, brackets balanced in the middle
            middle = r["fim_middle"]
            assert middle.endswith("\n") and middle.count("{") == middle.count("}"), r


def test_fim_is_drawn_on_top_of_the_chat_mix_and_the_card_states_both(tmp_path):
    store = [coder(i * 10 + k, cat) for i in range(40)
             for k, cat in enumerate(("instruction", "editing", "debugging", "review", "test_generation"))]
    ctx = make_ctx(tmp_path, {"coder": {"size": 100}}, store)
    assert run_export(ctx).status == "ok"
    rows = rows_of(latest(ctx, "coder"))
    chat = [r for r in rows if r["format"] == "chat"]
    got = {c: sum(r["category"] == c for r in chat) for c in ("instruction", "editing", "debugging",
                                                                "review", "test_generation")}
    assert got == {"instruction": 40, "editing": 25, "debugging": 20, "review": 10, "test_generation": 5}
    fims = [r for r in rows if r["format"] == "fim"]
    assert len(fims) == round(0.3 * 90)
    meta = meta_of(ctx)
    assert meta["fim"]["reused_chat_examples"] == 0  # store examples not exported as chat first
    card = (latest(ctx, "coder") / "README.md").read_text()
    assert "The category targets apply to the chat records" in card
    assert "target 30% of the 90 exported chat records that carry source code" in card


def test_coder_answers_open_the_way_each_family_serves_them(tmp_path):
    plain = ex(1, "instruction", "```python\nx = 1\n```", {"path": "a.py"})
    thought = ex(2, "instruction", "```python\ny = 2\n```", {"path": "b.py"}, reasoning="Two is needed.")
    ctx = make_ctx(tmp_path, {"coder": {"size": 2, "mix": {"instruction": 1.0}, "fim_fraction": 0},
                              "families": ["deepseek-r1-distill-qwen", "gemma", "gemma3"]}, [plain, thought])
    assert run_export(ctx).status == "ok"
    answers = {}
    for fam in ("deepseek-r1-distill-qwen", "gemma", "gemma3"):
        rows = {r["id"]: r for r in rows_of(latest(ctx, "coder", fam))}
        answers[fam] = (rows[plain.content_hash]["messages"], rows[thought.content_hash]["messages"])
    r1_plain, r1_thought = answers["deepseek-r1-distill-qwen"]
    assert r1_plain[-1]["content"] == "<think>\n\n</think>\n\n```python\nx = 1\n```"
    assert r1_thought[-1]["content"] == "<think>\nTwo is needed.\n</think>\n\n```python\ny = 2\n```"
    g_plain, g_thought = answers["gemma"]
    assert g_plain[-1]["content"] == "<|channel>thought\n<channel|>```python\nx = 1\n```"
    assert g_thought[0] == {"role": "system", "content": "<|think|>"}
    assert answers["gemma3"][0][-1]["content"] == "```python\nx = 1\n```"


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"```[\w+#-]*", " ", text)).strip().lower()


def test_validation_is_split_by_group_and_no_validation_answer_is_in_training(tmp_path):
    store: list[Candidate] = []
    for j in range(30):  # three hunks of one commit
        store += [ex(j * 10 + h, "editing", f"```python\n{CODE.format(i=j * 10 + h)}```",
                     {"repo": "/r", "commit": f"k{j}", "path": f"m{j}_{h}.py"}) for h in range(3)]
    for j in range(30):  # a function's implement and explain examples
        code = CODE.format(i=1000 + j)
        store.append(ex(1000 + j, "instruction", f"```python\n{code}```",
                        {"repo": "/r", "path": f"lib/f{j}.py", "symbol": f"f{j}", "task": "implement"},
                        source="codegraph"))
        store.append(ex(2000 + j, "instruction", f"Function f{j} doubles then decrements its input {j}.",
                        {"repo": "/r", "path": f"lib/f{j}.py", "symbol": f"f{j}", "task": "explain"},
                        user=f"Explain what this code does:\n```python\n{code}```", source="codegraph"))
    for j in range(30):  # a review and the fix commit's own example
        store.append(ex(3000 + j, "review", f"The bound is off by one in loop {j}; use range(n) here.",
                        {"repo": "/r", "commit": f"intro{j}", "fixed_by": f"fix{j}", "path": f"q{j}.py"}))
        store.append(ex(4000 + j, "debugging", f"```python\n{CODE.format(i=4000 + j)}```",
                        {"repo": "/r", "commit": f"fix{j}", "path": f"q{j}.py"}))
    for j in range(40):  # planted leaks: one row's answer quoted in another row's prompt
        answer = f"```python\n{CODE.format(i=5000 + j)}```"
        store.append(ex(5000 + j, "instruction", answer, {"index": 5000 + j, "lang": "python"},
                        source="hf:magicoder-oss-instruct-75k"))
        store.append(ex(6000 + j, "editing", f"```python\n{CODE.format(i=6000 + j)}```",
                        {"index": 6000 + j, "lang": "python"}, source="hf:magicoder-oss-instruct-75k",
                        user=f"Rename the variables in this code:\n{answer}"))
    ctx = make_ctx(tmp_path, {"coder": {"size": len(store), "mix": {
        "instruction": .4, "editing": .25, "debugging": .2, "review": .15}}, "validation_fraction": 0.3}, store)
    assert run_export(ctx).status == "ok"
    from datasets import load_from_disk

    dd = load_from_disk(str(latest(ctx, "coder")))
    side = {r["id"].removesuffix(":fim"): s for s in ("train", "validation") for r in dd[s]}
    by_hash = {c.content_hash: c for c in store}
    together = {}
    for h, s in side.items():
        prov = by_hash[h].provenance
        for key in (prov.get("commit"), prov.get("fixed_by"), prov.get("path") if by_hash[h].source == "codegraph" else None):
            if key:
                together.setdefault(key, set()).add(s)
    assert all(len(v) == 1 for v in together.values()), {k: v for k, v in together.items() if len(v) > 1}
    assert set(side.values()) == {"train", "validation"}

    train_text = [_norm("\n".join(m["content"] for m in r["messages"]) + (r["prompt"] or "") + (r["completion"] or ""))
                  for r in dd["train"]]
    leaks = 0
    for r in dd["validation"]:
        answer = _norm(r["fim_middle"] if r["format"] == "fim" else by_hash[r["id"]].messages[-1]["content"])
        if len(answer.split()) >= 8:
            leaks += any(answer in t for t in train_text)
    assert leaks == 0
    split = meta_of(ctx)["split"]
    assert split["overlap_before"] > 0 and split["moved_groups"] > 0 and split["overlap_after"] == 0
    card = (latest(ctx, "coder") / "README.md").read_text()
    assert f"Found before the check: {split['overlap_before']}" in card and "overlap after: **0**" in card


def test_lengths_use_the_real_tokenizer_and_nothing_is_cut_silently(tmp_path):
    from train_fixtures import build_tiny_tokenizer
    from transformers import AutoTokenizer

    from aitherd.train.records import encode
    from aitherd.train.templates import DEEPSEEK_R1_DISTILL

    long_code = "".join(f"    v{k} = v{k - 1} * 3 + {k}\n" for k in range(1, 120))
    long_code = f"def fold(v0):\n{long_code}    return v0\n"
    store = [coder(i, "instruction") for i in range(20)]
    store.append(ex(900, "instruction", f"```python\n{long_code}```", {"path": "fold.py"}))  # answer too long
    store.append(ex(901, "instruction", "Done.", {}, user="Read this: " + "word " * 400))  # prompt too long
    store.append(Candidate("coder", "instruction", [  # long early turns: trimmed, the last one kept
        {"role": "user", "content": "First: " + "context " * 300}, {"role": "assistant", "content": "ok " * 100},
        {"role": "user", "content": "Now write a one-liner."}, {"role": "assistant", "content": "x = 1"}],
        source="session", provenance={"file": "s.jsonl", "format": "claude"}))
    tok_dir = tmp_path / "tok"
    build_tiny_tokenizer(tok_dir, [CODE.format(i=i) for i in range(50)] + [long_code])
    ctx = make_ctx(tmp_path, {"coder": {"size": len(store), "mix": {"instruction": 1.0}, "fim_fraction": 1.0},
                              "family": {"deepseek-r1-distill-qwen": {"tokenizer": str(tok_dir)}}}, store)
    ctx.loaded.config.train.coder.max_length = 256
    result = run_export(ctx)
    assert result.status == "ok", result
    meta = meta_of(ctx)
    fit = meta["fit"]
    assert fit["exact"] and fit["max_length"] == 256
    assert fit["dropped"] == {"answer_over_max_length": 1, "prompt_over_max_length": 1}
    assert fit["trimmed"]["earlier_turns"] == 1 and fit["trimmed"]["fim_context"] >= 1
    assert ctx.counts["dropped.coder.answer_over_max_length"] == 1
    assert "1 dropped (answer_over_max_length)" in (latest(ctx, "coder") / "README.md").read_text()

    tokenizer = AutoTokenizer.from_pretrained(tok_dir)
    rows = rows_of(latest(ctx, "coder"))
    fold_fim = next(r for r in rows if r["id"] == store[20].content_hash + ":fim")
    assert fold_fim["fim_middle"] in long_code  # context trimmed, the middle whole
    lengths = sorted(len(encode(r, tokenizer, DEEPSEEK_R1_DISTILL, True)[0]) for r in rows)
    assert max(lengths) <= 256
    trimmed = next(r for r in rows if r["id"] == store[22].content_hash)
    assert [m["content"] for m in trimmed["messages"]] == ["Now write a one-liner.", "<think>\n\n</think>\n\nx = 1"]
    assert meta["lengths"]["max"] == max(lengths)  # the export measured what the trainer sees


def test_the_card_says_nothing_was_filled_when_no_category_had_spare(tmp_path):
    store = [coder(i, "instruction") for i in range(5)] + [coder(100 + i, "editing") for i in range(3)]
    ctx = make_ctx(tmp_path, {"coder": {"size": 20, "mix": {"instruction": 0.5, "editing": 0.5}}}, store)
    result = run_export(ctx)
    assert result.status == "ok"
    card = (latest(ctx, "coder") / "README.md").read_text()
    assert "the gap was" not in card and "spread" not in card
    assert "nothing could be filled" in card and "smaller by 12" in card
    assert "0 filled by redistribute" in (result.message or "")


def test_the_rename_into_place_is_made_durable_by_syncing_the_parent(tmp_path, monkeypatch):
    ctx = make_ctx(tmp_path, {"coder": {"size": 10}}, [coder(i, "instruction") for i in range(10)])
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert run_export(ctx).status == "ok"
    root = str(latest(ctx, "coder").parent)
    last_tmp = max(i for i, p in enumerate(synced) if ".tmp-" in p)  # the tree, before the rename
    assert root in synced[last_tmp + 1:], "the parent was not synced after the rename"


def test_final_answer_rewrites_of_reasoning_items_are_not_exported(tmp_path):
    rewrite = Candidate("reasoner", "non_reasoning", [
        {"role": "user", "content": "Question: 2+2?\n\nWorked solution:\nTwo and two make 4.\n\n"
                                    "State the final answer only, with no explanation."},
        {"role": "assistant", "content": "4"}], source="derived:final_answer", answer="4")
    direct = [Candidate("reasoner", "non_reasoning", [
        {"role": "user", "content": f"Convert {k} km to metres."}, {"role": "assistant", "content": f"{k}000 m"}],
        source="non_reasoning:conversion") for k in (3, 4)]
    ctx = make_ctx(tmp_path, {"reasoner": {"size": 3, "mix": {"non_reasoning": 1.0}}}, [rewrite, *direct])
    assert run_export(ctx).status == "ok"
    ids = {r["id"] for r in rows_of(latest(ctx, "reasoner"))}
    assert ids == {c.content_hash for c in direct}
    assert meta_of(ctx, "reasoner")["retired"] == {"derived:final_answer": 1}


@pytest.mark.parametrize("family", ["deepseek-r1-distill-qwen"])
def test_export_lengths_equal_the_trainers_for_every_record(tmp_path, family):
    """render.py and the training template must agree token for token, FIM and multi-turn too."""
    from train_fixtures import build_tiny_tokenizer
    from transformers import AutoTokenizer

    from aitherd.export.families import FAMILIES, load_tokenizer
    from aitherd.export.render import TokenCounter, render
    from aitherd.train.records import encode
    from aitherd.train.templates import DEEPSEEK_R1_DISTILL

    build_tiny_tokenizer(tmp_path / "tok", [CODE.format(i=i) for i in range(30)])
    ctx = make_ctx(tmp_path, {"coder": {"size": 30}}, [coder(i, c) for i in range(10) for c in (
        "instruction", "editing", "debugging")] + [Candidate("coder", "editing", [
            {"role": "system", "content": "Be terse."}, {"role": "user", "content": "a"},
            {"role": "assistant", "content": "<think>\nhm\n</think>\n\nb"}, {"role": "user", "content": "c"},
            {"role": "assistant", "content": "d"}], source="session", provenance={"file": "x"})])
    assert run_export(ctx).status == "ok"
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "tok")
    count = TokenCounter(load_tokenizer(str(tmp_path / "tok")))
    rows = rows_of(latest(ctx, "coder"))
    assert {r["format"] for r in rows} == {"chat", "fim"}
    for r in rows:
        x = render(FAMILIES[family], r)
        ids, labels = encode(r, tokenizer, DEEPSEEK_R1_DISTILL, True)
        assert count.one(x.prompt) + count.one(x.completion) == len(ids), r
        assert tokenizer.decode([i for i, lab in zip(ids, labels, strict=True) if lab != -100]) == x.completion
