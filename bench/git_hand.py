"""Commit classes against labels given by hand, on real repositories where few commits carry a prefix.

    python bench/git_hand.py --repo PATH [--repo PATH ...] [--labels bench/data/git_hand_labels.json]

The labels file holds, per repository (found by its root commit), commits without a conventional
prefix drawn at random and labelled by hand from subject, body and paths, blind to any
classifier (jq and cobra: 5% and 11% of their commits are prefixed). Per repository, prints the
agreement with those labels of: the repo model trained on its few prefixed commits (mixed with
the prior, as the miner used it before `classifier_min_share`), the prior alone (nudged towards
the rules' class), and what the miner decides now with the default config, and lists the
commits where they differ from the hand label. Then, of the commits the miner now calls a
bugfix, how many the hand calls one, all of them and those it frames as fixes ("Bug fix: ...
find the bug", review pairs): the repo model's or the prior's share of the probability at
`fix_confidence` (0.7) or more, or a subject that says "fix", "bug", "crash" ...; the rest are
framed as the change they are.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.sources import gitmine
from aitherd.sources.git.classify import Logged, decide, decide_scored, framed_as_fix, history, train_model
from aitherd.sources.git.config import GitMiningConfig

LABELS = Path(__file__).with_name("data") / "git_hand_labels.json"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", action="append", required=True)
    ap.add_argument("--labels", default=str(LABELS))
    ap.add_argument("--quiet", action="store_true", help="no per-commit listing")
    args = ap.parse_args()
    doc = json.loads(Path(args.labels).read_text())
    cfg = GitMiningConfig()
    for path in args.repo:
        roots = set(subprocess.run(["git", "-C", path, "rev-list", "--max-parents=0", "HEAD", "--"],
                                   capture_output=True, text=True, check=True).stdout.split())
        entry = next((r for r in doc["repos"] if r["root"] in roots), None)
        if entry is None:
            print(f"{path}: no labels for this repository (roots {sorted(roots)})")
            continue
        tip = gitmine.resolve(path, "HEAD")
        logged = {c.sha: c for c in history(path, tip, cfg.classifier_commits)}
        forced = train_model(logged.values(), cfg.classifier_min_commits)  # the repo model, whatever the share
        now = gitmine._repo_model(path, tip, cfg)  # what the miner trains now (None: the prior alone)
        rows = []
        for lab in entry["labels"]:
            c: Logged | None = logged.get(lab["sha"])
            if c is None:
                raise SystemExit(f"{path}: commit {lab['sha'][:12]} not among the newest {cfg.classifier_commits}")
            kind, _, confidence = decide_scored(c.subject, c.body, c.shape, now)
            framed = framed_as_fix(kind, confidence, c.subject, cfg.fix_confidence)
            rows.append((lab["class"], decide(c.subject, c.body, c.shape, forced)[0],
                         decide(c.subject, c.body, c.shape, None)[0], kind, c.subject, framed))
        n = len(rows)
        model = (f"{sum(r[0] == r[1] for r in rows) / n:.0%}" if forced is not None else
                 f"none (under {cfg.classifier_min_commits} prefixed commits)")
        print(f"{entry['name']} @ {tip[:12]}: {n} hand-labelled commits; repo model {model}, prior alone {sum(r[0] == r[2] for r in rows) / n:.0%}, "
              f"the miner now ({'repo model' if now is not None else 'prior alone'}) "
              f"{sum(r[0] == r[3] for r in rows) / n:.0%}")
        fixes = [r for r in rows if r[3] == "bugfix"]
        framed = [r for r in fixes if r[5]]
        print(f"    called bugfix now: {sum(r[0] == 'bugfix' for r in fixes)} of {len(fixes)} are fixes by hand; "
              f"framed as fixes: {sum(r[0] == 'bugfix' for r in framed)} of {len(framed)}")
        if not args.quiet:
            for hand, model, alone, _, subject, _ in rows:
                if hand != model or hand != alone:
                    print(f"    hand {hand:9} model {model:9} prior {alone:9} {subject[:80]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
