"""Train/validation split by group, and the check that no validation answer is in training text.

Examples that share an origin go to the same side: one git commit (and a review with the commit
that fixed it), one source file for code patterns (a function's implement, explain and test
examples), one session log, one reasoning problem (the same question asked twice, pooled
rationales), one dataset row. Groups are the connected components of these keys, so an example
linking two keys joins their groups. Groups are taken in the order of sha256(seed, group) into
validation until it holds the validation fraction of the records; a group that would overshoot
it by more than a quarter stays in training (large commits and files are under-represented in
validation, never split).

After the split, each validation answer of at least `MIN_WORDS` words is looked for, verbatim
(whitespace-normalised), in the training text, prompts included. A validation group with such
an answer moves to training, and the count before and after is reported in the card.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from typing import Any

from aitherd.export.sample import unit

MIN_WORDS = 8  # shorter answers ("42", "Done.") match by chance; they are not checked
_WS = re.compile(r"\s+")
_FENCE_MARK = re.compile(r"`{3,}[\w+#-]*")


def _norm(text: str) -> str:
    """Lower case, fence markers dropped, whitespace runs as one space."""
    return _WS.sub(" ", _FENCE_MARK.sub(" ", text)).strip().lower()


def _digest(text: str) -> str:
    return hashlib.sha256(_norm(text).encode()).hexdigest()[:16]


def group_keys(ex: dict[str, Any]) -> list[str]:
    """The keys that tie an example to others (see module doc); never empty."""
    prov = ex.get("provenance") or {}
    source = str(ex.get("source") or "")
    keys: list[str] = []
    repo = prov.get("repo") or prov.get("repos") or ""
    if source == "git" or (prov.get("commit") and source != "codegraph"):
        if prov.get("commit"):
            keys.append(f"commit:{repo}:{prov['commit']}")
        if prov.get("fixed_by"):  # a review and the fix that answers it
            keys.append(f"commit:{repo}:{prov['fixed_by']}")
    if source == "codegraph" and prov.get("path"):
        keys.append(f"file:{repo}:{prov['path']}")
    if source == "session" and prov.get("file"):
        # one conversation per line in OpenAI-style JSONL; one session per file otherwise
        per_line = prov.get("format") == "openai"
        keys.append(f"session:{prov['file']}" + (f":{prov.get('line')}" if per_line else ""))
    if source == "corpus" and prov.get("file"):
        keys.append(f"corpus:{prov['file']}:{prov.get('line')}")
    for field in ("uuid", "id", "index", "trace"):
        if prov.get(field) is not None and source.startswith(("hf:", "teacher", "augment", "chronicle")):
            keys.append(f"row:{source}:{prov.get('dataset') or ''}:{prov[field]}")
    if prov.get("from"):  # derived from another example
        keys.append(f"example:{prov['from']}")
    if ex.get("content_hash"):
        keys.append(f"example:{ex['content_hash']}")
    question = next((str(m.get("content") or "") for m in ex.get("messages") or []
                     if m.get("role") == "user"), "")
    if question.strip():  # the same problem or request, whatever the source
        keys.append(f"problem:{_digest(question)}")
    return keys or [f"example:{ex.get('content_hash')}"]


class _Groups:
    """Union-find over keys; a group's name is the smallest key in it (order-independent)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        root = key
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[key] != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, keys: list[str]) -> None:
        roots = sorted({self.find(k) for k in keys})
        for r in roots[1:]:
            self.parent[r] = roots[0]


def assign_groups(records: list[dict[str, Any]]) -> list[str]:
    """The group name of each record (records carry their keys in `_groups`)."""
    groups = _Groups()
    for r in records:
        groups.union(r["_groups"])
    return [groups.find(r["_groups"][0]) for r in records]


def _answer(r: dict[str, Any]) -> str:
    return str(r.get("fim_middle") or "") if r.get("format") == "fim" else str(r.get("_answer_plain") or "")


def _text(r: dict[str, Any]) -> str:
    if r.get("format") == "fim":
        return f"{r.get('fim_prefix', '')}{r.get('fim_middle', '')}{r.get('fim_suffix', '')}"
    return "\n".join(str(m.get("content") or "") for m in r.get("messages") or [])


def verbatim_overlap(validation: list[dict[str, Any]], train: list[dict[str, Any]]) -> set[int]:
    """Indices of validation records whose answer (>= MIN_WORDS words) occurs, whitespace-
    normalised, in the text of a training record. One pass over the training words: a window
    is compared only where it starts with the first words of some answer."""
    anchors: dict[tuple[str, ...], list[tuple[int, str]]] = defaultdict(list)
    for i, r in enumerate(validation):
        words = _norm(_answer(r)).split(" ")
        if len(words) >= MIN_WORDS:
            anchors[tuple(words[:4])].append((i, " ".join(words)))
    if not anchors:
        return set()
    firsts = {a[0] for a in anchors}
    found: set[int] = set()
    for r in train:
        norm = _norm(_text(r))
        words = norm.split(" ")
        for j, w in enumerate(words):
            if w not in firsts:
                continue
            for i, answer in anchors.get(tuple(words[j:j + 4]), ()):
                if i not in found and answer in norm:
                    found.add(i)
    return found


def split(records: list[dict[str, Any]], fraction: float, seed: int | str
          ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """Split by group, then move validation groups whose answers appear in training text."""
    names = assign_groups(records)
    for r, g in zip(records, names, strict=True):
        r["_group"] = g
    sizes = Counter(names)
    n_groups = len(sizes)
    target = max(1, round(fraction * len(records))) if fraction > 0 and n_groups > 1 else 0
    val_groups: set[str] = set()
    count = 0
    for g in sorted(sizes, key=lambda g: (unit(seed, g, "split"), g)):
        if count >= target:
            break
        if count + sizes[g] <= max(1.25 * target, 1):  # a group too big to fit stays in train
            val_groups.add(g)
            count += sizes[g]
    train = [r for r in records if r["_group"] not in val_groups]
    val = [r for r in records if r["_group"] in val_groups]
    checked = sum(len(_norm(_answer(r)).split(" ")) >= MIN_WORDS for r in val)
    first = verbatim_overlap(val, train)
    moved_groups: set[str] = set()
    hits = first
    while hits and val:  # moving a group adds training text: check again against what moved
        moved = {val[i]["_group"] for i in hits}
        moved_groups |= moved
        newly = [r for r in val if r["_group"] in moved]
        val = [r for r in val if r["_group"] not in moved]
        train += newly
        hits = verbatim_overlap(val, newly)
    after = verbatim_overlap(val, train) if moved_groups else set()
    info = {
        "groups": n_groups, "validation_groups": len({r["_group"] for r in val}),
        "answers_checked": checked, "min_words": MIN_WORDS,
        "overlap_before": len(first), "moved_groups": len(moved_groups),
        "moved_records": sum(r["_group"] in moved_groups for r in train),
        "overlap_after": len(after),
    }
    return {"train": train, "validation": val}, info
