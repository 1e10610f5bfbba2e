"""Git diff mining, the source: examples from each commit of a ref since its watermark.

The mark is the ref's tip once everything up to it is mined: `{"ref", "last": TIP}`. What a run
mines is decided by ancestry, never by date: the non-merge commits of `last..tip` (`git log
--no-merges`; a merge's own diff is not mined, but the commits it brings in are), or, on a first
run or after history was rewritten, the newest `first_run_commits` of them. A tip that is a
merge is then reached like any other, and a second run mines nothing. While a range is being
mined the mark is a cursor into that planned list (`target`, `done`, `at`): each commit ends
with a Checkpoint, so a stop or a crash resumes after the last commit whose items were stored.
A git process killed by a signal (SIGTERM to the job on cancel) ends the stream before the
commit in hand; nothing half-read is ever checkpointed.

The parts live in `aitherd.sources.git` (parse, files, classify, examples, review, run). This
module keeps the skip-path check and the source's entry point; it imports no third-party module
(worker processes import it).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import subprocess
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aitherd.sources.git.classify import Shape, conventional, decide, history, train_model
from aitherd.sources.git.examples import CATEGORY
from aitherd.sources.git.files import TEST_PATH as _TEST_PATH
from aitherd.sources.git.gitio import Interrupted
from aitherd.sources.git.parse import FMT, SEP, Commit, Hunk
from aitherd.sources.git.run import default_jobs, mine_commits
from aitherd.sources.git.settings import Settings
from aitherd.sources.items import Checkpoint, Item

if TYPE_CHECKING:
    from aitherd.sources.git.config import GitMiningConfig

__all__ = ["CATEGORY", "FMT", "SEP", "_TEST_PATH", "Commit", "GitMiningConfig", "Hunk", "classify", "is_ancestor",
           "mine", "plan", "resolve"]
LABEL_CACHE = "git-labels.sqlite"


def __getattr__(name: str) -> Any:  # the config model needs pydantic: imported only when asked for
    if name == "GitMiningConfig":
        from aitherd.sources.git.config import GitMiningConfig

        return GitMiningConfig
    raise AttributeError(name)


def classify(commit: Commit) -> str:
    """bugfix | feature | refactor | test | docs | chore, from the prefix, message and paths."""
    added = sum(h.added or sum(1 for ln in h.lines if ln[:1] == "+") for h in commit.hunks)
    removed = sum(h.removed or sum(1 for ln in h.lines if ln[:1] == "-") for h in commit.hunks)
    paths = commit.paths or [h.path for h in commit.hunks]
    return decide(commit.subject, commit.body, Shape(paths, commit.statuses, added, removed))[0]


@functools.lru_cache(maxsize=16)
def _skip_regex(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(file-name patterns, path patterns). A pattern without `/` names a file in any folder, as
    in .gitignore and `credential_files` ("go.sum" is cobra's cobra/go.sum too); one with `/`
    matches the path from the repository's root, where `*` crosses folders ("build/*" is the
    root's build folder, "*/dist/*" a dist folder at any depth)."""
    def one(ps: list[str]) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in ps) or r"(?!)")

    return one([p for p in patterns if "/" not in p]), one([p for p in patterns if "/" in p])


def _skip_path(path: str, patterns: list[str]) -> bool:
    names, paths = _skip_regex(tuple(patterns))
    return names.match(path[path.rfind("/") + 1:]) is not None or paths.match(path) is not None


