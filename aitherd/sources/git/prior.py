"""A cross-repo prior for commit classes: what public conventional-commit histories teach.

`prior.json.gz` (shipped beside this file) holds a multinomial logistic regression over
`features` (subject words and bigrams, the first word, body words, what kinds of paths a
commit touches, extensions, directory names, new or deleted files, the rules' guess), trained
on the prefixed commits of public conventional-commit repositories with their prefixes
stripped. `bench/git_prior.py` makes it (with `softmax.fit`: numpy and scipy there and in
`tuned`, never at import); the file records
which repositories, how many commits of each, and each repository's root commit, so a
benchmark can prove it never scores a repository the prior learned from. Prediction is pure
Python: one dict lookup per feature and six additions; the file is read once, on first use.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from aitherd.sources.git import files

CLASSES = ("bugfix", "feature", "refactor", "test", "docs", "chore")  # classify.CLASSES, same order
PATH = Path(__file__).with_name("prior.json.gz")
_WORD = re.compile(r"[a-z][a-z0-9']*")
_LOCK = re.compile(r"(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock|uv\.lock|Cargo\.lock|go\.sum|"
                   r"Pipfile\.lock|Gemfile\.lock|composer\.lock)$")
_MANIFEST = re.compile(r"(^|/)(package\.json|pyproject\.toml|setup\.py|setup\.cfg|Cargo\.toml|go\.mod|"
                       r"requirements[\w.-]*\.txt|Gemfile|composer\.json|pom\.xml|build\.gradle(\.kts)?)$")
_CI = re.compile(r"(^|/)(\.github|\.gitlab|\.circleci|\.buildkite)/|\.gitlab-ci\.yml$|\.travis\.yml$|Jenkinsfile$")


def _share(hits: int, n: int) -> str:
    return "none" if not hits else "all" if hits == n else "some"


def features(message: str, paths: list[str], statuses: list[str], rule: str) -> set[str]:
    """The prior's features of a commit (message without its prefix; paths with A/M/D statuses)."""
    subject = message.split("\n", 1)[0].lower()
    words = _WORD.findall(subject)[:20]
    out = {f"s:{w}" for w in words}
    out.update(f"sb:{a}_{b}" for a, b in itertools.pairwise(words))
    if words:
        out.add(f"first:{words[0]}")
    out.update(f"b:{w}" for w in _WORD.findall(message[len(subject):len(subject) + 1500].lower())[:80])
    n = len(paths)
    out.add(f"nfiles:{'0' if n == 0 else '1' if n == 1 else '2-3' if n <= 3 else '4-9' if n < 10 else '10+'}")
    if n:
        kinds = [_path_kinds(p) for p in paths]
        for i, name in enumerate(_KINDS):
            out.add(f"{name}:{_share(sum(k[0][i] for k in kinds), n)}")
        out.add(f"added:{_share(statuses.count('A'), n)}")
        out.add(f"deleted:{_share(statuses.count('D'), n)}")
        for k in kinds[:40]:
            out.update(k[1])
    out.add(f"rule:{rule}")
    return out


_KINDS = ("tests", "prose", "build", "lock", "manifest", "ci")


@functools.lru_cache(maxsize=1 << 16)  # a repo's paths repeat from commit to commit
def _path_kinds(path: str) -> tuple[tuple[bool, ...], tuple[str, ...]]:
    """One path's part of the features: which kinds it is (in _KINDS order), its extension and
    its directory names."""
    kinds = (files.is_test(path), files.is_docs(path), files.is_build(path), _LOCK.search(path) is not None,
             _MANIFEST.search(path) is not None, _CI.search(path) is not None)
    name = path.rpartition("/")[2]
    own = [f"ext:{name.rpartition('.')[2].lower() if '.' in name else 'none'}"]
    own += [f"seg:{seg}" for seg in path.lower().split("/")[:-1][:6]]
    return kinds, tuple(own)


