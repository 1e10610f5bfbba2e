"""MCTS exploration trees become planning examples; bad trees are rejected or counted."""

from __future__ import annotations

import json
from pathlib import Path

from aitherd.sources.mcts import harvest_file

EXAMPLE = Path(__file__).resolve().parents[1] / "etc" / "examples" / "mcts-tree.json"


def test_the_documented_example_becomes_a_plan_with_alternatives():
    [cand] = list(harvest_file(EXAMPLE))
    assert cand.status == "accepted" and cand.category == "planning" and cand.source == "mcts"
    plan = cand.messages[1]["content"]
    assert plan.startswith("Plan:\n1. Add the column as nullable with a default\n"
                           "2. Backfill in batches of 10k rows\n"
                           "3. Deploy code that writes the column, then add NOT NULL")
    assert "Outcome: Constraint in place, no downtime." in plan
    first = cand.reasoning.splitlines()[0]
    assert "considered Apply the migration in place during traffic (value 0.05, 2 visits, pruned: " \
           "locks the orders table for minutes)" in first
    assert "Backfill in one UPDATE (value 0.30, 3 visits)" in cand.reasoning.splitlines()[1]
    assert cand.provenance == {"file": str(EXAMPLE), "at": 0, "tree": "deploy-0001"}


def test_unfinished_and_malformed_trees_are_rejected_or_counted(tmp_path):
    trees = tmp_path / "trees.jsonl"
    cut_off = {"task": "t", "root": {"children": [
        {"action": "a", "visits": 3, "children": [{"action": "b", "visits": 1}]},
        {"action": "z", "visits": 1, "terminal": True}]}}
    lines = [json.dumps({"task": "never expanded", "root": {"state": "s"}}),
             json.dumps(cut_off), "{not json", json.dumps({"root": {}}),
             json.dumps({"task": "ok", "answer": "42", "root": {"children": [{"action": "x"}]}})]
    trees.write_text("\n".join(lines) + "\n")
    out = list(harvest_file(trees))
    errors = [o for o in out if isinstance(o, str)]
    cands = [o for o in out if not isinstance(o, str)]
    assert [c.reason for c in cands] == ["incomplete", "incomplete", None]
    assert "line 3: not JSON" in errors[0] and "tree at 4: task: Field required" in errors[1]
    assert cands[2].answer == "42" and "Outcome: 42" in cands[2].messages[1]["content"]


def test_a_tree_whose_every_path_is_pruned_is_rejected_not_planned_through_a_pruned_node(tmp_path):
    trees = tmp_path / "trees.jsonl"
    dead = {"task": "Pick a database", "root": {"children": [
        {"action": "Compare the options", "visits": 9, "children": [
            {"action": "Postgres", "visits": 5, "pruned": True, "reason": "license?"},
            {"action": "MySQL", "visits": 3, "pruned": True, "reason": "no JSON"}]},
        {"action": "Ask the team", "visits": 2, "pruned": True}]}}
    detour = {"task": "Ship it", "answer": "shipped", "root": {"children": [
        {"action": "Big bang", "visits": 9, "children": [{"action": "Pray", "visits": 9, "pruned": True}]},
        {"action": "Canary first", "visits": 4, "children": [{"action": "Then everyone", "visits": 3}]}]}}
    trees.write_text(json.dumps(dead) + "\n" + json.dumps(detour) + "\n")
    rejected, planned = harvest_file(trees)
    assert rejected.reason == "all_pruned" and "Postgres" not in rejected.messages[1]["content"]
    assert "Postgres (value 0.00, 5 visits, pruned: license?)" in rejected.curation["all_pruned"]["detail"]
    assert planned.status == "accepted"
    assert planned.messages[1]["content"].startswith("Plan:\n1. Canary first\n2. Then everyone")
    assert "Pray" not in planned.messages[1]["content"]
