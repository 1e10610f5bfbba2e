"""Git diff mining on real repositories made here: marks, merges, classes, examples, parser."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from items_util import last_mark, outputs
from support import git

from aitherd.candidate import Candidate
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.gitmine import mine

PRICE = ("def total(items):\n    s = 0\n    for it in items:\n        s += it.price\n    return s\n\n\n"
         "def discount(total, pct):\n    return total - total * pct\n")


def commit(repo: Path, message: str, files: dict[str, str | bytes | None], when: int | None = None) -> str:
    """Write (or delete, None) files and commit them; `when`: the author and committer time."""
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    git(repo, "add", "-A")
    env = None
    if when is not None:
        env = {**os.environ, "GIT_AUTHOR_DATE": f"@{when} +0000", "GIT_COMMITTER_DATE": f"@{when} +0000"}
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", message], env=env, check=True, capture_output=True)
    return git(repo, "rev-parse", "HEAD")


def new_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = new_repo(tmp_path / "repo")
    commit(r, "feat: add the price module", {"shop/price.py": PRICE})
    commit(r, "Fix discount applied as a fraction of 100", {"shop/price.py": PRICE.replace(
        "total * pct\n", "total * pct / 100\n")})
    commit(r, "refactor: rename s to subtotal", {"shop/price.py": PRICE.replace(
        "total * pct\n", "total * pct / 100\n").replace(" s = 0", " subtotal = 0").replace(
        "s += it", "subtotal += it").replace("return s\n", "return subtotal\n")})
    commit(r, "Cover discount edge cases", {"tests/test_price.py": (
        "from shop.price import discount\n\n\ndef test_zero():\n    assert discount(10, 0) == 10\n")})
    commit(r, "chore(deps): bump requests from 2.31.0 to 2.32.0", {"poetry.lock": "x = 1\n" * 50,
                                                                   "logo.png": b"\x89PNG\x00\x01" * 40})
    git(r, "checkout", "-qb", "side")
    commit(r, "feat: add a side price of one", {"shop/side.py": "def side():\n    return 1\n"})
    git(r, "checkout", "-q", "main")
    commit(r, "feat: main work", {"shop/main.py": "def main():\n    return 2\n"})
    git(r, "merge", "-q", "--no-edit", "side")
    commit(r, "feat: generate big table", {"shop/table.py": "".join(f"T{i} = {i}\n" for i in range(5000))})
    return r


def run(repo: Path, mark: dict | None = None, cfg: GitMiningConfig | None = None, ref: str = "main",
        state_dir: str | None = None) -> tuple[list, dict, dict | None]:
    counts: dict = {}
    raw = list(mine(str(repo), ref, mark or {}, cfg or GitMiningConfig(max_diff_bytes=20_000), counts, state_dir))
    return outputs(raw), counts, last_mark(raw)


def cands(out: list) -> list[Candidate]:
    return [c for c in out if isinstance(c, Candidate)]


def by_commit(out: list, subject: str) -> list[Candidate]:
    return [c for c in cands(out) if c.category != "review" and subject in c.messages[0]["content"]]


def test_commits_are_classified_and_mapped_to_categories(repo: Path) -> None:
    out, counts, mark = run(repo)
    fix = by_commit(out, "Bug fix: Fix discount applied as a fraction of 100")
    assert [c.category for c in fix] == ["debugging"]
    assert "total * pct\n" in fix[0].messages[0]["content"] and "total * pct / 100" in fix[0].messages[1]["content"]
    assert [c.category for c in by_commit(out, "Rename s to subtotal")] == ["editing"]
    tests = by_commit(out, "Cover discount edge cases")
    assert [c.category for c in tests] == ["test_generation"] and "Write the tests in `tests/test_price.py`" in \
        tests[0].messages[0]["content"]
    new = by_commit(out, "Add the price module")
    assert [c.category for c in new] == ["instruction"]
    assert new[0].messages[0]["content"] == "Add the price module\n\nWrite `shop/price.py`."
    assert counts["class.bugfix"] == 1 and counts["class.refactor"] == 1 and counts["class.test"] == 1
    review = [c for c in cands(out) if c.category == "review"]
    assert len(review) == 1 and "Review this change (Add the price module)" in review[0].messages[0]["content"]
    assert "fix discount applied as a fraction of 100" in review[0].messages[1]["content"]
    assert "skip:dependency_bump" in out  # the lock file and the logo are never even looked at
    assert "skip:large_diff" in out
    merge = git(repo, "rev-parse", "HEAD~1")
    assert all(c.provenance["commit"] != merge for c in cands(out))  # the merge's own diff is not mined
    assert by_commit(out, "Add a side price of one")  # but the commit it brought in is
    assert mark == {"ref": "main", "last": git(repo, "rev-parse", "HEAD")}


def test_a_second_run_mines_only_new_commits(repo: Path) -> None:
    _out, _, mark = run(repo)
    assert run(repo, mark)[0] == []
    sha = commit(repo, "fix: guard against empty items", {"shop/price.py": PRICE.replace(
        "    s = 0\n", "    if not items:\n        return 0\n    s = 0\n")})
    new, counts, newmark = run(repo, mark)
    assert counts["commits"] == 1 and newmark == {"ref": "main", "last": sha} and new


def test_a_merge_head_is_the_mark_and_a_second_run_mines_nothing(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "repo")
    commit(r, "Add a", {"a.py": "def a():\n    return 1\n"})
    git(r, "checkout", "-qb", "topic")
    commit(r, "Add b", {"b.py": "def b():\n    return 2\n"})
    git(r, "checkout", "-q", "main")
    commit(r, "Add c", {"c.py": "def c():\n    return 3\n"})
    git(r, "merge", "-q", "--no-ff", "--no-edit", "topic")
    head = git(r, "rev-parse", "HEAD")
    assert len(git(r, "rev-parse", "HEAD^@").split()) == 2  # HEAD is a merge
    _out, counts, mark = run(r)
    assert counts["commits"] == 3 and mark == {"ref": "main", "last": head}
    again, counts2, mark2 = run(r, mark)
    assert again == [] and counts2 == {} and mark2 is None  # nothing mined, the mark stays
    # A new commit on the topic branch merged again: only that commit is new.
    git(r, "checkout", "-q", "topic")
    d = commit(r, "Add d", {"d.py": "def d():\n    return 4\n"})
    git(r, "checkout", "-q", "main")
    git(r, "merge", "-q", "--no-ff", "--no-edit", "topic")
    third, counts3, mark3 = run(r, mark)
    assert counts3["commits"] == 1 and [c.provenance["commit"] for c in cands(third)] == [d]
    assert mark3 == {"ref": "main", "last": git(r, "rev-parse", "HEAD")}


def test_an_old_style_mark_on_a_merge_branch_is_continued_by_ancestry(repo: Path) -> None:
    # Marks written before: {"last": newest mined non-merge commit}. Continued, not restarted.
    feat = git(repo, "rev-parse", "HEAD~1^2")  # "feat: add a side price of one", older by date than main's tip
    _out, counts, mark = run(repo, {"last": git(repo, "rev-parse", "HEAD~1")})
    assert counts["commits"] == 1 and mark["last"] == git(repo, "rev-parse", "HEAD")
    _out, counts, _ = run(repo, {"last": feat})
    assert counts["commits"] == 2  # main work and the table: not ancestors of the side branch


def test_first_run_window_and_rewritten_history(repo: Path) -> None:
    _out, counts, _ = run(repo, cfg=GitMiningConfig(first_run_commits=2, max_diff_bytes=20_000))
    assert counts["commits"] == 2
    _out, counts, _ = run(repo, {"last": "0" * 40})  # unknown commit: start over on the window
    assert counts["commits"] == 8 and counts["history_rewritten"] == 1


def test_a_stop_mid_range_resumes_at_its_cursor(repo: Path) -> None:
    raw = list(mine(str(repo), "main", {}, GitMiningConfig(max_diff_bytes=20_000), {}))
    marks = [i.mark for i in raw if type(i).__name__ == "Checkpoint"]
    cursor = marks[3]
    assert cursor["done"] == 4 and cursor["target"] == git(repo, "rev-parse", "HEAD")
    _out, counts, mark = run(repo, cursor)
    assert counts["commits"] == 4 and mark == marks[-1]


def test_a_corrupt_repository_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text("gitdir: /nowhere\n")
    with pytest.raises(RuntimeError, match="cannot resolve 'main'"):
        run(broken)
