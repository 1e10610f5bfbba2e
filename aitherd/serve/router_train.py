"""The `router_train` job (a worker, chained after each ok `export`): learn the router from the store.

Every accepted example is a request the team's own specialists were trained to answer, labelled
`specialist/category`; the route of a label is `classifier.route_of` (coder/* -> coder,
reasoner/non_reasoning -> orchestrator, other reasoner categories -> reasoner). At most
`max_per_category` examples per label are taken (ordered by content hash: a fixed, unbiased
sample), the text being what the router sees at request time (the last user message).

Train and validation follow the export's own split (`export.sample.unit(seed, content_hash,
"split") < validation_fraction`), so the held-out figures are on the store's validation split,
which no adapter and no router ever trained on. Learners: `logreg` (scikit-learn's
LogisticRegression, balanced class weights) or `naive_bayes` (multinomial naive Bayes on binary
features with a uniform prior, pure Python); `auto` takes logreg when scikit-learn imports.
Either way the result is a linear model written as plain JSON (`classifier.FORMAT`), atomically,
to `[serve.router] model_file`, with the held-out label and route accuracy beside the heuristic's
route accuracy on the same examples. The validation split is drawn from the store, so it looks
like the store; requests may not (a store of commits and math problems teaches "plain English is
math"). So the model must also route `CANARIES`, a dozen everyday requests of each kind, at least
`min_canary_accuracy` right. `use` is true when it does, routes the validation split at least as
well as the heuristic, and there are at least `min_validation` validation examples; the file says
which test failed otherwise. The daemon reloads the file by itself.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from aitherd.export.sample import unit
from aitherd.runs import JobContext, Status
from aitherd.serve.classifier import LinearModel, features, model_json, route_of
from aitherd.serve.config import RouterSection
from aitherd.serve.effort import heuristic, prompt_text, route_for
from aitherd.serve.router import model_file

# Everyday requests and their routes: a sanity test that the model learned tasks, not corpus styles.
CANARIES = (
    ("hi", "orchestrator"), ("thanks, that helps a lot", "orchestrator"),
    ("What is the capital of France?", "orchestrator"),
    ("Write a short note to my landlord about the broken heater.", "orchestrator"),
    ("Write a Python function that returns the largest of three numbers.", "coder"),
    ("Why does my JavaScript fetch call return a pending Promise?", "coder"),
    ("Fix the failing test: AssertionError: expected 3, got 4 in test_total", "coder"),
    ("Add a --verbose flag to this argparse command line tool.", "coder"),
    ("Prove that the product of two odd numbers is odd.", "reasoner"),
    ("A car travels 150 km in 2.5 hours. What is its average speed?", "reasoner"),
    ("Solve the system: 2x + y = 7 and x - y = 2.", "reasoner"),
    ("Some cats are black and all black things are hard to see at night. Are some cats hard to see at "
     "night? Reason it out.", "reasoner"),
)


def canary_accuracy(route: Any) -> float:
    """The share of CANARIES that `route(text)` sends where they belong."""
    return sum(route(text) == want for text, want in CANARIES) / len(CANARIES)


def load_labelled(engine: Engine, per_label: int) -> list[tuple[str, str, str]]:
    """(content_hash, label, text) for up to `per_label` accepted examples of each label."""
    with engine.connect() as conn:
        labels = conn.execute(text("SELECT DISTINCT specialist, category FROM example "
                                   "WHERE status = 'accepted'")).all()
        out = []
        for spec, cat in sorted(labels):
            rows = conn.execute(text(
                "SELECT content_hash, messages FROM example WHERE status = 'accepted' AND specialist = :s "
                "AND category = :c ORDER BY content_hash LIMIT :n"), {"s": spec, "c": cat, "n": per_label})
            for h, messages in rows:
                msgs = json.loads(messages) if isinstance(messages, str) else messages
                body = prompt_text({"messages": msgs})
                if body.strip():
                    out.append((h, f"{spec}/{cat}", body))
    return out


def train_naive_bayes(xs: list[list[int]], ys: list[int], n_labels: int,
                      alpha: float = 1.0) -> tuple[list[float], dict[int, list[float]]]:
    """Multinomial naive Bayes over binary features; a uniform prior (bias 0)."""
    counts: dict[int, list[float]] = defaultdict(lambda: [0.0] * n_labels)
    totals = [0.0] * n_labels
    for feats, y in zip(xs, ys, strict=True):
        for f in feats:
            counts[f][y] += 1
        totals[y] += len(feats)
    vocab = len(counts)
    denom = [math.log(t + alpha * vocab) for t in totals]
    weights = {f: [math.log(c[k] + alpha) - denom[k] for k in range(n_labels)] for f, c in counts.items()}
    # only differences between labels matter: centre each row so pruning a bucket removes little
    for row in weights.values():
        mean = sum(row) / n_labels
        for k in range(n_labels):
            row[k] -= mean
    return [0.0] * n_labels, weights


def train_logreg(xs: list[list[int]], ys: list[int], n_labels: int,
                 c: float) -> tuple[list[float], dict[int, list[float]]]:
    import numpy as np
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    indptr = np.cumsum([0] + [len(f) for f in xs])
    indices = np.fromiter((f for feats in xs for f in feats), dtype=np.int64, count=int(indptr[-1]))
    seen = np.unique(indices)  # only buckets that occur: a far smaller matrix than 2^bits columns
    x = csr_matrix((np.ones(len(indices)), np.searchsorted(seen, indices), indptr), shape=(len(xs), len(seen)))
    clf = LogisticRegression(C=c, max_iter=300, class_weight="balanced")
    clf.fit(x, np.asarray(ys))
    classes = [int(k) for k in clf.classes_]
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # two labels: one row, for the second; softmax over [0, s] is the same
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    bias = [0.0] * n_labels
    full = np.zeros((len(seen), n_labels))
    for row, k in enumerate(classes):
        bias[k] = float(intercept[row])
        full[:, k] = coef[row]
    return bias, {int(f): w for f, w in zip(seen.tolist(), full.tolist(), strict=True)}


def prune(weights: dict[int, list[float]], keep: int) -> dict[int, list[float]]:
    """The `keep` buckets whose weights differ most between labels."""
    if len(weights) <= keep:
        return weights
    ranked = sorted(weights, key=lambda f: max(weights[f]) - min(weights[f]), reverse=True)
    return {f: weights[f] for f in ranked[:keep]}


def _learner(choice: str) -> str:
    if choice != "auto":
        return choice
    try:
        import sklearn  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        return "naive_bayes"
    return "logreg"


def _guess(text: str) -> tuple[int, bool]:
    g = heuristic(text)
    return g.effort, g.code


def evaluate(model: LinearModel, held: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Held-out label and route accuracy, beside the heuristic's route accuracy on the same texts."""
    label_ok = route_ok = heur_ok = 0
    per_route: dict[str, dict[str, int]] = defaultdict(lambda: {"n": 0, "learned": 0, "heuristic": 0})
    for _h, label, body in held:
        p = model.predict(body)
        g = heuristic(body)
        want = route_of(label)
        label_ok += p.label == label
        route_ok += p.route == want
        heur_ok += route_for(g.effort, g.code) == want
        r = per_route[want]
        r["n"] += 1
        r["learned"] += p.route == want
        r["heuristic"] += route_for(g.effort, g.code) == want
    n = len(held)
    return {"examples": n, "label_accuracy": label_ok / n if n else None,
            "route_accuracy": route_ok / n if n else None,
            "heuristic_route_accuracy": heur_ok / n if n else None, "per_route": dict(per_route)}


