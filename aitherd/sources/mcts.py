"""MCTS exploration trees -> planning examples.

Input: a JSON file holding one tree or a list of trees, or JSONL with one tree per line:

    {"id": "plan-17", "task": "what was to be solved", "answer": "optional outcome",
     "root": {"state": "...", "children": [
        {"action": "...", "state": "...", "value": 0.8, "visits": 12, "pruned": false,
         "terminal": false, "reason": "why pruned (optional)", "children": [...]}]}}

The chosen path follows, from the root, the most visited child (ties by value) through which a
plan can go: not pruned, and either a leaf, a terminal node, or with such a child in turn. It
becomes the plan. Every other child along the way is summarised as a considered alternative in
the chain of thought, with its value, visits and why it was pruned. A tree in which every path
goes through a pruned node has no plan: it is rejected (`all_pruned`), never linearised through
a pruned node.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aitherd.candidate import Candidate


class Node(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: str | None = None
    state: str | None = None
    value: float = 0.0
    visits: int = Field(default=0, ge=0)
    pruned: bool = False
    terminal: bool = False
    reason: str | None = None
    children: list[Node] = Field(default_factory=list)


class Tree(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str | None = None
    task: str = Field(min_length=1)
    answer: str | None = None
    root: Node


def _describe(node: Node) -> str:
    text = f"{node.action} (value {node.value:.2f}, {node.visits} visits"
    if node.pruned:
        text += ", pruned" + (f": {node.reason}" if node.reason else "")
    return text + ")"


def _viable(node: Node, memo: dict[int, bool]) -> bool:
    """A plan can go through `node`: not pruned, and a leaf, terminal, or with a viable child."""
    if id(node) not in memo:
        memo[id(node)] = not node.pruned and (node.terminal or not node.children
                                              or any(_viable(c, memo) for c in node.children))
    return memo[id(node)]


def _blockers(node: Node) -> Iterator[Node]:
    """The pruned nodes that cut off every path below `node`."""
    for child in node.children:
        if child.pruned:
            yield child
        else:
            yield from _blockers(child)


def linearise(tree: Tree, provenance: dict[str, Any]) -> Candidate:
    """The planning example for one tree; rejected (with a reason) when there is no plan."""
    steps: list[tuple[Node, list[Node]]] = []
    node, memo = tree.root, dict[int, bool]()
    dead_end: Node | None = None
    while node.children:
        live = [c for c in node.children if _viable(c, memo)]
        if not live:
            dead_end = None if node.terminal else node
            break
        best = max(live, key=lambda c: (c.visits, c.value))
        steps.append((best, [c for c in node.children if c is not best]))
        node = best
    reasoning_lines = []
    for i, (chosen, others) in enumerate(steps, 1):
        line = f"Step {i}: "
        if others:
            line += "considered " + "; ".join(_describe(o) for o in others) + ". "
        line += f"Chose {_describe(chosen)}"
        if chosen.state:
            line += f", reaching: {chosen.state}"
        reasoning_lines.append(line + ".")
    plan = "\n".join(f"{i}. {chosen.action}" for i, (chosen, _) in enumerate(steps, 1))
    outcome = tree.answer or (steps[-1][0].state if steps else None)
    reply = "Plan:\n" + plan + (f"\n\nOutcome: {outcome}" if outcome else "")
    cand = Candidate("reasoner", "planning", [{"role": "user", "content": tree.task},
                                               {"role": "assistant", "content": reply}],
                     source="mcts", provenance=provenance, reasoning="\n".join(reasoning_lines),
                     answer=tree.answer)
    if dead_end is not None:
        cand.reject("all_pruned", detail="every path goes through a pruned node: "
                    + "; ".join(_describe(c) for c in _blockers(dead_end)))
    elif not steps:
        cand.reject("incomplete", detail="the tree was never expanded: no plan")
    elif any(c.action is None for c, _ in steps):
        cand.reject("malformed", detail="a node on the chosen path has no action")
    elif not node.terminal and not tree.answer and _declares_terminals(tree.root):
        cand.reject("incomplete", detail="the chosen path ends before a terminal node")
    return cand


def _declares_terminals(node: Node) -> bool:
    return node.terminal or any(_declares_terminals(c) for c in node.children)


def read_trees(path: Path) -> Iterator[tuple[int, Tree | str]]:
    """(line or index, tree) for each tree in the file, or (where, error) for a bad one."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".jsonl":
        items: list[tuple[int, Any]] = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((n, json.loads(line)))
            except ValueError as err:
                yield n, f"line {n}: not JSON: {err}"
    else:
        try:
            data = json.loads(text)
        except ValueError as err:
            yield 0, f"not JSON: {err}"
            return
        items = list(enumerate(data if isinstance(data, list) else [data]))
    for where, item in items:
        try:
            yield where, Tree.model_validate(item)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            yield where, f"tree at {where}: {loc}: {first['msg']}"


def harvest_file(path: Path) -> Iterator[Candidate | str]:
    """Candidates from one exploration file; a string is an error to count, with where."""
    for where, tree in read_trees(path):
        if isinstance(tree, str):
            yield f"{path}: {tree}"
            continue
        yield linearise(tree, {"file": str(path), "at": where, "tree": tree.id})
