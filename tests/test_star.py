"""The STaR job against the stand-in endpoint scripted per problem (right, wrong, right only with
the hint), on a real store through real curation; code problems in the real sandbox; a real
worker killed with SIGKILL and resumed; one iteration on the tiny local model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from star_support import reply, star_config, star_ctx, star_rows, write_jsonl

from aitherd import benchmarks
from aitherd.star import ledger
from aitherd.star.job import run_star
from aitherd.star.problems import gsm8k_train

ANN = "Ann has 3 apples and buys 4 more apples at the market. How many apples does she have now?"
BOX = "A box holds 5 pens. How many pens are there in 6 boxes?"
TOM = "Tom reads 4 pages every day. How many pages does he read in 3 days?"
CAR = "A toy car has 4 wheels. How many wheels do 9 toy cars have?"
HINT = "For reference only"


def four_problems(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "math.jsonl", [
        {"id": "ann", "problem": ANN, "answer": "7"}, {"id": "box", "problem": BOX, "answer": "30"},
        {"id": "tom", "problem": TOM, "answer": "12"}, {"id": "car", "problem": CAR, "answer": "36"}])


def script_four(standin: Any) -> None:
    """ann: right (two distinct paths, one of them again in other case and spacing, one wrong);
    box: wrong, right with the hint; tom: right with the hint only by quoting it; car: wrong."""
    standin.script({"rules": [
        {"match": [BOX, HINT], **reply("Six boxes of five pens each make six times five, thirty pens.", "30")},
        {"match": [TOM, HINT], **reply("As the hint says, the answer is 12, so he reads 12 pages.", "12")},
        {"match": [CAR, HINT], **reply("Nine cars and four wheels: I guess forty.", "40")},
        {"match": ANN, "cycle": [
            reply("Ann starts with three apples. Buying four more gives three plus four, which is seven.", "7"),
            reply("Count on from 3: four more steps reach 7 apples in total for Ann.", "7"),
            reply("ann starts with THREE apples.  Buying four more gives three plus four, which is seven!", "7"),
            reply("Three times four is twelve.", "12")]},
        {"match": BOX, **reply("Five plus six is eleven.", "11")},
        {"match": TOM, **reply("Four plus three is seven.", "7")},
        {"match": CAR, **reply("Nine plus four is thirteen.", "13")}]})


def test_scripted_answers_give_exact_kept_rejected_and_rationalized_counts(standin: Any, tmp_path: Path) -> None:
    script_four(standin)
    ctx = star_ctx(tmp_path / "state", star_config(standin.base_url, {"math_problems": str(four_problems(tmp_path))},
                                                  rationalize_samples=1))

    result = run_star(ctx)

    assert result.status == "ok", result
    assert "finished: done" in (result.message or "")
    entry = ledger.ledger(ctx.engine)["curve"][0]
    math = entry["per_source"]["math"]
    assert {k: math[k] for k in ("tried", "solved", "rationalized", "unsolved", "kept", "samples", "correct",
                                 "hint_samples", "hint_correct", "hint_quoted", "duplicates", "capped",
                                 "accepted")} == {
        "tried": 4, "solved": 1, "rationalized": 1, "unsolved": 2, "kept": 3, "samples": 16, "correct": 3,
        "hint_samples": 3, "hint_correct": 1, "hint_quoted": 1, "duplicates": 1, "capped": 0, "accepted": 3}
    assert math["solve_rate"] == 0.25 and entry["iteration"] == 1 and entry["adapter"] == "base"
    rows = star_rows(ctx)
    # (which of ann's four samples got which reply depends on the order the requests arrived)
    assert [(r["provenance"]["problem"], r["provenance"]["rationalized"], r["status"]) for r in rows] == [
        ("math/ann", False, "accepted"), ("math/ann", False, "accepted"), ("math/box", True, "accepted")]
    assert rows[0]["provenance"]["sample"] != rows[1]["provenance"]["sample"] and rows[2]["provenance"]["sample"] == 4
    assert all(r["provenance"]["iteration"] == 1 and r["provenance"]["adapter"] == "base" for r in rows)
    assert ctx.counts["star.math.kept"] == 3 and ctx.counts["stored.star"] == 3
    assert sorted(ledger.ledger(ctx.engine)["failures"]) == ["math/car", "math/tom"]
    # the hint was asked for the three unsolved problems only, and never reaches the store
    sent = standin.requests()
    hinted = [r["messages"][-1]["content"] for r in sent if HINT in r["messages"][-1]["content"]]
    assert len(sent) == 19 and sorted(h.split(" ")[0] for h in hinted) == ["A", "A", "Tom"]
    box = next(r for r in rows if r["provenance"]["problem"] == "math/box")
    assert box["messages"][0]["content"] == f"{BOX}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
    stored_text = [json.dumps([r["messages"], r["reasoning"], r["answer"]]) for r in rows]
    assert not any(HINT in t or "hint" in t.lower() or "told" in t for t in stored_text)
    # k samples of one prompt are asked with k seeds (a seeded server would repeat itself)
    assert len({r["seed"] for r in sent if ANN in r["messages"][-1]["content"]}) == 4


def test_the_next_iteration_skips_problems_solved_often_enough_and_counts_failures_again(
        standin: Any, tmp_path: Path) -> None:
    script_four(standin)
    config = star_config(standin.base_url, {"math_problems": str(four_problems(tmp_path))}, enough_rationales=2)
    assert run_star(star_ctx(tmp_path / "state", config)).status == "ok"
    asked_first = len(standin.requests())

    ctx = star_ctx(tmp_path / "state", config, run_id=2)
    result = run_star(ctx)

    assert result.status == "ok", result
    again = [r["messages"][-1]["content"] for r in standin.requests()[asked_first:]]
    assert not any(ANN in text for text in again)  # two accepted rationales: enough
    book = ledger.ledger(ctx.engine)
    assert [e["iteration"] for e in book["curve"]] == [1, 2]
    assert book["curve"][1]["total"]["tried"] == 3 and ctx.counts["star.solved_enough"] == 1
    assert book["failures"] == {"math/car": 2, "math/tom": 2}
    report = ledger.curve_report(ctx.engine)
    assert report["failing"]["hardest"][0] == {"problem": "math/car", "failed_iterations": 2}

    config["star"]["skip_after_failures"] = 2  # failed twice: set aside
    third = star_ctx(tmp_path / "state", config, run_id=3)
    assert run_star(third).status == "ok"
    assert third.counts["star.set_aside"] == 2
    assert ledger.ledger(third.engine)["curve"][2]["total"]["tried"] == 1  # box only


def test_gsm8k_test_items_are_never_asked_and_curation_rejects_one_that_slips_in(
        standin: Any, tmp_path: Path) -> None:
    test_item = benchmarks.load("gsm8k_test")[5]
    train_questions = {p.prompt.rsplit("\n", 1)[0] for p in gsm8k_train()}
    assert len(train_questions) == 7473 and test_item["question"] not in train_questions
    gold = test_item["answer"].rsplit("####", 1)[1].strip()
    standin.script({"default": reply("I work it out carefully step by step here.", gold)})
    problems = write_jsonl(tmp_path / "math.jsonl", [{"id": "leak", "problem": test_item["question"], "answer": gold}])
    ctx = star_ctx(tmp_path / "state", star_config(standin.base_url, {"math_problems": str(problems)}))

    result = run_star(ctx)

    assert result.status == "ok", result
    assert ctx.counts["skipped.contaminated_problem"] == 1
    assert standin.requests() == [] and star_rows(ctx) == []
    # past the screen (a loop without it), curation's decontamination still rejects it
    from aitherd.curate import Curator
    from aitherd.sources.harvest import FnSource, Harvest
    from aitherd.star.job import make_generator
    from aitherd.star.loop import Loop
    from aitherd.star.problems import math_file
    from aitherd.star.state import IterationMark

    cfg = ctx.loaded.config.star
    generator, model, _ = make_generator(ctx, cfg)
    curator = Curator(ctx.loaded.config.curation, ctx.engine)
    loop = Loop(cfg, generator, model, ctx.engine, None, lambda: False)
    Harvest(ctx, curator.process, 1, whole_groups=True).run(
        FnSource("star", "unscreened", lambda _m: loop.read(IterationMark(9, "base", model), math_file(str(problems)))))
    assert [(r["status"], r["reason"]) for r in star_rows(ctx)] == [("rejected", "contaminated")]


def test_a_token_budget_ends_the_iteration_cleanly_between_chunks(standin: Any, tmp_path: Path) -> None:
    standin.script({"default": {**reply("Adding them up one by one gives the total.", "7"),
                                "usage": {"prompt_tokens": 5, "completion_tokens": 25, "total_tokens": 30}}})
    problems = write_jsonl(tmp_path / "math.jsonl", [{"id": i, "problem": f"What is {i} plus {7 - i}?", "answer": "7"}
                                                     for i in range(6)])
    ctx = star_ctx(tmp_path / "state", star_config(standin.base_url, {"math_problems": str(problems)},
                                                  samples=2, chunk=1, token_budget=120))

    result = run_star(ctx)

    assert result.status == "ok", result
    entry = ledger.ledger(ctx.engine)["curve"][0]
    assert entry["finished"].startswith("token budget of 120 reached") and entry["tokens"] == 150
    assert entry["asked"] == 3 and len(standin.requests()) == 6 and len(star_rows(ctx)) == 3


def test_a_time_budget_stops_inside_a_chunk_and_keeps_only_whole_problems(standin: Any, tmp_path: Path) -> None:
    standin.script({"default": {**reply("Adding them up one by one gives the total.", "7"), "delay": 0.3}})
    problems = write_jsonl(tmp_path / "math.jsonl", [{"id": i, "problem": f"What is {i} plus {7 - i}?", "answer": "7"}
                                                     for i in range(40)])
    config = star_config(standin.base_url, {"math_problems": str(problems)}, samples=2, chunk=40, time_budget=1.0)
    config["star"]["endpoint"]["concurrency"] = 2
    ctx = star_ctx(tmp_path / "state", config)

    result = run_star(ctx)

    assert result.status == "ok", result
    entry = ledger.ledger(ctx.engine)["curve"][0]
    assert entry["finished"].startswith("time budget") and 0 < entry["asked"] < 40
    # whole problems only: both samples of each (the same text twice: one kept per problem)
    assert entry["total"]["samples"] == 2 * entry["asked"] and len(star_rows(ctx)) == entry["asked"]
    assert len(standin.requests()) < 80


def test_code_problems_are_checked_in_the_sandbox(standin: Any, tmp_path: Path) -> None:
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    bad = "```python\ndef sub(a, b):\n    return a - b\n```"
    standin.script({"rules": [
        {"match": "returns the sum", "content": f"<think>\nAdd the two numbers with +.\n</think>\n\n{good}"},
        {"match": ["returns the difference", HINT], "content": f"<think>\nSubtract b from a.\n</think>\n\n{bad}"},
        {"match": "returns the difference",
         "content": "<think>\nI open a socket first.\n</think>\n\n```python\nimport socket\n"
                    "def sub(a, b):\n    socket.create_connection(('127.0.0.1', 9))\n    return a - b\n```"}]})
    problems = write_jsonl(tmp_path / "code.jsonl", [
        {"id": "add", "prompt": "Write add(a, b) that returns the sum.", "tests": ["assert add(2, 3) == 5"]},
        {"id": "sub", "prompt": "Write sub(a, b) that returns the difference.", "tests": ["assert sub(5, 3) == 2"],
         "solution": "def sub(a, b):\n    return a - b"}])
    ctx = star_ctx(tmp_path / "state", star_config(standin.base_url, {"code_problems": str(problems)}, samples=2))

    result = run_star(ctx)

    assert result.status == "ok", result
    code = ledger.ledger(ctx.engine)["curve"][0]["per_source"]["code"]
    assert (code["tried"], code["solved"], code["rationalized"], code["kept"]) == (2, 1, 1, 2)
    rows = star_rows(ctx)
    assert {(r["provenance"]["problem"], r["provenance"]["rationalized"]) for r in rows} == {
        ("code/add", False), ("code/sub", True)}
    assert all(r["messages"][0]["content"].startswith("Write") and HINT not in json.dumps(r) for r in rows)


def test_without_a_generator_the_job_is_skipped_and_says_what_to_set(tmp_path: Path) -> None:
    result = run_star(star_ctx(tmp_path / "state", {}))
    assert result.status == "skipped"
    assert "[star.endpoint] base_url" in (result.message or "") and "[serve]" in (result.message or "")


def _worker(state: Path, config: dict[str, Any], run_id: int) -> subprocess.Popen[str]:
    from aitherd.config import parse_config

    spec = {"job": "star", "run_id": run_id, "trigger": "manual", "args": {}, "parent_pid": os.getpid(),
            "config": parse_config(config).model_dump(mode="json"), "config_source": None,
            "state_dir": str(state), "socket": str(state / "control.sock"), "repos": []}
    proc = subprocess.Popen([sys.executable, "-m", "aitherd.worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(spec))
    proc.stdin.close()
    return proc


def test_a_worker_killed_mid_iteration_resumes_it_without_duplicate_examples(standin: Any, tmp_path: Path) -> None:
    # every request gets a new text: a problem asked twice would store a second, different row
    standin.script({"rules": [{"match": "plus", "delay": 0.05, "cycle": [
        reply(f"Path {i}: adding the two numbers gives the total.", "7") for i in range(200)]}]})
    problems = write_jsonl(tmp_path / "math.jsonl", [{"id": i, "problem": f"What is {i} plus {7 - i}?", "answer": "7"}
                                                     for i in range(12)])
    config = star_config(standin.base_url, {"math_problems": str(problems)}, samples=2, chunk=1)
    ctx = star_ctx(tmp_path / "state", config)
    proc = _worker(tmp_path / "state", config, run_id=1)
    deadline = time.monotonic() + 60
    while len(star_rows(ctx)) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 6 <= len(star_rows(ctx)) < 24
    assert ledger.current(ctx.engine) is not None and not ledger.current(ctx.engine).finished  # type: ignore[union-attr]

    second = _worker(tmp_path / "state", config, run_id=2)
    assert second.stdout is not None
    out = second.stdout.read()
    second.wait(timeout=120)
    result = json.loads(out.strip().splitlines()[-1])

    assert result["status"] == "ok", result
    rows = star_rows(ctx)
    keys = [(r["provenance"]["iteration"], r["provenance"]["problem"], r["provenance"]["sample"]) for r in rows]
    assert len(keys) == len(set(keys)) == 24  # 12 problems x 2 samples, each once
    entry = ledger.ledger(ctx.engine)["curve"][0]
    assert entry["iteration"] == 1 and entry["total"]["tried"] == 12 and entry["total"]["kept"] == 24


def test_one_iteration_runs_on_the_tiny_local_model(tmp_path: Path) -> None:
    from train_fixtures import build_tiny_model, corpus_texts, reasoner_records

    model = build_tiny_model(tmp_path / "tiny", corpus_texts(reasoner_records(12)))
    problems = write_jsonl(tmp_path / "math.jsonl", [{"id": 1, "problem": "What is 2 plus 3?", "answer": "5"},
                                                     {"id": 2, "problem": "What is 4 plus 4?", "answer": "8"}])
    config = star_config("", {"math_problems": str(problems)}, generator="local", samples=2, max_tokens=16,
                         local_batch_size=4)
    config["train"] = {"base_model": str(model)}
    ctx = star_ctx(tmp_path / "state", config)

    result = run_star(ctx)

    assert result.status == "ok", result
    entry = ledger.ledger(ctx.engine)["curve"][0]
    assert entry["total"]["tried"] == 2 and entry["total"]["samples"] == 4 and entry["adapter"] == "base"
    assert entry["total"]["tokens"] > 0


def test_the_stores_reasoner_answers_and_runnable_test_generation_examples_become_problems(
        standin: Any, tmp_path: Path) -> None:
    from aitherd.candidate import Candidate
    from aitherd.store.examples import insert_candidates

    double = "Write pytest tests for `double` from `util.py`:\n\n```python\ndef double(x):\n    return 2 * x\n```"
    triple = "Write pytest tests for `triple` from `util.py`:\n\n```python\ndef triple(x):\n    return 3 * x\n```"
    standin.script({"rules": [
        {"match": "`double`", "content": "<think>\nDoubling 2 gives 4.\n</think>\n\n```python\n"
                                         "def test_double():\n    assert double(2) == 4\n```"},
        {"match": "`triple`", "content": "```python\ndef test_triple():\n    assert triple(1) == 3\n```"},
        {"match": "marbles", **reply("Twelve marbles shared by three friends is four each.", "4")}]})
    ctx = star_ctx(tmp_path / "state", star_config(standin.base_url, {"store_reasoner": True, "store_tests": True},
                                                  samples=1))
    insert_candidates(ctx.engine, [
        Candidate("coder", "test_generation", [{"role": "user", "content": double}, {"role": "assistant", "content":
                  "```python\ndef test_double():\n    assert double(3) == 6\n```"}], source="codegraph"),
        # its tests import the project: they cannot run alone, so it is not asked
        Candidate("coder", "test_generation", [{"role": "user", "content": triple}, {"role": "assistant", "content":
                  "```python\nfrom util import triple\n\ndef test_triple():\n    assert triple(2) == 6\n```"}],
                  source="codegraph"),
        Candidate("reasoner", "math", [{"role": "user", "content": "Three friends share 12 marbles equally. "
                                                                   "How many marbles does each get?"},
                                       {"role": "assistant", "content": "Each gets 4."}], source="teacher",
                  reasoning="12 / 3 = 4", answer="4"),
        Candidate("reasoner", "math", [{"role": "user", "content": "Name the largest planet."},
                                       {"role": "assistant", "content": "Jupiter."}], source="teacher",
                  reasoning="It is Jupiter.", answer="Jupiter")])

    result = run_star(ctx)

    assert result.status == "ok", result
    assert ctx.counts["skipped.tests_do_not_run"] == 1
    per_source = ledger.ledger(ctx.engine)["curve"][0]["per_source"]
    assert (per_source["tests"]["tried"], per_source["tests"]["kept"]) == (1, 1)
    assert (per_source["store"]["tried"], per_source["store"]["kept"]) == (1, 1)  # Jupiter: not checkable
    asked = [r["messages"][-1]["content"] for r in standin.requests()]
    assert len(asked) == 2 and not any("triple" in a or "planet" in a for a in asked)
    rows = {r["provenance"]["problem_source"]: r for r in star_rows(ctx)}
    assert rows["tests"]["messages"][0]["content"] == double and rows["tests"]["provenance"]["problem"].startswith("tests/")


def test_an_endpoint_that_fails_fails_the_run_and_counts_no_problem_as_failed(standin: Any, tmp_path: Path) -> None:
    standin.script({"default": {"status": 503}})
    ctx = star_ctx(tmp_path / "state", star_config(standin.base_url, {"math_problems": str(four_problems(tmp_path))}))

    result = run_star(ctx)

    assert result.status == "failed" and "503" in (result.error or "") and "stays open" in (result.error or "")
    state = ledger.current(ctx.engine)
    assert state is not None and state.finished is None and state.asked == 0 and state.failed == []
    assert ledger.ledger(ctx.engine) == {"curve": [], "failures": {}} and star_rows(ctx) == []


def test_a_stop_request_interrupts_after_a_problem_and_the_next_run_finishes_the_iteration(
        standin: Any, tmp_path: Path) -> None:
    import threading

    standin.script({"default": {**reply("Adding the two numbers gives the total.", "7"), "delay": 0.1}})
    problems = write_jsonl(tmp_path / "math.jsonl", [{"id": i, "problem": f"What is {i} plus {7 - i}?", "answer": "7"}
                                                     for i in range(8)])
    config = star_config(standin.base_url, {"math_problems": str(problems)}, samples=1, chunk=1)
    ctx = star_ctx(tmp_path / "state", config)

    def stop_after_three_requests() -> None:
        deadline = time.monotonic() + 60
        while len(standin.requests()) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        ctx.request_stop()

    threading.Thread(target=stop_after_three_requests, daemon=True).start()

    first = run_star(ctx)

    assert first.status == "interrupted", first
    state = ledger.current(ctx.engine)
    assert state is not None and state.finished is None and 0 < state.asked < 8
    assert ledger.ledger(ctx.engine)["curve"] == []
    second = run_star(star_ctx(tmp_path / "state", config, run_id=2))
    assert second.status == "ok", second
    entry = ledger.ledger(ctx.engine)["curve"][0]
    assert entry["iteration"] == 1 and entry["total"]["tried"] == 8 and len(star_rows(ctx)) == 8
    assert len(standin.requests()) == 8  # every problem asked once over the two runs
