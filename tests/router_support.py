"""Helpers for the router tests and bench/router.py: the labelled request sets, requests built
from them, and a store of labelled examples for `router_train`.

`router_requests.jsonl`: 60 requests (coding, math, logic, planning, chit-chat, and explicit
effort) with the route each should take and why; the heuristic was written beside it.
`router_requests_fresh.jsonl`: 30 more, written after the heuristic was frozen and never used
to tune it: the honest estimate of the heuristic on requests it has not seen.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from aitherd.candidate import Candidate
from aitherd.store.examples import insert_candidates

TESTS = Path(__file__).resolve().parent
LABELLED = TESTS / "router_requests.jsonl"
FRESH = TESTS / "router_requests_fresh.jsonl"


def labelled(path: Path = LABELLED) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def request_of(item: dict[str, Any], model: str = "auto") -> tuple[str, dict[str, Any], dict[str, str]]:
    """(path, body, headers) for a labelled item."""
    if item["endpoint"] == "chat":
        messages = [{"role": "system", "content": item["system"]}] if item.get("system") else []
        path, body = "/v1/chat/completions", {"model": model, "max_tokens": 8,
                                              "messages": [*messages, {"role": "user", "content": item["text"]}]}
    else:
        path, body = "/v1/completions", {"model": model, "max_tokens": 8, "prompt": item["text"]}
    for key in ("suffix", "reasoning_effort", "metadata"):
        if key in item:
            body[key] = item[key]
    return path, body, dict(item.get("headers", {}))


# -- a store of labelled examples ------------------------------------------------------------------
_NAMES = ["parse_config", "merge_dicts", "load_users", "retry", "slugify", "chunk", "flatten", "dedupe",
          "read_csv", "top_k", "normalize", "render_table", "send_email", "cache_get", "walk_tree"]
_LANGS = ["Python", "TypeScript", "Go", "Rust", "Java", "Bash", "SQL"]
_TASKS = ["reads a file and returns its lines", "groups records by a key", "retries a call with backoff",
          "validates an email address", "merges two sorted lists", "parses a date string",
          "counts words in a text", "paginates query results", "hashes a password", "streams a large file"]
_ERRORS = ["TypeError: 'NoneType' object is not subscriptable", "KeyError: 'id'",
           "IndexError: list index out of range", "AttributeError: 'dict' object has no attribute 'items_'",
           "ModuleNotFoundError: No module named 'requests'", "panic: runtime error: index out of range",
           "undefined is not a function", "error[E0382]: borrow of moved value"]
_THINGS = ["apples", "marbles", "books", "tickets", "coins", "cookies", "pencils", "stamps"]
_PEOPLE = ["Ana", "Ben", "Chloe", "Dev", "Eli", "Farah", "Gus", "Hana"]
_SMALL = ["hi there", "good morning", "thanks a lot", "how are you doing today", "tell me a joke",
          "what's a nice name for a dog", "recommend a podcast", "translate hello into Spanish",
          "write a two-line birthday message", "summarize: the meeting moved to Friday"]


def _text(label: str, rng: random.Random) -> str:
    name, lang, task = rng.choice(_NAMES), rng.choice(_LANGS), rng.choice(_TASKS)
    a, b, c = rng.randint(2, 90), rng.randint(2, 90), rng.randint(2, 12)
    who, what = rng.choice(_PEOPLE), rng.choice(_THINGS)
    if label == "coder/instruction":
        return rng.choice([f"Write a {lang} function `{name}` that {task}.",
                           f"Implement `{name}` in {lang}: it {task}. Add type hints.",
                           f"Create a {lang} module with a function that {task}, and a small CLI around it."])
    if label == "coder/debugging":
        return rng.choice([f"My {lang} code fails with `{rng.choice(_ERRORS)}` in `{name}`. Why?",
                           f"Fix this bug:\n```\ndef {name}(xs):\n    return xs[{a}]\n```\n{rng.choice(_ERRORS)}",
                           f"Traceback (most recent call last):\n  File \"{name}.py\", line {a}\n{rng.choice(_ERRORS)}\nHow do I fix it?"])
    if label == "reasoner/math":
        return rng.choice([f"{who} has {a} {what} and buys {b} more, then gives away a third of them. How many {what} are left?",
                           f"Solve for x: {c}x + {a} = {b * c}. Show each step.",
                           f"What is the probability of drawing {c % 4 + 1} red {what} from a bag of {a} red and {b} blue?",
                           f"Prove that the sum of the first {a} odd numbers is {a}^2."])
    if label == "reasoner/logic":
        return rng.choice([f"{who} says {rng.choice(_PEOPLE)} is a knave; knights always tell the truth. Who is lying?",
                           f"If every {what[:-1]} is red and some red things are round, must some {what} be round? Reason it out.",
                           f"Three boxes hold {what}, one label is true and {c} statements are false. Which box holds the {what}?"])
    if label == "reasoner/planning":
        return rng.choice([f"Schedule {c} tasks over {a % 5 + 2} days; task A must be before B and no day may hold more than {c // 2 + 1}. Find a valid plan.",
                           f"Plan a route visiting {c} cities with at most {a} km a day, and the museum must come before the port.",
                           f"Assign {c} engineers to {b % 6 + 2} projects so nobody has more than two and project {name} needs two people."])
    if label == "reasoner/non_reasoning":
        return rng.choice([f"Question: {who} has {a} {what}.\n\nWorked solution:\nAdding gives {a + b}.\n\nState the final answer only, with no explanation.",
                           rng.choice(_SMALL), f"{rng.choice(_SMALL)}, {who.lower()}"])
    raise ValueError(label)


LABELS = ("coder/instruction", "coder/debugging", "reasoner/math", "reasoner/logic", "reasoner/planning",
          "reasoner/non_reasoning")


def fill_store(engine: Any, per_label: int, seed: int = 0, labels: tuple[str, ...] = LABELS) -> int:
    """Accepted examples with varied text for each label, and one rejected one that is never used."""
    rng = random.Random(seed)
    cands = []
    for label in labels:
        spec, cat = label.split("/")
        for _ in range(per_label):
            text = _text(label, rng) + f" (#{rng.randint(0, 10**6)})"
            cands.append(Candidate(spec, cat, [{"role": "user", "content": text},
                                               {"role": "assistant", "content": "ok"}], source="corpus"))
    bad = Candidate("coder", "review", [{"role": "user", "content": "Write a poem about the sea."},
                                        {"role": "assistant", "content": "ok"}], source="corpus")
    bad.reject("low_quality")
    inserted, _ = insert_candidates(engine, [*cands, bad])
    return inserted - 1
