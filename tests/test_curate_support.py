"""Helpers shared by the curation tests: benchmark paths, configs, candidates, a store."""

from __future__ import annotations

from typing import Any

from aitherd.candidate import Candidate
from aitherd.curate import CurationConfig, DecontamConfig


def decontam_config(**kw: Any) -> DecontamConfig:
    """The defaults screen against the benchmark copies aitherd ships (aitherd.benchmarks)."""
    return DecontamConfig(**kw)


def config(**sections: Any) -> CurationConfig:
    sections.setdefault("decontam", decontam_config())
    return CurationConfig(**sections)


def coder(user: str, reply: str, **kw: Any) -> Candidate:
    return Candidate(specialist="coder", category=kw.pop("category", "instruction"),
                     messages=[{"role": "user", "content": user},
                               {"role": "assistant", "content": reply}],
                     source=kw.pop("source", "test"), **kw)


def reasoner(question: str, reasoning: str, answer: str, **kw: Any) -> Candidate:
    return Candidate(specialist="reasoner", category=kw.pop("category", "math"),
                     messages=[{"role": "user", "content": question},
                               {"role": "assistant", "content": f"The answer is {answer}."}],
                     reasoning=reasoning, answer=answer, source=kw.pop("source", "test"), **kw)


CLEAN_CODE = [
    ("Write a function that merges two sorted lists of ints.",
     "```python\ndef merge_sorted(a, b):\n    out, i, j = [], 0, 0\n    while i < len(a) and j < len(b):\n"
     "        if a[i] <= b[j]:\n            out.append(a[i]); i += 1\n        else:\n"
     "            out.append(b[j]); j += 1\n    return out + a[i:] + b[j:]\n```"),
    ("Parse a config file of key=value lines into a dict, skipping comments.",
     "```python\ndef parse_config(path):\n    result = {}\n    with open(path) as fh:\n"
     "        for line in fh:\n            line = line.strip()\n            if not line or line.startswith('#'):\n"
     "                continue\n            key, _, value = line.partition('=')\n"
     "            result[key.strip()] = value.strip()\n    return result\n```"),
    ("Add retry with exponential backoff around an HTTP GET using urllib.",
     "```python\nimport time, urllib.request\n\ndef fetch(url, tries=5):\n    delay = 0.5\n"
     "    for attempt in range(tries):\n        try:\n            return urllib.request.urlopen(url).read()\n"
     "        except OSError:\n            time.sleep(delay)\n            delay *= 2\n"
     "    raise RuntimeError(f'{url}: gave up after {tries} tries')\n```"),
]
