"""Commit classification without conventional prefixes, on real conventional-commit repositories.

    python bench/git_classify.py --repo PATH [--repo PATH ...] [--prior-repo PATH ...] [--fresh PATH ...]
                                 [--ref HEAD] [--train-share 0.7] [--confusion] [--keep-body-prefixes]
                                 [--sparse] [--split time|random]

Per repository: every commit whose conventional prefix names a class (fix, feat, refactor/perf/
style, test, docs, build/ci/chore) is labelled by that prefix; the prefix is then stripped, from
the subject and from the body's lines (a squash merge's list repeats the subject's prefix there:
"* fix(etag): ..."; `--keep-body-prefixes` leaves them, as measured before 2026-11-28), and the
commit classified as a repo without prefixes would be. Held-out protocol, split by time:
the oldest `--train-share` of those commits train the per-repo classifier, the newest rest is
the held-out set (the classifier never saw a commit of it; commits are not shuffled, so a
convention that drifts over time counts against the figure).

The cross-repo prior is trained leave-one-repo-out: for each `--repo`, a prior is fit (as
bench/git_prior.py does) on every other `--repo` and every `--prior-repo`, never on the one
measured; the script checks that none of the measured repository's commits nor its root
commit is among what that prior learned from, and stops otherwise. `--fresh` repositories are
measured with the shipped prior (aitherd/sources/git/prior.json.gz), after the same check
against the roots it records: use repositories that played no part in developing it.

Prints, per repository and side by side, held-out agreement of the majority class of the
training set, of the rules alone, of the per-repo classifier as it was (naive Bayes on the
repo's commits), of the prior alone (nudged towards the rules' class: what a repo without
any prefixed commit gets), of the repo's naive Bayes (recency-weighted, with the prior's
features) mixed with the prior ("repo + prior", the classifier before 2026-11-28), and of the
new classifier (`classify.repo_model`, as the miner trains it: that mix, mixed again with the
prior tuned to the repo's training commits), over all six classes and over
fix/feat/refactor/test. Goal: >= 80% on each.

`--split random` shuffles each measured repository's commits (seeded) before the split: the
same classifiers with no drift between training and held-out commits, which bounds what a
classifier of these messages and paths can reach on that repository (fresh repositories,
2026-11-28: 72.5% to 79.1%, against 68.2% to 78.1% split by time). Leave-one-out priors
still learn from the other repositories only.

`--sparse` asks what a repository where only some commits carry a prefix gets (jq: 5% of its
commits, cobra: 11%). Per repository, the repo model is trained on a sample of the training
commits only, drawn two ways (3 seeds each): uniformly, and biased by class as when a few
contributors prefix some kinds of change (docs and chore kept 20 times as often as feat and
refactor, fix and test 6 times), at 5%, 10% and 30% of them; printed beside the prior alone on
the same held-out commits. The miner trains no repo model below `classifier_min_share` (25%).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from git_prior import MIN_WEIGHT, Row, labelled, roots, train

from aitherd.sources.git import prior
from aitherd.sources.git.classify import (
    CLASSES,
    Model,
    Shape,
    by_prior_scored,
    decide,
    features,
    framed_as_fix,
    model_features,
    repo_model,
    rules,
)
from aitherd.sources.git.config import GitMiningConfig

CORE = ("bugfix", "feature", "refactor", "test")
COLS = ("majority class", "rules", "classifier before", "prior alone", "repo + prior", "new classifier")


def name_of(path: str) -> str:
    p = Path(path).resolve()
    return (p.parent.name if p.name == "repo" else p.name).replace("+", "/")


def agreement(pairs: list[tuple[str, str]], classes: tuple[str, ...]) -> float:
    kept = [(t, p) for t, p in pairs if t in classes]
    return sum(t == p for t, p in kept) / len(kept) if kept else 0.0


class LeakError(RuntimeError):
    """The prior used for a repository learned from that repository."""


def check_unseen(shas: set[str], root: list[str], model: prior.Prior, shas_trained: set[str] | None) -> None:
    if set(root) & model.roots():
        raise LeakError(f"the prior was trained on a repository with root commit {sorted(set(root) & model.roots())}")
    if shas_trained is not None and (common := shas & shas_trained):
        raise LeakError(f"the prior was trained on {len(common)} of the measured commits")


def evaluate(data: list[Row], share: float, model: prior.Prior) -> tuple[dict[str, tuple[float, float]], list, dict]:
    """Per column: (6-class, 4-class) held-out agreement; the held-out rows (truth, then each
    column's class); and sizes."""
    cut = int(len(data) * share)
    train_rows, test = data[:cut], data[cut:]
    before = Model.train([(features(m, c.shape, rules(m, c.shape)), k) for _, k, m, c in train_rows], min_per_class=5)
    new = repo_model([(m, c.shape, k) for _, k, m, c in train_rows], model)
    mixed = dataclasses.replace(new, tuned=None) if new else None  # as measured before 2026-11-28
    top6 = Counter(k for _, k, _, _ in train_rows).most_common(1)[0][0]
    held = held_out(test, model)
    rows = [(h.truth, top6, h.rule, before.predict(features(h.message, h.shape, h.rule))[0] if before else h.rule,
             h.by_prior[0], *(m.predict(h.feats, h.pf)[0] if m else h.rule for m in (mixed, new))) for h in held]
    top4 = Counter(k for _, k, _, _ in train_rows if k in CORE).most_common(1)[0][0]
    out = {}
    for i, col in enumerate(COLS, start=1):
        four = [(r[0], top4 if i == 1 else r[i]) for r in rows]
        out[col] = (agreement([(r[0], r[i]) for r in rows], CLASSES), agreement(four, CORE))
    sizes: dict[str, Any] = {"train": len(train_rows), "test": len(test), "classes": Counter(r[0] for r in rows), "us": {},
                             "fixes": fixes(held, new)}
    for col, how, use in (("rules", None, False), ("prior", None, True), ("new", new, True)):  # as the miner does
        t = time.process_time()
        for _, _, message, c in test:
            subject, _, body = message.partition("\n")
            decide(subject, body, c.shape, how, use_prior=use)
        sizes["us"][col] = (time.process_time() - t) / max(1, len(test)) * 1e6
    return out, rows, sizes


SPARSE_SHARES = (0.05, 0.1, 0.3)
# How often a class's commits keep their prefix, relative: where a few contributors prefix, they
# prefix docs and chores more than features (jq's 87 prefixed commits: 42 chore, 26 docs, 12
# fix, 5 test, 1 refactor, 1 feat).
BIASED = {"docs": 1.0, "chore": 1.0, "bugfix": 0.3, "test": 0.3, "refactor": 0.05, "feature": 0.05}


class Held(NamedTuple):
    """A held-out commit as the classifiers read it, computed once for every column."""

    truth: str
    message: str
    shape: Shape
    rule: str
    pf: set[str]  # the prior's features
    feats: list[str]  # the repo model's
    by_prior: tuple[str, float]  # the prior alone: class and its share of the probability


def held_out(test: list[Row], model: prior.Prior) -> list[Held]:
    out = []
    for _, truth, message, c in test:
        rule = rules(message, c.shape)
        pf = prior.features(message, c.shape.paths, c.shape.statuses, rule)
        out.append(Held(truth, message, c.shape, rule, pf, model_features(message, c.shape, rule, pf),
                        by_prior_scored(model, message, c.shape, rule)))
    return out


def sparse(data: list[Row], share: float, model: prior.Prior) -> str:
    """Held-out agreement (6 classes) of the prior alone, then of the repo model trained on a
    sparse sample of the training commits, per way of drawing it and share."""
    cut = int(len(data) * share)
    train_rows = data[:cut]
    held = held_out(data[cut:], model)
    out = [f"prior alone {sum(h.truth == h.by_prior[0] for h in held) / len(held):.1%}"]
    for how, rel in (("uniform", dict.fromkeys(CLASSES, 1.0)), ("biased", BIASED)):
        cells = []
        for kept in SPARSE_SHARES:
            accs = []
            for seed in range(3):
                rnd = random.Random(seed)
                scale = kept * len(train_rows) / sum(rel[k] for _, k, _, _ in train_rows)
                sub = [r for r in train_rows if rnd.random() < min(1.0, rel[r[1]] * scale)]
                new = repo_model([(m, c.shape, k) for _, k, m, c in sub], model) if len(sub) >= 50 else None
                if new is not None:
                    accs.append(sum(new.predict(h.feats, h.pf)[0] == h.truth for h in held) / len(held))
            cells.append(f"{kept:.0%} " + (f"{sum(accs) / len(accs):.1%}" if accs else "(under 50)"))
        out.append(f"{how}: " + ", ".join(cells))
    return "; ".join(out)


def fixes(held: list[Held], new: Model | None) -> str:
    """Of the held-out commits the prior alone and the new classifier call a bugfix, how many
    are fixes: all of them, and those the miner frames as fixes (share of the probability at
    `fix_confidence` or more, or a subject that says "fix", "bug" ...)."""
    counts = {"prior": [0, 0, 0, 0], "new": [0, 0, 0, 0]}
    threshold = GitMiningConfig().fix_confidence
    for h in held:
        scored = {"prior": h.by_prior}
        if new is not None:
            scored["new"] = new.predict(h.feats, h.pf)
        for col, (kind, share) in scored.items():
            if kind == "bugfix":
                n = counts[col]
                n[0] += 1
                n[1] += h.truth == "bugfix"
                if framed_as_fix(kind, share, h.message.split("\n", 1)[0], threshold):
                    n[2] += 1
                    n[3] += h.truth == "bugfix"
    return "; ".join(f"{col}: {n[1]}/{n[0]} ({n[1] / max(1, n[0]):.0%}), framed as fixes {n[3]}/{n[2]} "
                     f"({n[3] / max(1, n[2]):.0%})" for col, n in counts.items() if n[0])


def show(label: str, res: dict[str, tuple[float, float]], rows: list, n: dict, confusion: bool) -> None:
    print(f"{label[-40:]:40}{n['train']:>7}{n['test']:>9}" + "".join(f"{res[c][0]:>12.1%} /{res[c][1]:>4.0%}"
                                                                     for c in COLS), flush=True)
    print(" " * 4 + "CPU per commit (decide): " + ", ".join(f"{k} {v:.0f} us" for k, v in n["us"].items()))
    print(" " * 4 + "held-out commits called bugfix that are fixes, " + n["fixes"])
    if confusion:
        print("  held-out classes: " + ", ".join(f"{k} {v}" for k, v in n["classes"].most_common()))
        for col in (3, 6):
            print(f"  {COLS[col - 1]}: true \\ predicted")
            print(" " * 12 + "".join(f"{k[:8]:>9}" for k in CLASSES))
            for t in CLASSES:
                print(f"  {t:10}" + "".join(f"{sum(1 for r in rows if r[0] == t and r[col] == p):>9}" for p in CLASSES))


def ordered(data: list[Row], split: str) -> list[Row]:
    """The rows in the order the split cuts: oldest first (time), or shuffled with a fixed seed."""
    if split == "time":
        return data
    out = list(data)
    random.Random(0).shuffle(out)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", action="append", default=[], help="measured leave-one-out (repeatable)")
    ap.add_argument("--prior-repo", action="append", default=[], help="only trains the leave-one-out priors")
    ap.add_argument("--fresh", action="append", default=[], help="measured with the shipped prior (never seen)")
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--train-share", type=float, default=0.7)
    ap.add_argument("--split", choices=("time", "random"), default="time",
                    help="held out: the newest commits (time), or a seeded random share (random: no drift)")
    ap.add_argument("--min-weight", type=float, default=MIN_WEIGHT, help="the priors' pruning, as shipped")
    ap.add_argument("--confusion", action="store_true", help="print the confusion matrices")
    ap.add_argument("--sparse", action="store_true",
                    help="also the repo model trained on a sparse (uniform or class-biased) share of the commits")
    ap.add_argument("--keep-body-prefixes", action="store_true",
                    help="leave conventional prefixes in body lines (a squash list repeats the subject's: a leak)")
    args = ap.parse_args()
    if not args.repo and not args.fresh:
        ap.error("give --repo and/or --fresh")
    t0 = time.time()
    bodies = args.keep_body_prefixes
    pool = {name_of(p): (labelled(p, args.ref, bodies), roots(p, args.ref)) for p in args.repo + args.prior_repo}
    how = (f"split by time (oldest {args.train_share:.0%} train)" if args.split == "time" else
           f"split at random, seeded ({args.train_share:.0%} train, no drift)")
    print(f"held-out agreement with the stripped prefix, {how}; 6 classes / fix-feat-refactor-test only")
    print(f"{'repository':40}{'train':>7}{'held out':>9}" + "".join(f"{c:>18}" for c in COLS))
    for path in args.repo:
        name = name_of(path)
        data, root = pool[name]
        data = ordered(data, args.split)
        doc = train({k: v for k, v in pool.items() if k != name}, min_weight=args.min_weight)
        model = prior.Prior(doc)
        check_unseen({sha for sha, _, _, _ in data}, root, model, doc["meta"]["shas"])
        show(f"{name} (prior: {len(doc['meta']['repos'])} others)", *evaluate(data, args.train_share, model),
             args.confusion)
        if args.sparse:
            print("    sparse prefixes, repo model: " + sparse(data, args.train_share, model), flush=True)
    shipped = prior.load()
    for path in args.fresh:
        if shipped is None:
            raise SystemExit(f"no shipped prior at {prior.PATH}")
        data, root = ordered(labelled(path, args.ref, bodies), args.split), roots(path, args.ref)
        check_unseen({sha for sha, _, _, _ in data}, root, shipped, None)
        show(f"{name_of(path)} (fresh, shipped prior)", *evaluate(data, args.train_share, shipped), args.confusion)
        if args.sparse:
            print("    sparse prefixes, repo model: " + sparse(data, args.train_share, shipped), flush=True)
    print(f"{time.time() - t0:.0f} s; prior repos: {', '.join(sorted(pool)) or '(shipped only)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
