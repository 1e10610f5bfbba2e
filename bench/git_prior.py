"""Train the cross-repo commit-class prior (aitherd/sources/git/prior.json.gz) from public repos.

    python bench/git_prior.py --repo PATH [--repo PATH ...] [--out aitherd/sources/git/prior.json.gz]

Every commit of each repository whose conventional prefix names a class (see
`classify.conventional`; dependency bumps, releases and reverts left out) becomes one sample:
the prefix stripped (from the subject and from the body's lines, where a squash merge repeats
it; `--keep-body-prefixes` leaves the body's), `prior.features` of the rest and of its paths,
the prefix's class as the label. At most `--cap` commits per repository (those whose sha
hashes lowest) so that no large monorepo outweighs the rest. A multinomial logistic regression with L2 penalty (`--C`) is fit
with scipy's L-BFGS; features seen in fewer than `--min-df` commits are dropped, and so are
those whose largest weight stays under `--min-weight`, to keep the shipped file small (weights
rounded to two decimals). Needs numpy and scipy (this script only: the daemon predicts in pure
Python). The file records each repository's name, sample count and root commits.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.sources.git import prior
from aitherd.sources.git.classify import CLASSES, CONVENTIONAL, Logged, conventional, history, rules, skip_reason

MIN_WEIGHT = 0.25  # features whose largest weight is smaller are not shipped
Row = tuple[str, str, str, Logged]  # (sha, true class, message without the prefix, commit)


# A conventional prefix at the start of a body line: a squash merge lists the branch's commits
# there ("* fix(etag): fallback ..."), most often the subject's own prefix again.
# The words are those a subject's prefix is read by (classify.CONVENTIONAL).
_BODY_PREFIX = re.compile(r"^([ \t]*(?:[-*][ \t]+)?)(?:" + "|".join(sorted(CONVENTIONAL, key=len, reverse=True)) +
                          r")(?:\([^)\n]*\))?!?:[ \t]*", re.I | re.M)


def labelled(repo: str, ref: str = "HEAD", body_prefixes: bool = True) -> list[Row]:
    """The repository's prefixed commits, oldest first. `body_prefixes=False`: conventional
    prefixes are stripped from the body's lines too, as a repository without prefixes would
    have none there either (a squash list repeats the subject's: the label, leaked)."""
    out = []
    for c in reversed(history(repo, ref, 10**7)):
        kind, rest = conventional(c.subject)
        if kind in CLASSES and not skip_reason(c.subject, c.author):
            body = c.body if body_prefixes else _BODY_PREFIX.sub(r"\1", c.body)
            out.append((c.sha, kind, (rest + "\n\n" + body.strip()).strip(), c))
    return out


def roots(repo: str, ref: str = "HEAD") -> list[str]:
    out = subprocess.run(["git", "-C", repo, "rev-list", "--max-parents=0", ref, "--"], capture_output=True,
                         text=True, timeout=600, check=True)
    return sorted(out.stdout.split())


def prior_features(message: str, c: Logged) -> set[str]:
    return prior.features(message, c.shape.paths, c.shape.statuses, rules(message, c.shape))


def _rank(row: Row) -> bytes:
    return hashlib.sha256(row[0].encode()).digest()


def train(repos: dict[str, tuple[list[Row], list[str]]], C: float = 0.3, cap: int = 3000, min_df: int = 3,
          min_weight: float = MIN_WEIGHT) -> dict[str, Any]:
    """The prior's document from {name: (labelled rows, root commits)}; `meta.shas` (not saved
    by `main`) is every commit it learned from."""
    import numpy as np

    from aitherd.sources.git.softmax import fit

    samples: list[tuple[set[str], int]] = []
    meta: dict[str, Any] = {"repos": [], "C": C, "cap": cap, "min_df": min_df, "shas": set()}
    for name, (rows, root) in sorted(repos.items()):
        # The `cap` commits whose sha hashes lowest: a commit's chance does not hang on the
        # others, so a rule that leaves a few commits out moves the sample by those few (a seeded
        # random.sample redrew all of them: the leave-one-out priors' figures moved by up to 1.8
        # points on a change that left 7 of vite's 7,600 commits out).
        picked = rows if len(rows) <= cap else sorted(rows, key=_rank)[:cap]
        samples += [(prior_features(msg, c), CLASSES.index(kind)) for _, kind, msg, c in picked]
        meta["shas"].update(sha for sha, _, _, _ in picked)
        meta["repos"].append({"name": name, "samples": len(picked), "roots": root})
    df = Counter(f for feats, _ in samples for f in feats)
    vocab = {f: i for i, f in enumerate(sorted(f for f, n in df.items() if n >= min_df))}
    rows_ = [sorted(j for f in feats if (j := vocab.get(f)) is not None) for feats, _ in samples]
    W, b = fit(rows_, [k for _, k in samples], len(vocab), len(CLASSES), l2=1.0 / C)
    weights = {f: [round(float(v), 2) for v in W[j]] for f, j in vocab.items() if np.abs(W[j]).max() >= min_weight}
    return {"classes": list(CLASSES), "bias": [round(float(v), 3) for v in b], "weights": weights, "meta": meta}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, action="append", help="a conventional-commit repository (repeatable)")
    ap.add_argument("--out", default=str(prior.PATH))
    ap.add_argument("--C", type=float, default=0.3)
    ap.add_argument("--cap", type=int, default=3000)
    ap.add_argument("--min-df", type=int, default=3)
    ap.add_argument("--min-weight", type=float, default=MIN_WEIGHT)
    ap.add_argument("--keep-body-prefixes", action="store_true",
                    help="learn from bodies with their lines' conventional prefixes (a squash list's) left in")
    args = ap.parse_args()
    t0 = time.time()
    repos = {}
    for path in args.repo:
        p = Path(path).resolve()
        name = p.parent.name if p.name == "repo" else p.name  # /work/.mirror/owner+name/repo
        repos[name.replace("+", "/")] = (labelled(str(p), body_prefixes=args.keep_body_prefixes), roots(str(p)))
        print(f"{name}: {len(repos[name.replace('+', '/')][0])} prefixed commits", flush=True)
    doc = train(repos, C=args.C, cap=args.cap, min_df=args.min_df, min_weight=args.min_weight)
    doc["meta"].pop("shas")
    prior.save(doc, Path(args.out))
    print(f"{args.out}: {len(doc['weights'])} features, {Path(args.out).stat().st_size / 1024:.0f} KiB, "
          f"{time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
