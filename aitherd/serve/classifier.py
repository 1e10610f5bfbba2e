"""The learned router classifier, daemon side: hashed n-gram features and a linear model in JSON.

Pure Python (no numpy, no scikit-learn) so the daemon stays light: `router_train` (a job worker)
fits the weights and writes them here as plain JSON; the daemon only adds them up.

Features (`features`): the text lower-cased and cut to `TEXT_LIMIT` characters, split into word,
number and single-symbol tokens (symbols matter for code: `{`, `;`, `=>`), numbers folded to
their digit count; every token and every pair of neighbouring tokens, plus markers for
fill-in-the-middle and the text's size, hashed with CRC-32 into 2^bits buckets. A feature
counts once per text (binary), so a long paste does not drown the rest.

The model file (`FORMAT`): `labels` (specialist/category), `routes` (label -> orchestrator,
coder or reasoner), `bias` per label, `index` (bucket numbers) and `weights` (one row per
bucket, one weight per label); a score is the bias plus the weights of the buckets present, and
the softmax of the scores gives each label's probability. `validation` carries the held-out
figures the trainer measured; `use` says whether the learned model beat the heuristic there.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import zlib
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMAT = "aitherd-router-linear/1"
TEXT_LIMIT = 4000
MAX_TOKENS = 500
_TOKEN = re.compile(r"[a-z_][a-z0-9_]*|\d+|[^\sa-z0-9_]")
CATEGORY_ROUTES = {
    "coder": "coder",  # every coder category
    "reasoner/non_reasoning": "orchestrator",
    "reasoner": "reasoner",  # math, logic, planning, code (problems solved with a long chain of thought)
}


def route_of(label: str) -> str:
    """The route for a `specialist/category` label."""
    return CATEGORY_ROUTES.get(label) or CATEGORY_ROUTES.get(label.split("/", 1)[0], "orchestrator")


def is_code_label(label: str) -> bool:
    return label.startswith("coder/") or label == "reasoner/code"


def features(text: str, fim: bool = False, bits: int = 18) -> list[int]:
    """Sorted distinct bucket numbers for a text."""
    mask = (1 << bits) - 1
    text = text[:TEXT_LIMIT].lower()
    toks = [f"#{len(t)}" if t.isdigit() else t for t in _TOKEN.findall(text)[:MAX_TOKENS]]
    crc = zlib.crc32
    out = {crc(t.encode()) & mask for t in toks}
    out.update(crc(f"{a} {b}".encode()) & mask for a, b in itertools.pairwise(toks))
    size = len(text)
    out.add(crc(f"__len{size.bit_length()}".encode()) & mask)
    out.add(crc(f"__lines{min(text.count(chr(10)), 64).bit_length()}".encode()) & mask)
    if fim:
        out.add(crc(b"__fim") & mask)
    return sorted(out)


@dataclass(frozen=True)
class Prediction:
    label: str
    route: str
    confidence: float  # the probability of `route` (its labels' probabilities added up)
    code: bool


class ModelError(Exception):
    """A model file that cannot be used; the message says what is wrong and where."""


class LinearModel:
    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        where = str(path) if path else "the model"
        if data.get("format") != FORMAT:
            raise ModelError(f"{where}: format {data.get('format')!r} is not {FORMAT}")
        try:
            self.labels: list[str] = [str(x) for x in data["labels"]]
            self.bits = int(data["bits"])
            self.bias = [float(b) for b in data["bias"]]
            index = [int(i) for i in data["index"]]
            rows = data["weights"]
        except (KeyError, TypeError, ValueError) as err:
            raise ModelError(f"{where}: missing or malformed field: {err}") from None
        n = len(self.labels)
        if n < 2 or len(self.bias) != n or len(index) != len(rows):
            raise ModelError(f"{where}: {n} labels, {len(self.bias)} biases, {len(index)} buckets "
                             f"for {len(rows)} weight rows")
        self.routes = {lab: str((data.get("routes") or {}).get(lab) or route_of(lab)) for lab in self.labels}
        self.row = {b: i for i, b in enumerate(index)}
        self.cols = [array("d", bytes(8 * len(rows))) for _ in range(n)]
        for i, r in enumerate(rows):
            if len(r) != n:
                raise ModelError(f"{where}: weight row {i} has {len(r)} values for {n} labels")
            for c in range(n):
                self.cols[c][i] = float(r[c])
        self.meta = {k: data.get(k) for k in ("trained_at", "learner", "examples", "validation", "use",
                                              "reason", "run_id")}
        self.use = bool(data.get("use"))
        self.path = path

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        try:
            data = json.loads(path.read_bytes())
        except OSError as err:
            raise ModelError(f"{path}: cannot read: {err.strerror or err}") from None
        except ValueError as err:
            raise ModelError(f"{path}: not JSON: {err}") from None
        if not isinstance(data, dict):
            raise ModelError(f"{path}: not a JSON object")
        return cls(data, path)

    def scores(self, feats: list[int]) -> list[float]:
        rows = [r for r in map(self.row.get, feats) if r is not None]
        return [b + sum(map(col.__getitem__, rows)) for b, col in zip(self.bias, self.cols, strict=True)]

    def predict(self, text: str, fim: bool = False) -> Prediction:
        s = self.scores(features(text, fim, self.bits))
        top = max(s)
        exp = [math.exp(v - top) for v in s]
        total = sum(exp)
        best = max(range(len(s)), key=s.__getitem__)
        label = self.labels[best]
        route = self.routes[label]
        conf = sum(e for e, lab in zip(exp, self.labels, strict=True) if self.routes[lab] == route) / total
        return Prediction(label, route, conf, is_code_label(label))


def model_json(labels: list[str], bits: int, bias: list[float], weights: dict[int, list[float]],
               **meta: Any) -> dict[str, Any]:
    """The file's content; weights rounded to 4 decimals (the file stays small, scores barely move)."""
    index = sorted(weights)
    return {"format": FORMAT, "labels": labels, "routes": {lab: route_of(lab) for lab in labels},
            "bits": bits, "bias": [round(b, 4) for b in bias], "index": index,
            "weights": [[round(w, 4) for w in weights[i]] for i in index], **meta}
