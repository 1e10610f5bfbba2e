"""Git diff mining on real repositories made here."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import git

from aitherd.sources.gitmine import GitMiningConfig, mine
from items_util import last_mark, outputs


def commit(repo: Path, message: str, files: dict[str, str | bytes | None]) -> str:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    git(r, "config", "user.email", "dev@example.com")
    git(r, "config", "user.name", "Dev")
    commit(r, "feat: add the price module", {"shop/price.py": (
        "def total(items):\n    s = 0\n    for it in items:\n        s += it.price\n    return s\n\n\n"
        "def discount(total, pct):\n    return total - total * pct\n")})
    commit(r, "Fix discount applied as a fraction of 100", {"shop/price.py": (
        "def total(items):\n    s = 0\n    for it in items:\n        s += it.price\n    return s\n\n\n"
        "def discount(total, pct):\n    return total - total * pct / 100\n")})
    commit(r, "refactor: rename s to subtotal", {"shop/price.py": (
        "def total(items):\n    subtotal = 0\n    for it in items:\n        subtotal += it.price\n"
        "    return subtotal\n\n\ndef discount(total, pct):\n    return total - total * pct / 100\n")})
    commit(r, "feat: round discounts to cents", {"shop/price.py": (
        "def total(items):\n    subtotal = 0\n    for it in items:\n        subtotal += it.price\n"
        "    return subtotal\n\n\ndef discount(total, pct):\n    return round(total - total * pct / 100, 2)\n")})
    commit(r, "Cover discount edge cases", {"tests/test_price.py": (
        "from shop.price import discount\n\n\ndef test_zero():\n    assert discount(10, 0) == 10\n")})
    commit(r, "chore: bump deps", {"poetry.lock": "x = 1\n" * 50, "logo.png": b"\x89PNG\x00\x01" * 40})
    git(r, "checkout", "-qb", "side")
    commit(r, "feat: side work", {"shop/side.py": "def side():\n    return 1\n"})
    git(r, "checkout", "-q", "main")
    commit(r, "feat: main work", {"shop/main.py": "def main():\n    return 2\n"})
    git(r, "merge", "-q", "--no-edit", "side")
    commit(r, "feat: generate big table", {"shop/table.py": "".join(f"T{i} = {i}\n" for i in range(5000))})
    return r


def run(repo: Path, mark=None, cfg=None):
    counts: dict = {}
    raw = list(mine(str(repo), "main", mark or {}, cfg or GitMiningConfig(max_diff_bytes=20_000), counts))
    return outputs(raw), counts, last_mark(raw)


def test_commits_are_classified_and_mapped_to_categories(repo):
    out, counts, mark = run(repo)
    cands = [c for c in out if not isinstance(c, str)]
    by_commit = {(c.provenance.get("class", "review")): c for c in cands
                 if not c.messages[0]["content"].endswith("`.")}  # new files: see below
    assert by_commit["bugfix"].category == "debugging"
    assert "has a bug: Fix discount applied" in by_commit["bugfix"].messages[0]["content"]
    assert "total * pct / 100" in by_commit["bugfix"].messages[1]["content"]
    assert by_commit["refactor"].category == "editing"
    tests = [c for c in cands if c.provenance.get("class") == "test"]
    assert tests and all(c.category == "test_generation" for c in tests)
    assert by_commit["feature"].category == "editing" and "round(" in by_commit["feature"].messages[1]["content"]
    new_files = [c for c in cands if c.messages[0]["content"].endswith("`.")]
    assert {c.category for c in new_files} == {"instruction", "test_generation"}
    assert any(c.messages[0]["content"] == "feat: add the price module\n\nWrite `shop/price.py`." for c in new_files)
    assert counts["class.bugfix"] == 1 and counts["class.refactor"] == 1 and counts["class.test"] == 1
    assert counts["class.feature"] == 4
    review = by_commit["review"]
    assert review.category == "review" and "Review this change (feat: add the price module)" in \
        review.messages[0]["content"]
    assert "Fix discount applied as a fraction of 100" in review.messages[1]["content"]
    paths = {c.provenance.get("path") for c in cands}
    assert "poetry.lock" not in paths and "logo.png" not in paths
    assert counts["skipped_files.vendored_or_generated"] == 1 and counts["skipped_files.binary"] == 1
    assert [c for c in out if isinstance(c, str)].count("skip:large_diff") == 1
    merges = [c for c in cands if c.provenance.get("commit") == git(repo, "rev-parse", "HEAD~1")]
    assert merges == []  # the merge commit itself is not mined
    assert mark["last"] == git(repo, "rev-parse", "HEAD")


def test_a_second_run_mines_only_new_commits(repo):
    out, _, mark = run(repo)
    assert run(repo, mark)[0] == []
    sha = commit(repo, "fix: guard against empty items", {"shop/price.py": (
        "def total(items):\n    if not items:\n        return 0\n    subtotal = 0\n    for it in items:\n"
        "        subtotal += it.price\n    return subtotal\n\n\ndef discount(total, pct):\n"
        "    return total - total * pct / 100\n")})
    new, counts, newmark = run(repo, mark)
    assert counts["commits"] == 1 and newmark["last"] == sha and new


def test_first_run_window_and_rewritten_history(repo):
    _out, counts, _ = run(repo, cfg=GitMiningConfig(first_run_commits=2, max_diff_bytes=20_000))
    assert counts["commits"] == 2
    _out, counts, _ = run(repo, {"last": "0" * 40})  # unknown commit: start over on the window
    assert counts["commits"] >= 6


def test_a_corrupt_repository_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text("gitdir: /nowhere\n")
    with pytest.raises(RuntimeError, match="cannot resolve 'main'"):
        run(broken)


def test_fragments_are_not_labelled_python_unless_they_parse(repo):
    body = "".join(f"        total += {i}\n" for i in range(12))
    commit(repo, "feat: long loop", {"shop/loop.py": f"def run(items):\n    total = 0\n    for it in items:\n{body}    return total\n"})
    commit(repo, "refactor: tidy the loop", {"shop/loop.py": f"def run(items):\n    total = 0\n    for it in items:\n"
                                                         f"{body.replace('total += 11', 'total += 11  # last')}    return total\n"})
    out, _, _ = run(repo, cfg=GitMiningConfig(context_lines=1, max_diff_bytes=20_000))
    tidy = next(c for c in out if not isinstance(c, str) and "tidy the loop" in c.messages[0]["content"])
    assert "```python" not in tidy.messages[0]["content"]  # the end of a loop body and the line after it
    assert "```\n" in tidy.messages[0]["content"]
    fix = next(c for c in out if not isinstance(c, str) and c.provenance.get("class") == "bugfix")
    assert "```python\n" in fix.messages[0]["content"]  # a line that stands alone parses
