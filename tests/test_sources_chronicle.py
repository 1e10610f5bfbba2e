"""Reasoning-trace logs: incremental reads, rotation, truncation, mapping and rejections."""

from __future__ import annotations

import json
import os

from aitherd.sources.chronicle import ChronicleMapping, harvest_file
from aitherd.sources.tail import read_lines
from items_util import outputs


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