class Prior:
    """Softmax regression: per class, a bias plus one weight per feature present."""

    def __init__(self, doc: dict[str, Any]) -> None:
        if list(doc["classes"]) != list(CLASSES):
            raise ValueError(f"prior: classes {doc['classes']} are not {list(CLASSES)}")
        self.bias: list[float] = [float(b) for b in doc["bias"]]
        self.weights: dict[str, list[float]] = doc["weights"]
        self.meta: dict[str, Any] = doc.get("meta", {})

    def logp(self, feats: set[str] | list[str]) -> list[float]:
        """Log-probabilities of the six classes, in CLASSES order."""
        get = self.weights.get
        hits = [w for f in feats if (w := get(f)) is not None]
        cols = list(zip(*hits, strict=True)) if hits else [()] * len(self.bias)  # per class, C-level sums
        # fsum: exact, so the order of a set of features (it varies with the string hash seed
        # from run to run) cannot tip a near tie: a re-run labels every commit the same.
        z = [b + math.fsum(col) for b, col in zip(self.bias, cols, strict=True)]
        top = max(z)
        norm = top + math.log(sum(math.exp(v - top) for v in z))
        return [v - norm for v in z]

    def predict(self, feats: set[str] | list[str]) -> str:
        lp = self.logp(feats)
        return CLASSES[lp.index(max(lp))]

    def __eq__(self, other: object) -> bool:
        # By content: a model handed to a worker process arrives as a copy, and the worker
        # keeps its miner only while the settings it gets compare equal to the last ones.
        if not isinstance(other, Prior):
            return NotImplemented
        return self.bias == other.bias and self.weights == other.weights

    __hash__ = None  # type: ignore[assignment]

    def roots(self) -> set[str]:
        """Root commits of the repositories it was trained on."""
        return {r for repo in self.meta.get("repos", []) for r in repo.get("roots", [])}


TUNE_L2 = 10.0  # pull of a tuned weight (and bias) back to the prior's (measured, bench/git_classify.py)
TUNE_L2_NEW = 3.0  # pull towards 0 of the weight of a feature the prior lacks
# L-BFGS iterations: held-out agreement on the nine repositories of bench/git_classify.py is
# within 0.1 point of 300's at 50 (vite's tuning takes 0.7 s instead of 2.2 s).
TUNE_ITERATIONS = 50
# A feature in fewer of the repo's commits is not tuned (it keeps the prior's weight, or has
# none): on the five leave-one-out repositories as good as tuning every one (+0.1 on average),
# and vite's tuning takes half the time.
TUNE_MIN_COMMITS = 3


def tuned(base: Prior, samples: list[tuple[set[str], str]], weights: list[float] | None = None,
          l2: float = TUNE_L2, l2_new: float = TUNE_L2_NEW) -> Prior:
    """The prior tuned to one repository's prefixed commits (`features`, class): a softmax
    regression that starts from the prior's weights and is pulled back towards them (`l2`; a
    feature the prior lacks starts at 0 and is pulled there by `l2_new`), so a handful of
    commits moves it little and thousands teach the repo's own use of words and paths. Features
    in fewer than `TUNE_MIN_COMMITS` samples keep the prior's weights."""
    from aitherd.sources.git.softmax import fit

    seen = Counter(f for feats, _ in samples for f in feats)
    vocab = sorted(f for f, n in seen.items() if n >= TUNE_MIN_COMMITS)
    index = {f: j for j, f in enumerate(vocab)}
    zero = [0.0] * len(CLASSES)
    W, b = fit([sorted(index[f] for f in feats if f in index) for feats, _ in samples],
               [CLASSES.index(kind) for _, kind in samples], len(vocab), len(CLASSES), weights=weights,
               start=([base.weights.get(f, zero) for f in vocab], base.bias),
               l2=[l2 if f in base.weights else l2_new for f in vocab], l2_bias=l2, maxiter=TUNE_ITERATIONS)
    out = dict(base.weights)
    out.update(zip(vocab, W.tolist(), strict=True))
    return Prior({"classes": list(CLASSES), "bias": b.tolist(), "weights": out,
                  "meta": {"tuned": len(samples), "l2": l2, "l2_new": l2_new}})


def save(doc: dict[str, Any], path: Path) -> None:
    path.write_bytes(gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), mtime=0))


@functools.cache
def load(path: str = str(PATH)) -> Prior | None:
    """The shipped prior, read once; None (and rules instead) when the file is missing."""
    try:
        return Prior(json.loads(gzip.decompress(Path(path).read_bytes())))
    except FileNotFoundError:
        return None
