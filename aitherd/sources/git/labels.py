"""Commit classes from an LLM (any OpenAI-compatible endpoint), cached by commit sha.

Asked only for commits without a conventional prefix. The answer is kept in a SQLite file
(`git-labels.sqlite` in the state dir) keyed by sha and model, so a commit is asked about once
however often it is mined (a resume, a rewritten-history fallback, a second ref). An endpoint
that fails is counted and the commit falls back to the repo's classifier, the cross-repo prior
or the rules; a spent token cap stops asking for the rest of the run.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from aitherd.sources.git.classify import CLASSES, Shape
from aitherd.sources.git.parse import Commit

_SYNONYMS = {"fix": "bugfix", "bug": "bugfix", "feat": "feature", "doc": "docs", "documentation": "docs",
             "tests": "test", "build": "chore", "ci": "chore", "perf": "refactor", "style": "refactor"}
_ANSWER = re.compile(r"[a-z]+")

PROMPT = """Classify this git commit as exactly one of: bugfix, feature, refactor, test, docs, chore.
- bugfix: corrects wrong behaviour; feature: adds or changes behaviour on purpose;
- refactor: same behaviour, better code (renames, cleanup, speed, style);
- test: only tests; docs: only documentation; chore: build, CI, dependencies, packaging.
Answer with the one word only.

Message:
{message}

Files changed:
{paths}

Diff excerpt:
{diff}"""


def parse_answer(text: str) -> str | None:
    for word in _ANSWER.findall(text.lower()):
        word = _SYNONYMS.get(word, word)
        if word in CLASSES:
            return word
    return None


class LLMLabels:
    def __init__(self, endpoint: dict[str, Any], cache_path: str | None) -> None:
        from aitherd.llm import ChatClient, EndpointConfig

        cfg = EndpointConfig(**endpoint)
        self.client = ChatClient(cfg)
        self.model = cfg.model
        self.spent = False
        self.last_error: str | None = None
        self.db = sqlite3.connect(cache_path or ":memory:", timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS label (sha TEXT, model TEXT, label TEXT, "
                        "PRIMARY KEY (sha, model))")
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def cached(self, sha: str) -> str | None:
        row = self.db.execute("SELECT label FROM label WHERE sha = ? AND model = ?", (sha, self.model)).fetchone()
        return row[0] if row else None

    def label(self, commit: Commit, shape: Shape) -> str | None:
        from aitherd.llm import LLMError, SpendCapReached

        self.last_error = None
        if (hit := self.cached(commit.sha)) is not None:
            return hit
        if self.spent:
            return None
        diff = "\n".join(h.diff() for h in commit.hunks)[:3000]
        prompt = PROMPT.format(message=commit.message[:2000], paths="\n".join(shape.paths[:30]) or "(none)",
                               diff=diff or "(none)")
        try:
            reply = self.client.complete([{"role": "user", "content": prompt}], temperature=0)
        except SpendCapReached as exc:
            self.spent, self.last_error = True, str(exc)
            return None
        except LLMError as exc:
            self.last_error = str(exc)
            return None
        found = parse_answer(reply.text)
        if found is None:
            self.last_error = f"no class in the answer {reply.text[:60]!r}"
            return None
        self.db.execute("INSERT OR REPLACE INTO label VALUES (?, ?, ?)", (commit.sha, self.model, found))
        self.db.commit()
        return found