def resolve(repo: str, ref: str) -> str:
    out = subprocess.run(["git", "-C", repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"],
                         capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{repo}: cannot resolve {ref!r}: "
                           f"{(out.stderr or 'not a git repository or no such ref').strip()}")
    return out.stdout.strip()


def _exists(repo: str, sha: str) -> bool:
    return subprocess.run(["git", "-C", repo, "cat-file", "-e", f"{sha}^{{commit}}"],
                          capture_output=True, timeout=30, check=False).returncode == 0


def is_ancestor(repo: str, old: str, new: str) -> bool:
    return subprocess.run(["git", "-C", repo, "merge-base", "--is-ancestor", old, new],
                          capture_output=True, timeout=30, check=False).returncode == 0


def plan(repo: str, base: str | None, target: str, first_run: int) -> list[tuple[str, str]]:
    """(sha, subject) of the non-merge commits to mine, oldest first: `base..target`, or the
    newest `first_run` reachable from `target` when there is no base."""
    rev = [f"{base}..{target}"] if base else [f"-n{first_run}", target]
    out = subprocess.run(["git", "-C", repo, "log", "--reverse", "--no-merges", "--format=%H%x1f%s", *rev, "--"],
                         capture_output=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{repo}: git log {' '.join(rev)} failed: "
                           f"{out.stderr.decode('utf-8', 'replace').strip()[:300]}")
    return [(ln[:40], ln[41:]) for ln in out.stdout.decode("utf-8", "replace").split("\n") if len(ln) >= 40]


def _repo_model(repo: str, target: str, cfg: GitMiningConfig) -> Any:
    """The repo's own classifier, or None when too few of its commits carry a prefix: fewer than
    `classifier_min_commits`, or under `classifier_min_share` of the newest `classifier_commits`."""
    out = subprocess.run(["git", "-C", repo, "log", "--no-merges", "--format=%s", f"-n{cfg.classifier_commits}",
                          target, "--"], capture_output=True, timeout=600, check=False).stdout
    subjects = out.decode("utf-8", "replace").split("\n")[:-1]
    prefixed = sum(1 for s in subjects if conventional(s)[0])
    if prefixed < cfg.classifier_min_commits or prefixed < cfg.classifier_min_share * len(subjects):
        return None
    return train_model(history(repo, target, cfg.classifier_commits), cfg.classifier_min_commits, cfg.prior)


def settings(repo: str, tip: str, cfg: GitMiningConfig, state_dir: str | None = None) -> Settings:
    """The miner's settings; the repo model, made while the range is mined, is not among them (mine_commits)."""
    return Settings(repo=repo, tip=tip, context_lines=cfg.context_lines, max_diff_bytes=cfg.max_diff_bytes,
                    max_hunk_lines=cfg.max_hunk_lines, min_changed_lines=cfg.min_changed_lines,
                    max_example_chars=cfg.max_example_chars, max_example_files=cfg.max_example_files,
                    max_split_examples=cfg.max_split_examples, python_context_lines=cfg.python_context_lines,
                    docs_keep=cfg.docs.keep, docs_weight=cfg.docs.weight, skip_vague=cfg.skip_vague_intents,
                    review_days=cfg.review_days,
                    skip_paths=tuple(cfg.skip_paths), translations=cfg.translations,
                    credential_files=tuple(cfg.credential_files), llm=cfg.llm.model_dump() if cfg.llm else None,
                    label_cache=str(Path(state_dir) / LABEL_CACHE) if state_dir and cfg.llm else None,
                    prior=cfg.prior, fix_confidence=cfg.fix_confidence)


def _range(repo: str, ref: str, last: str | None, target: str, done: int, at: str | None, cfg: GitMiningConfig,
           counts: dict[str, Any], state_dir: str | None) -> Generator[Item, None, bool]:
    """Mine the planned commits up to `target`, from the cursor; False when git was stopped."""
    base = last if last and is_ancestor(repo, last, target) else None
    if last and base is None:
        counts["history_rewritten"] = counts.get("history_rewritten", 0) + 1
    planned = plan(repo, base, target, cfg.first_run_commits)
    if done and not (0 < done <= len(planned) and planned[done - 1][0] == at):
        done = 0  # the plan changed under the cursor: mine the range again (stored examples are kept once)
    todo = planned[done:]
    train = None
    if cfg.classifier and any(conventional(s)[0] is None for _, s in todo):
        train = functools.partial(_repo_model, repo, target, cfg)  # made beside the workers (mine_commits)
    cfg_w = settings(repo, target, cfg, state_dir)
    try:
        for res in mine_commits(cfg_w, [s for s, _ in todo], cfg.jobs or default_jobs(), cfg.parallel_min_commits,
                                train):
            for key, n in res.counts.items():
                counts[key] = counts.get(key, 0) + n
            yield from res.items
            done += 1
            yield Checkpoint({"ref": ref, "last": last, "target": target, "done": done, "at": res.sha})
    except Interrupted:
        return False
    yield Checkpoint({"ref": ref, "last": target})
    return True


def mine(repo: str, ref: str, mark: dict[str, Any], cfg: GitMiningConfig, counts: dict[str, Any],
         state_dir: str | None = None) -> Iterator[Item]:
    """Items for each commit of `ref` not yet mined (see the module docstring for the mark)."""
    tip = resolve(repo, ref)
    last = mark.get("last")
    target = mark.get("target")
    if target and target != last and _exists(repo, target):  # finish the range a stop left
        if not (yield from _range(repo, ref, last, target, int(mark.get("done") or 0), mark.get("at"), cfg,
                                  counts, state_dir)):
            return
        last = target
    if last == tip:
        return
    yield from _range(repo, ref, last, tip, 0, None, cfg, counts, state_dir)
