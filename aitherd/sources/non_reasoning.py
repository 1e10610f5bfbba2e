"""Non-reasoning examples: questions a model should answer directly, without thinking.

The reasoner's `non_reasoning` share teaches it when not to open a long chain of thought. Its
examples come from:

- configured files (`[sources.reasoner.non_reasoning] files`): JSONL records
  `{"question": ..., "answer": ..., "kind"?: ...}` (`prompt` is accepted for `question`), such as
  short factual questions and answers a team keeps, read incrementally like any log;
- records of the other reasoner sources that carry no reasoning (a chronicle answer, say), which
  those sources already tag `non_reasoning`;
- generated direct questions, to top the share up: simple arithmetic, format and unit
  conversions, lookups in a small table given with the question, and a few conversational turns.
  Each is built from (seed, index) alone, so a rerun yields the same examples (stored once) and a
  watermark records how far generation went; every answer is computed, so it is right.

Never "state the final answer" rewrites of a worked solution: those taught extraction from the
prompt, not answering directly (the export no longer ships the ones already stored).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Engine, text

from aitherd.candidate import Candidate
from aitherd.sources.items import BadInput, Checkpoint, FnSource, Item, Mark
from aitherd.sources.tail import json_objects

if TYPE_CHECKING:
    from aitherd.sources.harvest import Harvest

KINDS = ("arithmetic", "conversion", "lookup", "conversational")


class NonReasoning(BaseModel):
    """[sources.reasoner.non_reasoning]"""

    model_config = ConfigDict(extra="forbid")

    share: float = Field(default=0.10, ge=0, lt=1)
    # Top the share up with generated direct questions (arithmetic, conversions, lookups,
    # conversational turns) when the sources bring too few.
    derive: bool = True
    # JSONL files of direct questions and their answers ({"question", "answer", "kind"?}).
    files: list[str] = Field(default_factory=list)
    seed: int = 0


def shortfall(engine: Engine, share: float) -> int:
    """How many non_reasoning examples the reasoner corpus lacks to reach `share`."""
    with engine.connect() as conn:
        counts: dict[Any, int] = dict(conn.execute(text(
            "SELECT category = 'non_reasoning', count(*) FROM example WHERE specialist = 'reasoner' "
            "AND status = 'accepted' AND source != 'derived:final_answer' GROUP BY 1")).all())
    reasoning, plain = counts.get(0, 0), counts.get(1, 0)
    return max(0, math.ceil(share / (1 - share) * reasoning) - plain)


def _candidate(question: str, answer: str, kind: str, provenance: dict[str, Any]) -> Candidate:
    return Candidate("reasoner", "non_reasoning", [{"role": "user", "content": question},
                                                   {"role": "assistant", "content": answer}],
                     source=f"non_reasoning:{kind}", answer=answer, provenance=provenance)


def read_file(path: Path, mark: Mark) -> Iterator[Item]:
    """A candidate (or what is wrong, with file:line) per new record of a questions file."""
    for got in json_objects(path, mark or None):
        if not isinstance(got, tuple):
            yield got  # a blank or malformed line's items
            continue
        line_no, record, new_mark = got
        question = str(record.get("question") or record.get("prompt") or "").strip()
        answer = str(record.get("answer") or "").strip()
        if not question or not answer:
            yield BadInput(f"{path}:{line_no}", "needs 'question' and 'answer'")
        else:
            kind = str(record.get("kind") or "file").strip().lower().replace(" ", "_")
            yield _candidate(question, answer, kind, {"file": str(path), "line": line_no})
        yield Checkpoint(new_mark)


# -- generated direct questions -----------------------------------------------------------------

def _arithmetic(rng: random.Random) -> tuple[str, str]:
    a, b = rng.randint(2, 999), rng.randint(2, 99)
    form = rng.randrange(6)
    if form == 0:
        return rng.choice(["What is {a} + {b}?", "Add {a} and {b}.", "{a} + {b} = ?"]).format(a=a, b=b), str(a + b)
    if form == 1:
        return rng.choice(["What is {a} - {b}?", "Subtract {b} from {a}."]).format(a=a, b=b), str(a - b)
    if form == 2:
        a = rng.randint(2, 99)
        ask = rng.choice(["What is {a} times {b}?", "Multiply {a} by {b}.", "{a} × {b} = ?"])
        return ask.format(a=a, b=b), str(a * b)
    if form == 3:
        q = rng.randint(2, 99)
        return f"What is {q * b} divided by {b}?", str(q)
    if form == 4:
        pct, base = rng.choice([5, 10, 20, 25, 50, 75]), rng.randint(1, 40) * 20
        return f"What is {pct}% of {base}?", f"{pct * base / 100:g}"
    n = rng.randint(2, 30)
    return f"What is {n} squared?", str(n * n)


_CASES = ["user_name", "max_retry_count", "http_status_code", "parse_config_file", "last_seen_at",
          "order_total", "is_enabled", "file_size_bytes", "retry_after_seconds", "api_base_url"]


def _conversion(rng: random.Random) -> tuple[str, str]:
    form = rng.randrange(7)
    if form == 0:
        km = rng.randint(1, 500)
        return f"Convert {km} km to metres.", f"{km * 1000} m"
    if form == 1:
        h = rng.randint(1, 48)
        return f"How many minutes are in {h} hours?", f"{h * 60} minutes"
    if form == 2:
        n = rng.randint(10, 4095)
        if rng.random() < 0.5:
            return f"Convert {n} to hexadecimal.", hex(n)
        return f"What is {hex(n)} in decimal?", str(n)
    if form == 3:
        n = rng.randint(2, 255)
        return f"Write {n} in binary.", bin(n)[2:]
    if form == 4:
        name = rng.choice(_CASES)
        head, *rest = name.split("_")
        return f"Convert `{name}` to camelCase.", head + "".join(w.capitalize() for w in rest)
    if form == 5:
        day = date(2020, 1, 1) + timedelta(days=rng.randint(0, 2500))
        return (f"Write the date {day.isoformat()} in the format DD/MM/YYYY.", day.strftime("%d/%m/%Y"))
    c = rng.randint(-8, 20) * 5
    return f"Convert {c} °C to Fahrenheit.", f"{c * 9 // 5 + 32} °F"


_TABLES = [
    ("service", "port", ["api", "auth", "billing", "search", "metrics", "gateway", "mailer", "cache"],
     lambda r: str(r.choice([80, 443, 5432, 6379, 8000, 8080, 8443, 9090, 9200, 3000]))),
    ("employee", "team", ["Ana", "Bo", "Chen", "Dara", "Eli", "Farah", "Goran", "Hana"],
     lambda r: r.choice(["platform", "data", "mobile", "security", "payments", "search"])),
    ("city", "time zone", ["Lisbon", "Nairobi", "Osaka", "Lima", "Oslo", "Perth", "Denver", "Pune"],
     lambda r: r.choice(["UTC+0", "UTC+1", "UTC+3", "UTC+5:30", "UTC+8", "UTC+9", "UTC-5", "UTC-7"])),
]


def _lookup(rng: random.Random) -> tuple[str, str]:
    key, value, names, pick = rng.choice(_TABLES)
    rows = rng.sample(names, rng.randint(4, 6))
    values = {n: pick(rng) for n in rows}
    asked = rng.choice(rows)
    table = "\n".join([f"| {key} | {value} |", "|---|---|", *(f"| {n} | {values[n]} |" for n in rows)])
    return f"{table}\n\nWhat is the {value} of {asked}?", values[asked]


_CONVERSATIONAL = [
    ("Thanks, that fixed it!", "Glad it helped!"),
    ("Hi there.", "Hello! What can I help you with?"),
    ("Good morning!", "Good morning! What are you working on today?"),
    ("Please keep your answers short from now on.", "Understood, I'll keep them short."),
    ("Never mind, I figured it out.", "Great, glad you sorted it out."),
    ("Are you still there?", "Yes, I'm here. What do you need?"),
    ("That's all for today, thanks.", "You're welcome. Have a good day!"),
    ("Can you answer in English only?", "Yes, I'll answer in English."),
    ("Sorry, I pasted the wrong file.", "No problem. Send the right one when you're ready."),
    ("Perfect, exactly what I needed.", "Great to hear!"),
    ("Wait, let me check something first.", "Sure, take your time."),
    ("ok", "Okay. Let me know if there's anything else."),
]

_GENERATORS = {"arithmetic": _arithmetic, "conversion": _conversion, "lookup": _lookup}


def generated(seed: int, start: int) -> Iterator[tuple[int, Candidate]]:
    """(index, direct question) from index `start` on, forever. Conversational turns come
    first (each once), then the other kinds in rotation."""
    k = start
    while True:
        if k < len(_CONVERSATIONAL):
            (question, answer), kind = _CONVERSATIONAL[k], "conversational"
        else:
            kind = ("arithmetic", "conversion", "lookup")[k % 3]
            question, answer = _GENERATORS[kind](random.Random(f"{seed}:{k}"))
        yield k, _candidate(question, answer, kind, {"generator": kind, "index": k})
        k += 1


def topped_up(seed: int, need: int, mark: Mark) -> Iterator[Item]:
    """The next `need` generated questions after the mark, each its own group."""
    start = int(mark.get("next", 0))
    for k, cand in generated(seed, start):
        if k >= start + need:
            return
        yield cand
        yield Checkpoint({"next": k + 1})


def harvest(h: Harvest, engine: Engine, cfg: NonReasoning, limit: int = 10_000) -> None:
    """Run the configured question files, then top the share up with generated questions."""
    for name in cfg.files:
        if h.stopped:
            return
        path = Path(name).expanduser()
        if not path.is_file():
            h.ctx.count("errors.non_reasoning")
            h.errors.append(f"non_reasoning: {path}: no such file")
            continue
        h.run(FnSource("non_reasoning", str(path), functools.partial(read_file, path)))
    if cfg.derive and not h.stopped:
        need = min(limit, shortfall(engine, cfg.share))
        if need:
            h.run(FnSource("non_reasoning", "generated", functools.partial(topped_up, cfg.seed, need)))
