"""Commit classification without conventional prefixes, on real conventional-commit repositories.

    python bench/git_classify.py --repo PATH [--repo PATH ...] [--ref HEAD] [--train-share 0.7] [--confusion]

Per repository: every commit whose conventional prefix names a class (fix, feat, refactor/perf/
style, test, docs, build/ci/chore) is labelled by that prefix; the prefix is then stripped and
the commit classified as a repo without prefixes would be. Held-out protocol, split by time:
the oldest `--train-share` of those commits train the per-repo classifier, the newest rest is
the held-out set (the classifier never saw a commit of it; commits are not shuffled, so a
convention that drifts over time counts against the figure). Prints, per repository and side
by side, held-out agreement of the majority class of the training set, of the rules alone and
of the per-repo classifier, over all six classes and over the four the prefixes are most often
about (fix, feat, refactor, test). Goal: at least 80% on a repository the design never saw.
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


def evaluate(repo: str, ref: str, share: float) -> tuple[dict[str, tuple[float, float]], list, dict]:
    """Per column (majority, rules, classifier): (6-class, 4-class) held-out agreement; the
    held-out rows (truth, rules, classifier); and sizes."""
    commits = history(repo, ref, 10**7)
    data = labelled(commits)
    cut = int(len(data) * share)
    train, test = data[:cut], data[cut:]
    model = train_model([c for c, _, _ in train], min_commits=1)
    rows = []
    for c, truth, message in test:
        stripped = message.split("\n", 1)[0]
        by_rules = rules(message, c.shape)
        by_model = decide(stripped, message[len(stripped):], c.shape, model)[0] if model else by_rules
        rows.append((truth, by_rules, by_model))
    top4 = Counter(t for _, t, _ in train if t in CORE).most_common(1)[0][0]
    top6 = Counter(t for _, t, _ in train).most_common(1)[0][0]
    out = {"majority class": (agreement([(t, top6) for t, _, _ in rows], CLASSES)[0],
                              agreement([(t, top4) for t, _, _ in rows], CORE)[0])}
    for name, col in (("rules", 1), ("classifier", 2)):
        out[name] = (agreement([(r[0], r[col]) for r in rows], CLASSES)[0],
                     agreement([(r[0], r[col]) for r in rows], CORE)[0])
    sizes = {"commits": len(commits), "labelled": len(data), "train": len(train), "test": len(test),
             "test4": sum(1 for r in rows if r[0] in CORE), "classes": Counter(t for _, t, _ in test)}
    return out, rows, sizes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, action="append", help="a conventional-commit repository (repeatable)")
    ap.add_argument("--ref", default="HEAD")
    ap.add_argument("--train-share", type=float, default=0.7)
    ap.add_argument("--confusion", action="store_true", help="print the confusion matrices")
    args = ap.parse_args()
    cols = ("majority class", "rules", "classifier")
    print(f"held-out agreement with the stripped prefix, split by time (oldest {args.train_share:.0%} train); "
          "6 classes / fix-feat-refactor-test only")
    print(f"{'repository':34}{'non-merge':>10}{'train':>7}{'held out':>9}" + "".join(f"{c:>17}" for c in cols))
    for repo in args.repo:
        res, rows, n = evaluate(repo, args.ref, args.train_share)
        print(f"{repo[-34:]:34}{n['commits']:>10}{n['train']:>7}{n['test']:>9}" +
              "".join(f"{res[c][0]:>10.1%} /{res[c][1]:>5.0%}" for c in cols))
        if args.confusion:
            print("  held-out classes: " + ", ".join(f"{k} {v}" for k, v in n["classes"].most_common()))
            for col, name in ((1, "rules"), (2, "classifier")):
                print(f"  {name}: true \\ predicted")
                print(" " * 12 + "".join(f"{k[:8]:>9}" for k in CLASSES))
                for t in CLASSES:
                    print(f"  {t:10}" + "".join(f"{sum(1 for r in rows if r[0] == t and r[col] == p):>9}"
                                                for p in CLASSES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
