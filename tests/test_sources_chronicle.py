"""Reasoning-trace logs: incremental reads, rotation, truncation, mapping and rejections."""

from __future__ import annotations

import json
import os
import time

from items_util import last_mark, outputs

from aitherd.export.families import FAMILIES
from aitherd.sources.chronicle import ChronicleMapping, harvest_file
from aitherd.sources.tail import read_lines
from aitherd.think import split, unwrap


def test_incremental_reads_leave_partial_lines_and_survive_rotation_and_truncation(tmp_path):
    log = tmp_path / "trace.jsonl"
    log.write_bytes(b'{"a": 1}\n{"a": 2}\n{"a": 3')
    got = list(read_lines(log, None))
    assert [line for _, line, _ in got] == [b'{"a": 1}', b'{"a": 2}']
    mark = got[-1][2]
    with open(log, "ab") as fh:
        fh.write(b'}\n{"a": 4}\n')
    assert [(n, line) for n, line, _ in read_lines(log, mark)] == [(3, b'{"a": 3}'), (4, b'{"a": 4}')]
    log.write_bytes(b'{"b": 1}\n')  # truncated and rewritten: same inode, smaller size
    assert [line for _, line, _ in read_lines(log, {"inode": os.stat(log).st_ino, "offset": 40})] == [b'{"b": 1}']
    rotated = tmp_path / "trace.jsonl.1"
    os.rename(log, rotated)
    log.write_bytes(b'{"c": 1}\n')  # a new file under the old name
    assert [line for _, line, _ in read_lines(log, {"inode": os.stat(rotated).st_ino, "offset": 9})] == [b'{"c": 1}']


def test_mapping_rejections_and_non_reasoning_records(tmp_path):
    log = tmp_path / "agent.jsonl"
    records = [
        {"task": {"text": "Plan a trip"}, "thoughts": ["step one", "step two"], "final": "Go by train",
         "kind": "planning", "run": "r1"},
        {"task": "Is 7 prime?", "thoughts": ["check divisors"], "final": None, "run": "r2"},
        {"task": "Sort these", "thoughts": ["<think>start"], "final": "1 2 3", "run": "r3"},
        {"task": "Count", "thoughts": ["1, 2"], "final": "2", "state": "truncated", "run": "r4"},
        {"task": "Capital of France?", "final": "Paris", "run": "r5"},
    ]
    log.write_text("\n".join(json.dumps(r) for r in records) + "\nnot json\n")
    mapping = ChronicleMapping(prompt="task", reasoning="thoughts", answer="final", category="kind",
                               status="state", id="run")
    out = outputs(harvest_file(log, None, mapping))
    plan, no_end, unbalanced, cut, plain, bad = out
    assert plan.status == "accepted" and plan.category == "planning"
    assert plan.reasoning == "step one\nstep two" and plan.provenance["trace"] == "r1"
    assert no_end.reason == "no_conclusion" and unbalanced.reason == "cut_off"
    assert cut.reason == "cut_off" and cut.curation["cut_off"] == {"status": "truncated"}
    assert plain.category == "non_reasoning" and plain.status == "accepted" and plain.reasoning is None
    assert bad.endswith(":6: malformed line: Expecting value: line 1 column 1 (char 0)")


def test_a_last_line_without_newline_is_read_once_the_file_is_quiet(tmp_path):
    log = tmp_path / "trace.jsonl"
    log.write_bytes(b'{"a": 1}\n{"a": 2}')
    assert [n for n, _, _ in read_lines(log, None, settle=60)] == [1]  # just written: wait
    old = time.time() - 120
    os.utime(log, (old, old))
    got = list(read_lines(log, None, settle=60))
    assert [(n, line) for n, line, _ in got] == [(1, b'{"a": 1}'), (2, b'{"a": 2}')]
    assert list(read_lines(log, got[-1][2], settle=60)) == []  # read once
    with open(log, "ab") as fh:  # the writer comes back: its newline closes the line read
        fh.write(b'\n{"a": 3}\n')
    assert [(n, line) for n, line, _ in read_lines(log, got[-1][2], settle=60)] == [(3, b'{"a": 3}')]
    assert [n for n, _, _ in read_lines(log, None)] == [1, 2, 3]  # without settle: as before


def test_the_last_trace_record_is_harvested_and_counted(tmp_path):
    log = tmp_path / "agent.jsonl"
    log.write_text(json.dumps({"prompt": "p1", "reasoning": "r", "answer": "1"}) + "\n" +
                   json.dumps({"prompt": "p2", "reasoning": "r", "answer": "2"}))
    old = time.time() - 120
    os.utime(log, (old, old))
    items = list(harvest_file(log, None, ChronicleMapping(), settle=60))
    assert [c.answer for c in outputs(items)] == ["1", "2"] and last_mark(items)["line"] == 2


def test_think_tags_are_taken_off_at_the_source_even_nested(tmp_path):
    assert unwrap("<think>\n<think>a\n</think>\n</think>") == "a"
    assert unwrap("<think>a</think> then <think>b</think>") == "<think>a</think> then <think>b</think>"
    assert split("<think>x <think>y</think></think>\n\nAnswer: 1") == ("x <think>y</think>", "Answer: 1")
    assert split("worked it out</think>\n42") == ("worked it out", "42")
    assert split("<think>never closed") == (None, "<think>never closed")
    log = tmp_path / "t.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in [
        {"prompt": "p", "reasoning": "<think>\n<think>add them</think>\n</think>", "answer": "3"},
        {"prompt": "q", "answer": "<think>count</think>\n\n4"},
        {"prompt": "r", "reasoning": "<think>cut", "answer": "5"}]) + "\n")
    wrapped, inline, cut = outputs(harvest_file(log, None, ChronicleMapping()))
    assert (wrapped.reasoning, wrapped.messages[1]["content"], wrapped.status) == ("add them", "3", "accepted")
    assert (inline.reasoning, inline.answer, inline.category) == ("count", "4", "logic")
    assert cut.reason == "cut_off"
    exported = FAMILIES["deepseek-r1-distill-qwen"].wrap(wrapped.reasoning, wrapped.messages[1]["content"])
    assert exported == "<think>\nadd them\n</think>\n\n3"  # wrapped once, by the export