def train(engine: Engine, cfg: RouterSection, seed: int | str, validation_fraction: float,
          progress: Any = None) -> dict[str, Any]:
    """Fit, evaluate and return the model file's content (not yet written)."""
    t0 = time.monotonic()
    rows = load_labelled(engine, cfg.max_per_category)
    labels = sorted({lab for _h, lab, _t in rows})
    if len(labels) < 2:
        raise ValueError(f"the store has accepted examples of {len(labels)} label(s) "
                         f"({', '.join(labels) or 'none'}); a classifier needs at least 2")
    held = [r for r in rows if unit(seed, r[0], "split") < validation_fraction]
    fit = [r for r in rows if unit(seed, r[0], "split") >= validation_fraction]
    if progress:
        progress(f"featurising {len(fit)} examples")
    code = {lab: k for k, lab in enumerate(labels)}
    xs = [features(body, False, cfg.hash_bits) for _h, _lab, body in fit]
    ys = [code[lab] for _h, lab, _t in fit]
    missing = sorted(set(labels) - {lab for _h, lab, _t in fit})
    if missing:
        raise ValueError(f"no training examples left for {', '.join(missing)} after the validation split")
    learner = _learner(cfg.learner)
    if progress:
        progress(f"fitting {learner}")
    if learner == "logreg":
        bias, weights = train_logreg(xs, ys, len(labels), cfg.regularization)
    else:
        bias, weights = train_naive_bayes(xs, ys, len(labels))
    weights = prune(weights, cfg.max_features)
    data = model_json(labels, cfg.hash_bits, bias, weights, learner=learner,
                      trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
                      examples={"train": len(fit), "validation": len(held),
                                "per_label": dict(Counter(lab for _h, lab, _t in rows))})
    model = LinearModel(data)  # exactly what the daemon will load, weights rounded as written
    val = evaluate(model, held)
    val["seconds"] = round(time.monotonic() - t0, 3)
    val["canary_accuracy"] = canary_accuracy(lambda t: model.predict(t).route)
    val["heuristic_canary_accuracy"] = canary_accuracy(lambda t: route_for(*_guess(t)))
    data["validation"] = val
    if val["examples"] < cfg.min_validation:
        data["use"], data["reason"] = False, (f"only {val['examples']} validation examples "
                                              f"(min_validation {cfg.min_validation})")
    elif val["route_accuracy"] < val["heuristic_route_accuracy"]:
        data["use"], data["reason"] = False, (f"routes worse than the heuristic on the validation split "
                                              f"({val['route_accuracy']:.3f} < {val['heuristic_route_accuracy']:.3f})")
    elif val["canary_accuracy"] < cfg.min_canary_accuracy:
        data["use"], data["reason"] = False, (f"routes only {val['canary_accuracy']:.0%} of the everyday canary "
                                              f"requests right (min_canary_accuracy {cfg.min_canary_accuracy:.0%}): "
                                              "the store does not look like requests yet")
    else:
        data["use"], data["reason"] = True, (f"routes at least as well as the heuristic on the validation split "
                                             f"({val['route_accuracy']:.3f} >= {val['heuristic_route_accuracy']:.3f})")
    return data


