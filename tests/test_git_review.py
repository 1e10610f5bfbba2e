"""Review pairs by blame: the fixed lines name the change under review, across runs and merges."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from test_sources_gitmine import cands, commit, new_repo, run

from aitherd.sources.git import files, review
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.git.examples import parts
from aitherd.sources.git.parse import Hunk, parse_commit
from aitherd.sources.gitmine import _skip_path, settings

DAY = 86400
T0 = 1_700_000_000


def reviews_of(out: list) -> list:
    return [c for c in cands(out) if c.category == "review"]


def test_the_fixed_line_is_blamed_not_a_line_with_the_same_text(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    f = "def f(x):\n    y = x * 2\n    return y\n"
    g = "\n\ndef g(x):\n    y = x * 2\n    return y - 1\n"
    first = commit(r, "Add f", {"m.py": f}, when=T0)
    commit(r, "Add g", {"m.py": f + g}, when=T0 + DAY)  # adds the same text `y = x * 2`, later
    commit(r, "Fix f doubling instead of tripling", {"m.py": f.replace("x * 2", "x * 3") + g}, when=T0 + 2 * DAY)
    out, counts, _ = run(r)
    (rev,) = reviews_of(out)
    assert rev.provenance["commit"] == first and "Review this change (Add f)" in rev.messages[0]["content"]
    assert "The line `y = x * 2` is at fault" in rev.messages[1]["content"]
    assert counts["reviews"] == 1


def test_trivial_and_reformatted_lines_are_not_blamed(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    body = "def f(items):\n    try:\n        total = sum(\n            items\n        )\n    except TypeError:\n" \
           "        total = 0\n    return total\n"
    commit(r, "Add f", {"f.py": body}, when=T0)
    commit(r, "Fix the sum call", {"f.py": body.replace("        )\n", "        ,)\n").replace(
        "    try:\n", "    try:  # tolerate junk\n")}, when=T0 + DAY)
    out, _, _ = run(r)
    assert reviews_of(out) == []  # `)` and `try:` say nothing, and a re-punctuated line is not a fix
    assert [ln for h in parse_commit(*_one(r, "HEAD"), lambda p: False).hunks for n, ln in review.fixed_lines(h)] == []


def test_a_short_line_is_blamed_for_its_content_not_its_length(tmp_path: Path) -> None:
    # The first miner measured `len(line.strip()) > 3` with the diff marker: `-)` counted, `n=0` did not.
    r = new_repo(tmp_path / "r")
    added = commit(r, "Add the counter", {"c.py": "def count(xs):\n    n=1\n    for x in xs:\n        n+=x\n    return n\n"},
                   when=T0)
    commit(r, "Fix the counter starting at one.", {"c.py": "def count(xs):\n    n=0\n    for x in xs:\n"
                                                          "        n+=x\n    return n\n"}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.provenance["commit"] == added and "The line `n=1` is at fault" in rev.messages[1]["content"]
    assert rev.messages[1]["content"].startswith("There is a problem: fix the counter starting at one. The line")


@pytest.mark.parametrize("subject, said", [("Fix the counter starting at one", "fix the counter starting at one"),
                                           ("fix: CSVParser counts from one", "CSVParser counts from one"),
                                           ("fix: WIP counter from zero", "WIP counter from zero"),
                                           ("fix: count() starts at one", "count() starts at one"),
                                           # a person's name or a title: curl's "Larry Lansing fixed ..."
                                           ("Larry Lansing fixed the counter", "Larry Lansing fixed the counter"),
                                           ("Gisle Vanem's counter patch", "Gisle Vanem's counter patch"),
                                           ("Fix the Counter", "fix the Counter"),
                                           # a verb before a name is lowered all the same (flask)
                                           ("Fixed Counter.start at one", "fixed Counter.start at one")])
def test_a_review_lowercases_the_fix_subjects_first_word_only_when_it_is_a_plain_word(
        tmp_path: Path, subject: str, said: str) -> None:
    """commons-csv's "There is a problem: cSVParser.getRecords() now throws ...", llm.c's "wIP
    support for FP16", peft's "fSDP cpu offloading fix" (8, 13 and 32 review pairs)."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add the counter", {"c.py": "def count(xs):\n    n=1\n    for x in xs:\n        n+=x\n    return n\n"},
           when=T0)
    commit(r, subject, {"c.py": "def count(xs):\n    n=0\n    for x in xs:\n        n+=x\n    return n\n"},
           when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.messages[1]["content"].startswith(f"There is a problem: {said}. The line")


def _one(repo: Path, rev: str) -> tuple[str, str]:
    from aitherd.sources.git.parse import FMT, GIT_CONFIG, LOG_OPTIONS

    raw = subprocess.run(["git", "-C", str(repo), *GIT_CONFIG, "log", "-1", *LOG_OPTIONS, "-U3", rev],
                         capture_output=True, text=True, check=True).stdout
    _, header, patch = raw.split(FMT[0], 2)
    return header, patch


def test_a_fix_mined_in_a_later_run_finds_the_change_it_fixes(tmp_path: Path) -> None:
    # The first run mines the buggy change; the fix comes in a later run (or after a resume):
    # git's history is the memory, so the review pair is found all the same.
    r = new_repo(tmp_path / "r")
    buggy = commit(r, "Add the pager", {"pager.py": "def pages(n, size):\n    return n // size\n"}, when=T0)
    _out, _, mark = run(r)
    commit(r, "Fix the count of the last partial page", {"pager.py": "def pages(n, size):\n    return -(-n // size)\n"},
           when=T0 + 3 * DAY)
    out, counts, _ = run(r, mark)
    assert counts["commits"] == 1
    (rev,) = reviews_of(out)
    assert rev.provenance["commit"] == buggy and "return n // size" in rev.messages[0]["content"]
    assert "return -(-n // size)" in rev.messages[1]["content"]


def test_a_change_older_than_the_window_is_not_reviewed(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add the pager", {"pager.py": "def pages(n, size):\n    return n // size\n"}, when=T0)
    commit(r, "Fix the last partial page", {"pager.py": "def pages(n, size):\n    return -(-n // size)\n"},
           when=T0 + 400 * DAY)
    assert reviews_of(run(r)[0]) == []
    assert len(reviews_of(run(r, cfg=GitMiningConfig(review_days=500))[0])) == 1


def _git_blame(repo: Path, fix: str, path: str, lines: list[int]) -> dict[int, str]:
    args = [a for n in lines for a in ("-L", f"{n},{n}")]
    out = subprocess.run(["git", "-C", str(repo), "blame", "-w", "--line-porcelain", *args, f"{fix}^", "--", path],
                         capture_output=True, text=True, check=True).stdout
    return {int(m.group(2)): m.group(1) for m in re.finditer(r"^([0-9a-f]{40}) \d+ (\d+)", out, re.M)}


def test_blame_through_merges_agrees_with_git_blame(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    base = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(9))
    added = commit(r, "Add functions", {"m.py": base, "other.py": "A = 1\n"}, when=T0)
    subprocess.run(["git", "-C", str(r), "checkout", "-qb", "topic"], check=True)
    on_topic = commit(r, "Change f2 on a branch", {"m.py": base.replace("x + 2", "x + 20")}, when=T0 + DAY)
    subprocess.run(["git", "-C", str(r), "checkout", "-q", "main"], check=True)
    on_main = commit(r, "Change f7 on main", {"m.py": base.replace("x + 7", "x + 70")}, when=T0 + 2 * DAY)
    commit(r, "Touch another file", {"other.py": "A = 2\n"}, when=T0 + 3 * DAY)
    subprocess.run(["git", "-C", str(r), "merge", "-q", "--no-edit", "topic"], check=True,
                   env={"GIT_AUTHOR_DATE": f"@{T0 + 4 * DAY} +0000", "GIT_COMMITTER_DATE": f"@{T0 + 4 * DAY} +0000",
                        "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    merged = (r / "m.py").read_text()
    fix = commit(r, "Fix f2, f4 and f7", {"m.py": merged.replace("x + 20", "x - 2").replace(
        "x + 70", "x - 7").replace("x + 4", "x - 4")}, when=T0 + 5 * DAY)
    cfg = settings(str(r), fix, GitMiningConfig())
    c = parse_commit(*_one(r, fix), lambda p: _skip_path(p, []))
    reqs = review.requests(c, [p for p in parts(c, cfg, lambda _f: False) if p.role == "code"])
    found, _nodes = review.blame(cfg, reqs)
    ours = {orig: sha for sha, pairs in found[0].items() for _, orig in pairs}
    truth = _git_blame(r, fix, "m.py", sorted(reqs[0].lines))
    assert ours == truth and set(ours.values()) == {on_topic, on_main, added} and len(ours) == 3
    out, _, _ = run(r)
    assert {c.provenance["commit"] for c in reviews_of(out)} == {on_topic, on_main, added}


def test_a_line_that_comes_back_with_another_version_is_not_blamed(tmp_path: Path) -> None:
    """Phoenix: "There is a problem: update Phoenix to Plug 0.8.3 ... The line `{:plug, "~> 0.8.2"},`
    is at fault" blamed the change that had pinned 0.8.2. An upgrade is no fault of it."""
    r = new_repo(tmp_path / "r")
    mix = 'defp deps do\n  [{:plug, "~> 0.8.2"},\n   {:cowboy, "~> 1.0"}]\nend\n'
    commit(r, "Add deps", {"mix.exs": mix, "app.py": "def f(x):\n    return x + 1\n"}, when=T0)
    commit(r, "Fix f adding one and plug's error handling",
           {"mix.exs": mix.replace("0.8.2", "0.8.3"), "app.py": "def f(x):\n    return x + 2\n"}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.provenance["path"] == "app.py" and "The line `return x + 1` is at fault" in rev.messages[1]["content"]
    mix_fix = parse_commit(*_one(r, "HEAD"), lambda p: p != "mix.exs")
    assert [f.path for f in mix_fix.files] == ["mix.exs"] and mix_fix.hunks
    assert [ln for h in mix_fix.hunks for n, ln in review.fixed_lines(h)] == []


def test_actions_pinned_to_commits_are_no_example_and_blame_no_change(tmp_path: Path) -> None:
    """sqlmodel's "Pin GitHub actions by commit SHA" wrote `actions/checkout@de0fac2e... # v6.0.2`
    for `@v6`: 6 examples asked to find a bug whose answer was a commit a model can only guess,
    and 8 review pairs blamed Dependabot's "Bump actions/checkout from 5 to 6" for it. An
    action's ref is a version, and a comment that only names one is no change."""
    r = new_repo(tmp_path / "r")
    flow = ("name: Test\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
            "      - uses: actions/checkout@v5\n      - uses: 'actions/setup-python@v6'\n      - run: pytest\n")
    sha1, sha2 = "de0fac2e4500dabe0009e67214ff5f5447ce83dd", "a309ff8b426b58ec0e2a45f0f869d46889d02405"
    commit(r, "Add the test workflow", {".github/workflows/test.yml": flow}, when=T0)
    bumped = flow.replace("checkout@v5", "checkout@v6")
    commit(r, "Bump actions/checkout from 5 to 6 in the test workflow", {".github/workflows/test.yml": bumped},
           when=T0 + DAY)
    pinned = (bumped.replace("checkout@v6", f"checkout@{sha1} # v6.0.2")
              .replace("'actions/setup-python@v6'", f"'actions/setup-python@{sha2}'  # v6.2.0"))
    commit(r, "Pin GitHub actions by commit SHA", {".github/workflows/test.yml": pinned}, when=T0 + 2 * DAY)
    out, _, _ = run(r)
    assert not [c for c in cands(out) if "Pin GitHub" in c.messages[0]["content"] + c.messages[1]["content"]]
    assert "skip:version_only" in out and not reviews_of(out)
    fix = parse_commit(*_one(r, "HEAD"), lambda p: None)
    assert [ln for h in fix.hunks for n, ln in review.fixed_lines(h)] == []
    # chi's "Pin GitHub Actions to full commit SHAs": `@40f1582b... # v5`, a major version alone
    rows = ["-        uses: actions/setup-go@v5", "+        uses: actions/setup-go@40f1582b2485089dde7abd97c1529aa768e1baff # v5"]
    assert review.fixed_lines(Hunk("t.yml", "@@", rows, old_start=3, new_start=3, added=1, removed=1)) == []
    # a step that changes more than its ref is a change
    rows = ["-      - uses: actions/checkout@v5", f"+      - uses: actions/checkout@{sha1} # v6.0.2 with lfs"]
    hunk = Hunk(".github/workflows/test.yml", "@@", rows, old_start=7, new_start=7, added=1, removed=1)
    assert review.fixed_lines(hunk) == [(7, "      - uses: actions/checkout@v5")]


def test_an_import_that_comes_back_with_more_names_is_not_blamed() -> None:
    """rich's "rule fix" added `reduce` to `from functools import lru_cache`: "The line `from
    functools import lru_cache` is at fault" blamed "Lru cache tweaks" for an import it needed."""
    h = Hunk("style.py", "@@", ["-from functools import lru_cache", "+from functools import lru_cache, reduce",
                                "-import os.path as osp", "+import os",
                                "-const { a } = require('x')", "+const { a, b } = require('x')",
                                "-    return cut(x)", "+    return cut(x) or 0"], old_start=1, new_start=1,
             added=4, removed=4)
    assert [text for _, text in review.fixed_lines(h)] == ["import os.path as osp", "    return cut(x)"]
    # line numbers stay those of the parent
    assert [n for n, _ in review.fixed_lines(h)] == [2, 4]


def test_a_row_of_an_imports_names_that_comes_back_with_more_is_not_blamed() -> None:
    """mypy: "The line `Type, CallableType, AnyType, UnboundType,` is at fault", a row of a
    `from mypy.types import (` written over several lines, for a fix that imported EllipsisType
    too. A row of a list that is no import, or of names an import drops, stays blamed."""
    def blamed(rows: list[str]) -> list[str]:
        h = Hunk("a.py", "@@", rows, old_start=1, new_start=1)
        return [text for _, text in review.fixed_lines(h)]

    assert blamed([" from mypy.types import (", "-    Type, CallableType, AnyType, UnboundType,",
                   "+    Type, CallableType, AnyType, UnboundType, EllipsisType", " )"]) == []
    assert blamed([" import {", "-  foo,", "-  bar,", "+  foo, bar,", "+  baz,", " } from 'x'"]) == []
    assert blamed([" from mypy.types import (", "-    Type, CallableType, AnyType, UnboundType,",
                   "+    Type, CallableType, AnyType,", " )"]) == ["    Type, CallableType, AnyType, UnboundType,"]
    assert blamed([" ALLOWED = (", "-    a, b,", "+    a, b, c,", " )"]) == ["    a, b,"]
    # a call's arguments under an import that closed: not the import's names
    assert blamed([" from x import (a, b)", " f(", "-    a, b,", "+    a, b, c,", " )"]) == ["    a, b,"]


def test_a_change_whose_message_has_a_body_is_reviewed(tmp_path: Path) -> None:
    """git's own history: every commit's message ends in a Signed-off-by line, and none of its
    newest 3,000 commits was reviewed. A body ends with a newline, so the separator that closes
    the header starts a line, and the culprit's header and diff were split apart: its diff was
    never found to show."""
    from aitherd.sources.git.parse import SEP, split_log

    r = new_repo(tmp_path / "r")
    commit(r, "Add the counter\n\nCounts the items given.\n\nSigned-off-by: A U Thor <author@example.com>",
           {"c.py": "def count(xs):\n    n=1\n    for x in xs:\n        n+=x\n    return n\n"}, when=T0)
    commit(r, "Fix the counter starting at one\n\nSigned-off-by: A U Thor <author@example.com>",
           {"c.py": "def count(xs):\n    n=0\n    for x in xs:\n        n+=x\n    return n\n"}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.messages[0]["content"].startswith("Review this change (Add the counter):")
    assert "+    n=1" in rev.messages[0]["content"] and "The line `n=1` is at fault" in rev.messages[1]["content"]
    # the split itself: headers with and without a body, a patch that holds the separator further on
    raw = (f"{SEP}a\x1fsubject\x1fbody\n{SEP}\n\ndiff --git a/x b/x\n+y{SEP}z\n"
           f"{SEP}b\x1fsubject\x1f{SEP}\n\ndiff --git a/w b/w\n")
    assert split_log(raw) == [("a\x1fsubject\x1fbody\n", "\n\ndiff --git a/x b/x\n+y" + SEP + "z"),
                              ("b\x1fsubject\x1f", "\n\ndiff --git a/w b/w\n")]
    assert split_log("") == [] and split_log(f"{SEP}cut") == []


def test_the_change_under_review_is_shown_as_it_was_with_its_reindented_lines(tmp_path: Path) -> None:
    """tqdm's "fix the WeakSet keyError bug" put `cls._instances.remove(instance)` under a new
    `if`: shown with whitespace ignored, the line stood as context at its new indentation, a
    before-side the file never had (52 of tqdm's 316 review pairs, 128 of werkzeug's 1,083)."""
    r = new_repo(tmp_path / "r")
    old = ("class Bars:\n    def remove(cls, bar):\n        with cls.lock:\n            try:\n"
           "                cls.bars.remove(bar)\n            except KeyError:\n                pass\n")
    new = old.replace("                cls.bars.remove(bar)\n",
                      "                if bar in cls.bars:\n                    cls.bars.remove(bar)\n")
    commit(r, "Add the bars", {"b.py": old}, when=T0)
    commit(r, "Guard the removal of a bar", {"b.py": new}, when=T0 + DAY)
    commit(r, "Fix the guard testing the wrong set", {"b.py": new.replace("if bar in cls.bars:", "if bar in cls.shown:")},
           when=T0 + 2 * DAY)
    (rev,) = reviews_of(run(r)[0])
    ask = rev.messages[0]["content"]
    assert ask.startswith("Review this change (Guard the removal of a bar):")
    assert "-                cls.bars.remove(bar)\n+                if bar in cls.bars:\n" \
           "+                    cls.bars.remove(bar)\n" in ask
    diff = ask.split("```diff\n", 1)[1].split("\n```", 1)[0]
    rows = [ln for ln in diff.splitlines() if not ln.startswith(("---", "+++", "@@"))]
    assert "".join(ln[1:] + "\n" for ln in rows if ln[0] != "+") in old  # the before-side, as it was
    assert "".join(ln[1:] + "\n" for ln in rows if ln[0] != "-") in new


def test_a_commit_without_a_message_is_reviewed_without_empty_brackets(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    (r / "m.py").write_text("def f(x):\n    return x * 2\n")
    subprocess.run(["git", "-C", str(r), "add", "-A"], check=True)
    env = {"GIT_AUTHOR_DATE": f"{T0} +0000", "GIT_COMMITTER_DATE": f"{T0} +0000"}
    subprocess.run(["git", "-C", str(r), "commit", "-q", "--allow-empty-message", "-m", ""], check=True,
                   env={**__import__("os").environ, **env})
    commit(r, "Fix f doubling instead of tripling", {"m.py": "def f(x):\n    return x * 3\n"}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.messages[0]["content"].startswith("Review this change:\n") and "()" not in rev.messages[0]["content"]


def test_a_subject_that_names_no_change_is_left_out_of_a_review(tmp_path: Path) -> None:
    """pip-tools' "There is a problem: PR review feedback.", clap's "address epage's remarks": the
    lines at fault and the suggested fix say what the problem is; "Review this change (WIP)" names
    nothing either."""
    r = new_repo(tmp_path / "r")
    commit(r, "WIP", {"m.py": "def f(x):\n    return x * 2\n"}, when=T0)
    commit(r, "fix: address epage's remarks", {"m.py": "def f(x):\n    return x * 3\n"}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.messages[0]["content"].startswith("Review this change:\n")
    assert rev.messages[1]["content"].startswith("There is a problem. The line `return x * 2` is at fault.")


def test_an_expanded_version_control_keyword_is_shown_unexpanded_and_is_no_change(tmp_path: Path) -> None:
    """lua's history came from RCS: each file opens with "$Id: lobject.c,v 1.44 2000/08/09
    19:16:57 roberto Exp roberto $", bumped by every commit (7,412 of its 10,957 answers held a
    revision and a date no model can know; commons-io 326 of 8,206). Shown as `$Id$`; a bump
    beside a change is no part of it, and alone it is no change; never a line at fault."""
    def src(rev: str, date: str, body: str) -> str:
        return f"/*\n** $Id: lsum.c,v {rev} {date} roberto Exp roberto $\n*/\n\n{body}"

    def other(rev: str) -> str:
        return f'static char *rcs = "$Revision: {rev} $";\nint two(void) {{ return 2; }}\n'

    body = "int sum(int a, int b) {\n  return a - b;\n}\n"
    commit(r := new_repo(tmp_path / "r"), "Add sum",
           {"lsum.c": src("1.1", "2000/06/30 14:35:17", body), "ltwo.c": other("1.1")}, when=T0)
    commit(r, "fix: sum subtracts", {"lsum.c": src("1.2", "2000/08/09 19:16:57", body.replace("a - b", "a + b")),
                                      "ltwo.c": other("1.2")}, when=T0 + DAY)
    out, _, _ = run(r)
    text = "".join(m["content"] for c in cands(out) for m in c.messages)
    assert "$Id:" not in text and "$Revision:" not in text and "1.2 " not in text and "2000/" not in text
    (fix,) = [c for c in cands(out) if c.category == "debugging"]
    assert "** $Id$" in fix.messages[0]["content"] and "** $Id$" in fix.messages[1]["content"]
    assert fix.provenance["paths"] == ["lsum.c"]  # ltwo.c's bump alone is no change
    (rev,) = reviews_of(out)
    assert "The line `return a - b;` is at fault." in rev.messages[1]["content"]
    from aitherd.sources.git.parse import _unexpanded, unexpanded

    assert unexpanded('echo "$Date: $x $"') == 'echo "$Date: $x $"'  # a shell's variables, no keyword
    assert unexpanded(" * @version $Revision:587916 $ $Id: $") == " * @version $Revision$ $Id$"  # commons-io's
    assert _unexpanded(["-old", "-$Rev: 12 $", "+new", "+$Rev: 13 $"]) == ["-old", "+new", " $Rev$"]


def test_a_line_only_moved_by_a_rename_is_not_blamed_on_the_rename(tmp_path: Path) -> None:
    """phoenix's "Add eex suffix for generator files" renamed 20 templates: 135 of its review
    pairs showed that commit adding a whole file and blamed it for lines it only moved."""
    r = new_repo(tmp_path / "r")
    body = "def f(x):\n    return x * 2\n\n\ndef g(x):\n    return x - 1\n"
    commit(r, "Add f and g", {"old.py": body}, when=T0)
    commit(r, "Move the helpers", {"old.py": None, "helpers.py": body}, when=T0 + DAY)
    commit(r, "Fix f doubling instead of tripling", {"helpers.py": body.replace("x * 2", "x * 3")},
           when=T0 + 2 * DAY)
    commit(r, "Add h", {"helpers.py": body.replace("x * 2", "x * 3") + "\n\ndef h(x):\n    return x + 5\n"},
           when=T0 + 3 * DAY)
    commit(r, "Fix h adding five", {"helpers.py": body.replace("x * 2", "x * 3") + "\n\ndef h(x):\n    return x + 4\n"},
           when=T0 + 4 * DAY)
    revs = reviews_of(run(r)[0])
    assert [(rev.messages[0]["content"].split("\n")[0], rev.provenance["path"]) for rev in revs] == [
        ("Review this change (Add h):", "helpers.py")]  # not "Move the helpers" for `return x * 2`


def test_a_fix_of_the_code_blames_no_line_of_the_ci_it_also_moves_on(tmp_path: Path) -> None:
    """rich's "fix status text" also moved its workflow's `python-version: [3.6, 3.7, 3.8, 3.9]`
    on, and that line was at fault in a review of the change that wrote it; tox envlists, pre-commit
    hooks and Travis scripts the same (0 to 11 pairs a history). A fix of the code blames its code's
    lines only; one whose subject speaks of the CI blames the CI's too."""
    r = new_repo(tmp_path / "r")
    flow = "jobs:\n  test:\n    strategy:\n      matrix:\n        python-version: [3.6, 3.7]\n"
    code = "def status(text):\n    return text.upper()\n"
    commit(r, "Add the status and its workflow", {"s.py": code, ".github/workflows/t.yml": flow}, when=T0)
    flow2 = flow.replace("[3.6, 3.7]", "[3.7, 3.8]")
    commit(r, "Fix the status text", {"s.py": code.replace("upper()", "title()"), ".github/workflows/t.yml": flow2},
           when=T0 + DAY)
    commit(r, "Fix the status text again, and the CI matrix", {
        "s.py": code.replace("upper()", "lower()"), ".github/workflows/t.yml": flow2.replace("[3.7, 3.8]", "[3.9]")},
        when=T0 + 3 * DAY)
    got = sorted((rev.messages[1]["content"].split(".")[0], rev.provenance["path"]) for rev in reviews_of(run(r)[0]))
    assert got == [("There is a problem: fix the status text", "s.py"),
                   ("There is a problem: fix the status text again, and the CI matrix", ".github/workflows/t.yml"),
                   ("There is a problem: fix the status text again, and the CI matrix", "s.py")], got
    assert files.is_ci(".github/workflows/t.yml") and files.is_ci("tox.ini") and not files.is_ci("setup.py")


def test_a_line_only_rewrapped_by_a_formatter_is_blamed_on_the_change_before(tmp_path: Path) -> None:
    """fmt's "Format the code using clang-format" was blamed in 26 review pairs: it joined and
    split lines, it wrote no character. A change that only moves line breaks and whitespace
    passes each line to the row its first character came from, and blame goes on from there."""
    r = new_repo(tmp_path / "r")
    head = "def total(items, scale):\n"
    added = commit(r, "Add total", {"t.py": head + "    out = compute(items, scale, rounding=False, strict=True)\n"
                                    "    return out\n"}, when=T0)
    wrapped = head + "    out = compute(\n        items,\n        scale,\n        rounding=False,\n" \
                     "        strict=True,\n    )\n    return out\n"
    commit(r, "Format with black", {"t.py": wrapped.replace("strict=True,\n", "strict=True\n")}, when=T0 + DAY)
    commit(r, "Fix total rounding half the time", {"t.py": wrapped.replace("rounding=False", "rounding=True").replace(
        "strict=True,\n", "strict=True\n")}, when=T0 + 2 * DAY)
    out, _, _ = run(r)
    (rev,) = reviews_of(out)
    assert rev.provenance["commit"] == added and "Review this change (Add total)" in rev.messages[0]["content"]
    assert "`rounding=False,`" in rev.messages[1]["content"]
    assert review._reflow(["-a = f(x, y)"], ["+a = f(", "+    x,", "+    y)"]) == [0, 0, 0]
    assert review._reflow(["-a = f(", "-  x)", "-b = 2"], ["+a = f(x)", "+b = 2"]) == [0, 2]
    assert review._reflow(["-a = f(x)"], ["+a = f(y)"]) is None  # a character changed


def test_a_line_that_only_gained_a_checkers_suppression_is_blamed_on_the_change_before(tmp_path: Path) -> None:
    """alembic's "Fix mypy errors" added `# type:ignore[attr-defined]` to a line a later fix
    changed, and its review pair said that change was at fault. A change that only adds, drops or
    edits a checker's suppression at a line's end (mypy, flake8, pylint, coverage, eslint, tsc)
    writes no code: blame goes on to the change that wrote the line. A real comment is text."""
    r = new_repo(tmp_path / "r")
    body = "def label(kw):\n    name = kw['existing_type'].name\n    return name.upper()\n"
    added = commit(r, "Add label", {"l.py": body}, when=T0)
    commit(r, "Fix mypy errors", {"l.py": body.replace(".name\n", ".name  # type:ignore[attr-defined]\n")},
           when=T0 + DAY)
    commit(r, "Fix label crash for a type without a name", {"l.py": body.replace(
        "kw['existing_type'].name", "getattr(kw['existing_type'], 'name', '')")}, when=T0 + 2 * DAY)
    (rev,) = reviews_of(run(r)[0])
    assert rev.provenance["commit"] == added and "Review this change (Add label)" in rev.messages[0]["content"]
    assert review._key("+x = f(y)  # noqa: E501") == review._key("-x = f(y)") == "x=f(y)"
    assert review._key("+x = f(y)  # type: ignore  # noqa") == "x=f(y)"
    assert review._key("+run();  // eslint-disable-line no-console") == "run();"
    assert review._key("+x = 1  # the count") != review._key("-x = 1")  # a comment of prose is text
    assert review._key('+color = "#fff"') != review._key('+color = "#000"')


def test_an_ide_project_file_is_blamed_for_no_review_pair(tmp_path: Path) -> None:
    """ShareX and Newtonsoft.Json: 59 and 34 review pairs blamed a .csproj line a fix moved or
    re-pinned ("The line `<Content Include="Favicons\\MediaCrush.ico" />` is at fault")."""
    r = new_repo(tmp_path / "r")
    proj = '<Project>\n  <ItemGroup>\n    <Compile Include="Upload.cs" />\n    <Content Include="{}" />\n' \
           '  </ItemGroup>\n</Project>\n'
    code = "class Upload {\n  int Retries() {\n    return 1;\n  }\n}\n"
    added = commit(r, "Add the uploader and its icon", {"App.csproj": proj.format("Icons\\up.ico"), "Upload.cs": code},
                   when=T0)
    commit(r, "Fix bug: uploads crashed after one failed try", {"App.csproj": proj.format("Icons\\upload.ico"),
                                                     "Upload.cs": code.replace("return 1;", "return 3;")},
           when=T0 + DAY)
    (rev,) = reviews_of(run(r, cfg=GitMiningConfig(context_lines=2))[0])
    assert rev.provenance["commit"] == added and "The line `return 1;` is at fault" in rev.messages[1]["content"]
    assert "csproj" not in rev.messages[0]["content"] + rev.messages[1]["content"]


def test_lines_a_fix_moves_are_not_blamed(tmp_path: Path) -> None:
    """OpenZeppelin's "fix: solium errors - function-order only" moved whole functions down the
    file (removed in one hunk, added again in another): the review blamed every moved line on
    the change that wrote it ("These lines are at fault: function addRole(...)")."""
    r = new_repo(tmp_path / "r")
    helper = "".join(f"def helper_{i}(x):\n    value_{i} = x + {i}\n    return value_{i}\n\n\n" for i in range(3))
    middle = "".join(f"def middle_{i}():\n    return {i}\n\n\n" for i in range(12))
    main = "def main(x):\n    result = helper_0(x) * 2\n    return result\n"
    commit(r, "Add the module", {"m.py": helper + middle + main}, when=T0)
    commit(r, "Fix errors - function order only", {"m.py": middle + helper + main}, when=T0 + DAY)
    out, _, _ = run(r)
    assert reviews_of(out) == []
    commit(r, "Fix main doubling the helper instead of tripling it",
           {"m.py": helper + middle + main.replace("* 2", "* 3")}, when=T0 + 2 * DAY)
    (rev,) = reviews_of(run(r)[0])
    assert "The line `result = helper_0(x) * 2` is at fault" in rev.messages[1]["content"]


def test_a_fix_of_a_docstring_blames_nothing(tmp_path: Path) -> None:
    """flask's "Bug fix: Fixed typo" in a docstring gave "There is a problem: fixed typo. The line
    `\"\"\"Wroks like ...` is at fault": a typo is no fault of the change under review."""
    r = new_repo(tmp_path / "r")
    src = ('def has_app_context():\n    """Wroks like has_request_context but for the app.\n\n'
           '    .. versionadded:: 0.9\n    """\n    return _app_ctx_stack.top is not None\n')
    commit(r, "Add has_app_context", {"ctx.py": src}, when=T0)
    commit(r, "Fix wrong has_app_context", {"ctx.py": src.replace("Wroks like", "Works like")},
           when=T0 + DAY)
    out, _, _ = run(r)
    assert reviews_of(out) == []
    commit(r, "Fix has_app_context inverted", {"ctx.py": src.replace("Wroks like", "Works like").replace(
        "is not None", "is None")}, when=T0 + 2 * DAY)
    (rev,) = reviews_of(run(r)[0])
    assert "The line `return _app_ctx_stack.top is not None` is at fault" in rev.messages[1]["content"]


def test_a_fixs_documentation_hunk_blames_nothing_beside_its_code_hunk(tmp_path: Path) -> None:
    """mojo's "fixed tag helper documentation" changed the helper and its POD in one file: the
    POD lines it rewrote were blamed on the commit that wrote them ("The line `<%= input_tag
    'country' ... %>` is at fault")."""
    r = new_repo(tmp_path / "r")
    body = "".join(f"sub helper_{i} {{ return {i}; }}\n\n" for i in range(12))
    pm = ("package Tags;\n\nsub input_tag {\n  my $name = shift;\n  return qq{<input name=\"$name\">};\n}\n\n"
          + body + "1;\n__END__\n\n=head2 input_tag\n\n  <%= input_tag 'country', type => 'radio' %>\n\n"
          "Generate form input element.\n\n=cut\n")
    commit(r, "Add input_tag", {"Tags.pm": pm}, when=T0)
    fixed = pm.replace('<input name="$name">', '<input name="$name" />').replace(
        "  <%= input_tag 'country', type => 'radio' %>\n\n", "")
    commit(r, "Fixed input_tag not closing its tag", {"Tags.pm": fixed}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    assert "The line `return qq{<input name=\"$name\">};` is at fault" in rev.messages[1]["content"]
    assert "country" not in rev.messages[1]["content"].split("Suggested fix")[0]


def test_a_line_moved_into_a_new_file_is_not_the_new_files_fault(tmp_path: Path) -> None:
    """gin's "Moves errorMsg to errors.go" was reviewed for `if msg.Type&typ > 0 {`, a line it
    only moved out of gin.go into the file it added: git's rename detection sees no rename
    there (gin.go stays), and blame stops at the commit that added errors.go."""
    r = new_repo(tmp_path / "r")
    others = "".join(f"def other_{i}(x):\n    return x - {i}\n\n\n" for i in range(10))
    by_type = "def by_type(msgs, typ):\n    return [m for m in msgs if m.type & typ > 1]\n"
    commit(r, "Add the app", {"app.py": others + by_type}, when=T0)
    commit(r, "Moves by_type to errors.py", {"app.py": others, "errors.py": "import os\n\n\n" + by_type},
           when=T0 + DAY)
    commit(r, "Fix by_type dropping the first flag", {"app.py": others, "errors.py": "import os\n\n\n" + by_type.replace(
        "> 1", "> 0")}, when=T0 + 2 * DAY)
    out, _, _ = run(r)
    assert [rev.provenance["commit"] for rev in reviews_of(out)] == []


def test_a_line_moved_within_its_file_is_not_the_moves_fault(tmp_path: Path) -> None:
    """fd's "walk: New WorkerState struct shared by the worker threads" moved
    `if config.read_vcsignore {` with the code around it, within walk.rs, and was reviewed for
    what "stop ignore .git folders by default" fixed; sinatra's "Tidy up for RDoc a bit" for
    what a fix of its render options changed. A line a culprit removed and wrote again in the
    same file was not written there; a line it did write still is its fault."""
    r = new_repo(tmp_path / "r")
    helpers = "".join(f"def helper_{i}(x):\n    return x - {i}\n\n\n" for i in range(8))
    walk = "def walk(root):\n    skip = ['.git']\n    return [p for p in root if p not in skip]\n"
    commit(r, "Add walk", {"walk.py": walk + "\n\n" + helpers}, when=T0)
    moved = helpers + "\n\nclass Walker:\n    limit = 10\n\n\n" + walk
    commit(r, "Move walk below the helpers, add a Walker", {"walk.py": moved}, when=T0 + DAY)
    fixed = moved.replace("skip = ['.git']", "skip = []").replace("limit = 10", "limit = 100")
    commit(r, "Fix walk skipping .git and the walker's limit", {"walk.py": fixed}, when=T0 + 2 * DAY)
    out, _, _ = run(r)
    (rev,) = reviews_of(out)  # only the line the move did write: `limit = 10`
    assert "Move walk below" in rev.messages[0]["content"]
    assert "The line `limit = 10` is at fault" in rev.messages[1]["content"] and "skip = ['.git']" not in \
        rev.messages[1]["content"].split("Suggested fix")[0]


def test_a_docstrings_lines_in_a_fixs_code_hunk_are_not_blamed(tmp_path: Path) -> None:
    """werkzeug's "Order rules by complexity." and `BaseReporterStream`'s usage example in its
    docstring, rich's `\"\"\"Parses the markup.\"\"\"`: a fix that rewrote a docstring beside its code,
    in one hunk, blamed the prose (werkzeug 28 of its 1,075 review pairs, rich 18 of 970, flask
    9 of 267). A docstring that opens in the hunk, one line or several, is documentation."""
    q3 = '"' * 3
    src = (f"class Map:\n    def sort(self, rules):\n        {q3}Order rules by complexity.\n\n"
           "        Usage::\n\n            m.sort(rules)\n"
           f"        {q3}\n        rules.sort(key=len)\n        return rules\n\n"
           f"    def parse(self, text):\n        {q3}Parses the markup.{q3}\n        return text.split()\n")
    r = new_repo(tmp_path / "r")
    commit(r, "Add the map", {"m.py": src}, when=T0)
    fixed = (src.replace("Order rules by complexity.", "Order rules by their weight.")
             .replace("m.sort(rules)", "m.sort(rules, key)").replace("key=len", "key=lambda r: -len(r)")
             .replace("Parses the markup.", "Parse the markup into words.").replace("text.split()", "text.split(' ')"))
    commit(r, "Fix the order of rules and the split of markup", {"m.py": fixed}, when=T0 + DAY)
    (rev,) = reviews_of(run(r)[0])
    reply = rev.messages[1]["content"]
    assert "These lines are at fault:\n- `rules.sort(key=len)`\n- `return text.split()`\n\n" in reply
    (h,) = [h for fd in parse_commit(*_one(r, "HEAD"), lambda p: False).files for h in fd.hunks]
    rows = review.docstring_rows(h)
    assert {h.lines[i][1:].strip() for i in rows} >= {q3 + "Order rules by complexity.", "m.sort(rules)", q3,
                                                        q3 + "Parses the markup." + q3}
    assert not any("return" in h.lines[i] or "key=len" in h.lines[i] for i in rows)
