"""Commit classification without conventional prefixes, on a real conventional-commit repository.

    python bench/git_classify.py --repo PATH [--ref HEAD] [--train-share 0.7]

Every commit whose conventional prefix names a class (fix, feat, refactor/perf/style, test,
docs, build/ci/chore) is labelled by that prefix; the prefix is then stripped and the commit
classified as a repo without prefixes would be. The oldest `--train-share` of those commits
train the per-repo classifier; the newest rest is the held-out set (the classifier never saw
it). Prints held-out agreement for the rules alone and for the per-repo classifier, over the
four classes the prefixes are most often about (fix, feat, refactor, test) and over all six,
beside the majority-class baseline.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.sources.git.classify import CLASSES, Logged, conventional, decide, history, rules, skip_reason, train_model

CORE = ("bugfix", "feature", "refactor", "test")


def labelled(commits: list[Logged]) -> list[tuple[Logged, str, str]]:
    """(commit, true class, message without the prefix), oldest first."""
    out = []
    for c in reversed(commits):
        kind, rest = conventional(c.subject)
        if kind in CLASSES and not skip_reason(c.subject, c.author):
            out.append((c, kind, (rest + "\n\n" + c.body.strip()).strip()))
    return out


def agreement(pairs: list[tuple[str, str]], classes: tuple[str, ...]) -> tuple[float, int]:
    kept = [(t, p) for t, p in pairs if t in classes]
    return (sum(t == p for t, p in kept) / len(kept) if kept else 0.0), len(kept)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--train-share", type=float, default=0.7)
    ap.add_argument("--confusion", action="store_true", help="print the rules' confusion matrix")
    args = ap.parse_args()
    commits = history(args.repo, args.ref, 10**7)
    data = labelled(commits)
    cut = int(len(data) * args.train_share)
    train, test = data[:cut], data[cut:]
    print(f"repository {args.repo} at {args.ref}: {len(commits)} non-merge commits, {len(data)} with a "
          f"class-naming conventional prefix; train on the oldest {len(train)}, hold out the newest {len(test)}")
    print("held-out classes: " + ", ".join(f"{k} {n}" for k, n in Counter(t for _, t, _ in test).most_common()))
    model = train_model([c for c, _, _ in train], min_commits=1)
    rows = []
    for c, truth, message in test:
        stripped = message.split("\n", 1)[0]
        by_rules = rules(message, c.shape)
        by_model = decide(stripped, message[len(stripped):], c.shape, model)[0] if model else by_rules
        rows.append((truth, by_rules, by_model))
    print(f"{'held-out agreement with the prefix':40}{'4 classes':>12}{'6 classes':>12}")
    for name, col in (("majority class of the training set", None), ("rules (no prefix)", 1),
                      ("per-repo classifier (naive Bayes)", 2)):
        if col is None:
            top4 = Counter(t for _, t, _ in train if t in CORE).most_common(1)[0][0]
            top6 = Counter(t for _, t, _ in train).most_common(1)[0][0]
            a4, n4 = agreement([(t, top4) for t, _, _ in rows], CORE)
            a6, n6 = agreement([(t, top6) for t, _, _ in rows], CLASSES)
        else:
            a4, n4 = agreement([(r[0], r[col]) for r in rows], CORE)
            a6, n6 = agreement([(r[0], r[col]) for r in rows], CLASSES)
        print(f"{name:40}{a4:>11.1%} {a6:>11.1%}")
    print(f"(4 classes: {n4} held-out commits labelled fix/feat/refactor/test; 6 classes: {n6})")
    if args.confusion:
        for col, name in ((1, "rules"), (2, "classifier")):
            print(f"\n{name}: true \\ predicted")
            print(" " * 10 + "".join(f"{k[:8]:>9}" for k in CLASSES))
            for t in CLASSES:
                print(f"{t:10}" + "".join(f"{sum(1 for r in rows if r[0] == t and r[col] == p):>9}"
                                          for p in CLASSES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