def write_model(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, separators=(",", ":"))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class RouterTrainRun:
    """What one router_train run did: its status and note, the model file written and its
    validation accuracies."""

    status: Status
    message: str | None = None
    model_file: str | None = None
    accuracy: dict[str, float] = field(default_factory=dict)  # route_accuracy, heuristic_route_accuracy


def run_router_train(ctx: JobContext) -> RouterTrainRun:
    cfg = ctx.loaded.config.serve.router
    export = ctx.loaded.config.export
    ctx.progress("loading labelled examples", force=True)
    try:
        data = train(ctx.engine, cfg, export.seed, export.validation_fraction,
                     progress=lambda stage: ctx.progress(stage, force=True))
    except ValueError as err:
        return RouterTrainRun("skipped", message=f"no router model trained: {err}")
    data["run_id"] = ctx.run_id
    path = model_file(ctx.loaded.paths.state_dir, cfg)
    write_model(path, data)
    val = data["validation"]
    ctx.count("router.train_examples", data["examples"]["train"])
    ctx.count("router.validation_examples", val["examples"])
    acc = (f"route accuracy {val['route_accuracy']:.3f} (heuristic {val['heuristic_route_accuracy']:.3f}), "
           f"label accuracy {val['label_accuracy']:.3f} on {val['examples']} validation examples"
           if val["examples"] else "no validation examples")
    return RouterTrainRun("ok", model_file=str(path),
                          accuracy={"route_accuracy": val["route_accuracy"],
                                    "heuristic_route_accuracy": val["heuristic_route_accuracy"]},
                          message=f"{data['learner']} on {data['examples']['train']} examples, "
                                  f"{len(data['index'])} weights -> {path}: {acc}; "
                                  f"{'in use' if data['use'] else 'not used'}: {data['reason']}")
