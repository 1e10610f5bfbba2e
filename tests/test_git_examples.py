"""What git mining keeps and how it asks: grouped hunks, intents without prefixes, language
fences, documentation at its own share, no whitespace-only or generated changes, and the
parser bugs of the first miner (real repositories made here)."""

from __future__ import annotations

import ast
import io
import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
from test_sources_gitmine import cands, commit, new_repo, run

from aitherd.sources.git import examples, files
from aitherd.sources.git.config import DocsConfig, GitMiningConfig
from aitherd.sources.git.examples import vague
from aitherd.sources.git.message import clean_body, split_subject
from aitherd.sources.git.parse import GIT_CONFIG, LOG_OPTIONS, FileDiff, Hunk, records

FENCE = re.compile(r"```(\w*)\n(.*?)```", re.S)


def fences(text: str) -> list[tuple[str, str]]:
    return FENCE.findall(text)


def test_an_added_line_that_starts_with_two_pluses_stays_in_the_answer(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add the counter", {"count.c": "int next(int i) {\n    return i;\n}\n", "notes.sql": "select 1;\n"})
    commit(r, "Count up", {"count.c": "int next(int i) {\n++ i;\n    return i;\n}\n",
                           "notes.sql": "-- the first query\nselect 1;\n"})
    out, _, _ = run(r)
    (ex,) = [c for c in cands(out) if "Count up" in c.messages[0]["content"]]
    answer = ex.messages[1]["content"]
    assert "++ i;\n    return i;" in answer  # the diff line "+++ i;" is a hunk line, not a file header
    assert "-- the first query" in answer and "`count.c`" in answer and "`notes.sql`" in answer
    assert ex.provenance["paths"] == ["count.c", "notes.sql"]


def test_a_file_holding_the_record_separator_does_not_cut_a_commit(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    first = commit(r, "Add the framing codec", {"frame.py": 'SEP = "\x1e"\n', "wire.txt": "a\x1eb\n\x1e\n"})
    second = commit(r, "Frame with the unit separator", {"frame.py": 'SEP = "\x1f"\n',
                                                          "wire.txt": "a\x1fb\n\x1e\x1e\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(review_days=0))
    assert counts["commits"] == 2 and {c.provenance["commit"] for c in cands(out)} == {first, second}
    (ex,) = [c for c in cands(out) if c.provenance["commit"] == second and c.provenance["paths"] == ["wire.txt"]]
    assert "a\x1fb\n\x1e\x1e" in ex.messages[1]["content"]  # and \x1e -> \x1f is no whitespace change


def test_skipped_files_do_not_count_toward_the_size_limit(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Start the guide", {"docs/guide.md": "# Guide\n\nInstall it.\n"})
    shot = "<svg>" + "<rect x='1' y='2'/>\n" * 3000 + "</svg>\n"
    commit(r, "Explain the install step with a screenshot", {
        "docs/guide.md": "# Guide\n\nInstall it with pip, then run it once.\n", "docs/shot.svg": shot})
    out, counts, _ = run(r, cfg=GitMiningConfig(max_diff_bytes=5_000))
    assert len(shot) > 5_000 and "skip:large_diff" not in out
    (ex,) = [c for c in cands(out) if "screenshot" in c.messages[0]["content"]]
    assert "then run it once" in ex.messages[1]["content"]
    assert counts["skipped_files.vendored_or_generated"] == 1  # the SVG, by path


def test_one_example_holds_every_hunk_of_a_commit_and_the_intent_has_no_prefix(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    far = "".join(f"def keep_{i}(x):\n    return x + {i}\n\n\n" for i in range(12))
    commit(r, "Add the runner", {"run.py": "import os\n\n\n" + far + "def main():\n    return os.getcwd()\n",
                                 "util.py": "def helper():\n    return 1\n"})
    commit(r, "fix(runner): eliminate a resource warning (#123)", {
        "run.py": "import gc\nimport os\n\n\n" + far + "def main():\n    gc.collect()\n    return os.getcwd()\n",
        "util.py": "def helper():\n    return 2\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "resource warning" in c.messages[0]["content"] and c.category != "review"]
    ask, answer = ex.messages[0]["content"], ex.messages[1]["content"]
    assert ask.startswith("Bug fix: Eliminate a resource warning\n")  # no "fix(runner):", no "(#123)"
    assert "fix(" not in ask and "#123" not in ask
    assert answer.count("`run.py`") == 2 and "`util.py`" in answer  # both hunks of run.py, and util.py
    assert "import gc" in answer and "gc.collect()" in answer and "return 2" in answer
    assert ex.category == "debugging" and ex.provenance["paths"] == ["run.py", "util.py"]


@pytest.mark.parametrize("header", ["# Aider chat conversation:\n\n", "# Context:\n"])
def test_a_coding_assistants_chat_in_the_body_is_not_part_of_the_task(tmp_path: Path, header: str) -> None:
    """aider commits for its user with the chat appended (its edit blocks, the answer, among
    it), in the body of thousands of commits of aider's own history."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add greet", {"greet.py": "def greet(name):\n    return name\n"})
    chat = ("USER: make greet say hello\nASSISTANT: Here is the change:\n\ngreet.py\n<<<<<<< ORIGINAL\n"
            "    return name\n=======\n    return f'Hello, {name}!'\n>>>>>>> UPDATED\n")
    commit(r, f"aider: Changed greet to say hello\n\nThe greeting is now polite.\n\n{header}{chat}",
           {"greet.py": "def greet(name):\n    return f'Hello, {name}!'\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "greet to say hello" in c.messages[0]["content"]]
    ask = ex.messages[0]["content"]
    assert ask.startswith("Changed greet to say hello\n\nThe greeting is now polite.\n")
    assert "USER:" not in ask and "ORIGINAL" not in ask and "Hello, {name}" not in ask


def test_a_squash_merges_list_of_branch_commits_is_neither_task_nor_explanation(tmp_path: Path) -> None:
    """GitHub's squash merge (as on litestar, hono, python-bigquery): the branch's subjects as
    bullet paragraphs, a line of nine dashes, the co-authors. As a fix's explanation it would
    be "* add failing test * address review comments * poetry lock". Written in a browser, such a
    body may end its lines with CRLF."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add the stamp parser", {"stamp.py": "def parse(v):\n    return date.fromtimestamp(v)\n"})
    squash = ("* add failing test\n\n* fix: parse as UTC\n\nPydantic reads a stamp as a UTC date, cattrs as a local\n"
              "one: the two disagreed near midnight.\n\nfix lint\n\nSource-Link: https://example.com/synth/1\n"
              "Post-Processor: gcr.io/owlbot-python:latest\n\n* Update stamp.py\n\nCo-authored-by: A <a@example.com>\n\n"
              "* address review comments\n\n---------\n\nCo-authored-by: A <a@example.com>\n")
    commit(r, f"Fix inconsistent parsing of unix timestamps (#1234)\n\n{squash}",
           {"stamp.py": "def parse(v):\n    return datetime.fromtimestamp(v, tz=timezone.utc).date()\n"})
    (r / "stamp.py").write_text("def parse(v):\n    return EPOCH + timedelta(seconds=v)\n")
    subprocess.run(["git", "-C", str(r), "commit", "-qa", "--cleanup=verbatim", "-m", "Support negative stamps "
                    "(#1240)\n\nA stamp before 1970 is read too.\r\n\r\n* support negative\r\n\r\n* lint\r\n"], check=True)
    commit(r, "perf: Parse stamps without a regex (#1250)\n\n* perf: parse stamps without a regex\n",  # a squash of one
           {"stamp.py": "def parse(v):\n    return EPOCH + timedelta(seconds=int(v))\n"})
    commit(r, "Explain the stamp format", {"stamp.py": "def parse(v):\n    # seconds since 1970, UTC\n"
                                           "    return EPOCH + timedelta(seconds=v)\n"},)
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (fix,) = [c for c in cands(out) if "unix timestamps" in c.messages[0]["content"]]
    assert fix.category == "debugging" and fix.messages[0]["content"].startswith(
        "Bug fix: Fix inconsistent parsing of unix timestamps\n\n`stamp.py`")
    # what a branch commit's body explained stays (the answer's explanation); its list does not
    assert fix.messages[1]["content"].startswith("Pydantic reads a stamp as a UTC date, cattrs as a local\n"
                                                 "one: the two disagreed near midnight.\n\n`stamp.py`")
    (edit,) = [c for c in cands(out) if "negative stamps" in c.messages[0]["content"]]
    assert edit.messages[0]["content"].startswith("Support negative stamps\n\nA stamp before 1970 is read too.\n\nMake")
    (perf,) = [c for c in cands(out) if "without a regex" in c.messages[0]["content"]]
    assert perf.messages[0]["content"].startswith("Parse stamps without a regex\n\nMake this change")
    text = "".join(m["content"] for c in cands(out) for m in c.messages)
    assert "review comments" not in text and "---------" not in text and "* lint" not in text and "\r" not in text
    assert "fix lint" not in text and "Source-Link" not in text


def test_a_pull_request_templates_checklist_and_comments_are_not_the_task(tmp_path: Path) -> None:
    """python-bigquery's and BentoML's bodies carry their PR templates: an intro line, checklists
    (items wrapped onto several lines), HTML comments, headings left with nothing under them; and
    a directive to CI in the subject ("[ci skip]": 190 of vite's examples) is no part of the task."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add table references", {"ref.py": "class TableReference:\n    pass\n"})
    body = ("This is the natural inverse of the `TableReference.from_string` method.\n\n"
            "<!--\nThanks for sending a pull request!\n\nName your Pull Request with one of the following prefixes\n"
            "  - feat: (new feature for the user)\n-->\n"
            "Thank you for opening a Pull Request! Before submitting your PR, there are a few things you can do"
            " to make sure it goes smoothly:\n- [x] Ensure the tests and linter pass\n"
            "- [ ] Appropriate docs were updated (if necessary)\n\n## Before submitting:\n\n"
            "- [ ] Does the Pull Request follow [Conventional Commits\n"  # an item GitHub wrapped
            "specification](https://www.conventionalcommits.org/en/v1.0.0/#summary)\nnaming?\n\n"
            "## Who can help review?\n\n"
            "![image](https://user-images.githubusercontent.com/1/2.png)\n\nFixes #354 🦕\n")
    commit(r, f"feat: add TableReference.__str__ [ci skip]\n\n{body}", {"ref.py": "class TableReference:\n    def __str__(self):\n"
                                                                  "        return 'p.d.t'\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "__str__" in c.messages[0]["content"]]
    assert ex.messages[0]["content"].startswith("Add TableReference.__str__\n\nThis is the natural inverse of the "
                                                "`TableReference.from_string` method.\n\nMake this change")


@pytest.mark.parametrize(("subject", "body", "paths", "want"), [
    ("Copy", "", ["aider/website/index.md"], True),
    ("WIP", "", ["app.py"], True),
    ("Updated HISTORY", "", ["HISTORY.md"], True),
    ("Update ctags.md", "", ["docs/ctags.md"], True),
    ("cleanup", "", ["a.py", "b.py"], True),
    ("Copy", "Reword the pricing page for teams.", ["index.md"], False),  # the body says what
    ("Fix typo", "", ["docs/x.md"], False),  # a typo can be found in the text shown
    ("Run the linter", "", ["a.py"], False),
    ("Update README.md for the new install command", "", ["README.md"], False),
    ("1.0 -> 0.11 in the docs", "", ["docs/a.rst"], False),  # versions are content
    ("Rename helper to load_config", "", ["a.py"], False),
    ("Count up", "", ["count.c"], False),  # a name and glue, but no vague word
    ("...", "", ["a.py"], True),
    # xxl-job: a subject with no Latin letter was no word at all, hence vague (332 of 1,988)
    ("重构枚举类和返回类型以提升代码一致性", "", ["src/JobEnum.java"], False),
    ("调度信息迁移至DB中", "", ["src/Scheduler.java"], False),
    ("Исправлена ошибка в парсере", "", ["parser.py"], False),
    ("更新RM", "", ["README.md"], True),  # "update README"
    ("代码优化", "", ["src/Job.java"], True),  # "code optimization"
    ("Update doc", "", ["doc/XXL-JOB官方文档.md"], True),
    ("Coding", "", ["src/Job.java"], True),
    ("Document RuntimeTypeAdapter", "", ["extras/RuntimeTypeAdapter.java"], False),  # a verb: write its docs
    # what a review asked for is not what changed (flameshot, phoenix, flask); a lone letter
    ("Made changes after review of merge", "", ["external/QHotkey/QHotkey"], True),
    ("Minor tweaks after code review", "", ["lib/phoenix/router.ex"], True),
    ("Address review comments", "", ["src/a.c"], True),
    ("Updates per PR review", "", ["src/a.c"], True),
    ("A", "", ["debian/patches/0001-build-patch.patch"], True),
    ("Fix typo after review", "", ["src/a.c"], False),
    ("Add comments to the parser", "", ["src/parser.c"], False),
    ("Review URL percent escaping sets", "", ["src/url.rb"], False),
    ("Merge BasicArgFormatter and ArgFormatter", "", ["fmt/format.h"], False),
    # typed-racket's "Simplify" (a window of requires, two removed: which, the subject cannot say)
    ("Simplify", "", ["collects/typed-scheme/utils/tc-utils.rkt"], True),
    ("polish", "", ["src/a.c"], True),
    ("Simplify tc-utils", "", ["collects/typed-scheme/utils/tc-utils.rkt"], True),
    ("Simplify the retry loop", "", ["src/a.c"], False),
    # one word alone: spdlog's "Comment", "Example", "Delete", commons-csv's 59 "Javadoc", flask's
    # "2012"; a typo or a format can be found in the code; with a body it says more
    ("Comment", "", ["include/spdlog/details/file_helper-inl.h"], True), ("Example.", "", ["example/example.cpp"], True),
    ("Javadoc", "", ["src/main/java/CSVFormat.java"], True), ("2012", "", ["LICENSE"], True),
    ("Typo", "", ["src/a.c"], False), ("Formatting.", "", ["src/a.c"], False),
    ("Javadoc", "Use HTML 'em' tag instead of 'i' tag", ["src/main/java/CSVFormat.java"], False),
    ("app.run()", "", ["flask/app.py"], False),
    # what a review asked for, the reviewer named: GitHub's default, clap's, junit4's, pip-tools'
    ("Apply suggestions from code review", "", ["src/a.py"], True), ("Address epage's remarks", "", ["src/a.rs"], True),
    ("Reworked based on suggestions", "", ["A.java"], True), ("PR review feedback.", "", ["piptools/sync.py"], True),
    ("Apply review feedback to the parser", "", ["src/a.py"], False), ("Fix epage's parser", "", ["src/a.rs"], False),
    ("Modify spec/register_spec.rb", "", ["spec/register_spec.rb"], True),  # thor's: the file alone
    ("Modify the parser to skip blank lines", "", ["lib/parser.rb"], False),
    # a fix of nothing named: bottle's "some bugfixes" ("There is a problem: some bugfixes.")
    ("some bugfixes", "", ["bottle.py"], True), ("Bug fixes", "", ["bottle.py"], True),
    ("fixed some bugs", "", ["bottle.py"], True), ("Fix issues", "", ["bottle.py"], True),
    ("Bugfixes in the parser", "", ["bottle.py"], False), ("Fix the issue with unicode", "", ["bottle.py"], False),
    ("Fix bug in route", "", ["bottle.py"], False),
    # a changelog's entry for what the request does not show, and a pull request's number alone
    ("Changelog for #2750", "", ["CHANGES.txt"], True), ("Update changelog", "", ["CHANGES.rst"], True),
    ("Fix #123", "", ["bottle.py"], True), ("Update changelog for the parser fix", "", ["CHANGES.txt"], False),
    ("Fix route for #45 with unicode", "", ["bottle.py"], False),
])
def test_an_intent_that_names_no_change_is_vague(subject: str, body: str, paths: list[str], want: bool) -> None:
    assert vague(subject, body, paths) is want


def test_vague_intents_give_no_edit_but_a_fix_and_its_tests_still_teach(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add app", {"app.py": "def total(xs):\n    return sum(xs)\n", "site.md": "# Site\n\nHello.\n",
                          "tests/test_app.py": "def test_total():\n    assert total([1]) == 1\n"})
    commit(r, "copy", {"site.md": "# Site\n\nHello there.\n"})
    commit(r, "wip", {"app.py": "def total(xs):\n    return sum(xs) if xs else 0\n"})
    commit(r, "Fix typo", {"site.md": "# Site\n\nHello, there.\n"})
    commit(r, "fix", {"app.py": "def total(xs):\n    return sum(xs or [])\n",
                      "tests/test_app.py": "def test_total():\n    assert total(None) == 0\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    asks = {c.messages[0]["content"].split("\n")[0]: c.category for c in cands(out) if c.category != "review"}
    assert "Copy" not in asks and "Wip" not in asks and out.count("skip:vague_intent") == 2
    assert asks["Fix typo"] == "editing" and "Fix" in asks  # the tests
    # the fix: "Bug fix: Fix" said nothing the request does not (peft's 16 "Bug fix: Fixes")
    assert asks["`app.py`:"] == "debugging" and "Bug fix: Fix" not in asks
    kept, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, skip_vague_intents=False))
    firsts = {c.messages[0]["content"].split("\n")[0] for c in cands(kept)}
    assert {"Copy", "Wip", "Bug fix: Fix"} <= firsts


def test_tests_or_docs_under_a_vague_intent_stand_only_with_the_code_change_shown(tmp_path: Path) -> None:
    """aider's "copy" commits: the website's docs beside a large code and data change; with the
    change too large to show, "Copy. Update this documentation to match." says nothing."""
    r = new_repo(tmp_path / "r")
    table = "".join(f"ROW_{i} = {i}  # the row of the table that says {i}\n" for i in range(40))
    commit(r, "Add the app", {"app.py": "def total(xs):\n    return sum(xs)\n", "table.py": table,
                              "guide.md": "# Guide\n\nCall total.\n"})
    commit(r, "copy", {"app.py": "def total(xs):\n    return sum(xs or [])\n",
                       "guide.md": "# Guide\n\nCall total, with a list or None.\n"})
    commit(r, "copy", {"table.py": table.replace(" = ", " = 10 * "),
                       "guide.md": "# Guide\n\nCall total, with a list or None. Rows are tens.\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_example_chars=3_000))
    (docs,) = [c for c in cands(out) if c.provenance.get("paths") == ["guide.md"] and "Copy" in c.messages[0]["content"]]
    assert "The code changed like this" in docs.messages[0]["content"] and "sum(xs or [])" in docs.messages[0]["content"]
    assert "Rows are tens" not in "".join(m["content"] for c in cands(out) for m in c.messages)
    # the table's change alone is over max_example_chars: the docs beside it cannot show it; and
    # "copy" is no fix the prior is sure of (0.27): its code is no "find the bug" but an edit
    # whose intent names no change (both commits)
    assert out.count("skip:vague_intent") == 3 and not [c for c in cands(out) if c.category == "debugging"]
    kept, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_example_chars=3_000, skip_vague_intents=False))
    assert any("Rows are tens" in c.messages[1]["content"] for c in cands(kept))


def test_a_file_holding_code_fences_comes_in_a_longer_fence_the_judge_and_fim_read_whole(tmp_path: Path) -> None:
    """fastify's docs (17% of its examples) hold ```js examples: in a ``` fence the first one
    ended the block, and the judge or the FIM cut read a truncated snippet."""
    from aitherd.curate.judge import heuristic_reasons
    from aitherd.export.fim import fim_source

    r = new_repo(tmp_path / "r")
    guide = "# Logging\n\nEnable it:\n\n```js\nconst app = fastify({ logger: true })\n```\n\nThat is all.\n"
    tool = ('def render(text):\n    """Render markdown.\n\n    ```\n    render("*a*")\n    ```\n    """\n'
            '    return text.upper()\n')
    commit(r, "Add the guide and the renderer", {"docs/logging.md": guide, "tool.py": tool})
    commit(r, "Explain the logger levels", {"docs/logging.md": guide.replace("That is all.", "Levels: info, debug.")})
    commit(r, "Render markdown in lower case", {"tool.py": tool.replace("text.upper()", "text.lower()")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=20))
    (docs,) = [c for c in cands(out) if "logger levels" in c.messages[0]["content"]]
    answer = docs.messages[1]["content"]
    assert answer.startswith("`docs/logging.md`:\n````markdown\n# Logging") and answer.endswith("Levels: info, debug.\n````")
    (edit,) = [c for c in cands(out) if "lower case" in c.messages[0]["content"]]
    code = edit.messages[1]["content"]
    assert code.startswith("`tool.py`:\n````python\ndef render(text):") and code.endswith("text.lower()\n````")
    assert "code_syntax" not in heuristic_reasons(edit)  # the whole function parses
    got = fim_source({"specialist": "coder", "category": edit.category, "messages": edit.messages,
                      "provenance": edit.provenance})
    assert got is not None and got[0].endswith("    return text.lower()\n") and got[1] == "python"


def test_a_group_too_large_for_one_example_falls_back_to_one_per_file(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    files = {f"m{i}.py": "".join(f"def f{j}(x):\n    return x + {j}\n\n\n" for j in range(8)) for i in range(3)}
    commit(r, "Add modules", files)
    commit(r, "Double every function", {k: v.replace("x + ", "2 * x + ") for k, v in files.items()})
    out, _, _ = run(r, cfg=GitMiningConfig(max_example_chars=1_500))
    parts = [c for c in cands(out) if "Double every function" in c.messages[0]["content"]]
    assert len(parts) == 3 and all(len(c.provenance["paths"]) == 1 for c in parts)
    assert all("part of a larger change" in c.messages[0]["content"] for c in parts)


def test_a_sweep_over_many_files_gives_a_few_examples_not_one_per_file(tmp_path: Path) -> None:
    """flask's "Happy New Year 2015" changed one line in 48 files: 48 near-copies of one change."""
    r = new_repo(tmp_path / "r")
    files = {f"pkg/m{i}.py": f'"""Module {i}. (c) 2014 by the team."""\n\n\ndef f{i}():\n    return {i}\n'
             for i in range(20)}
    commit(r, "Add the modules", files)
    commit(r, "Happy New Year 2015", {k: v.replace("2014", "2015") for k, v in files.items()})
    cfg = GitMiningConfig(context_lines=2, max_split_examples=4)
    out, _, _ = run(r, cfg=cfg)
    got = [c for c in cands(out) if "Happy New Year" in c.messages[0]["content"]]
    assert len(got) == 4 and out.count("skip:split_cap") == 16 + 16  # and 4 of the 20 new files
    assert all("part of a larger change" in c.messages[0]["content"] for c in got)
    again, _, _ = run(r, cfg=cfg)  # the same four, run after run
    assert sorted(c.provenance["path"] for c in got) == sorted(
        c.provenance["path"] for c in cands(again) if "Happy New Year" in c.messages[0]["content"])


def test_a_change_inside_a_call_written_over_lines_is_cut_from_the_statement_that_opens_it() -> None:
    """flask's "rv,  # pyright: ignore" inside `rv = self.response_class(` ... `)`, in a hunk that
    starts inside another call: the change's own depth gives no window that parses (a fifth of
    flask's failed windows, 17% of fastapi's were of this kind)."""
    rows = [' ' + r for r in [
        '            " None or ended without a return statement."', "        )", "",
        "        # make sure the body is an instance of the response class",
        "        if not isinstance(rv, self.response_class):",
        "            if isinstance(rv, (str, bytes)):", "                rv = self.response_class("]]
    rows += ["-                    rv,", "+                    rv,  # pyright: ignore"]
    rows += [' ' + r for r in ["                    status=status,", "                )",
                               "                status = headers = None", "            elif isinstance(rv, dict):",
                               "                rv = self.json.response(rv)", "            else:"]]
    window = files.python_window(rows)
    assert window is not None
    s, e = window
    code = "\n".join(r[1:] for r in rows[s:e] if r[0] != "-")
    ast.parse(textwrap.dedent(code))
    assert "rv = self.response_class(" in code and "# pyright: ignore" in code and "None or ended" not in code


def test_only_the_files_an_example_shows_are_cut_into_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A split group's files left out by the cap, and a group too large for one example
    whatever its windows, are never windowed (the parse check is the miner's largest cost)."""
    from aitherd.sources.git import files as gitfiles

    windowed: list[str] = []
    real = gitfiles.python_window

    def counting(lines: list[str], tries: int = 3, **kw: Any) -> tuple[int, int] | None:
        windowed.append("".join(lines))
        return real(lines, tries, **kw)

    monkeypatch.setattr(gitfiles, "python_window", counting)
    r = new_repo(tmp_path / "r")
    sweep = {f"pkg/m{i}.py": f'"""Module {i}. (c) 2014 by the team."""\n\n\ndef f{i}():\n    return {i}\n'
             for i in range(20)}
    big = {f"m{i}.py": "".join(f"def f{j}(x):\n    return x + {j}\n\n\n" for j in range(8)) for i in range(3)}
    commit(r, "Add the modules", {**sweep, **big})
    commit(r, "Happy New Year 2015", {k: v.replace("2014", "2015") for k, v in sweep.items()})
    commit(r, "Double every function", {k: v.replace("x + ", "2 * x + ") for k, v in big.items()})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_split_examples=4, max_example_chars=1_500))
    happy = [c for c in cands(out) if "Happy New Year" in c.messages[0]["content"]]
    double = [c for c in cands(out) if "Double every function" in c.messages[0]["content"]]
    assert len(happy) == 4 and len(double) == 3 and all(len(c.provenance["paths"]) == 1 for c in happy + double)
    assert all("```python" in c.messages[1]["content"] for c in happy + double)  # windows that parse
    # one window per file shown: 4 of the sweep's 20 files, and the 3 modules once each (their
    # changed rows alone are over max_example_chars together: no window is cut for the whole group)
    assert sum("2015" in w for w in windowed) == 4 and sum("2 * x" in w for w in windowed) == 3
    assert len(windowed) == 7


def test_fences_carry_the_language_and_python_is_cut_to_whole_statements(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    body = "".join(f"        total += {i}\n" for i in range(12))
    py = f"def run(items):\n    total = 0\n    for it in items:\n{body}    return total\n\n\ndef other():\n    return 1\n"
    commit(r, "Add code", {"loop.py": py, "app.js": "function f() {\n  return 1;\n}\n", "ci.yml": "on: push\n",
                           "Dockerfile": "FROM python:3.12\n", "Makefile": "all:\n\techo hi\n"})
    commit(r, "Tune everything", {"loop.py": py.replace("total += 11", "total += 11  # last"),
                                  "app.js": "function f() {\n  return 2;\n}\n", "ci.yml": "on: [push, pull_request]\n",
                                  "Dockerfile": "FROM python:3.13\n", "Makefile": "all:\n\techo hello\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=3))
    (ex,) = [c for c in cands(out) if "Tune everything" in c.messages[0]["content"]]
    langs = dict((lang, code) for lang, code in fences(ex.messages[1]["content"]))
    assert {"javascript", "yaml", "dockerfile", "makefile", "python"} <= set(langs)
    ast.parse(textwrap.dedent(langs["python"]))  # the cut snippet is whole statements
    assert "total += 11  # last" in langs["python"]


def test_removed_lines_are_shown_with_the_code_around_them(tmp_path: Path) -> None:
    """Removing lines leaves the new side with only context: the window takes the block the
    removed lines were in (a real history: aider's "cleanup" dropping three lines from main()),
    and removed lines at the end of a file after an indented function show the hunk whole."""
    r = new_repo(tmp_path / "r")
    head = "    if ready:\n" + "".join(f"        x{i} = {i}\n" for i in range(6)) + "    x0 = 0\n"
    gone = "    thread = start()\n    thread.daemon = True\n\n"
    tail = "    while True:\n        step()\n        return x0\n"
    main = "if __name__ == '__main__':\n    main()\n"
    commit(r, "Add main", {"m.py": f"def main():\n{head}{gone}{tail}\n\n{main}"})
    commit(r, "Stop the thread", {"m.py": f"def main():\n{head}{tail}\n\n{main}"})
    commit(r, "Drop the script entry", {"m.py": f"def main():\n{head}{tail}"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=4))
    (clean,) = [c for c in cands(out) if "Stop the thread" in c.messages[0]["content"]]
    ((lang, code),) = fences(clean.messages[1]["content"])
    assert lang == "python" and "while True:" in code and "thread" not in code
    ast.parse(textwrap.dedent(code))
    (drop,) = [c for c in cands(out) if "Drop the script entry" in c.messages[0]["content"]]
    ((_lang, code),) = fences(drop.messages[1]["content"])
    assert "return x0" in code and "__main__" not in code
    assert "__main__" in drop.messages[0]["content"]


def test_added_lines_are_shown_with_the_code_around_them(tmp_path: Path) -> None:
    """The mirror case (aider's "Fixed test to work with yield": `return []` added after a
    string the hunk starts inside): no window parses but the added row alone, whose old side
    is blank; the hunk is shown whole instead of an empty "before"."""
    r = new_repo(tmp_path / "r")
    top = "def test_send(coder):\n    def mock_send(*args):\n        coder.text = f\"\"\"\n" + \
        "".join(f"line {i}\n" for i in range(8)) + "\"\"\"\n        coder.calls = dict()\n"
    rest = "\n    coder.send = mock_send\n    coder.run()\n"
    commit(r, "Add the test", {"tests/test_send.py": top + rest})
    commit(r, "Make mock_send return a list", {"tests/test_send.py": top + "        return []\n" + rest})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=4))
    (ex,) = [c for c in cands(out) if "Make mock_send return a list" in c.messages[0]["content"]]
    ((_lang, before),) = fences(ex.messages[0]["content"])
    assert "coder.calls = dict()" in before
    ((_lang, after),) = fences(ex.messages[1]["content"])
    assert "coder.calls = dict()\n        return []" in after


def test_non_ascii_text_outside_strings_does_not_count_as_a_closing_bracket(tmp_path: Path) -> None:
    # A docstring's inner line holds "è" outside any one-line string: it once counted as a
    # closing bracket, and the snippet shrank to the changed line alone.
    r = new_repo(tmp_path / "r")
    py = 'def somme(x):\n    """Calcule la somme.\n\n    Paramètres : x\n    """\n    return x\n'
    commit(r, "Add somme", {"somme.py": py})
    commit(r, "Fix somme off by one", {"somme.py": py.replace("return x\n", "return x + 1\n")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=10))
    (ex,) = [c for c in cands(out) if "off by one" in c.messages[0]["content"]]
    ((lang, code),) = fences(ex.messages[1]["content"])
    assert lang == "python" and code.startswith("def somme(x):") and "Paramètres" in code


def test_documentation_is_editing_at_a_lower_weight_never_debugging(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add the parser", {"parse.py": "def parse(s):\n    return s.split()\n",
                                 "CHANGES.rst": "Changes\n=======\n\n1.0\n---\n\n- First.\n",
                                 "docs/usage.rst": "Usage\n=====\n\nCall parse.\n"})
    commit(r, "Fix parsing of empty input", {
        "parse.py": "def parse(s):\n    return s.split() if s else []\n",
        "CHANGES.rst": "Changes\n=======\n\n1.0\n---\n\n- First.\n- Empty input parses to nothing.\n"})
    commit(r, "Fix a typo in the usage page", {"docs/usage.rst": "Usage\n=====\n\nCall ``parse``.\n"})
    out, counts, _ = run(r)
    fix = [c for c in cands(out) if "empty input" in c.messages[0]["content"].lower() and c.category != "review"]
    assert sorted((c.category, c.weight) for c in fix) == [("debugging", 1.0), ("editing", 0.5)]
    docs = next(c for c in fix if c.category == "editing")
    assert docs.provenance["paths"] == ["CHANGES.rst"] and "```rst" in docs.messages[1]["content"]
    # the code change it documents is shown: "to match" says what to match
    assert "The code changed like this:\n\n```diff\n" in docs.messages[0]["content"]
    assert "+    return s.split() if s else []" in docs.messages[0]["content"]
    (typo,) = [c for c in cands(out) if "typo in the usage page" in c.messages[0]["content"]]
    assert "The code changed like this" not in typo.messages[0]["content"]  # no code in that commit
    assert typo.category == "editing" and typo.weight == 0.5 and counts["class.docs"] == 1
    none, _, _ = run(r, cfg=GitMiningConfig(docs=DocsConfig(keep=0)))
    assert not [c for c in cands(none) if "rst" in "".join(c.provenance.get("paths", []))]
    assert none.count("skip:docs_share") == 3


def test_tests_too_large_with_the_code_change_shown_come_whole_without_it(tmp_path: Path) -> None:
    """The code diff fits beside the new tests under the limit, but not beside the old tests
    too: the example drops the context, not the tests (nor splits them off as a part)."""
    r = new_repo(tmp_path / "r")
    code = "".join(f"def f{i}(x):\n    return x + {i}\n" for i in range(20))
    tests = "".join(f"def test_f{i}():\n    assert f{i}(0) == {i}\n" for i in range(20))
    commit(r, "Add the functions", {"fs.py": code, "tests/test_fs.py": tests})
    commit(r, "Offset every function by one", {"fs.py": code.replace("return x + ", "return x + 1 + "),
                                               "tests/test_fs.py": tests.replace("(0) == ", "(0) == 1 + ")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=0, max_example_chars=3600))
    (t,) = [c for c in cands(out) if c.category == "test_generation" and "Offset" in c.messages[0]["content"]]
    ask = t.messages[0]["content"]
    assert "The code changed like this" not in ask and "part of a larger change" not in ask
    assert "assert f19(0) == 1 + 19" in t.messages[1]["content"]


def test_windows_line_endings_do_not_reach_the_examples(tmp_path: Path) -> None:
    """ShareX commits some C# files with CRLF: 34 examples held carriage returns. Rows lose
    theirs; a commit that only converts the line endings is whitespace only."""
    r = new_repo(tmp_path / "r")
    body = ["using System;", "class Upload {", "  int Retries() {", "    return 1;", "  }", "}"]
    commit(r, "Add the uploader", {"Upload.cs": b"\r\n".join(x.encode() for x in body) + b"\r\n"})
    body[3] = "    return 3;"
    commit(r, "Retry an upload three times", {"Upload.cs": b"\r\n".join(x.encode() for x in body) + b"\r\n"})
    commit(r, "Use Unix line endings", {"Upload.cs": "\n".join(body) + "\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    texts = [m["content"] for c in cands(out) for m in c.messages]
    assert len(cands(out)) == 2 and not any("\r" in t for t in texts)
    edit = next(c for c in cands(out) if "three times" in c.messages[0]["content"])
    assert "  int Retries() {\n    return 1;\n  }\n" in edit.messages[0]["content"]
    assert "    return 3;\n" in edit.messages[1]["content"]
    assert counts["skipped_hunks.whitespace_only"] == 1


def test_a_byte_order_mark_reaches_no_example(tmp_path: Path) -> None:
    """Visual Studio opens C# files with a byte order mark: 983 of AutoMapper's 7,459 examples
    showed it before `namespace`. A commit that only drops it is whitespace only."""
    r = new_repo(tmp_path / "r")
    body = ["namespace AutoMapper", "{", "    public class Map", "    {", "        int Depth() { return 1; }",
            "    }", "}"]
    commit(r, "Add the map", {"Map.cs": "\ufeff" + "\n".join(body) + "\n"})
    body[4] = "        int Depth() { return 2; }"
    commit(r, "Map two levels deep", {"Map.cs": "\ufeff" + "\n".join(body) + "\n"})
    commit(r, "Drop the byte order mark", {"Map.cs": "\n".join(body) + "\n"})
    commit(r, "Add the projection tests", {"ProjectTest.cs": "\ufeff\ufeffusing Xunit;\n\nclass ProjectTest { }\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=5))
    texts = [m["content"] for c in cands(out) for m in c.messages]
    assert len(cands(out)) == 3 and not any("\ufeff" in t for t in texts)  # two marks too (AutoMapper)
    edit = next(c for c in cands(out) if "two levels" in c.messages[0]["content"])
    assert "```csharp\nnamespace AutoMapper\n" in edit.messages[0]["content"]
    assert counts["skipped_hunks.whitespace_only"] == 1


def test_a_file_that_is_not_utf8_is_left_out_not_garbled(tmp_path: Path) -> None:
    """ShareX's isxdl/french2.ini is Latin-1 ("T\ufffdl\ufffdchargement" reached 20 of its examples),
    xxl-job's jboot.properties GBK. Such a file is counted (files.not_utf8) and left out; the
    commit's other files, and a UTF-8 file that holds U+FFFD itself, are mined."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add the strings", {"french.ini": "[strings]\n100=Fichier reçu\n".encode("latin-1"),
                                  "app.py": "X = 1\n", "bad.py": 'BAD = "\ufffd"\n'})
    commit(r, "Translate the download message and count from two",
           {"french.ini": "[strings]\n100=Téléchargement de fichier\n".encode("latin-1"),
            "app.py": "X = 2\n", "bad.py": 'BAD = "\ufffd\ufffd"\n'})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    texts = "".join(m["content"] for c in cands(out) for m in c.messages)
    assert "french.ini" not in texts and counts["skipped_files.not_utf8"] == 2
    assert "X = 2" in texts and 'BAD = "\ufffd\ufffd"' in texts
    assert not any("\udc80" <= ch <= "\udcff" for ch in texts)


def test_recorded_terminal_output_is_not_code(tmp_path: Path) -> None:
    """bat's tests/syntax-tests/highlighted/ hold its colored output: 168 examples asked for
    ANSI escape codes."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add the CSV test", {"tests/highlighted/sample.csv": "\x1b[38;5;208mname\x1b[0m,age\n",
                                   "src/csv.rs": "fn sep() -> char {\n    ','\n}\n"})
    commit(r, "Highlight the header of a CSV file in bold",
           {"tests/highlighted/sample.csv": "\x1b[1;38;5;208mname\x1b[0m,age\n",
            "src/csv.rs": "fn sep() -> char {\n    ';'\n}\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    texts = "".join(m["content"] for c in cands(out) for m in c.messages)
    assert "\x1b" not in texts and "sample.csv" not in texts and "';'" in texts
    assert counts["skipped_files.escape_codes"] == 2


def test_whitespace_only_changes_are_dropped(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add f", {"f.py": "def f(x):\n    return x+1\n"})
    commit(r, "Reformat f", {"f.py": "def f(x):\n        return x+1\n"})
    commit(r, "Retab and fix f", {"f.py": "def f(x):\n\treturn x+1\n", "g.py": "def g():\n    return 2\n"})
    out, counts, _ = run(r)
    assert not [c for c in cands(out) if "Reformat f" in c.messages[0]["content"]]
    (retab,) = [c for c in cands(out) if "Retab" in c.messages[0]["content"]]
    assert retab.provenance["paths"] == ["g.py"] and counts["skipped_hunks.whitespace_only"] == 2


def test_spaces_between_tokens_are_a_whitespace_only_change(tmp_path: Path) -> None:
    """OpenZeppelin's "Solium errors - whitespace related" changed `returns(bool){` to
    `returns(bool) {` and was a "Bug fix: ... Find the bug" example: the same words only when
    split at the spaces that moved."""
    r = new_repo(tmp_path / "r")
    sol = "contract T {\n  function ok() public returns(bool){\n    return a+b;\n  }\n}\n"
    commit(r, "Add T", {"T.sol": sol})
    commit(r, "Fix Solium errors - whitespace related", {
        "T.sol": sol.replace("returns(bool){", "returns (bool) {").replace("a+b", "a + b")})
    commit(r, "Fix the sum", {"T.sol": sol.replace("returns(bool){", "returns (bool) {").replace("a+b", "a - b")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    assert counts["skipped_hunks.whitespace_only"] == 1
    assert not [c for c in cands(out) if "Solium" in c.messages[0]["content"]]
    (fix,) = [c for c in cands(out) if "sum" in c.messages[0]["content"]]
    assert "a - b" in fix.messages[1]["content"] and "```solidity" in fix.messages[1]["content"]


@pytest.mark.parametrize(("before", "after", "same"), [
    ("returns(bool){", "returns(bool) {", True), ("x = (\n    a\n)", "x = (a)", True),  # black
    ("include_package_data = True,", "include_package_data=True,", True), ("(int, )", "(int,)", True),
    ("a  b", "a\nb", True), ("def f(x):\n    return x", "def f(x):\n\treturn x", True),
    # flask's typo fixes join or split words: text, not spacing
    ("functionc ode", "function code", False), ("file system", "filesystem", False), ("a\x1fb", "a b", False),
])
def test_whitespace_only_is_spacing_beside_brackets_and_operators_not_between_words(
        before: str, after: str, same: bool) -> None:
    assert files.whitespace_only(before, after) is same


def test_in_prose_a_space_beside_markup_is_text() -> None:
    """flask's "Fix backstick not rendering": reStructuredText needs the space before ``."""
    assert not files.whitespace_only("the``SERVER_NAME`` config", "the ``SERVER_NAME`` config", prose=True)
    assert files.whitespace_only("the``SERVER_NAME`` config", "the ``SERVER_NAME`` config")
    assert files.whitespace_only("a long\nline", "a long line", prose=True)


def test_a_file_with_a_space_in_its_name_gone_at_the_tip_is_read_from_its_blob(tmp_path: Path) -> None:
    """cat-file answers "TIP:docs/a b.py missing" for it: three fields, not a size (vite's history
    stopped there with a ValueError)."""
    r = new_repo(tmp_path / "r")
    body = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(10))
    commit(r, "Add the helpers", {"docs/a b.py": body})
    commit(r, "Return nine and a half from f9", {"docs/a b.py": body.replace("return 9", "return 9.5")})
    commit(r, "Remove the helpers", {"docs/a b.py": None})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "nine and a half" in c.messages[0]["content"]]
    assert "return 9.5" in ex.messages[1]["content"]


def test_submodule_pointers_and_lfs_pointers_are_not_code(tmp_path: Path) -> None:
    """`Subproject commit <sha>` and an LFS pointer's oid and size made examples of hashes."""
    sub = new_repo(tmp_path / "sub")
    commit(sub, "One", {"x.txt": "1\n"})
    commit(sub, "Two", {"x.txt": "2\n"})
    r = new_repo(tmp_path / "r")
    commit(r, "Add f", {"f.py": "def f():\n    return 1\n"})
    subprocess.run(["git", "-C", str(r), "-c", "protocol.file.allow=always", "submodule", "add", "-q",
                    str(sub), "vendor/sub"], check=True, capture_output=True)
    commit(r, "Add the sub module", {})
    subprocess.run(["git", "-C", str(r / "vendor" / "sub"), "checkout", "-q", "HEAD~1"], check=True)
    commit(r, "Pin the sub module to its first commit", {})
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n"
    commit(r, "Add the model weights", {"model.bin": pointer.format("4d" * 32, 12345)})
    commit(r, "Retrain the model weights on more data", {"model.bin": pointer.format("5e" * 32, 12399)})
    commit(r, "Document the LFS pointer format", {"docs/lfs.md": "# LFS\n\nA pointer reads:\n\n" + pointer})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2, skip_paths=[]))
    shown = "".join(c.messages[1]["content"] for c in cands(out))
    assert "Subproject commit" not in shown and "oid sha256:4d" not in shown and "oid sha256:5e" not in shown
    assert counts["skipped_files.submodule"] == 2 and counts["skipped_files.lfs_pointer"] == 2
    assert [c for c in cands(out) if "Document the LFS pointer format" in c.messages[0]["content"]]


def test_generated_files_are_recognised_by_their_generators_headers(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    pins = "".join(f"pkg{i}==1.{i}\n    # via app\n" for i in range(30))
    header = "#\n# This file is autogenerated by pip-compile with Python 3.12\n# by the following command:\n#\n"
    go = "// Code generated by stringer -type=Kind; DO NOT EDIT.\n\npackage kind\n\n" + "".join(
        f"const K{i} = {i}\n" for i in range(40))
    legit = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(20)) + 'BANNER = "DO NOT EDIT BY HAND"\n'
    commit(r, "Add pins, kinds and code", {"requirements.txt": header + pins, "kind/kind_string.go": go,
                                           "tool.py": legit, "api_pb2.py": "# proto\nX = 1\n"})
    commit(r, "Bump pins and regenerate kinds", {
        "requirements.txt": header + pins.replace("pkg25==1.25", "pkg25==1.26"),
        "kind/kind_string.go": go.replace("const K30 = 30", "const K30 = 31"),
        "tool.py": legit.replace("return 19", "return 20")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    paths = {p for c in cands(out) for p in c.provenance.get("paths", [])}
    assert paths == {"tool.py"}  # a string saying DO NOT EDIT far from the top is not a header
    assert counts["skipped_files.generated"] == 4  # both commits: the pins and the Go file
    assert counts["skipped_files.vendored_or_generated"] == 1  # api_pb2.py, by path


@pytest.mark.parametrize(("head", "generated"), [
    # what generators write (jq's flex lexer, drift's Mockito mocks, SwiftFormat's Consumer parser,
    # continue's OpenAPI client, Newtonsoft's dataset, commitizen's Rich SVGs, ohmyzsh's _pod)
    ("#line 2 \"src/lexer.c\"\n\n/* A lexical scanner generated by flex */\n", True),
    ("// Mocks generated by Mockito 5.4.4 from annotations\n// in drift/test/generated/todos.dart.\n", True),
    ("// Parser function generated by the Consumer compiler\nfunc parseJSON() {}\n", True),
    ("# NOTE: This file is auto generated by OpenAPI Generator.\n# URL: https://openapi-generator.tech\n", True),
    ("<?xml version=\"1.0\"?>\n<!--<autogenerated>\n     This code was generated by a tool.\n", True),
    ("<svg>\n    <!-- Generated with Rich https://www.textualize.io -->\n", True),
    ("#compdef pod\n#                 Generated with `pod --completion-script`\n", True),
    ("#if !canImport(ObjectiveC)\n    // DO NOT MODIFY: This is autogenerated, use:\n", True),
    ("// This file was automatically generated from foo.proto\n", True),
    # comments about something else that is generated: posh-git's Utils.ps1 (56 edits skipped),
    # vue's, typeorm's, tauri's, jq's lexer source, OpenZeppelin's test, pnpm's, phoenix's template
    ("# Utility functions\n\n# Store error records generated by stderr output when invoking an executable\n", False),
    ("/**\n * Patch flags are optimization hints generated by the compiler.\n */\n", False),
    ("/**\n * Junction tables are tables generated by many-to-many relations.\n */\n", False),
    ("/// The autogenerated wrapper ident.\nconst X: u8 = 1;\n", False),
    ("%{\n#include \"parser.h\"  /* Generated by bison. */\n%}\n", False),
    ("contract BlockhashTest {\n    // Generated using https://www.evm.codes/playground\n    bytes c;\n", False),
    ("// shim is generated from the bin file, so a Node launcher there would bake in a path\n", False),
    ("# manifest is generated by the `mix phx.digest` task,\n# which you should run after static files are built\n",
     False),
])
def test_a_generator_header_is_a_comment_that_says_this_file_is_generated(head: str, generated: bool) -> None:
    """Real first lines from 70 histories (old rule: any comment with "generated by" within 40
    characters of its start, indented or not, even after code on the line)."""
    assert files.generated_head(head) is generated


def test_a_generated_table_of_contents_does_not_make_its_readme_generated(tmp_path: Path) -> None:
    """dbt-utils' README holds github-markdown-toc's "<!--This table of contents is automatically
    generated. Any manual changes between the ts and te tags will be overridden!-->" near its
    top: 165 edits of a hand-written README were skipped as a generated file."""
    toc = ("<!--This table of contents is automatically generated. Any manual changes between the ts and te "
           "tags will be overridden!-->\n<!--ts-->\n- [Install](#install)\n<!--te-->\n")
    readme = "This package has macros.\n\n## Install\n\n" + toc + "".join(
        f"\n## Macro {i}\n\nUse `m{i}(x)` to get {i}.\n" for i in range(30))
    assert not files.generated_head(readme)
    assert files.generated_head("<!-- This file is automatically generated by docgen -->\n# API\n")
    assert files.generated_head("-- toc.lua\n-- Code generated by gen.go. DO NOT EDIT.\n")  # a whole file after all
    r = new_repo(tmp_path / "r")
    commit(r, "Add docs", {"README.md": readme, "m.sql": "select 1\n"})
    commit(r, "Explain what macro 25 returns for null input", {
        "README.md": readme.replace("to get 25.", "to get 25, or null for a null input.")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    assert counts.get("skipped_files.generated", 0) == 0
    assert any("README.md" in c.provenance.get("paths", []) and "null input" in c.messages[-1]["content"]
               for c in cands(out))


def test_a_symbolic_link_is_not_a_file_to_write(tmp_path: Path) -> None:
    """drift's web/sqlite3.wasm links gave "Write examples/app/web/sqlite3.wasm" answered by
    the path the link points at."""
    import os

    r = new_repo(tmp_path / "r")
    commit(r, "Add the asset", {"assets/sqlite3.wasm.txt": "binary stand-in\n", "app.py": "X = 1\n"})
    (r / "web").mkdir()
    os.symlink("../assets/sqlite3.wasm.txt", r / "web" / "sqlite3.wasm")
    commit(r, "Link the asset into the web app", {"app.py": "X = 2\n"})
    (r / "web" / "sqlite3.wasm").unlink()
    os.symlink("../assets/other.txt", r / "web" / "sqlite3.wasm")
    commit(r, "Point the link elsewhere", {})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    shown = "".join(m["content"] for c in cands(out) for m in c.messages)
    assert "web/sqlite3.wasm" not in shown and counts["skipped_files.symlink"] == 2
    assert any("app.py" in c.provenance.get("paths", []) for c in cands(out))


def test_dart_build_runner_output_is_generated() -> None:
    """drift commits json_serializable's and drift's .g.dart files: 651 of its examples."""
    assert files.generated_head("// GENERATED CODE - DO NOT MODIFY BY HAND\n\npart of 'main.dart';\n")
    assert not files.generated_head("// Please do not modify the order below: see the migration notes.\nx = 1\n")
    skip = GitMiningConfig().skip_paths
    assert {"*.g.dart", "*.freezed.dart"} <= set(skip)
    assert files.language("lib/src/tables.drift") == "sql"


def test_lock_files_and_built_bundles_are_skipped_at_any_depth() -> None:
    """cobra's cobra/go.sum, BentoML's grpc-client/go/go.sum and ShareX's */packages.lock.json
    were mined: "go.sum" matched the root only (etc/aitherd.toml says the same:
    test_config_store)."""
    from aitherd.sources.gitmine import _skip_path

    skip = GitMiningConfig().skip_paths
    for path in ["EditorExtension/SwiftFormat for Xcode.app/Contents/Info.plist",
                 "EditorExtension/SwiftFormat for Xcode.app/Contents/_CodeSignature/CodeResources",
                 "Carthage/Build/iOS/Alamofire.framework/Headers/Alamofire.h", "cobra/go.sum", "grpc-client/go/go.sum", "ShareX.HelpersLib/packages.lock.json", "go.work.sum",
                 "infra/.terraform.lock.hcl", "App.xcodeproj/project.xcworkspace/xcshareddata/swiftpm/Package.resolved",
                 "gradle/verification-metadata.xml", "app/gradle.lockfile", "web/npm-shrinkwrap.json",
                 ".mailmap",  # contributors' names and emails (magit: 102 snippets)
                 # owners of paths (home-manager: 201 snippets), blame's ignore list, Julia's and
                 # opam's resolved dependencies (Flux.jl), Visual Studio's solutions (FSharpPlus)
                 ".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS", ".git-blame-ignore-revs", "Manifest.toml",
                 "docs/Manifest.toml", "Manifest-v1.11.toml", "JuliaManifest.toml", "jsonrpc.opam.locked",
                 "FSharpPlus.sln", ".hgtags", "examples/hello/development.log",  # jinja's hg tags, sinatra's log
                 # a merge's or a patch's leftovers (AutoMapper, mypy)
                 "default.ps1.orig", "src/UnitTests/Bug/AssignableCollectionBug.cs.orig", "mypy/checker.py.rej",
                 # insta's pending snapshots (gleam: 109)
                 "compiler-core/src/javascript/tests/snapshots/gleam_core__x.snap.new", "tests/snapshots/a.pending-snap",
                 # a folder named generated (svelte.dev's registry a bot refreshes), Relay's __generated__
                 "apps/svelte.dev/src/lib/server/generated/registry/amplify-adapter.json", "generated/api.ts",
                 "src/components/__generated__/UserQuery.graphql.ts",
                 # what Xcode and Eclipse write (bloc's Flutter examples)
                 "example/ios/Runner.xcworkspace/xcshareddata/IDEWorkspaceChecks.plist",
                 "example/ios/Runner.xcworkspace/xcshareddata/WorkspaceSettings.xcsettings",
                 "example/android/.project", "example/android/app/.classpath",
                 "example/android/.settings/org.eclipse.buildship.core.prefs", ".settings/.jsdtscope", ".springBeans",
                 # what Godot's and Unity's editors write
                 "2d/platformer/player/player.tscn", "2d/platformer/icon.png.import", "misc/ui/theme.tres",
                 "Assets/Scripts/Player.cs.meta", "Assets/Scenes/Main.unity", "Assets/Prefabs/Enemy.prefab",
                 # Kotlin's API dumps (okio), Visual Studio's per-user folder (spdlog)
                 "okio/api/okio.api", "api/timber.api", "okio/api/okio.klib.api",
                 "tests/.vs/tests/v15/Browse.VC.db", ".vs/ProjectSettings.json",
                 # release-note fragments: changesets (pnpm), covector (tauri), towncrier and scriv (pipx, attrs)
                 ".changeset/good-apes-smile.md", "packages/x/.changeset/a.md", ".changeset/28854459/changes.json",
                 ".changes/fix-window.md", "changelog.d/1999.bugfix.md", "newsfragments/12.feature",
                 "changelog/691.trivial.rst", "changes/1234.bugfix.rst"]:
        assert _skip_path(path, skip), path
    assert not _skip_path(".changeset/config.json", skip) and not _skip_path("docs/changelog.md", skip)
    assert not _skip_path("changes/README.md", skip) and not _skip_path("src/changes/changes.xml", skip)
    assert not _skip_path("src/api/client.py", skip) and not _skip_path("docs/reference.api.md", skip)
    assert not _skip_path("cmd/root.go", skip) and not _skip_path("infra/main.tf", skip)
    assert not _skip_path("EditorExtension/Application/Info.plist", skip)
    assert not _skip_path("cabal.project", skip) and not _skip_path("docs/project.md", skip)
    assert not _skip_path("Project.toml", skip) and not _skip_path("src/Manifest.jl", skip)
    assert not _skip_path("ocaml-lsp-server.opam", skip) and not _skip_path("docs/CODEOWNERS.md", skip)
    assert not _skip_path("src/generated.py", skip) and not _skip_path("src/codegen/generate.ts", skip)
    assert not _skip_path("2d/platformer/player/player.gd", skip) and not _skip_path("Assets/Scripts/Player.cs", skip)


def test_armored_signatures_and_generated_man_pages_are_not_code(tmp_path: Path) -> None:
    """jq commits PGP signatures of its release binaries (sig/*.asc: 50 "Write
    sig/v1.3/jq-osx-x86.asc" examples of base64) and a man page ronn generated (jq.1.prebuilt)."""
    r = new_repo(tmp_path / "r")
    sig = "-----BEGIN PGP SIGNATURE-----\nVersion: GnuPG v1\n\n{}\n-----END PGP SIGNATURE-----\n"
    man = '.\\" generated with Ronn/v0.7.3\n.\\" http://github.com/rtomayko/ronn/tree/0.7.3\n.\n.TH "JQ" "1" "{}"\n'
    notes = "# Keys\n\nOur release key:\n\n" + sig.format("b" * 64)
    commit(r, "Add the parser", {"src/parse.c": "int parse(void) {\n  return 0;\n}\n", "jq.1.prebuilt": man.format("May"),
                                 "docs/keys.md": notes})
    commit(r, "PGP signatures for release binaries", {"sig/v1.3/jq-linux64.asc": sig.format("a" * 64),
                                                      "sig/jq-release.pub": sig.format("c" * 64).replace("SIGNATURE", "PUBLIC KEY BLOCK")})
    # paramiko's test keys: an OpenSSH public key, a key certificate, a known_hosts line
    commit(r, "Test keys", {"tests/test_rsa.key.pub": f"ssh-rsa AAAAB3NzaC1yc2E{'d' * 64} dev@example\n",
                            "tests/test_ed25519.key-cert.pub": f"ssh-ed25519-cert-v01@openssh.com AAAAIHNz{'e' * 64}\n",
                            "tests/known_hosts": f"example.com,10.0.0.1 ecdsa-sha2-nistp256 AAAAE2Vj{'f' * 64}\n",
                            # Apache's KEYS: prose, then the releasers' PGP blocks (junit4)
                            "KEYS": "This file contains the PGP key that is used to sign releases.\n\n" +
                                    sig.format("g" * 64).replace("SIGNATURE", "PUBLIC KEY BLOCK")})
    commit(r, "Parse nothing as one and regenerate the manual", {
        "src/parse.c": "int parse(void) {\n  return 1;\n}\n", "jq.1.prebuilt": man.format("June")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    shown = "".join(c.messages[1]["content"] for c in cands(out))
    paths = {p for c in cands(out) for p in c.provenance.get("paths", [])}
    assert all(c * 64 not in shown for c in "acdefg") and counts["skipped_files.armored"] == 6
    assert "jq.1.prebuilt" not in paths and counts["skipped_files.generated"] == 2
    assert {"src/parse.c", "docs/keys.md"} <= paths  # a key quoted in prose is not a file of base64


def test_more_file_types_are_labelled_and_mdx_pages_are_docs(tmp_path: Path) -> None:
    """Met unlabelled in real histories: jq's grammar and autotools files, continue's .mdx
    documentation pages (88 of them came out as debugging examples)."""
    r = new_repo(tmp_path / "r")
    grammar = "%%\nexp: term { $$ = $1; }\n  ;\n%%\n"
    page = "---\ntitle: Setup\n---\n\n# Setup\n\nRun the installer.\n"
    script = "#!/bin/sh\n" + "".join(f"check {i}\n" for i in range(12))
    commit(r, "Add the grammar", {"src/parser.y": grammar, "Makefile.am": "bin_PROGRAMS = jq\n",
                                  "docs/setup.mdx": page, "Pipfile": "[packages]\nrequests = \"*\"\n",
                                  "src/main.c": "int main(void) {\n  return 0;\n}\n", "tests/shtest": script})
    commit(r, "Fix the broken rule, the install step and the exit code", {
        "src/parser.y": grammar.replace("$1", "$1 + 0"), "Makefile.am": "bin_PROGRAMS = jq\nman_MANS = jq.1\n",
        "docs/setup.mdx": page.replace("installer", "installer twice"), "Pipfile": "[packages]\nrequests = \">=2\"\n",
        "src/main.c": "int main(void) {\n  return 1;\n}\n"})
    commit(r, "Check eleven twice in the shell tests", {"tests/shtest": script.replace("check 11", "check 11\ncheck 11")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    fixed = [c for c in cands(out) if "Fix the broken rule" in c.messages[0]["content"]]
    langs = {lang for c in fixed for lang, _ in fences(c.messages[1]["content"])}
    assert {"yacc", "makefile", "toml", "c", "mdx"} <= langs
    # a script without an extension, by its #! line: read in the diff (a new file), else at the tip
    for subject in ("Add the grammar", "Check eleven twice"):
        (sh,) = [c for c in cands(out) if subject in c.messages[0]["content"] and "tests/shtest" in c.provenance.get("paths", [])]
        assert [lang for lang, _ in fences(sh.messages[1]["content"])] == ["bash"], subject
    (docs,) = [c for c in fixed if c.provenance.get("paths") == ["docs/setup.mdx"]]
    assert docs.category == "editing" and docs.weight == 0.5  # a docs edit, never a debugging example


def test_man_pages_and_plain_files_under_docs_are_documentation(tmp_path: Path) -> None:
    """curl: its man pages (docs/libcurl/*.3, an old top-level curl.1) were 441 "find the bug"
    examples and 134 review pairs; its docs/KNOWN_BUGS, docs/INTERNALS and docs/cmdline-opts/*.d,
    of no language, 858 debugging examples with docs/ in all, unlabelled. A script without an
    extension under docs/ stays code, told by its #! line."""
    assert files.language("configure.in") == "m4" and files.language("winbuild/MakefileBuild.vc") == "makefile"
    assert files.language("MakefileTest.py") == "python"
    # a name that ends in a version number is no man page (nvm's tests, git's LGPL-2.1)
    nvm_test = "test/fast/Listing paths/Running 'nvm which 0.0.2' should display only version 0.0.2"
    for path in (nvm_test, "LGPL-2.1"):
        assert files.language(path) == "" and not files.docs_page(path, "") and not files.has_extension(path), path
    assert files.docs_page("vendor/ev.3", files.language("vendor/ev.3"))
    r = new_repo(tmp_path / "r")
    page = ".TH curl 1\n.SH NAME\ncurl \\- transfer a URL\n.SH OPTIONS\n.IP -v\nVerbose.\n"
    bugs = "Known bugs\n\n 1.1 NTLM fails\n 1.2 Proxy fails\n"
    opt = "Long: verbose\nShort: v\nHelp: Make the operation more talkative\n"
    script = "#!/bin/sh\n" + "".join(f"check {i}\n" for i in range(6))
    code = {f"src/{n}.c": f"int {n}(void) {{\n  return 0;\n}}\n" for n in ("verbose", "quiet", "main")}
    commit(r, "Add the pages", {"curl.1": page, "docs/KNOWN_BUGS": bugs, "docs/cmdline-opts/verbose.d": opt,
                                "docs/check-links": script, **code})
    commit(r, "fix: the verbose option was quiet", {  # the prefix decides the class
        "curl.1": page.replace("Verbose.", "Verbose: say more."), "docs/KNOWN_BUGS": bugs + " 1.3 Verbose is quiet\n",
        "docs/cmdline-opts/verbose.d": opt.replace("talkative", "verbose"),
        **{p: c.replace("0", "1") for p, c in code.items()}})
    commit(r, "Check the sixth link verbosely", {"docs/check-links": script.replace("check 5", "check 5 --verbose")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    fixed = [c for c in cands(out) if "verbose option was quiet" in c.messages[0]["content"] and c.category != "review"]
    by_path = {p: c for c in fixed for p in c.provenance["paths"]}
    for path in ("curl.1", "docs/KNOWN_BUGS", "docs/cmdline-opts/verbose.d"):
        assert by_path[path].category == "editing" and by_path[path].weight == 0.5, path
    assert by_path["src/verbose.c"].category == "debugging"
    langs = {p: lang for c in fixed for (lang, _), p in zip(fences(c.messages[1]["content"]), c.provenance["paths"],
                                                          strict=True)}
    assert {p: langs[p] for p in ("curl.1", "docs/KNOWN_BUGS", "docs/cmdline-opts/verbose.d", "src/verbose.c")} == {
        "curl.1": "roff", "docs/KNOWN_BUGS": "text", "docs/cmdline-opts/verbose.d": "text", "src/verbose.c": "c"}
    (sh,) = [c for c in cands(out) if "sixth link" in c.messages[0]["content"]]
    assert sh.weight == 1.0 and [lang for lang, _ in fences(sh.messages[1]["content"])] == ["bash"]


def test_gits_tests_docs_and_scripts_of_an_extension_that_tells_nothing(tmp_path: Path) -> None:
    """git's history: its t/ folder (t1234-*.sh, helpers, expected outputs) was code (41 test
    examples of 78,714), its Documentation/ plain files (SubmittingPatches, CodingGuidelines)
    unlabelled code, its gitweb.cgi and templates/hooks--update.sample unlabelled though their
    #! line names the language, git-archimport.perl and config.mak.in unlabelled."""
    for path in ("t/t5310-pack-bitmaps.sh", "t/helper/test-tool.c", "t/t4100/t-apply-1.expect", "t/lib-git.sh"):
        assert files.is_test(path), path
    assert not files.is_test("tools/t.sh") and not files.is_test("art/logo.c")
    assert files.language("git-archimport.perl") == "perl" and files.language("config.mak.in") == "makefile"
    assert files.docs_page("Documentation/SubmittingPatches", "") and files.docs_page("Docs/INSTALL", "")
    r = new_repo(tmp_path / "r")
    cgi = "#!/usr/bin/perl\n" + "".join(f"print {i};\n" for i in range(8))
    hook = "#!/bin/sh\n" + "".join(f"echo {i}\n" for i in range(8))
    commit(r, "Add gitweb and a hook", {"gitweb/gitweb.cgi": cgi, "templates/hooks--update.sample": hook})
    commit(r, "Print nine in gitweb and echo nine in the hook", {
        "gitweb/gitweb.cgi": cgi + "print 9;\n", "templates/hooks--update.sample": hook + "echo 9\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "nine" in c.messages[0]["content"] and c.category != "review"]
    assert ex.provenance["paths"] == ["gitweb/gitweb.cgi", "templates/hooks--update.sample"]
    assert [lang for lang, _ in fences(ex.messages[1]["content"])] == ["perl", "bash"]


def test_tests_folders_and_files_as_other_ecosystems_name_them(tmp_path: Path) -> None:
    """symfony/console keeps its tests in Tests/ (PHPUnit's *Test.php, fixtures of expected
    output): they were code to edit, and Tests/Fixtures/application_run1.txt documentation to
    "update to match". .NET's UnitTests/, Go's testdata/, Kotlin's jvmTest/, Rust's tests.rs,
    Angular's *_spec.ts were code too. A README among the tests stays documentation."""
    for path in ("Tests/Descriptor/ObjectsProvider.php", "src/Tests/ApplicationTest.php", "src/UnitTests/AddProfiles.cs",
                 "src/AutoMapper.IntegrationTests/Maps.cs", "examples/simple/testdata/TestApp.golden",
                 "okio/src/jvmTest/kotlin/okio/AsyncSocket.kt", "app/src/testDemo/kotlin/a.kt", "e2e/login.ts",
                 "integration-tests/run.ts", "typed-racket-test/succeed/a.rkt", "test-d/encoding.test-d.ts",
                 "compiler-cli/src/dependencies/tests.rs", "crates/cli/src/install_test.rs",
                 "packages/build/options_spec.ts", "core/src/test/scala/FooSpec.scala", "systest/all_SUITE.erl",
                 "packages/integration/fixtures/drizzle-zod/tsconfig.json", "src/__mocks__/fs.js"):
        assert files.is_test(path), path
    for path in ("prometheus/testutil/lint.go", "packages/bloc_test/lib/bloc_test.dart", "Contest.java",
                 "test-provider-sample/src/extension.ts", ".github/workflows/test.yml", "docs/testing.md"):
        assert not files.is_test(path), path
    assert not files.docs_page("Tests/Fixtures/application_run1.txt", "text")
    assert files.docs_page("tests/README.md", "markdown") and files.docs_page("docs/guide.txt", "text")
    r = new_repo(tmp_path / "r")
    app = "<?php\nclass Application\n{\n" + "".join(f"    public $a{i} = {i};\n" for i in range(6)) + "}\n"
    usage = "Console Tool\n\nUsage:\n  [options] command [arguments]\n\nOptions:\n  --help -h\n"
    commit(r, "Add the application", {"Application.php": app, "Tests/Fixtures/application_run1.txt": usage})
    commit(r, "Print the command before its options in the usage", {
        "Application.php": app.replace("$a3 = 3", "$a3 = 'command [options] [arguments]'"),
        "Tests/Fixtures/application_run1.txt": usage.replace("[options] command", "command [options]")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (fixture,) = [c for c in cands(out) if c.provenance.get("paths") == ["Tests/Fixtures/application_run1.txt"]
                  and "command before" in c.messages[0]["content"]]
    assert fixture.category == "test_generation" and "Update these tests to match" in fixture.messages[0]["content"]


def test_a_file_committed_with_an_unresolved_merge_is_no_answer(tmp_path: Path) -> None:
    """AutoMapper committed TypePair.cs with `<<<<<<< HEAD` ... `>>>>>>> branch` in it, urfave/cli
    its flag_test.go: answers of code that does not compile. A test or a manual that shows the
    markers on purpose speaks of the conflict (pnpm's "a lockfile with merge conflicts is
    autofixed", git's t/ and Documentation/): kept."""
    r = new_repo(tmp_path / "r")
    pair = "namespace AutoMapper\n{\n" + "".join(f"    int Hash{i}() => {i};\n" for i in range(6)) + "}\n"
    flag_test = "func TestFlags(t *testing.T) {\n" + "".join(f"\tcheck(t, {i})\n" for i in range(6)) + "}\n"
    lock_test = "test('a lockfile with merge conflicts is fixed', () => {\n  write(`\nimporters:\n`)\n})\n"
    commit(r, "Add the pair and its tests", {"TypePair.cs": pair, "flag_test.go": flag_test, "test/lockfile.ts": lock_test})
    conflicted = pair.replace("    int Hash3() => 3;\n", "<<<<<<< HEAD\n    int Hash3() => 3;\n=======\n"
                              "    int Hash3() => unchecked(3 * 397);\n>>>>>>> checked\n")
    commit(r, "Compute the hash in an unchecked context", {
        "TypePair.cs": conflicted,
        "flag_test.go": flag_test.replace("\tcheck(t, 3)\n", "<<<<<<< HEAD\n\tcheck(t, 3)\n=======\n\tcheck(t, 33)\n"
                                          ">>>>>>> generics\n"),
        "test/lockfile.ts": lock_test.replace("importers:\n", "importers:\n<<<<<<< HEAD\n  dep: 1.0.0\n=======\n"
                                              "  dep: 1.1.0\n>>>>>>> next\n")})
    # the next commit changes the file beside its markers: they are in its context lines
    commit(r, "Hash four in an unchecked context too", {"TypePair.cs": conflicted.replace("=> 4;", "=> unchecked(4);")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    made = [c for c in cands(out) if "unchecked context" in c.messages[0]["content"] and c.category != "review"]
    assert [c.provenance["paths"] for c in made] == [["test/lockfile.ts"]]
    assert counts["skipped_files.conflict_markers"] == 3
    assert "<<<<<<< HEAD" in made[0].messages[1]["content"]


def test_tests_see_the_source_change_before_the_ci_files(tmp_path: Path) -> None:
    """Alamofire's "Fix memory leaks" changed its CI workflow, its sources and its tests: the
    tests' example showed the workflow's Xcode versions first. The source change comes first."""
    r = new_repo(tmp_path / "r")
    ci = "jobs:\n  test:\n    runs-on: macOS-latest\n    env:\n      XCODE: 11.4\n"
    src = "def validate(response):\n    return response.ok\n"
    test = "def test_validate():\n    assert validate(ok)\n"
    commit(r, "Add validation", {".github/workflows/ci.yml": ci, "src/validation.py": src, "tests/test_validation.py": test})
    commit(r, "Fix memory leaks in validation", {
        ".github/workflows/ci.yml": ci.replace("11.4", "11.5"), "src/validation.py": src.replace("ok", "ok and response.closed"),
        "tests/test_validation.py": test.replace("ok)", "ok) is True")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if c.category == "test_generation" and "memory leaks" in c.messages[0]["content"]]
    ask = ex.messages[0]["content"]
    assert "The code changed like this" in ask
    assert 0 < ask.index("--- a/src/validation.py") < ask.index("--- a/.github/workflows/ci.yml")


def test_a_script_named_by_a_sentence_has_no_extension_and_is_told_by_its_first_line(tmp_path: Path) -> None:
    """nvm's urchin tests are shell scripts named by what they check: 'Running "nvm use 0.x"
    should work', '... environment.'. Their ".x\" should work" and "." are no extension: 95 of
    nvm's fences had no language."""
    assert not files.has_extension('test/fast/Running "nvm use 0.x" should work')
    assert not files.has_extension("test/fast/Running nvm current should display the environment.")
    assert not files.has_extension("test/sourcing/Sourcing nvm.sh with --install should install the default")
    assert files.has_extension("src/nvm.sh") and files.has_extension("docs/v1.2.md")
    r = new_repo(tmp_path / "r")
    name = 'test/fast/Running "nvm current" should display current nvm environment.'
    script = "#!/bin/sh\n\ndie () { echo \"$@\" ; exit 1; }\n\n" + "".join(f"check {i}\n" for i in range(8))
    commit(r, "Add the current test", {name: script})
    commit(r, "Check the environment twice in the current test", {name: script.replace("check 5", "check 5\ncheck 5")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    for subject in ("Add the current test", "Check the environment twice"):
        (ex,) = [c for c in cands(out) if subject in c.messages[0]["content"]]
        assert [lang for lang, _ in fences(ex.messages[1]["content"])] == ["bash"], subject


def test_a_nix_shell_script_is_told_by_the_interpreter_its_second_line_names(tmp_path: Path) -> None:
    """home-manager's `format` and `xgettext` start "#! /usr/bin/env nix-shell", then name their
    interpreter on a second `#!` line: 38 of its fences had no language. Read in the diff (a
    new file) and at the tip (an edit far from the first line)."""
    assert files.shebang_language("#! /usr/bin/env nix-shell\n#! nix-shell -i bash -p findutils nixfmt\n") == "bash"
    assert files.shebang_language("#!/usr/bin/env nix-shell\n#!nix-shell -I nixpkgs=https://x/a.tar.gz -i python3\n") == (
        "python")
    assert files.shebang_language("#!/usr/bin/env nix-shell\necho -i bash\n") == ""  # no second #! line
    assert files.shebang_language("#!/bin/sh\n#! nix-shell -i python\n") == "bash"  # not a nix-shell script
    r = new_repo(tmp_path / "r")
    script = "#! /usr/bin/env nix-shell\n#! nix-shell -i bash -p findutils nixfmt\n\n" + "".join(
        f"nixfmt part{i}.nix\n" for i in range(20))
    commit(r, "Add the format script", {"format": script})
    commit(r, "Also format part 19 twice", {"format": script.replace("part19.nix", "part19.nix\nnixfmt part19.nix")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    for subject in ("Add the format script", "Also format part 19 twice"):
        (ex,) = [c for c in cands(out) if subject in c.messages[0]["content"]]
        assert [lang for lang, _ in fences(ex.messages[1]["content"])] == ["bash"], subject


def test_a_header_is_fenced_in_the_language_it_is_written_in(tmp_path: Path) -> None:
    """fmt's headers are C++ (9,476 of its fences said `c`). A `.h` file is C++ or Objective-C
    where its changed lines show it, else where its commit's other files are, else where its
    first lines (at the tip) show it; else C, as jq's headers stay."""
    r = new_repo(tmp_path / "r")
    lines = "".join(f"#define LIMIT_{i} {i}\n" for i in range(30))
    cpp_head = "#include <vector>\n\n" + lines
    commit(r, "Add the headers", {"include/fmt/core.h": cpp_head, "src/jv.h": "#include <stdio.h>\n\n" + lines,
                                  "ui/View.h": "#import <Foundation/Foundation.h>\n\n" + lines})
    commit(r, "Raise the last limits", {p: body.replace("LIMIT_29 29", "LIMIT_29 290")
                                        for p, body in (("include/fmt/core.h", cpp_head),
                                                        ("src/jv.h", "#include <stdio.h>\n\n" + lines),
                                                        ("ui/View.h", "#import <Foundation/Foundation.h>\n\n" + lines))})
    commit(r, "Add a formatter and its test", {
        "include/fmt/core.h": cpp_head.replace("LIMIT_29 290", "LIMIT_29 291"),
        "src/jv.h": "#include <stdio.h>\n\n" + lines.replace("LIMIT_29 29", "LIMIT_29 2"),
        "test/core-test.cc": "int main() { return 0; }\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))

    def lang_of(subject: str, path: str) -> list[str]:
        (c,) = [c for c in cands(out) if subject in c.messages[0]["content"] and path in c.provenance["paths"]]
        return re.findall(rf"`{re.escape(path)}`[^\n]*:\n`{{3,}}(\S*)\n", c.messages[1]["content"])

    # the changed lines (a #define) say nothing: the file's first lines at the tip do
    assert lang_of("Raise the last limits", "include/fmt/core.h") == ["cpp"]
    assert lang_of("Raise the last limits", "ui/View.h") == ["objectivec"]
    assert lang_of("Raise the last limits", "src/jv.h") == ["c"]
    assert lang_of("Add the headers", "src/jv.h") == ["c"]  # a new file: its own lines
    # beside a .cc file, a header is C++ whatever its lines: a C header beside C++ code is rare
    assert lang_of("Add a formatter", "src/jv.h") == ["cpp"]
    h = "include/x.h"
    assert files.shared_language(h, "+  std::vector<int> v;", set()) == "cpp"
    assert files.shared_language(h, "+template <typename T> T id(T x);", set()) == "cpp"
    assert files.shared_language(h, "+class Writer : public Base {", set()) == "cpp"
    assert files.shared_language(h, "+- (void)viewDidLoad:(NSString *)name;", set()) == "objectivec"
    assert files.shared_language(h, "-  (void)std::fflush(f);", set()) == "cpp"  # a removed cast, not a method
    # English words in a C comment are not C++: "the class", "namespace", "operator", "virtual"
    comment = "+/* Use the virtual class of the operator in this namespace: see jv.c */\n+int jv_free(jv);"
    assert files.shared_language(h, comment, set()) == "c"
    assert files.shared_language(h, comment, {"c", "objectivec"}) == "objectivec"
    assert files.shared_language(h, comment, set(), lambda: "cpp") == "cpp"


def test_a_qt_translation_catalog_is_xml_not_typescript() -> None:
    """flameshot's translations/*.ts are Qt Linguist's XML (567 fences said typescript); TypeScript
    stays TypeScript, whatever the commit beside it."""
    catalog = ("   <message>\n+        <location filename=\"../src/main.cpp\" line=\"12\"/>\n"
               "         <source>Capture</source>\n")
    assert files.shared_language("translations/Internationalization_de_DE.ts", catalog, {"cpp"}) == "xml"
    code = "+export const source = (message: string): Message => ({ message })"
    assert files.shared_language("src/message.ts", code, {"cpp"}, lambda: "cpp") == "typescript"


def test_a_dot_m_file_is_objective_c_or_matlab_by_its_lines(tmp_path: Path) -> None:
    """export_fig's MATLAB .m files were fenced objectivec (601 fences)."""
    m = "src/export_fig.m"
    assert files.shared_language(m, "+function fh = export_fig(varargin)\n+  fh = gcf;", set()) == "matlab"
    assert files.shared_language(m, " % Crop the image\n+    A = A(t:b, l:r, :);", set()) == "matlab"
    assert files.shared_language(m, "+#import \"View.h\"\n+@implementation View", set()) == "objectivec"
    assert files.shared_language(m, "+- (void)viewDidLoad {\n+  [super viewDidLoad];", set()) == ""
    assert files.shared_language(m, "+  NSString *name = @\"view\";", set()) == "objectivec"
    assert files.shared_language(m, "+    x = y;", set()) == ""  # neither: unlabelled, not guessed
    assert files.shared_language(m, "+    x = y;", {"objectivec"}) == "objectivec"  # beside a .mm file
    # a MATLAB repository's C MEX file beside it says nothing of the .m file
    assert files.shared_language(m, "+    x = y;", {"c", "cpp"}, lambda: "matlab") == "matlab"
    r = new_repo(tmp_path / "r")
    body = "function out = crop(A)\n% CROP trims the borders\n" + "".join(f"A = A + {i};\n" for i in range(30)) + "out = A;\nend\n"
    commit(r, "Add crop", {"crop.m": body, "mex/fast.c": "int f(void) { return 0; }\n"})
    commit(r, "Trim one more row", {"crop.m": body.replace("A = A + 28;", "A = A + 29;")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (c,) = [c for c in cands(out) if "Trim one more row" in c.messages[0]["content"]]
    assert re.findall(r"`crop\.m`[^\n]*:\n`{3,}(\S*)\n", c.messages[1]["content"]) == ["matlab"]  # by its head


def test_build_output_beside_its_source_is_not_mined_twice(tmp_path: Path) -> None:
    """hono commits deno_dist/ (its src/ built for Deno) with every change: a fifth of its
    examples were the same change again, most not near-duplicates to the curator."""
    r = new_repo(tmp_path / "r")
    src = "export const add = (a: number, b: number) => a + b\n"
    commit(r, "Add add", {"src/math.ts": src, "deno_dist/math.ts": src, "packages/ui/dist/ui.js": "x()\n",
                          "examples/iso/isolation-dist/index.js": "y()\n", "distance/metric.ts": src})
    commit(r, "Add sub", {p: src + "export const sub = (a: number, b: number) => a - b\n"
                          for p in ("src/math.ts", "deno_dist/math.ts", "distance/metric.ts")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    paths = {p for c in cands(out) for p in c.provenance.get("paths", [])}
    assert paths == {"src/math.ts", "distance/metric.ts"}  # a folder named dist*, not one holding it
    assert counts["skipped_files.vendored_or_generated"] == 4


def test_files_an_ide_writes_are_not_mined(tmp_path: Path) -> None:
    """Alamofire's project.pbxproj (object ids and build phases) and its schemes: in 241 examples."""
    r = new_repo(tmp_path / "r")
    pbx = "".join(f"\t\t4C{i:06X} /* F{i}.swift in Sources */ = {{isa = PBXBuildFile; }};\n" for i in range(8))
    scheme = '<?xml version="1.0"?>\n<Scheme LastUpgradeVersion = "1500">\n</Scheme>\n'
    swift = "func add(_ a: Int, _ b: Int) -> Int {\n    return a + b\n}\n"
    commit(r, "Add add", {"Sources/Add.swift": swift, "App.xcodeproj/project.pbxproj": pbx,
                          "App.xcodeproj/xcshareddata/xcschemes/App.xcscheme": scheme})
    commit(r, "Add sub", {"Sources/Add.swift": swift + "func sub(_ a: Int, _ b: Int) -> Int {\n    return a - b\n}\n",
                          "App.xcodeproj/project.pbxproj": pbx + "\t\t4CFFFFFF /* Sub.swift */ = {isa = PBXBuildFile; };\n",
                          "App.xcodeproj/xcshareddata/xcschemes/App.xcscheme": scheme.replace("1500", "1510")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    assert {p for c in cands(out) for p in c.provenance.get("paths", [])} == {"Sources/Add.swift"}
    assert counts["skipped_files.vendored_or_generated"] == 4


class _Trickle(io.RawIOBase):
    """git's output as a pipe may hand it over: `step` bytes per read."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data, self.pos, self.step = data, 0, step

    def read1(self, n: int = -1) -> bytes:
        out = self.data[self.pos:self.pos + min(n if n > 0 else self.step, self.step)]
        self.pos += len(out)
        return out

    def read(self, n: int = -1) -> bytes:
        return self.read1(n)


def test_records_are_cut_the_same_however_git_output_arrives(tmp_path: Path) -> None:
    # A patch over the cap is dropped by its size, never by where a read of the pipe ended:
    # otherwise a resumed run (other read sizes) could keep what a clean run dropped.
    r = new_repo(tmp_path / "r")
    for i in range(6):
        commit(r, f"Change {i}", {"a.py": "".join(f"x{j} = {i * j}\n" for j in range(20 * i + 1))})
    raw = subprocess.run(["git", "-C", str(r), *GIT_CONFIG, "log", *LOG_OPTIONS, "main"], capture_output=True,
                         check=True).stdout
    for cap in (1 << 20, 300):
        whole = list(records(_Trickle(raw, len(raw)), cap))
        assert len(whole) == 6 and (cap > 300 or 0 < sum(p is None for _, p in whole) < 6)
        for step in (1, 7, 64, 1000):
            assert list(records(_Trickle(raw, step), cap)) == whole


@pytest.mark.parametrize(("path", "lang"), [
    ("src/parser.y", "yacc"), ("configure.ac", "m4"), ("Makefile.am", "makefile"), ("BUILD.bazel", "starlark"),
    ("docs/setup.mdx", "mdx"), ("CHANGES", "text"), ("Pipfile", "toml"), (".prettierignore", "gitignore"),
    ("cobra/cmd/testdata/root.go.golden", "go"), ("config.yaml.example", "yaml"), ("setup.cfg.in", "ini"),
    ("sinatra.gemspec", "ruby"), ("RakeFile", "ruby"), ("phpstan.neon", "neon"), (".php_cs.dist", "php"),
    ("tests/shtest", ""), ("notes.golden", ""),  # no extension: the #! line decides (the miner reads it)
    # phoenix's templates and catalogs, ripgrep's packaging and man page, Newtonsoft.Json's .NET XML
    ("lib/app_web/components/layouts/root.html.heex", "heex"), ("priv/templates/index.html.eex", "eex"),
    ("priv/gettext/errors.pot", "po"), ("assets/app.coffee", "coffeescript"), (".babelrc", "json"),
    ("pkg/archlinux/PKGBUILD", "bash"), ("doc/rg.1", "roff"), ("UNLICENSE", "text"),
    ("Src/Newtonsoft.Json.nuspec", "xml"), ("Src/Newtonsoft.Json.sln.DotSettings", "xml"),
    ("Src/packages.config", "xml"), ("Build/Newtonsoft.Json.props", "xml"), ("Doc/SerializationGuide.aml", "xml"),
    ("installer/templates/phx_single/gitignore", "gitignore"),
    # fmt's and flameshot's C++ and Qt projects
    (".clang-format", "yaml"), ("src/kernel.cu", "cuda"), ("flameshot.pro", "qmake"), ("src/graphics.qrc", "xml"),
    ("src/widgets/dialog.ui", "xml"), ("data/flameshot.desktop", "ini"), ("packaging/rpm/flameshot.spec", "spec"),
    ("packaging/debian/control", "debcontrol"), ("debian/rules", "makefile"), ("debian/copyright", "text"),
    ("src/control", ""), ("tools/rules", ""),  # only in a debian/ folder
    # R's (usethis)
    ("vignettes/usethis-setup.Rmd", "rmd"), ("DESCRIPTION", "debcontrol"), ("NAMESPACE", "r"), ("man/use_git.Rd", "rd"),
    ("usethis.Rproj", "debcontrol"), ("inst/WORDLIST", "text"), ("src/Makevars.win", "makefile"),
    # Oh My Zsh's, tmux's and shellcheck's
    ("themes/robbyrussell.zsh-theme", "zsh"), ("templates/zshrc.zsh-template", "zsh"), (".zshrc", "zsh"),
    ("tools/tmux.vim", "vim"), ("ShellCheck.cabal", "cabal"), ("FAQ", "text"), ("NOTES", "text"),
    ("scripts/install", ""), ("notes", ""),  # in lowercase, maybe a script: its #! line decides
    # AntennaPod's Eclipse files, koel's
    ("app/.classpath", "xml"), ("public/.htaccess", "apacheconf"), ("resources/css/app.pcss", "postcss"),
    ("assets/syntaxes/02_Extra/Nim.sublime-syntax", "yaml"), ("assets/themes/ansi.tmTheme", "xml"),  # bat's
    (".clj-kondo/config.edn", "clojure"), ("src/clj_kondo/impl/utils.cljc", "clojure"), ("clj-kondo.el", "elisp"),
    # OpenZeppelin's Solidity, posh-git's PowerShell modules, cowboy's Erlang terms
    ("contracts/token/ERC20/ERC20.sol", "solidity"), ("src/posh-git.psm1", "powershell"),
    ("src/posh-git.psd1", "powershell"), ("include/cowboy.hrl", "erlang"), ("ebin/cowboy.app", "erlang"),
    ("src/cowboy.app.src", "erlang"), ("rebar.config", "erlang"), ("config/sys.config", "erlang"),
    ("app/settings.config", ""), ("src/index.src", ""),
    # mojo's Perl tests and templates, jekyll's Cucumber features, os-lib's Scala builds, Ansible's linters
    ("t/mojo/url.t", "perl"), ("lib/Mojolicious/resources/templates/mojo/debug.html.ep", "html"),
    ("features/create_sites.feature", "gherkin"), ("build.sc", "scala"), ("build.mill", "scala"),
    (".yamllint", "yaml"), (".ansible-lint", "yaml"),
    # stdlib's Fortran and fypp templates, picorv32's assembly and FPGA constraints
    ("src/stdlib_math.f90", "fortran"), ("src/stdlib_io.F90", "fortran"), ("src/stdlib_linalg.fypp", "fortran"),
    ("firmware/start.S", "asm"), ("scripts/vivado/synth_area.tcl", "tcl"), ("scripts/vivado/synth_area.xdc", "tcl"),
    ("rtl/core.sv", "systemverilog"), ("tests/modules/kitty/example-settings-expected.conf.expected", "ini"),
    ("examples/views/index.jade", "pug"), ("axum-macros/tests/debug_handler/fail/not_async.stderr", "text"),
    ("test/driver/ppx_flags.t", ""), ("test/expect/run.t", ""), ("xt/author/pod.t", "perl"),  # dune's cram tests
    ("src/lexer.mll", "ocaml"), ("docs/tutorial.fsx", "fsharp"), ("src/Json.fsi", "fsharp"),
    ("app/proguard-rules.pro", ""), ("core/consumer-rules.pro", ""), ("benchmarks/benchmark-rules.pro", ""),
    ("flameshot.pro", "qmake"),
    ("src/kemal/route.cr", "crystal"), ("src/kemal/views/index.ecr", "ecr"), ("build.zig.zon", "zig"),
    ("docs/magit.texi", "texinfo"), ("docs/src/pages/index.astro", "astro"), ("Dockerfile-linux.template", "dockerfile"),
    ("Dockerfile.alpine", "dockerfile"), ("prod.dockerfile", "dockerfile"), ("Containerfile", "dockerfile"),
    ("Dockerfile.md", "markdown"), ("test/fzf.vader", "vim"), ("shell/key-bindings.nu", "nu"),
    ("Tests/Fixtures/command.phpt", "php"),
    ("Global/macOS.gitignore", "gitignore"), ("helloworld-sample/.vscodeignore", "gitignore"),
    ("sample.code-workspace", "json"), (".gitignore", "gitignore"),
    ("2d/platformer/player/player.gd", "gdscript"), ("shaders/water.gdshader", "glsl"), ("project.godot", "ini"),
    ("shaders/blur.glsl", "glsl"), ("src/shader.frag", "glsl"), ("src/shader.wgsl", "wgsl"),
    ("build.sbt", "scala"), ("project/plugins.sbt", "scala"), ("guides/cheatsheets/crud.cheatmd", "markdown"),
    ("app/views/devise/mailer/confirmation_instructions.markerb", "erb"), ("MIT-LICENSE", "text"),
    ("gemfiles/Gemfile-rails-7-0", "ruby"), ("gemfiles/Gemfile.rails-4.2-stable", "ruby"), ("Gemfile.lock", ""), ("src/main/webapp/WEB-INF/jsp/owners/ownersList.jsp", "jsp"),
    ("src/test/jmeter/petclinic_test_plan.jmx", "xml"), ("CITATION.cff", "yaml"), ("meson.build", "meson"),
    ("docs/examples/meta.output", "text"), ("src/json.hpp.re2c", "cpp"), ("src/lexer.re2c", ""),
    ("picorv32.v", ""),  # Verilog or Coq: its lines tell (test_a_v_file_is_verilog_or_coq_by_its_lines)
    # typed-racket's Racket, Scheme and Scribble; ocaml-lsp's dune files and Reason interfaces;
    # FSharpPlus' diagrams; Razor views. re2c's and Reason's sources share ".re": no label
    ("typed-racket-lib/typed-racket/typecheck/tc-app.rkt", "racket"), ("collects/typed-scheme/lang/reader.ss", "scheme"),
    ("collects/typed-scheme/typed-scheme.scrbl", "racket"), ("lsp/src/lsp/dune", "dune"),
    ("dune-project", "dune"), ("dune-workspace", "dune"), ("test/e2e/lib.rei", "reason"), ("lexer.re", ""),
    ("docs/content/abstractions.plantuml", "plantuml"), ("docs/tools/templates/template.cshtml", "razor"),
    # gleam's, rebar3's and nimble's
    ("compiler-core/src/parse.gleam", "gleam"), ("src/gleam_parser.yrl", "erlang"), ("src/lexer.xrl", "erlang"),
    ("schema.capnp", "capnp"), ("nimble.nimble", "nim"), ("tests/config.nims", "nim"),
    ("priv/templates/plugin.erl.dtl", "erlang"), ("examples/cookie/templates/toppage.dtl", ""),
    # sinatra's template engines' views, jinja's Sphinx theme, pip-compile inputs, TextMate snippets
    ("test/hello.mab", "ruby"), ("test/views/hello.nokogiri", "ruby"), ("test/views/hello.yajl", "ruby"),
    ("test/views/hello.rabl", "ruby"), ("spec/content_for/different_key.hamlit", "haml"),
    ("docs/_themes/jinja/static/jinja.css_t", "css"), ("requirements/dev.in", "text"),
    ("requirements-dev.in", "text"), ("ext/Snippets/batch.tmSnippet", "xml"), ("docs/jinjastyle.sty", "latex"),
    ("hiredis.pc.in", ""),
    # bats-core's tests and man pages; luarocks' specs, manifests, Teal declarations and makefiles
    ("test/bats.bats", "bash"), ("man/bats.1.ronn", "markdown"), (".codespellrc", "ini"),
    ("rockspec/luarocks-3.0.0-1.rockspec", "lua"), ("types/lfs.d.tl", "teal"), (".busted", "lua"),
    (".luacheckrc", "lua"), ("lfw/rocks/luazip/1.2.3-2/rock_manifest", "lua"), ("binary/Makefile.windows", "makefile"),
    ("Makefile.luarocks", "makefile"), ("win32/lua5.1/bin/Microsoft.VC80.CRT.manifest", "xml"),
    # pdoc's templates, ex_doc's Livebook fixture, version pins and a GitHub Pages domain
    ("pdoc/templates/html_frame.jinja2", "jinja"), ("pdoc/templates/module.txt.mako", "mako"),
    ("test/fixtures/LivebookFile.livemd", "markdown"), (".python-version", "text"), (".nvmrc", "text"),
    ("docs/CNAME", "text"),
    # puppetlabs-stdlib's module files, CSV.jl's old REQUIRE; Pascal (a `.pp` is told by its lines)
    ("Modulefile", "ruby"), (".pdkignore", "gitignore"), (".gemspec", "ruby"), ("REQUIRE", "text"),
    ("src/main.pas", "pascal"), ("project.lpr", "pascal"), ("manifests/init.pp", ""),
    # PHPMailer's highlighted examples and version file, llm.c's Slurm scripts, spdlog's Visual
    # Studio filters and user settings, and its lowercase makefile variants
    ("examples/code_generator.phps", "php"), ("VERSION", "text"), ("scripts/run_gpt2_124M.sbatch", "bash"),
    ("c11logtest/c11logtest.vcxproj.filters", "xml"), ("tests/tests.vcxproj.user", "xml"),
    ("example/makefile.clang", "makefile"), ("example/makefile.bench", "makefile"),
    ("src/site/apt/index.apt", "text"), ("src/changes/release-notes.vm", "velocity"), ("src/site/fml/faq.fml", "xml"),
    ("doc/bibtex/refs.bib", "bibtex"),
    # maybe-finance's (Rails): JSON views, Brakeman's ignore list, Cursor's rules (prose)
    ("app/views/api/v1/chats/_chat.json.jbuilder", "ruby"), ("config/brakeman.ignore", "json"),
    (".cursor/rules/project-conventions.mdc", "markdown"),
    # pnpm's: husky's hooks without a #! line, node-gyp's build files, npmrc fixtures
    (".husky/commit-msg", "bash"), ("exec/lifecycle/test/fixtures/gyp/binding.gyp", "python"),
    ("packages/config/test/global-bin-dir-windows/etc/npmrc", "ini"), ("hooks/commit-msg", ""),
    # vite's: a template's gitignore, Netlify's files, AppleScript, Graphviz
    ("packages/create-app/template-vue/_gitignore", "gitignore"), ("docs/public/_redirects", "text"),
    ("bin/openChrome.applescript", "applescript"), ("playground/html/module-graph.dot", "dot"),
    # googletest's Visual Studio and C++Builder projects and SCons builds; factory_bot's Ruby configs
    ("msvc/gtest_main.vcproj", "xml"), ("msvc/gmock_config.vsprops", "xml"), ("codegear/gtest.groupproj", "xml"),
    ("scons/SConstruct", "python"), ("scons/SConscript", "python"), ("Appraisals", "ruby"), (".irbrc", "ruby"),
    (".simplecov", "ruby"), (".swift-version", "text"), ("pkgs/http_multi_server/.analysis_options", "yaml"),
    ("pkgs/http_parser/.test_config", "json"), ("test/node_smoke_tests/.eslintrc", "json"), (".jscsrc", "json"),
    ("test/.jshintignore", "gitignore"), ("gson/bnd.bnd", "properties"),
    # thor's task files, gunicorn's raw requests and Pylint config, chalk's Flow types, paramiko's
    # Bazaar ignore list
    ("spec/fixtures/script.thor", "ruby"), ("Thorfile", "ruby"), ("tests/requests/valid/001.http", "http"),
    (".pylintrc", "ini"), ("index.js.flow", "javascript"), (".flowconfig", "ini"), (".bzrignore", "gitignore"),
    # junit4's CVS ignore list, Eclipse metadata and AntUnit builds; pip-tools' Bandit config; clap's
    # completion tests and Cargo config
    (".cvsignore", "gitignore"), (".vcm_meta", "xml"), ("experimental-use-of-antunit/junit.ant", "xml"),
    (".bandit", "ini"), ("tests/snapshots/home/test/bash/.bashrc", "bash"), ("elvish/rc.elv", "elvish"),
    ("snapshots/aliases.elvish", "elvish"), (".cargo/config", "toml"), ("config", ""),
    ("BUILDING", "text"), ("CODING_STYLE", "text"),
    # FluentValidation's, flysystem's, kotlinpoet's
    ("build.boo", "boo"), ("src/FluentValidation.K/FluentValidation.K.kproj", "xml"),
    ("FluentValidation.5.0.resharper", "xml"), (".hgignore", "gitignore"), ("test_files/unknown-mime-type.md5", "text"),
    (".github/workflows/.java-version", "text"), ("BSDmakefile", "makefile"),  # libuv's
    (".gitreview", "ini"), (".python-version-default", "text"),  # alembic's, attrs'
    # pyramid's scaffolds (a leading dot written `+dot+`), Zope's and Chameleon's files
    ("pyramid/scaffolds/starter/+package+/views.py_tmpl", "python"), ("scaffolds/a/+dot+coveragerc_tmpl", "ini"),
    ("scaffolds/a/development.ini_tmpl", "ini"), ("scaffolds/a/templates/home.pt_tmpl", "html"),
    ("repoze/bfg/configure.zcml", "xml"), ("repoze/bfg/sampleapp/www/blog_view.pt", "html"),
    # towncrier's news fragments (yarl's CHANGES/409.bugfix), not Gherkin; rack's KNOWN-ISSUES
    ("CHANGES/409.bugfix", "rst"), ("CHANGES/1.feature", "rst"), ("newsfragments/12.removal", "rst"),
    ("features/login.feature", "gherkin"), ("KNOWN-ISSUES", "text"),
    # rack's SPEC and its RDoc and YARD options; webpack-cli's mocha, nyc and JS Beautifier settings
    ("SPEC", "text"), (".rdoc_options", "yaml"), (".yardopts", "text"), ("test/mocha.opts", "text"),
    (".nycrc", "json"), (".jsbeautifyrc", "json"),
    # Polly's Cake build script, its shared project's items and Roslyn's analyzer settings
    ("build.cake", "csharp"), ("src/Polly.Shared/Polly.Shared.projitems", "xml"),
    ("eng/analyzers/Stylecop.globalconfig", "ini"),
    # invoke's completion scripts, named for their shell
    ("completion/zsh", "zsh"), ("invoke/completion/fish", "fish"), ("completions/bash", "bash"),
])
def test_fence_languages_by_name(path: str, lang: str) -> None:
    assert files.language(path) == lang


def test_a_pp_file_is_puppet_or_pascal_by_its_lines() -> None:
    """puppetlabs-stdlib's manifests (179 unlabelled snippets) and Free Pascal's units share `.pp`."""
    puppet = " class stdlib::stages {\n+  stage { 'setup':  before => Stage['main'] }\n }\n"
    pascal = " unit Strings;\n interface\n+function Trim(const S: string): string;\n"
    assert files.shared_extension("manifests/init.pp")
    assert files.shared_language("manifests/stages.pp", puppet, set()) == "puppet"
    assert files.shared_language("rtl/strings.pp", pascal, set()) == "pascal"
    assert files.shared_language("tests/init.pp", "+include stdlib\n", set()) == "puppet"
    assert files.shared_language("types/httpurl.pp", "+type Stdlib::HTTPUrl = Pattern[/x/]\n", set()) == "puppet"
    assert files.shared_language("functions/ensure.pp", "+function stdlib::ensure(\n", set()) == "puppet"
    assert files.shared_language("src/x.pp", "+  x := 1;\n", set()) == ""  # neither says: unlabelled
    assert files.shared_language("src/x.pp", "+  x := 1;\n", {"pascal"}) == "pascal"  # beside .pas files
    assert files.shared_language("src/x.pp", "+  x := 1;\n", set(), lambda: "pascal") == "pascal"  # its head


def test_sandcastle_topics_are_documentation() -> None:
    assert files.is_docs("Doc/SerializationGuide.aml") and not files.is_docs("Src/Newtonsoft.Json.nuspec")
    # Racket's Scribble: its documentation, whatever folder it is in (typed-racket's typed-scheme.scrbl)
    assert files.is_docs("collects/typed-scheme/typed-scheme.scrbl") and not files.is_docs("collects/a/b.rkt")


def test_mavens_changelog_and_site_pages_are_documentation(tmp_path: Path) -> None:
    """commons-csv records each fix in maven-changes-plugin's src/changes/changes.xml: 89 of its
    debugging examples asked to find the bug in that list."""
    assert files.is_docs("src/changes/changes.xml") and files.is_docs("src/changes/release-notes.vm")
    assert files.is_docs("src/site/xdoc/index.xml") and files.is_docs("sub/src/site/apt/index.apt")
    assert files.is_docs(".cursor/rules/project-conventions.mdc")  # an assistant's rules: prose
    assert not files.is_docs("src/main/resources/changes.xml") and not files.is_docs("src/site/resources/site.css")
    r = new_repo(tmp_path / "r")
    lexer = "class Lexer {\n    boolean isDelimiter(int c) {\n        return c == delimiter;\n    }\n}\n"
    changes = ('<document>\n  <body>\n    <release version="1.1">\n'
               '      <action issue="CSV-1" type="fix">Quotes are kept</action>\n    </release>\n  </body>\n</document>\n')
    commit(r, "Add the lexer", {"src/main/java/Lexer.java": lexer, "src/changes/changes.xml": changes})
    commit(r, "Fix the lexer missing a delimiter at the end of input", {
        "src/main/java/Lexer.java": lexer.replace("c == delimiter", "c == delimiter || c == EOF"),
        "src/changes/changes.xml": changes.replace("    <action", '    <action issue="CSV-2" type="fix">Delimiter at EOF'
                                                   '</action>\n    <action', 1)})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    fix = [c for c in cands(out) if "delimiter at the end" in c.messages[0]["content"]]
    assert {c.category for c in fix} == {"debugging", "editing"}
    (debugging,) = [c for c in fix if c.category == "debugging"]
    assert debugging.provenance["paths"] == ["src/main/java/Lexer.java"]
    (edit,) = [c for c in fix if c.category == "editing"]
    assert edit.provenance["paths"] == ["src/changes/changes.xml"] and edit.weight < 1.0


def test_plain_text_documents_in_capitals_are_documentation() -> None:
    """tmux's FAQ and NOTES edits were 56 "debugging" and "editing" examples at full weight."""
    assert files.is_docs("FAQ") and files.is_docs("NOTES") and files.is_docs("INSTALL") and files.is_docs("HACKING")
    assert not files.is_docs("install") and not files.is_docs("tools/notes") and not files.is_docs("BUILD")
    # tqdm's contributing guide and release how-to
    assert files.is_docs("CONTRIBUTE") and files.is_docs("RELEASE") and not files.is_docs("scripts/release")
    assert files.is_docs("BUILDING") and files.is_docs("CODING_STYLE")  # junit4's how-tos
    # zlib's, a prose name before a suffix no language has; not a script named so
    assert files.is_docs("examples/README.examples") and files.language("contrib/README.contrib") == "text"
    assert not files.is_docs("INSTALL.sh") and files.language("INSTALL.sh") == "bash"
    assert files.is_docs("app/src/main/play/en-US/listing/shortdescription")  # a store listing: prose
    assert not files.is_docs("app/src/main/play/build.gradle")


@pytest.mark.parametrize(("path", "want"), [
    # ShareX's .resx catalogs (Czech's is .cs.resx), flameshot's Qt catalogs, xxl-job's bundles
    ("ShareX/Properties/Resources.fr.resx", True), ("ShareX/Properties/Resources.zh-CN.resx", True),
    ("ShareX/Forms/MainForm.cs.resx", True), ("ShareX/Properties/Resources.resx", False),
    ("data/translations/Internationalization_pt_BR.ts", True), ("data/translations/Internationalization_en.ts", False),
    ("src/Internationalization_fr.ts", False),  # TypeScript or not: no i18n folder says so
    ("admin/src/main/resources/i18n/message_zh_CN.properties", True), ("i18n/message.properties", False),
    ("i18n/message_en.properties", False), ("src/main/resources/de/acme/app.properties", False),
    ("tests/it/config.properties", False),  # Java's de/ package, Rust's tests/it/: names, not languages
    # gettext: a .po is a translation whether its locale shows or not; English is kept, .pot is the template
    ("priv/gettext/fr/LC_MESSAGES/default.po", True), ("po/de.po", True), ("locale/django.po", True),
    ("installer/templates/phx_gettext/en/LC_MESSAGES/errors.po", False), ("po/messages.pot", False),
    ("app/src/main/res/values-fr/strings.xml", True), ("res/values-zh-rCN/strings.xml", True),
    ("res/values-b+sr+Latn/strings.xml", True), ("res/values/strings.xml", False), ("res/values-v21/styles.xml", False),
    ("res/values-night/colors.xml", False),
    ("App/fr.lproj/Localizable.strings", True), ("App/en.lproj/Localizable.strings", False),
    ("App/Base.lproj/Main.strings", False),
    ("config/locales/fr.yml", True), ("config/locales/en.yml", False), ("src/locales/fr/common.json", True),
    ("lang/de/validation.php", True), ("static/select2/js/i18n/zh-TW.js", True), ("src-tauri/locales/pt-BR.wxl", True),
    ("lib/l10n/app_fr.arb", True), ("lib/l10n/app_en.arb", False), ("src/messages.fr.xlf", True),
    ("src/locale/locale.ts", False), ("src/i18n/index.ts", False), ("config/fr.json", False),
    # documentation translated, a folder per language (fastapi: 1,261 of its 5,590 examples were
    # German, Japanese ... pages whose English source the task did not show); not a topic's folder
    ("docs/it/index.md", True), ("docs/de/docs/tutorial/first-steps.md", True), ("docs/zh-hant/docs/index.md", True),
    ("website/i18n/fr/docusaurus-plugin-content-docs/current/intro.md", True), ("docs/en/docs/index.md", False),
    ("docs/ml/intro.md", False), ("docs/api/index.md", False), ("docs/de/mkdocs.yml", False), ("src/de/notes.md", False),
    # store listings (AntennaPod's Gradle Play Publisher folders, fastlane's): English is documentation
    ("app/src/main/play/et/listing/shortdescription", True), ("app/src/main/play/listings/de-DE/title.txt", True),
    ("app/src/main/play/release-notes/fr-FR/default.txt", True), ("app/src/main/play/listings/en-US/title.txt", False),
    ("fastlane/metadata/android/pt-BR/full_description.txt", True), ("fastlane/metadata/ja/keywords.txt", True),
    ("fastlane/metadata/android/en-US/changelogs/120.txt", False), ("app/src/main/play/contact-email.txt", False),
    ("play/de/routes", False),  # a folder named play elsewhere
])
def test_translation_catalogs_are_told_by_format_and_locale(path: str, want: bool) -> None:
    assert files.is_translation(path) is want


def test_translations_and_windows_forms_designer_files_are_not_mined(tmp_path: Path) -> None:
    """ShareX: 1,374 of 13,592 examples translated its .resx strings ("Update french translation"),
    835 were Visual Studio's designer code (InitializeComponent), which no header marks."""
    r = new_repo(tmp_path / "r")
    resx = '<?xml version="1.0" encoding="utf-8"?>\n<root>\n  <data name="Hello">\n    <value>{}</value>\n  </data>\n</root>\n'
    commit(r, "Add the form", {"Forms/Main.cs": "class Main {\n  void Load() { Show(); }\n}\n",
                               "Forms/Main.Designer.cs": "partial class Main {\n  void InitializeComponent() { }\n}\n",
                               "Properties/Resources.resx": resx.format("Hello"),
                               "Properties/Resources.fr.resx": resx.format("Bonjour")})
    commit(r, "Greet the user by name when the form loads",
           {"Forms/Main.cs": "class Main {\n  void Load() { Show(Greeting(user)); }\n}\n",
            "Forms/Main.Designer.cs": "partial class Main {\n  void InitializeComponent() { this.Text = \"x\"; }\n}\n",
            "Properties/Resources.resx": resx.format("Hello, {0}"),
            "Properties/Resources.fr.resx": resx.format("Bonjour, {0}")})
    commit(r, "Update french translation", {"Properties/Resources.fr.resx": resx.format("Salut, {0}")})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    paths = {p for c in cands(out) for p in c.provenance.get("paths", [])}
    assert paths == {"Forms/Main.cs", "Properties/Resources.resx"}
    assert counts["skipped_files.translation"] == 3 and counts["skipped_files.vendored_or_generated"] == 2
    assert not any("translation" in c.messages[0]["content"] for c in cands(out))
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2, translations=True))
    assert "Properties/Resources.fr.resx" in {p for c in cands(out) for p in c.provenance.get("paths", [])}
    assert "skipped_files.translation" not in counts


def test_a_zsh_completion_function_is_zsh_by_its_first_line() -> None:
    assert files.shebang_language("#compdef rg") == "zsh" and files.shebang_language("#!/bin/sh") == "bash"
    assert files.shebang_language("# compdef is a word here") == ""
    assert files.shebang_language("<?php") == "php"  # laravel's early artisan: no #! line
    assert files.shebang_language("#!/usr/bin/env escript\n%% -*- erlang -*-") == "erlang"  # rebar3's bootstrap
    assert files.shebang_language("#!/usr/bin/env elixir\nmix_env = System.get_env()") == "elixir"  # ex_doc's bin/ex_doc
    assert files.shebang_language("#!/usr/bin/env julia") == "julia" and files.shebang_language("#!/bin/crystal") == "crystal"


def test_a_first_paragraph_of_sentences_gives_its_first_sentence_as_the_task(tmp_path: Path) -> None:
    """git joins a message's first paragraph into its subject: guzzle's and gson's ran on for
    several sentences (170 and 168 subjects over 100 characters)."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add the client", {"client.php": "<?php\nfunction send($opts) {\n    return curl($opts);\n}\n"})
    commit(r, "Add a check to see if CURLOPT_PROTOCOLS is defined before using it.\nThe constant is not "
              "available on hhvm at this time.\n\nSee the hhvm issue tracker.",
           {"client.php": "<?php\nfunction send($opts) {\n    if (defined('CURLOPT_PROTOCOLS')) {\n"
                          "        $opts[] = CURLOPT_PROTOCOLS;\n    }\n    return curl($opts);\n}\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "CURLOPT" in c.messages[0]["content"]]
    ask = ex.messages[0]["content"]
    assert ask.startswith("Add a check to see if CURLOPT_PROTOCOLS is defined before using it.\n\nThe constant is not")
    assert "See the hhvm issue tracker." in ask


def test_gerrit_and_launchpad_trailers_and_bug_numbers_are_cut() -> None:
    """python-novaclient (OpenStack, Gerrit): "Closes-Bug: #1234567" in 577 of its 3,914
    examples, "Implements: blueprint ..." 182, Launchpad's bugs by number in 297 ("Fixes bug LP
    #1199539", "* Helps fix bug 943053", a subject's "... in create server. bug 893183")."""
    from aitherd.sources.git.examples import _intent

    body = ("Don't set an empty volume_size: the API rejects it.\n\nFixes bug LP #1199539\n\nCloses-Bug: #1234567\n"
            "Partial-Bug: #1234568\nRelated-Bug: #99\nImplements: blueprint boot-from-volume\n"
            "Partially-Implements: blueprint x\nDepends-On: I0123456789abcdef0123456789abcdef01234567\n"
            "Sem-Ver: feature\nStory: 2004321\nTask: 29901\nLP: #825127\nChange-Id: I0123456789abcdef01234567")
    assert clean_body(body) == "Don't set an empty volume_size: the API rejects it."
    assert clean_body("* A temporary patch to get past the devstack gate\n* Helps fix bug 943053") == (
        "* A temporary patch to get past the devstack gate")
    assert clean_body("Fixing bug 910198\nFixes LP Bug #923475.") == ""
    # the CVS and Subversion templates of Apache's and FreeBSD's commits (commons-io), empty or not
    assert clean_body("Copy and Paste Errors\nPR:\nObtained from:\nSubmitted by:\tMichael A. Smith [m@x.org]\n"
                      "Reviewed by:\nApproved by:\tre (gjb)\nMFC after:\t2 weeks\nSponsored by:\tThe Foundation\n"
                      "Differential Revision:\tD1234") == "Copy and Paste Errors"
    assert clean_body("PR is open for review.\nPatch by hand was needed.") == "PR is open for review.\nPatch by hand was needed."
    # any key of hyphenated words (git's trailer form), Rietveld's and Chromium's review lines (golang/protobuf)
    assert clean_body("Make it identical.\n\nCherry-Pick: github.com/golang/protobuf@c8b73fbfc08a20631e50a2f3823970e1\n"
                      "Original-Author: Damien Neil <neild@users.noreply.github.com>\n\nR=golang-dev\nCC=golang-dev\n"
                      "TBR=rsc\nBUG=chromium:1234\nTEST=ran the unit tests") == "Make it identical."
    assert clean_body("Built-in types: now hashed.\nThe x=1 case.") == "Built-in types: now hashed.\nThe x=1 case."
    # ... in the first paragraph, which git joins into the subject
    assert _intent("Copy and Paste Errors PR: Obtained from: Submitted by:\tMichael A. Smith [m@x.org] Reviewed by:",
                   "")[0] == "Copy and Paste Errors"
    assert _intent("Answer the PR: review comments", "")[0] == "Answer the PR: review comments"
    # at the end of a prose line, after its sentence
    assert clean_body("We cannot control\nthe permissions of the file. Fixes bug 897214.\nIt works now. Fixes #12.") == (
        "We cannot control\nthe permissions of the file.\nIt works now.")
    assert clean_body("It fixes #12 and #13 by sorting.") == "It fixes #12 and #13 by sorting."
    for prose in ("Story: the user clicks twice and the form is sent twice.", "The bug 12 form was empty.",
                  "Implements the reader's seek."):
        assert clean_body(prose) == prose, prose
    for subject, task in [("Change zone_blob key to blob in create server. bug 893183", "Change zone_blob key to blob in create server."),
                          ("Works properly with zone-boot. Fixes bug 904182.", "Works properly with zone-boot."),
                          ("Fixes LP bug #1234567: crash on boot", "Crash on boot"),
                          ("Fix bug 1234567", "Fix bug 1234567"),  # nothing else: as it is
                          ("Add bug 12345 tracker support", "Add bug 12345 tracker support")]:
        assert _intent(subject, "")[0] == task, subject


def test_pointers_to_commits_by_hash_are_cut_and_a_joined_subject_is_tidied() -> None:
    """curl: 2,790 tasks held "Follow-up to <sha> #12638", and older ones "Regression from
    <sha>"; its early first paragraphs join a list onto the subject ("strerror_r() detection
    changes: 1. Try with ...") and keep their lines' indentation."""
    from aitherd.sources.git.examples import _intent

    body = ("On an error path.\n\nFollow-up to f4beef524a53e1951c102fdb2ab96dd7a5e01077 #12638\n"
            "Follow-up to a96319ebb9 (document the new behavior)\nRegression from c4693adc62\n"
            "Supersedes #5214, #5220 and #5221\nFixes a96319ebb9")
    assert clean_body(body) == "On an error path."
    for prose in ("Fixes deadbeef handling.", "Fixes 1234567 users.", "Follow-up to the review."):
        assert clean_body(prose) == prose, prose
    subject = ("strerror_r() detection changes: 1. Try with _THREAD_SAFE instead of _REENTRANT, as AIX seems to "
               "require it. 2. Added API-detection for what kind of strerror_r() that is provided.")
    task, body = _intent(subject, "")
    assert task == "strerror_r() detection changes" and body.startswith("1. Try with _THREAD_SAFE instead")
    assert body.split("\n")[1].startswith("2. Added API-detection")  # one item a line, as written
    # commons-io's "Several updates: - Update current version to 1.1-dev - Add a version entry ..."
    assert split_subject("Several updates: - Update current version to 1.1-dev - Add a version entry for 1.0 - "
                         "Enable Checkstyle report") == (
        "Several updates", "- Update current version to 1.1-dev\n- Add a version entry for 1.0\n- Enable Checkstyle report")
    # a first line that opened a list below it ends without its colon (curl's review replies read "warnings:.")
    assert _intent("Adjust GCC warnings:", "- drop -Wshadow")[0] == "Adjust GCC warnings"
    assert _intent("Add support for std::", "")[0] == "Add support for std::"
    assert _intent("Larry fixed the parser to skip non-SRV   answers,   such as CNAMEs", "")[0] == (
        "Larry fixed the parser to skip non-SRV answers, such as CNAMEs")


def test_mailing_list_trailers_links_and_message_ids_are_cut() -> None:
    """git's history, reviewed on its mailing list: "Cc: Ramsay Jones <...>" (250 tasks),
    "Mentored by: ...", "Signed-off By: ...", git am's "From: Christopher Li <...>" header of a
    patch mailed for another author, and footnotes that are only a link or a mail's Message-ID
    ("[1] http://mid.gmane.org/...", "1. <CACBZZX62+...@mail.gmail.com>": about 400 tasks)."""
    body = ("Teach the walk to stop early.\n\n[1] http://mid.gmane.org/7v8wrwidi3.fsf@gitster.siamese.dyndns.org\n"
            "1. <CACBZZX62+acvi1dpkknadTL827mtCm_QesGSZ=6+UnyeMpg8+Q@mail.gmail.com>\n"
            "[1]: See <20080211113516.GB6344@coredump.intra.peff.net>\n"
            "4. <20170606124323.GD25777@dinwoodie.org> (https://public-inbox.org/git/20170606124323.GD25777@x.org/)\n"
            "    \u2022 https://lore.kernel.org/git/e1a69dea-bcb6-45fc-83d3-9e50d32c410b@5y5.one/\n"
            "Cc: Ramsay Jones <ramsay@ramsay1.demon.co.uk>\nCC: Daniel Barkalow <barkalow@iabervon.org>\n"
            "Mentored by: Jeff King <peff@peff.net>\nSigned-off By: Brian Gerst <bgerst@didntduck.org>")
    assert clean_body(body) == "Teach the walk to stop early."
    assert clean_body("From: Christopher Li <chrislgit@chrisli.org>\n\nMake it so.") == "Make it so."
    for prose in ("From: the start it was wrong.", "From now on: use x.", "Stand by the change.",
                  "1. Use https://x.org for the docs", "- https://x.org is the site"):
        assert clean_body(prose) == prose, prose


def test_a_commit_named_by_its_hash_in_the_body_is_named_without_it() -> None:
    """werkzeug's "Introduced in 4381d6eff5e8...", tornado's "This undoes the effect of http://github.com/
    facebook/tornado/commit/e391fd28...": as a fix's explanation, a hash the model can only guess
    (tornado 28 answers, werkzeug 34). The commit is named without it; a wrapped sentence keeps
    its case, a file's link at a revision and words of hex letters stay."""
    full, other = "4381d6eff5e84f09d5f48d1ed79a3533c9030726", "0014e9776350a252930671ed170edee464f9b428"
    body = (f"Introduced in {full}.\n\nThis undoes the effect of http://github.com/facebook/tornado/commit/{full}, "
            f"which set up logging.\nThe lock was added in\n{other} resulting in lost updates.\n"
            f"{other} broke it, and commit abc1234 too.")
    assert clean_body(body) == ("Introduced in another commit.\n\nThis undoes the effect of another commit, which set "
                                "up logging.\nThe lock was added in\nanother commit resulting in lost updates.\n"
                                "Another commit broke it, and another commit too.")
    # ... and in the sentences git joined into the subject (tornado's first paragraph, wrapped)
    subject = f"Send all logging to the root logger. This undoes the effect of http://github.com/x/y/commit/{full}"
    assert examples._intent(subject, "Per-module loggers are a problem.") == (
        "Send all logging to the root logger.", "This undoes the effect of another commit\n\nPer-module loggers are a problem.")
    for prose in ("Use the deadbeef and cafebabe markers.", "Fix the commit message parser.",
                  f"Read Lib/logging (https://github.com/python/cpython/blob/{full}/Lib/logging) first.",
                  "Reverts commit abcdefg, a branch name."):
        assert clean_body(prose) == prose, prose


def test_phabricators_summary_label_and_trailers_are_cut() -> None:
    """fvcore, exported from Meta's monorepo: "Summary: Pull Request resolved: https://..." (169
    of its 262 commits), "Reviewed By:", "Pulled By:", "Differential Revision:",
    "fbshipit-source-id:"; a body that only says "as title"."""
    body = ("Summary:\nFixes a small formatting issue for values below 1000.\n\n"
            "Pull Request resolved: https://github.com/facebookresearch/fvcore/pull/157\n\nReviewed By: sgrigory\n\n"
            "Differential Revision: D91776028\n\nPulled By: bottler\n\n"
            "fbshipit-source-id: 09c60e8c9228b2ebc9258aafcc4de06e80440550\n")
    assert clean_body(body) == "Fixes a small formatting issue for values below 1000."
    assert clean_body("Summary: Pull Request resolved: https://github.com/x/y/pull/16\n\nDifferential Revision: D1") == ""
    assert clean_body("Summary:\n\nas title\n\nReviewed By: x") == ""
    for prose in ("Summary of the change: it works.", "As the title says, but also fixes the docs."):
        assert clean_body(prose) == prose, prose


def test_trailers_are_cut_but_prose_that_starts_with_their_word_is_kept() -> None:
    body = ("Issue was that the loop ran twice.\nSee the hhvm issue tracker.\n\nFixes #12\nSee https://x.org/1\n"
            "Closes org/repo#3\nBug: 1234\nSigned-off-by: A <a@example.com>")
    assert clean_body(body) == "Issue was that the loop ran twice.\nSee the hhvm issue tracker."
    # gin's "fix #1560 changes are breaking in App Engine.\ncc @giulianobr @philippgille", jekyll's "/cc #5136"
    body = "Writes to os.Stderr: App Engine breaks on stdout.\ncc @giulianobr @philippgille\n/cc #5136\ncc: @thoas"
    assert clean_body(body) == "Writes to os.Stderr: App Engine breaks on stdout."
    assert clean_body("CC the list when the mail fails.") == "CC the list when the mail fails."  # prose
    # vim-fugitive's 105 "References https://..." (a fix's whole explanation), more keys, several references
    body = ("Don't repeatedly trigger FocusGained.\n\nReferences https://github.com/tpope/vim-fugitive/issues/1209\n"
            "Relates to #5\nPart of #9\nFollow-up to #5502\nFixes issues #232 and #244.\nCloses #1, #2 & #3\n"
            "Partially addresses #162.\nFixes #4494. Fixes #4660.\nFixes #5823, fixes #5859")
    assert clean_body(body) == "Don't repeatedly trigger FocusGained."
    # a sentence after the references is kept without them; a line that goes on after them is prose
    assert clean_body("Fixes #2420. When using `nvm install` with an installed\nversion, it fails.") == (
        "When using `nvm install` with an installed\nversion, it fails.")
    assert clean_body("Resolve #1000: Drop the dependency on base-compat") == "Drop the dependency on base-compat"
    assert clean_body("Fixes #620 - nvm install v1 did not work.") == "nvm install v1 did not work."
    assert clean_body("Fixes #6348. Closes #5184. Make it work.") == "Make it work."
    # git's list of the files a cherry-pick had conflicts in (magit: 14)
    assert clean_body("Declare it first.\n\nConflicts:\n\n\tmagit.el\n\tmagit-wip.el\n\nSigned-off-by: P <p@x.org>") == (
        "Declare it first.")
    assert clean_body("Conflicts:\n#\tlib/a.rb\n") == "" and clean_body("Conflicts: none left") == "Conflicts: none left"
    assert clean_body("Fixes #2612. cc @krlmlr") == "" and clean_body("Fixes #2352, CC @kevinushey @jay") == ""
    for prose in ("Fixes #1146 by grouping the commands.", "Issue #873 says this class is not needed."):
        assert clean_body(prose) == prose
    # a pointer says no more than where to look (flask's "See https://.../issues/1837 for context.")
    for pointer in ("See https://github.com/pallets/flask/issues/1837 for context.", "See #2989, #3054, and others"):
        assert clean_body(f"Mention the handler.\n\n{pointer}") == "Mention the handler."
    # a line that only points at a commit or a page under a short key, and what svn mirrors leave:
    # typed-racket's 3,767 "original commit: <sha>" and 626 "svn: r18074", googleapis' Source-Link
    # ... and references as a list's item: consul-template's "- Fixes GH-103" stood as a fix's explanation
    assert clean_body("- Fixes GH-103") == "" and clean_body("* See #12, #13\n- Closes #4.") == ""
    assert clean_body("- Fix the retry loop\n- See the notes in README") == "- Fix the retry loop\n- See the notes in README"
    sha = "90c8fcff1194799ed6f522e7554d49571b1f3074"
    body = (f"Document `Nothing'.\n\nsvn: r18074\n\noriginal commit: {sha}\nSource-Link: https://github.com/x/y/commit/1\n"
            f"Source-Sha: {sha}\ngit-svn-id: svn+ssh://svn.plt-scheme.org/plt/trunk@18074 d0f6-4f3c")
    assert clean_body(body) == "Document `Nothing'."
    for prose in ("The fix: https://example.com/a is where it goes.", "svn: the old history is in r123 and later."):
        assert clean_body(prose) == prose
    # (a hash in prose is named without it: test_a_commit_named_by_its_hash_in_the_body_is_named_without_it)
    assert clean_body(f"Note: {sha} broke the build, so the check moves.") == "Note: another commit broke the build, so the check moves."
    # what hg-git and `hg convert` append: jinja's "--HG--\nbranch : trunk" was fixes' explanation
    assert clean_body("--HG--\nbranch : trunk") == ""
    assert clean_body("Moved the lexer cache.\n\n--HG--\nbranch : trunk\nrename : a.py => b.py\n") == \
        "Moved the lexer cache."
    assert clean_body("The --HG-- marker is what hg-git writes.") == "The --HG-- marker is what hg-git writes."
    # a line that leads into a reference alone on the next one: hiredis' "Suggested at" was left
    # standing as a fix's explanation once its link was cut
    assert clean_body("Suggested at\nhttps://github.com/redis/hiredis/issues/294#issuecomment-69153074\n\n"
                      "This change makes the test stop hanging.") == "This change makes the test stop hanging."
    assert clean_body("More details:\nhttps://x.org/a\n\nThe parser stops.") == "The parser stops."
    for prose in ("The parser stopped at the end of the input, as reported by users.\nNow it reads on.",
                  "We keep the old API working for code that calls it in\n#12 and other places."):
        assert clean_body(prose) == prose


def test_a_change_that_only_sets_versions_or_checksums_the_task_does_not_give_is_skipped(tmp_path: Path) -> None:
    """Phoenix's "Update elixir dep" (mix.exs 0.12.4 -> 0.13.0), ripgrep's "Update brew formula"
    (a new sha256), Newtonsoft.Json's AssemblyInfo.cs bumped inside larger commits: 114, 208 and
    249 examples whose answer the model could only guess."""
    r = new_repo(tmp_path / "r")
    mix = 'defp deps do\n  [{:plug, "~> 0.4.1"},\n   {:cowboy, "~> 1.0"}]\nend\n'
    formula = 'class Rg < Formula\n  version "0.1.15"\n  sha256 "' + "ab" * 32 + '"\nend\n'
    commit(r, "Add the app", {"mix.exs": mix, "rg.rb": formula, "lib/app.ex": "def run, do: :ok\n",
                              "Cargo.toml": '[dependencies]\nclap = "2.26.0"\n'})
    commit(r, "Update elixir dep", {"mix.exs": mix.replace("0.4.1", "0.4.2")})
    commit(r, "Update brew formula", {"rg.rb": formula.replace("0.1.15", "0.1.17").replace("ab" * 32, "cd" * 32)})
    commit(r, "Argv: update clap to 2.29.4", {"Cargo.toml": '[dependencies]\nclap = "2.29.4"\n'})  # given
    commit(r, "Depend on jason", {"mix.exs": mix.replace('   {:cowboy', '   {:jason, "~> 1.2.0"},\n   {:cowboy')})
    commit(r, "Run twice and bump plug", {"mix.exs": mix.replace("0.4.1", "0.5.0"),
                                          "lib/app.ex": "def run, do: run_twice()\n"})
    commit(r, "Raise the timeout", {"lib/app.ex": "def run, do: run_twice()\n@timeout 0.5\n"})
    commit(r, "Wait longer", {"lib/app.ex": "def run, do: run_twice()\n@timeout 1.5\n"})  # a number, not a pin
    out, _, _ = run(r)
    asks = {c.messages[0]["content"].split("\n")[0] for c in cands(out) if c.category != "review"}
    assert "Update elixir dep" not in asks and "Update brew formula" not in asks and out.count("skip:version_only") == 2
    assert {"Argv: update clap to 2.29.4", "Depend on jason", "Run twice and bump plug", "Wait longer"} <= asks


def test_a_first_paragraph_that_is_a_list_gives_its_items_as_the_task(tmp_path: Path) -> None:
    """Newtonsoft.Json writes 1,285 of its 1,746 messages as "-Changed X\\n-Added Y\\n-Fixed Z";
    git joins the lines into the subject, and the task read "-Changed X -Added Y -Fixed Z"."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add the reader", {"reader.cs": "class Reader {\n  int Read() { return 0; }\n}\n"})
    commit(r, "-Changed Read to return one\n-Added a comment\n-Fixed tests",
           {"reader.cs": "class Reader {\n  // reads one\n  int Read() { return 1; }\n}\n"})
    commit(r, "--raw-input reads the whole file", {"reader.cs": "class Reader {\n  int Read() { return 2; }\n}\n"})
    asks = [c.messages[0]["content"].split("\n")[0] for c in cands(run(r)[0]) if c.category != "review"]
    assert any(a.endswith("Changed Read to return one; Added a comment; Fixed tests") for a in asks), asks
    assert "--raw-input reads the whole file" in asks  # a flag, not a list
    from aitherd.sources.git.examples import _intent

    assert _intent("- 1、调度中心迁移到 springboot； - 2、底层通讯组件迁移至 xxl-rpc；", "")[0] == \
        "1、调度中心迁移到 springboot; 2、底层通讯组件迁移至 xxl-rpc"  # numbered items, their own stops dropped


def test_every_pull_request_number_at_the_end_of_a_subject_is_cut() -> None:
    from aitherd.sources.git.examples import _intent

    # phoenix's backports: "Do not encode in v1 websocket messages (#2582) (#2583)"
    assert _intent("Do not encode in v1 websocket messages (#2582) (#2583)", "")[0] == \
        "Do not encode in v1 websocket messages"
    assert _intent("fix: handle (empty) input (#12, #13)", "")[0] == "Handle (empty) input"


def test_a_new_file_split_from_a_larger_change_is_asked_beside_the_files_the_change_edited(tmp_path: Path) -> None:
    """maybe-finance's "Sync hierarchy updates" gave "Write db/migrate/..._add_parent_syncs.rb"
    with nothing but the subject: what the migration adds, only sync.rb's change (which uses
    it) says. 60 of its 296 split new files now come with the rest of the change; a new file of
    configuration beside it does not (flask's docs/.gitignore beside flask.py's docstrings)."""
    r = new_repo(tmp_path / "r")
    sync = "class Sync\n  def perform\n    start!\n  end\nend\n"
    commit(r, "Add syncs", {"app/models/sync.rb": sync})
    commit(r, "Sync hierarchy updates", {
        "app/models/sync.rb": sync.replace("    start!\n", "    start!\n    notify_parent! if parent_id.present?\n"),
        "db/migrate/20250411_add_parent_syncs.rb": "class AddParentSyncs < Migration\n  def change\n"
                                                   "    add_reference :syncs, :parent\n  end\nend\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_example_files=1))
    (new,) = [c for c in cands(out) if c.category == "instruction" and "hierarchy" in c.messages[0]["content"]]
    ask = new.messages[0]["content"]
    assert ask.startswith("Sync hierarchy updates\n\n(This is the part of a larger change")
    assert "The rest of the change, in files it changed:" in ask and "+    notify_parent! if parent_id.present?" in ask
    assert ask.endswith("Write `db/migrate/20250411_add_parent_syncs.rb`.")
    (edit,) = [c for c in cands(out) if c.category == "editing"]  # the edited file stands alone, as before
    assert "add_reference" not in edit.messages[0]["content"]
    commit(r, "Sync settings", {"app/models/sync.rb": sync.replace("start!", "start!(now)"),
                                "config/sync.yml": "interval: 60\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_example_files=1))
    (conf,) = [c for c in cands(out) if c.provenance["paths"] == ["config/sync.yml"]]
    assert "The rest of the change" not in conf.messages[0]["content"]


def test_a_subject_that_only_says_a_branch_was_merged_names_no_task(tmp_path: Path) -> None:
    """hono's security fixes land from GitHub's advisories as one-parent commits "Merge commit
    from fork" (45) and "Merge pull request from GHSA-..." (2): 102 examples asked "Bug fix:
    Merge commit from fork" or "Merge commit from fork. Update these tests to match."."""
    from aitherd.sources.git.examples import _intent

    for subject in ("Merge commit from fork", "Merge pull request from GHSA-3mpf-rcc7-5347",
                    "Merge branch 'master' of github.com:keplerproject/luarocks", "Merge branch 'fancy-log-output'.",
                    "Merge remote-tracking branch 'origin/main'", "Merge main into next"):
        assert _intent(subject, "") == ("", ""), subject
        assert vague(_intent(subject, "")[0], "", ["src/a.ts"]), subject
    assert _intent("Merge commit from fork", "Reject paths that escape the root.\n\nCo-authored-by: A <a@x.org>") == (
        "", "Reject paths that escape the root.")
    for subject in ("Merge BasicArgFormatter and ArgFormatter", "Merge custom-context into types",
                    "Merge function headers with per-request headers"):
        assert _intent(subject, "")[0] == subject
    r = new_repo(tmp_path / "r")
    serve = "export function serve(path: string) {\n  return read(root + path)\n}\n"
    commit(r, "Add serve", {"src/serve.ts": serve, "src/serve.test.ts": "test('serves', () => {})\n"})
    commit(r, "Merge commit from fork", {"src/serve.ts": serve.replace("read(root + path)", "read(root + clean(path))"),
                                         "src/serve.test.ts": "test('serves', () => {})\ntest('no ..', () => {})\n"})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    shown = [c for c in cands(out) if "clean(path)" in c.messages[1]["content"] or "no .." in c.messages[1]["content"]]
    assert shown and not any("Merge" in c.messages[0]["content"] for c in shown)
    for c in shown:
        assert not c.messages[0]["content"].startswith("\n")  # no empty task line before the rest


def test_an_issue_trackers_key_is_cut_from_the_task() -> None:
    """commons-csv's "[CSV-329] Fix byte tracking ...", "CSV-320: Remove ...", "Header support
    (CSV-65)": 479 of its examples' tasks began or ended with a Jira key, as Apache's projects and
    many teams write them. A standard's or an encoding's name is no key."""
    from aitherd.sources.git.examples import _intent

    for subject, task in [("[CSV-329] Fix byte tracking for supplementary delimiters",
                           "Fix byte tracking for supplementary delimiters"),
                          ("CSV-320: Remove Spotbugs Dependency (#564)", "Remove Spotbugs Dependency"),
                          ("CSV-60 CSVParser.iterator().remove() should throw", "CSVParser.iterator().remove() should throw"),
                          ("Header support (CSV-65)", "Header support"), ("PROJ-7 - fix the login", "Fix the login"),
                          ("[SPARK-1234][SQL][FOLLOWUP] Fix the optimizer", "Fix the optimizer"),
                          ("LANG-1234, LANG-1235: Fix the splitter", "Fix the splitter"),
                          ("IO-233 IO-330 Add Methods for Buffering Streams", "Add Methods for Buffering Streams"),
                          # in brackets a key is a ticket's whatever its letters (gorilla/mux's Jira)
                          ("[GPT-95] Update go version, add tools", "Update go version, add tools"),
                          ("Support GPT-4 [GPT-12]", "Support GPT-4"), ("GPT-4 support", "GPT-4 support"),
                          # not keys: names, a branch, a key inside the sentence
                          ("UTF-8 support in the reader", "UTF-8 support in the reader"), ("SHA-256 digests", "SHA-256 digests"),
                          ("CVE-2021-44228: patch the lookup", "CVE-2021-44228: patch the lookup"),
                          ("CSV-196-master: More changes", "CSV-196-master: More changes"),
                          ("Fix ABC-12 handling in the parser", "Fix ABC-12 handling in the parser")]:
        assert _intent(subject, "")[0] == task, subject
    # a key alone names no change (commons-csv's "[CSV-203]", 4 examples)
    assert vague("[CSV-203]", "", ["src/main/java/Lexer.java"]) and vague("CSV-124 update changes", "", [])
    assert not vague("[CSV-203] Lexer skips the last quote", "", ["src/main/java/Lexer.java"])
    # a merge's conflicts resolved by hand: what was resolved, the subject does not say (testify,
    # puppetlabs-stdlib, cats, typeorm); a conflict the code had, or more said, is a change
    for subject in ("Resolve conflicts", "Fix merge conflict.", "Resolved conflict in CHANGELOG.md file",
                    "Resolve merge conflicts with master", "Initial import", "Initial version", "Initial commit"):
        assert vague(subject, "", ["CHANGELOG.md", "suite/suite.go"]), subject
    for subject in ("Fix conflict between param and exact path", "Merge conflict and fixes for python3",
                    "Resolve crash on startup", "Fix file upload", "Import the CSV reader",
                    "Initial version of the tree walker"):
        assert not vague(subject, "", ["tree.go"]), subject


def test_a_copybara_export_is_asked_for_by_what_its_body_says(tmp_path: Path) -> None:
    """googletest's 574 "Googletest export" commits (about 1,000 examples asked for that) say what
    they change in the body's first paragraph; Copybara's lines and the RevId trailer are no
    prose. One that says nothing more is a vague intent; "Add CSV export" is a change."""
    from aitherd.sources.git.examples import _intent
    from aitherd.sources.git.message import exported

    r = new_repo(tmp_path / "r")
    commit(r, "Add the printer", {"printer.h": "void Print(int v);\n"})
    commit(r, "Googletest export\n\nAdd a printer for std::type_info.\n\nThe name is demangled where the\n"
              "compiler can.\n\nPiperOrigin-RevId: 214441835",
           {"printer.h": "void Print(int v);\nvoid Print(const std::type_info& t);\n"})
    commit(r, "Googletest export\n\nProject import generated by Copybara.\n\nInternal change\n\nPiperOrigin-RevId: 2144"
              "\nChange-Id: I772ebb7b1c7c6adc1ebb742daa051de2a0fdba66",
           {"printer.h": "void Print(long v);\nvoid Print(const std::type_info& t);\n"})
    commit(r, "Add CSV export", {"export.h": "void ExportCsv();\n"})
    out, _, _ = run(r)
    asks = [c.messages[0]["content"] for c in cands(out) if c.category != "review"]
    assert any(a.startswith("Add a printer for std::type_info.\n\nThe name is demangled where the") for a in asks)
    text = "\n".join(asks + [c.messages[1]["content"] for c in cands(out)])
    assert "Googletest export" not in text and "Copybara" not in text and "RevId" not in text and "Change-Id" not in text
    assert "void Print(long v)" not in text and "skip:vague_intent" in out  # the export that says nothing
    assert _intent("Merge c41b2bf861ef2ac1a975af05ff66d9256f280b01 into f203b2db77161fe54846ea9e839ebec81aeeccac",
                   "Closes #1899") == ("", "")  # a pull request merged by the export: no change named
    for subject in ("Internal change.", "Merge changes from github."):  # abseil-py's, with nothing more
        assert exported(subject, "PiperOrigin-RevId: 697558231\nChange-Id: Ie78fb886746b11320e777587bf50c938d9054e37") == ("", "")
    assert exported("Add CSV export.", "PiperOrigin-RevId: 1") == ("Add CSV export.", "PiperOrigin-RevId: 1")
    assert any(a.startswith("Add CSV export") for a in asks)


def test_a_heading_over_a_message_is_no_subject() -> None:
    """pyramid's 34 messages written as a changelog's section: "Features" over dashes, then the
    item ("- It is now possible to write a custom security policy ..."). git's subject was
    "Features --------": 25 examples asked "Bug fix: Features --------". The paragraph under the
    heading is the subject; an underline alone, or one under no heading, is left to git's reading."""
    from aitherd.sources.git.message import split_message

    raw = ("Features\n--------\n\n- It is now possible to write a custom\n  security policy.\n\n"
           "  Note that the app is not used.\n")
    assert split_message(raw) == ("- It is now possible to write a custom security policy.",
                                  "  Note that the app is not used.\n")
    assert split_message("Bug Fixes\n=========\n\nFix the route URL on Jython.\n") == (
        "Fix the route URL on Jython.", "")
    for raw, subject in (("Fix\n---\n", "Fix ---"), ("Title\n=\nbody\n", "Title = body"),
                         ("A long subject about a change\n---\n\nThe body.\n", "A long subject about a change ---")):
        assert split_message(raw)[0] == subject, raw


def test_a_message_is_read_as_git_reads_it_and_an_import_mark_is_no_subject(tmp_path: Path) -> None:
    """The miner reads the raw message (%B) and tells subject and body as git's %s and %b do
    (checked against git on 683,631 commits of 170 public histories), but for a first line that
    is only an import's mark: paramiko's 496 commits brought from GNU Arch and Bazaar open with
    "[project @ ...]" and their summary on the next line, which git joins into one subject
    ("Bug fix: [project @ Arch-1:robey@lag.net--2003-public%secsh--dev--1.0--patch-111] fix
    extremely unlikely channel counter wrapping Transport's channel counter can ...")."""
    from aitherd.sources.git.parse import FMT, header_fields

    r = new_repo(tmp_path / "r")
    commit(r, "Add the transport", {"transport.py": "def close(self):\n    self.active = False\n"})
    messages = ["\n\n  \nLeading blank lines  \r\nand a second line\t\n\n\n \nThe body\r\n\n", "Subject only",
                "Subject\n\n\n", "[TASK]\nreplace the annotation\n", "[project @ robey@lag.net-20061001]\n\nalone\n",
                "[project @ robey@lag.net-20061002]\nSFTPClient.put() now returns the stats object it collected during\n"
                "verification. suggested by Jude Venn.\n"]
    for message in messages:
        (r / "msg").write_text(message)
        subprocess.run(["git", "-C", str(r), "commit", "-q", "--allow-empty", "--cleanup=verbatim", "-F", "msg"],
                       check=True)
    (r / "msg").unlink()
    fixed = ("[project @ Arch-1:robey@lag.net--2003-public%secsh--dev--1.0--patch-111]\n"
             "fix extremely unlikely channel counter wrapping\nTransport's channel counter can overflow after\n"
             "4 billion channels.\n\nAlso fix some comments.\n")
    commit(r, fixed, {"transport.py": "def close(self):\n    self.active = False\n    self.counter = 0\n"})
    ours = subprocess.run(["git", "-C", str(r), "log", f"--format={FMT}"], capture_output=True, check=True).stdout
    theirs = subprocess.run(["git", "-C", str(r), "log", "--format=%x1e%s%x1f%b"], capture_output=True,
                            check=True).stdout.decode().split("\x1e")[1:]  # bytes: no newline translated
    headers = [h for h, _ in records(io.BytesIO(ours), 1 << 20)]
    told = [(c.subject, c.body) for c in map(header_fields, headers)]
    for (subject, body), git_said in zip(told[3:], theirs[3:], strict=True):
        assert f"{subject}\x1f{body}" == git_said.removesuffix("\n"), git_said  # as git's %s and %b
    assert told[3:6] == [("[TASK] replace the annotation", ""), ("Subject", ""), ("Subject only", "")]
    assert told[6] == ("Leading blank lines and a second line", "The body\r\n\n")
    assert told[2] == ("alone", "")  # a mark a paragraph of its own: the next one is the subject
    # a sentence wrapped at the width is no summary line: the paragraph, as git joins it
    assert told[1] == ("SFTPClient.put() now returns the stats object it collected during verification. "
                       "suggested by Jude Venn.", "")
    assert told[0] == ("fix extremely unlikely channel counter wrapping",
                       "Transport's channel counter can overflow after\n4 billion channels.\n\nAlso fix some comments.\n")
    assert told[-1] == ("Add the transport", "")
    out, _, _ = run(r)
    fix = [c for c in cands(out) if c.category == "debugging"]
    assert len(fix) == 1 and fix[0].messages[0]["content"].startswith(
        "Bug fix: Fix extremely unlikely channel counter wrapping\n\n`transport.py`")
    assert "Transport's channel counter can overflow" in fix[0].messages[1]["content"]  # the body: its answer's why
    assert "[project @" not in "".join(m["content"] for c in cands(out) for m in c.messages)


def test_a_squash_of_git_log_entries_and_a_sign_off_in_the_subject_leave_no_names_in_the_task() -> None:
    """`git merge --squash` writes "Squashed commit of the following:" and each commit's `git log`
    entry (moshi: "Bug fix: Squashed commit of the following", its answer the entries with their
    authors' mail addresses); a description may paste entries too (TheAlgorithms/Python). A
    sign-off with no blank line before it is in the subject git joins (laravel: 26 tasks held a
    mail address so)."""
    from aitherd.sources.git.examples import _intent

    entry = "commit {sha}\nAuthor: Adam Koski <dandc87@gmail.com>\nDate:   Sun Apr 12 19:25:49 2015 -0700\n\n    {msg}\n"
    body = "\n".join(entry.format(sha=c * 40, msg=m) for c, m in (
        ("f", "Add copyright headers and remove redundant test"), ("0", "Fix error preventing merging\n\n    The enum"
                                                                    " adapter threw on merge."),
        ("d", "Switch to using name()")))
    task, rest = _intent("Squashed commit of the following:", body)
    assert task == "Switch to using name(); Fix error preventing merging; Add copyright headers and remove redundant test"
    merged = entry.format(sha="4" * 40, msg="Fix tests") + "\n" + entry.format(
        sha="f" * 40, msg="Merge pull request #1636 from dearchap/issue_1071").replace("Author:", "Merge: 9be98f1 fa750ab\nAuthor:")
    assert _intent("Squashed commit of the following:", merged)[0] == "Fix tests"  # urfave/cli: not its merges
    assert rest == "The enum adapter threw on merge."
    pasted = "* Fix typehints in problem01\n\nSquashed commit of the following:\n\n" + entry.format(
        sha="6" * 40, msg="Fix typehints in problem01") + "\nThe solutions now carry type hints and doctests for each case."
    task, rest = _intent("Add style improvements to Project Euler Problem 04", pasted)
    assert "@" not in rest and "Author" not in rest and "Date:" not in rest
    assert clean_body("commit history is kept in order\nAuthor: nobody") == "commit history is kept in order\nAuthor: nobody"
    for subject, task in [("Make the key optional ... like a has_any() method Signed-off-by: Colin Viebrock <colin@viebrock.ca>",
                           "Make the key optional ... like a has_any() method"),
                          ("Add Azure Static Web Apps workflow file on-behalf-of: @Azure opensource@microsoft.com",
                           "Add Azure Static Web Apps workflow file"),
                          ("Fix the Signed-off-by: parser", "Fix the Signed-off-by: parser"),
                          # a subject that is only a sign-off names no change (junit4's 5 "Bug fix: Signed-off-by: ...")
                          ("Signed-off-by: KentBeck <kent@threeriversinstitute.org>", "")]:
        assert _intent(subject, "")[0] == task, subject
    assert vague(*_intent("Signed-off-by: Jon Kean <jkean@palantirtech.com>", ""), ["src/main/java/A.java"])
    # a mail address beside a name is how to reach them (gunicorn's, libuv's)
    assert _intent("Apply patch from Chris Lamb <lamby@debian.org> with minor changes",
                   "Written with the help of:\n\n* Sam Roberts <sam@strongloop.com>") == (
        "Apply patch from Chris Lamb with minor changes", "Written with the help of:\n\n* Sam Roberts")


def test_pythons_issue_heads_and_backport_branches_are_cut_from_the_task() -> None:
    """devguide's "gh-1309: Document ... (#1562)" (96 of its 2,278 subjects), mypy's "bpo-45122:
    Remove ...", "#4897: allow ...", CPython's backports "[3.12] gh-104584: Fix ... (GH-105000)";
    and other projects' issue first, bracketed or not."""
    from aitherd.sources.git.examples import _intent

    for subject, task in [("gh-1309: Document how to selectively build RST pages (#1562)",
                           "Document how to selectively build RST pages"),
                          ("bpo-45122: Remove PyCode_New from mypyc (#11067)", "Remove PyCode_New from mypyc"),
                          ("#4897: allow `raise E` where E: Type[Exn] (#4918)", "Allow `raise E` where E: Type[Exn]"),
                          ("[3.12] gh-104584: Fix the optimizer crash (GH-105000)", "Fix the optimizer crash"),
                          ("Issue #12345: Fix the optimizer crash", "Fix the optimizer crash"),
                          ("gh-1, gh-2: Fix both", "Fix both"),
                          # other projects' issue heads: puppetlabs-stdlib (198 of 2,688 tasks), cats,
                          # typeorm, devise, rich, AutoMapper, pipx
                          ("(#7657) Add basic validate_re function", "Add basic validate_re function"),
                          ("#500 add derived foldMap from traverse law", "Add derived foldMap from traverse law"),
                          ("#62 and #61 - removed third party dependencies", "Removed third party dependencies"),
                          ("[#22] Fix generators to use t.authenticable", "Fix generators to use t.authenticable"),
                          ("[2464] Add print_json to __all__", "Add print_json to __all__"),
                          ("Issue 2688: add illustrative test coverage", "Add illustrative test coverage"),
                          ("Issue #274 - Reopened for Enumerable.Empty<>", "Reopened for Enumerable.Empty<>"),
                          ("GH1229 Update how-pipx-works documentation", "Update how-pipx-works documentation"),
                          # a number the sentence names stays
                          ("#12 is broken on Windows", "#12 is broken on Windows"), ("gh-123", "gh-123"),
                          ("#7 fails on Windows", "#7 fails on Windows"), ("#407 and gofmt all examples",
                                                                           "#407 and gofmt all examples"),
                          ("3 fixes for the parser", "3 fixes for the parser"), ("(2015) Happy new year",
                                                                                 "(2015) Happy new year")]:
        assert _intent(subject, "")[0] == task, subject


def test_an_issue_the_subject_closes_is_cut_from_the_task() -> None:
    """900 of 34,000 subjects over 90 histories name the issue they close: guzzle's "Fixing
    cookie header. Closes #166", fmt's "... move, Fix #4487" and "Fix #2682: Cancel all
    requests ...". The number says nothing to a model; the words around it are the task."""
    from aitherd.sources.git.examples import _intent

    for subject, task in [("Fixing cookie header. Closes #166", "Fixing cookie header."),
                          ("Support for lists in context macro (fixes #56)", "Support for lists in context macro"),
                          ("Handle allocator propagation in move, Fix #4487", "Handle allocator propagation in move"),
                          ("Fix #2682: Cancel all requests on invalidation. (#2728)", "Cancel all requests on invalidation."),
                          ("fix #3105 - Compile-time error when mixing", "Compile-time error when mixing"),
                          ("Add the tests, closes #12 and #13", "Add the tests"),
                          ("Added TESTING flag.  This fixes #58.", "Added TESTING flag."),  # flask: 21
                          ("Don't cache handlers closes #2267, closes #1433", "Don't cache handlers"),
                          # a name stays as it is written, capitals and all
                          ("Fixed #1288: app.add_url_rule() should look for OPTIONS", "app.add_url_rule() should look for OPTIONS"),
                          ("fix: make_test_environ_builder into a class", "make_test_environ_builder into a class"),
                          ("fix: handle empty input", "Handle empty input"),
                          ("magit-log-wash-rev: Set the type upfront", "magit-log-wash-rev: Set the type upfront"),
                          ("re-enable the tests", "Re-enable the tests"),
                          # a bare number at the end: the pull request's, unless a word names it
                          ("fix(flow): resolve the binary before npx fallback #4431", "Resolve the binary before npx fallback"),
                          ("avoiding Armor. #1088", "Avoiding Armor."), ("Adding failing test for #169", "Adding failing test for #169"),
                          ("Fix #597", "Fix #597"),
                          ("fix(fetch): optimize signals composing logic; (#6582)", "Optimize signals composing logic"),
                          ("Fix #1232.", "Fix #1232."),  # nothing else: the subject as it is
                          ("Fix the #1 bug", "Fix the #1 bug"), ("Use the #ifdef guard", "Use the #ifdef guard")]:
        assert _intent(subject, "")[0] == task, subject


def test_a_team_that_writes_in_chinese_gets_its_examples(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add the scheduler", {"Job.java": "class Job {\n  int run() { return 0; }\n}\n", "README.md": "# Jobs\n"})
    commit(r, "修复任务执行返回值错误", {"Job.java": "class Job {\n  int run() { return 1; }\n}\n"})
    commit(r, "更新RM", {"README.md": "# Jobs\n\nRun them.\n"})
    out, counts, _ = run(r)
    asks = {c.messages[0]["content"].split("\n")[0]: c.category for c in cands(out) if c.category != "review"}
    assert asks.get("Bug fix: 修复任务执行返回值错误") == "debugging", asks  # a fix, framed as one
    assert "更新RM" not in asks and out.count("skip:vague_intent") == 1  # "update README": no task
    assert counts["class_by.rules"] == 2


def test_r_markdown_and_quarto_are_prose() -> None:
    """usethis' README.Rmd and vignettes are its documentation: docs edits, never debugging."""
    assert files.is_docs("README.Rmd") and files.is_docs("vignettes/articles/setup.Rmd") and files.is_docs("x.qmd")
    assert not files.is_docs("R/use_git.R") and not files.is_docs("DESCRIPTION")


def test_skip_path_patterns_name_files_in_any_folder_as_gitignore_does() -> None:
    """A user's "CHANGELOG.md" or "schema.json" in skip_paths: before, a pattern without "/"
    matched at the root only (fnmatch over the whole path), so each default needed a "*/"
    twin and a user's own pattern silently missed every subfolder."""
    from aitherd.sources.gitmine import _skip_path

    mine = ["schema.json", "gen/*", "*/fixtures/*"]
    assert _skip_path("schema.json", mine) and _skip_path("api/v2/schema.json", mine)
    assert not _skip_path("api/schema.json.py", mine) and not _skip_path("api/my-schema.json", mine)
    assert _skip_path("gen/a/b.py", mine) and not _skip_path("src/gen/b.py", mine)  # with "/": from the root
    assert _skip_path("tests/fixtures/x.txt", mine) and not _skip_path("fixtures/x.txt", mine)
    skip = GitMiningConfig().skip_paths
    assert _skip_path("build/lib/x.py", skip) and not _skip_path("tools/build/x.py", skip)
    assert _skip_path("web/yarn.lock", skip) and _skip_path("docs/package-lock.json", skip)
    assert not any(p.startswith("*/") and "/" not in p[2:] for p in skip), "a name needs no */ twin"


def test_perl_t_files_and_cucumber_features_are_tests(tmp_path: Path) -> None:
    """mojo's t/*.t were mined as code (9 test examples of 25,546, and 8,681 unlabelled fences);
    jekyll's features/*.feature likewise."""
    assert files.is_test("t/mojo/url.t") and files.is_test("features/create_sites.feature")
    assert not files.is_test("src/a.t") and not files.is_test("lib/Mojo/t.pm")
    r = new_repo(tmp_path / "r")
    pm = "package Foo;\nuse strict;\n\nsub double {\n  my $x = shift;\n  return $x * 2;\n}\n\n1;\n"
    t = "use Test::More;\nuse Foo;\n\nis Foo::double(2), 4, 'doubles';\n\ndone_testing();\n"
    commit(r, "Add Foo", {"lib/Foo.pm": pm, "t/foo.t": t})
    commit(r, "Make Foo triple its input", {"lib/Foo.pm": pm.replace("* 2", "* 3"),
                                            "t/foo.t": t.replace("2), 4, 'doubles'", "2), 6, 'triples'")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (tg,) = [c for c in cands(out) if c.category == "test_generation" and "triple" in c.messages[0]["content"]]
    assert tg.provenance["paths"] == ["t/foo.t"] and "```perl" in tg.messages[1]["content"]


def test_a_v_file_is_verilog_or_coq_by_its_lines() -> None:
    """picorv32's 517 unlabelled `.v` snippets are Verilog; Coq's proofs are named `.v` too."""
    verilog = "module picorv32 #(\n  parameter ENABLE_COUNTERS = 1\n) (\n  input clk, resetn,\n"
    coq = "Require Import Arith.\n\nLemma plus_comm : forall n m, n + m = m + n.\nProof. lia. Qed.\n"
    assert files.lines_say("picorv32.v", verilog) == "verilog" and files.lines_say("theories/Nat.v", coq) == "coq"
    assert files.lines_say("x.v", "+  x <= y;\n") == ""
    # a Verilog attribute is no Coq comment: picorv32's "(* parallel_case *)" gave 11 `coq` fences
    assert files.lines_say("picorv32.v", "\t\t\t\t(* parallel_case *)\n\t\t\t\tcase (1'b1)\n") == "verilog"
    assert files.lines_say("picorv32.v", "\t\t\tcpu_state_trap: begin\n\t\t\t\ttrap <= 1;\n") == "verilog"
    assert files.lines_say("x.v", "+  reg_op1 <= 'bx;\n+  mask <= 32'hffff_0000;\n") == "verilog"
    assert files.lines_say("field_of_fractions.v", "+  ('den x) * y\n") == ""  # math-classes: not a literal
    assert files.shared_language("x.v", "+  x <= y;\n", {"verilog"}) == "verilog"  # beside .vh or .sv files
    assert files.shared_language("x.v", "+  x <= y;\n", set(), lambda: "coq") == "coq"  # its head at the tip
    assert files.shared_language("x.v", "+  x <= y;\n", set()) == ""


def test_a_mined_v_file_is_fenced_by_its_lines_not_its_missing_hashbang(tmp_path: Path) -> None:
    """`.v` and `.pp` have no language of their own: their lines tell it, before any `#!` line is
    looked for (asking the `#!` line first left picorv32's 509 `.v` snippets unlabelled)."""
    r = new_repo(tmp_path / "r")
    verilog = "module picorv32 (\n  input clk\n);\n  always @(posedge clk) begin\n    count <= 1;\n  end\nendmodule\n"
    commit(r, "Add the core", {"picorv32.v": verilog})
    commit(r, "Count from two", {"picorv32.v": verilog.replace("count <= 1", "count <= 2")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (ex,) = [c for c in cands(out) if "Count from two" in c.messages[0]["content"] and c.category != "review"]
    assert [lang for lang, _ in fences(ex.messages[1]["content"])] == ["verilog"]


def test_a_fix_that_only_touches_comments_is_an_edit_not_a_bug_to_find(tmp_path: Path) -> None:
    """axum's "Fix typos in service docs" (`///` lines) was "Bug fix: ... Find the bug in this
    code": 73 of its 343 debugging examples, OpenZeppelin's 69 of 439. A `#include` is no comment."""
    assert files.comment_line("rust", "    /// Returns the body.") and files.comment_line("python", "  # note")
    assert not files.comment_line("c", "#include <stdio.h>") and files.comment_line("c", " * the size")
    assert not files.comment_line("", "# heading") and not files.comment_line("rust", "let x = 1; // one")
    r = new_repo(tmp_path / "r")
    src = "/// Retruns the body.\npub fn body(x: u32) -> u32 {\n    x + 1\n}\n"
    commit(r, "Add body", {"src/lib.rs": src})
    commit(r, "Fix typos in service docs", {"src/lib.rs": src.replace("Retruns", "Returns")})
    commit(r, "Fix body returning one too many", {"src/lib.rs": src.replace("Retruns", "Returns").replace("x + 1", "x")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (typo,) = [c for c in cands(out) if "typos" in c.messages[0]["content"]]
    assert typo.category == "editing" and "Find the bug" not in typo.messages[0]["content"]
    assert "Make this change to the code below." in typo.messages[0]["content"]
    (bug,) = [c for c in cands(out) if "too many" in c.messages[0]["content"]]
    assert bug.category == "debugging" and "Find the bug in this code" in bug.messages[0]["content"]


def test_a_fix_of_a_comment_after_code_is_an_edit(tmp_path: Path) -> None:
    """sinatra's "Fix a typo in a comment" changed `quality = 0 # we sort smalles first`: a bug to
    find, as the comment stood after code on its line."""
    assert files.code_part("ruby", "  quality = 0 # we sort smalles first") == "  quality = 0"
    assert files.code_part("c", "x = 1; // one") == "x = 1;" and files.code_part("python", 's = "a # b"') == 's = "a # b"'
    assert files.code_part("bash", "echo $# args") == "echo $# args" and files.code_part("css", "a{b:url(http://x)}") \
        == "a{b:url(http://x)}"  # no comment: `#` and `//` not after a space
    assert files.code_part("bash", "echo don't # x") is None and files.code_part("", "x # y") is None  # cannot tell
    assert not files.comments_changed_only("python", ["-s = 'a # b'", "+s = 'a # c'"])  # the string changed
    assert not files.comments_changed_only("python", ["-foo()  # once", "+bar()  # once"])
    assert not files.comments_changed_only("python", ["-foo()", "+# foo()"])  # code commented out is a change
    assert not files.comments_changed_only("python", ["-    foo()  # a", "+  foo()  # b"])  # and its indentation
    assert files.comments_changed_only("c", [" int y;", "-x = 1; // tpyo", "+x = 1; // typo", "+// and more"])
    src = ("def accept_entry(entry)\n  type, *options = entry.split(';')\n  quality = 0 # we sort smalles first\n"
           "  [type, quality]\nend\n")
    edit_then_fix(tmp_path, "lib/base.rb", src, ("Fix a typo in a comment", "smalles", "smallest"),
                  ("Fix accept_entry splitting on commas", "split(';')", "split(',')"), context=2)


def edit_then_fix(tmp_path: Path, path: str, src: str, edit: tuple[str, str, str], fix: tuple[str, str, str],
                  context: int) -> None:
    """A file, a commit that only edits its comments or documentation (subject, old, new text),
    then a fix of its code: the first is an edit, the second a bug to find."""
    r = new_repo(tmp_path / "r")
    commit(r, "Add it", {path: src})
    edited = src.replace(edit[1], edit[2])
    commit(r, edit[0], {path: edited})
    commit(r, fix[0], {path: edited.replace(fix[1], fix[2])})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=context))
    (doc,) = [c for c in cands(out) if c.messages[0]["content"].split("\n")[0].endswith(edit[0])]
    assert doc.category == "editing" and "Find the bug" not in doc.messages[0]["content"], edit[0]
    (bug,) = [c for c in cands(out) if fix[0] in c.messages[0]["content"].split("\n")[0]]
    assert bug.category == "debugging" and "Find the bug in this code" in bug.messages[0]["content"], fix[0]


def test_a_python_fix_of_a_docstring_is_an_edit(tmp_path: Path) -> None:
    """flask's "Fixed typo" ("Worksl ike" in has_app_context's docstring) and "Documented some
    changes in config handling": 27 of its 424 Python debugging examples changed docstrings only."""
    assert files.docstring_lines('def f():\n    """Worksl ike g.\n\n    More.\n    """\n    return 1\n') == {2, 3, 4, 5}
    assert files.docstring_lines("def f(:\n") is None
    r = new_repo(tmp_path / "r")
    src = ('def has_app_context():\n    """Worksl ike has_request_context but for the app.\n\n'
           '    .. versionadded:: 0.9\n    """\n    return _app_ctx_stack.top is not None\n')
    commit(r, "Add has_app_context", {"ctx.py": src})
    fixed = src.replace("Worksl ike", "Works like")
    commit(r, "Fixed typo", {"ctx.py": fixed})
    commit(r, "Fix has_app_context inverted", {"ctx.py": fixed.replace("is not None", "is None")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=3))
    (typo,) = [c for c in cands(out) if c.messages[0]["content"].startswith(("Fixed typo", "Bug fix: Fixed typo"))]
    assert typo.category == "editing" and "Works like" in typo.messages[1]["content"]
    (bug,) = [c for c in cands(out) if "inverted" in c.messages[0]["content"]]
    assert bug.category == "debugging"


def test_a_python_fix_inside_a_docstring_opened_above_the_hunk_is_an_edit(tmp_path: Path) -> None:
    """peft's "Fix doc typo" in a long `Args:` list, flask's "Fixed paren in docstring": the
    hunk starts inside the docstring, so its own rows cannot tell; the new file can (flask: 19
    of 450 debugging examples, peft 7, jinja 6, pdoc 3). A fix of a string's text that is code
    (a template assigned to a name, a query passed to a call) stays a bug to find."""
    r = new_repo(tmp_path / "r")
    args = "".join(f"        arg{i} (`int`):\n            The {i}th argument of the call.\n" for i in range(8))
    src = ('class Config:\n    """\n    The configuration.\n\n    Args:\n' + args + '        rnak (`int`):\n'
           '            The rank.\n    """\n\n    TEMPLATE = """\n    Hello {name}\n    Welcome to the Jngle\n'
           '    Goodbye\n    """\n\n    def rank(self):\n        return 8\n')
    commit(r, "Add the config", {"config.py": src})
    fixed = src.replace("rnak", "rank")
    commit(r, "Fix the name of the rank argument", {"config.py": fixed})
    commit(r, "Fix the greeting", {"config.py": fixed.replace("Jngle", "Jungle")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=3))
    (typo,) = [c for c in cands(out) if "rank argument" in c.messages[0]["content"]]
    assert typo.category == "editing" and "rank (`int`)" in typo.messages[1]["content"]
    (greeting,) = [c for c in cands(out) if "greeting" in c.messages[0]["content"]]
    assert greeting.category == "debugging"  # a string assigned to a name is code
    rows = "".join(f"        c{i} INTEGER,\n" for i in range(40))  # the file's 30 lines around reach no statement
    for k, (opened, closed) in enumerate([("    query = (\n", "    )\n    db.run(query)\n"),  # a value
                                          ("    db.run(\n", ")\n")]):  # an argument
        r = new_repo(tmp_path / f"q{k}")
        src = (f'def create(db):\n{opened}        """\n        CREATE TABLE t (\n{rows}        nmae TEXT)\n'
               f'        """{closed}')
        commit(r, "Add the table", {"db.py": src})
        commit(r, "Fix the name column", {"db.py": src.replace("nmae", "name")})
        out, _, _ = run(r, cfg=GitMiningConfig(context_lines=3))
        (query,) = [c for c in cands(out) if "name column" in c.messages[0]["content"]]
        assert query.category == "debugging", opened  # a string that is a value or an argument is code


def test_a_perl_fix_of_its_pod_is_an_edit(tmp_path: Path) -> None:
    """mojo's "Fixed pod" commits (419 of its 2,804 debugging examples changed POD only)."""
    assert files.pod_lines("sub x { 1 }\n\n=head2 foo\n\nDoes foo.\n\n=cut\n\nsub y {}\n") == {3, 4, 5, 6, 7}
    assert files.pod_lines("Does foo.\n\n=cut\n\nsub y {}\n") == {1, 2, 3}  # a window that starts inside
    pm = ("package Foo;\nuse strict;\n\nsub double {\n  my $x = shift;\n  return $x * 2;\n}\n\n1;\n__END__\n\n"
          "=head1 NAME\n\nFoo - doubles\n\n=head2 double\n\n  my $y = Foo::double(2);\n\nRetruns twice its input.\n\n"
          "=cut\n")
    edit_then_fix(tmp_path, "lib/Foo.pm", pm, ("Fixed pod", "Retruns", "Returns"),
                  ("Fixed double returning the wrong value", "$x * 2", "$x * 3"), context=3)


def test_an_elixir_fix_of_its_doc_heredoc_is_an_edit(tmp_path: Path) -> None:
    """phoenix's "Fix broken link in generated comments" and the like: @doc heredocs only."""
    doc = '  @doc """\n  Renders a tmeplate.\n  """\n  def render(conn), do: conn\n'
    assert files.elixir_doc_lines(doc) == {1, 2, 3}
    assert files.elixir_doc_lines('  Renders it.\n  """\n  def render(conn), do: conn\n') == {1, 2}  # from inside
    r = new_repo(tmp_path / "r")
    ex = "defmodule Web do\n" + doc + "  def status, do: 200\nend\n"
    commit(r, "Add Web", {"lib/web.ex": ex})
    commit(r, "Fix typo in render's doc", {"lib/web.ex": ex.replace("tmeplate", "template")})
    commit(r, "Fix status returning the wrong code", {"lib/web.ex": ex.replace("tmeplate", "template").replace(
        "do: 200", "do: 201")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (typo,) = [c for c in cands(out) if "render's doc" in c.messages[0]["content"]]
    assert typo.category == "editing"
    (bug,) = [c for c in cands(out) if "wrong code" in c.messages[0]["content"]]
    assert bug.category == "debugging"


def test_a_file_the_commit_moves_or_splits_off_is_no_file_to_write(tmp_path: Path) -> None:
    """express's "Refactored blog example" gave "Write examples/blog/blog/index.js" for
    examples/blog/blog.js moved there, flask's "Breaking docs up into smaller pieces" one per
    piece of docs/patterns.rst: mined with --no-renames, a move is a deletion and an addition,
    and no intent gives the moved text. Checked against `git log -M` renames on flask, express
    and axum: every rename found (45, 156, 117), and the splits git does not call renames."""
    r = new_repo(tmp_path / "r")
    blog = "".join(f"def post_{i}(db):\n    return db.fetch('post', {i})\n\n\n" for i in range(8))
    util = "import os\nimport sys\n\n\ndef home():\n    return os.environ['HOME']\n"
    commit(r, "Add the blog", {"blog.py": blog, "util.py": util})
    commit(r, "Refactored blog example", {"blog.py": None, "blog/index.py": blog.replace("post_7", "last_post"),
                                          "blog/helpers.py": "import os\nimport sys\n\n\ndef slug(t):\n"
                                                             "    return t.lower().replace(' ', '-')\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    written = [c for c in cands(out) if "Refactored" in c.messages[0]["content"]]
    assert counts["skipped_files.moved"] == 1  # blog/index.py: 7 of its 8 returns were blog.py's
    assert [c.provenance["paths"] for c in written] == [["blog/helpers.py"]]  # new: shares only imports


def _edited(tmp_path: Path, path: str, old: str, new: str, subject: str, cfg: GitMiningConfig) -> tuple[Path, Any]:
    """A repository where one commit writes `path` as `old` and the next makes it `new`, and the
    one example (not a review pair) mined for the second."""
    r = new_repo(tmp_path / "r")
    commit(r, f"Add {path}", {path: old})
    commit(r, subject, {path: new})
    out, _, _ = run(r, cfg=cfg)
    (ex,) = [c for c in cands(out) if subject in c.messages[0]["content"] and c.category != "review"]
    return r, ex


def test_a_python_hunk_with_no_whole_statement_is_cut_from_the_file_around_it(tmp_path: Path) -> None:
    """A change deep in a call's arguments, or in a function whose docstring the hunk cuts off,
    holds no window that parses in its own rows: unlabelled fences (rich: 1,026 of 6,320
    windows; flask 874 of 4,825 python snippets). The file's lines around the hunk (its new
    blob, never past a neighbouring hunk) complete the statement; the snippet keeps its line
    number, and its before and after are the old and new file's own lines."""
    args = "".join(f"    option_{i}={i},\n" for i in range(14))
    doc = '    """Run it.\n\n' + "".join(f"    Line {i} of the docs.\n" for i in range(8)) + '    """\n'
    old = ("import os\n\n\nconfig = dict(\n" + args + ")\n\n\n"
           "def run(path):\n" + doc + "    return os.path.join(path, 'x')\n\n\n"
           "def stop(path):\n    return None\n")
    new = old.replace("option_9=9", "option_9=90").replace("'x')", "'y')").replace("return None", "return path")
    r, ex = _edited(tmp_path, "app.py", old, new, "Tune option 9, run in y and stop with the path",
                    GitMiningConfig(context_lines=2))
    ask, answer = ex.messages[0]["content"], ex.messages[1]["content"]
    assert [lang for lang, _ in fences(answer)] == ["python", "python"]  # the last two hunks are one
    old_lines, new_lines = old.split("\n"), new.split("\n")
    shown = re.findall(r"`app\.py` \(line (\d+)\):\n```python\n(.*?)```", answer, re.S)
    befores = re.findall(r"`app\.py` \(line \d+\):\n```python\n(.*?)```", ask, re.S)
    assert len(shown) == len(befores) == 2
    for (line, after), before in zip(shown, befores, strict=True):
        n = int(line)
        assert new_lines[n - 1:n - 1 + after.count("\n")] == after.split("\n")[:-1]  # the new file's lines there
        assert "\n".join(old_lines).find(before.rstrip("\n")) >= 0  # and the old file's
        ast.parse(after)
        ast.parse(before)
    assert shown[0][1].startswith("config = dict(\n") and "option_9=90" in shown[0][1]
    assert shown[1][1].startswith("def run(path):") and "return path" in shown[1][1]
    # python_context_lines = 0: the hunk's own rows only, as before: the call's is unlabelled; the
    # last hunk's two changes, apart, get a window each (`_pieces`)
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, python_context_lines=0))
    (ex,) = [c for c in cands(out) if "Tune option 9" in c.messages[0]["content"] and c.category != "review"]
    assert [lang for lang, _ in fences(ex.messages[1]["content"])] == ["", "python", "python"]
    assert [b for _, b in fences(ex.messages[1]["content"])][1:] == [
        "    return os.path.join(path, 'y')\n\n", "def stop(path):\n    return path\n"]


def test_python_hunks_with_no_window_of_their_own_from_rich_and_flask(tmp_path: Path) -> None:
    """Three kinds of Python hunk that were shown whole, unlabelled: a docstring whose prose
    holds "(see https://...#getting-started)" (its '#' hid the ')' and no window balanced: rich's
    syntax.py); two changes apart that git's context joined, the end of a method and the module's
    `if __name__` block (rich's style.py: 47 of its 398 hunks with no window), each now a window of
    its own; and Python 2 (flask's `except ValueError, e:`), fenced python2."""
    doc = ('class Syntax:\n    """Construct a Syntax object.\n\n    Args:\n'
           + "".join(f"        arg_{i} (int): Argument {i}.\n" for i in range(4))
           + "        theme (str): Pygments style (see https://pygments.org/docs/styles/#getting-started).\n"
           + "".join(f"        opt_{i} (bool): Option {i}.\n" for i in range(4)) + '    """\n\n'
           + "    def __init__(self, code):\n        self.code = code\n")
    style = ("class Style:\n    def combine(self, style):\n" + "".join(f"        a_{i} = style.a_{i}\n" for i in range(14))
             + "        return style\n\n\nRESET = Style()\n\nif __name__ == '__main__':\n    import sys\n\n"
             + "    style = Style()\n    print(style)\n")
    py2 = "def load(path):\n    try:\n        return open(path).read()\n    except IOError, e:\n        return None\n"
    r = new_repo(tmp_path / "r")
    commit(r, "Add syntax, style and loading", {"syntax.py": doc, "style.py": style, "load.py": py2})
    commit(r, "Name the theme, return a copy and catch OSError", {
        "syntax.py": doc.replace("Pygments style", "Pygments theme"),
        "style.py": style.replace("        return style\n", "        return style.copy()\n")
                         .replace("    print(style)\n", "    print(repr(style))\n"),
        "load.py": py2.replace("except IOError, e:", "except (IOError, OSError), e:")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=10, python_context_lines=0))
    (ex,) = [c for c in cands(out) if "Name the theme" in c.messages[0]["content"] and c.category != "review"]
    answer = ex.messages[1]["content"]
    shown = re.findall(r"`(\w+\.py)`(?: \(line (\d+)\))?:\n```(\w*)\n(.*?)```", answer, re.S)
    assert [(path, lang) for path, _, lang, _ in shown] == [
        ("load.py", "python2"), ("style.py", "python"), ("style.py", "python"), ("syntax.py", "python")]
    new_style = style.replace("        return style\n", "        return style.copy()\n").replace(
        "    print(style)\n", "    print(repr(style))\n").split("\n")
    for _, line, _, text in shown[1:3]:
        n = int(line)
        assert new_style[n - 1:n - 1 + text.count("\n")] == text.split("\n")[:-1]  # the new file's lines there
        ast.parse(textwrap.dedent(text))
    assert "return style.copy()" in shown[1][3] and "print(repr(style))" not in shown[1][3]
    assert shown[2][3].startswith("if __name__") and "print(repr(style))" in shown[2][3]
    assert shown[3][3].startswith("class Syntax:") and "#getting-started" in shown[3][3]
    ast.parse(shown[3][3])


def test_a_change_in_a_bracket_inside_another_is_cut_from_the_outermost_statement() -> None:
    """flask's setup.py: a requirement inside `install_requires=[` inside `setup(`. The statement
    that opens the inner bracket is no statement; the window starts at `setup(` (it was shown
    whole, unlabelled)."""
    rows = [" from setuptools import setup", " ", " setup(", '     name="Flask",', "     install_requires=[",
            '         "Werkzeug>=2.0",', '-        "Jinja2>=2.4",', '+        "Jinja2>=3.0",', "     ],",
            "     extras_require={", '         "dotenv": ["python-dotenv"],', "     },", " )"]
    assert files.python_window(rows) == (0, 13)
    assert files.python_window(rows[2:]) == (0, 11)


def test_elements_of_a_list_opened_above_the_hunk_are_the_last_window_left() -> None:
    """peft's TEST_CASES, a list of tuples hundreds of lines long (a fifth of its Python lines
    were shown unlabelled): no statement opens in the hunk nor in the lines read around it, so
    whole elements are the window, each `(...),` a statement to the parser. Only as the last
    resort, and never a call's `name=value,` arguments."""
    rows = [" " + r for r in ['    (', '        "LoRA Same",', '        LoraConfig,', '        {"r": 8},', '    ),']]
    rows += ['-    ("IA3", IA3Config, {"r": 8}),', '+    ("IA3", IA3Config, {"r": 4}),']
    rows += [" " + r for r in ['    (', '        "VeRA",', '        VeraConfig,', '    ),', ']', '', '',
                               'class MLP(nn.Module):', '    pass']]
    assert files.python_window(rows) is None
    window = files.python_window(rows, elements=True)
    assert window is not None
    s, e = window
    code = textwrap.dedent("\n".join(r[1:] for r in rows[s:e] if r[0] != "-"))
    ast.parse(code)
    assert code.startswith("(\n") and '("IA3", IA3Config, {"r": 4}),' in code and "]" not in code
    kwargs = [" " + r for r in ['    name="Flask",', '    version="1.0",']] + ['-    license="BSD",', '+    license="MIT",']
    assert files.python_window(kwargs, elements=True) is None


def test_a_hunk_across_the_end_of_one_method_and_the_start_of_the_next_is_cut_between_them() -> None:
    """httpx's connections.py: `body = self._body_iter()` and `on_close=self._release` at the end of
    `send`, and `body_iter` renamed two rows below. The hunk starts inside `send`, so no window
    holds both; its changes lie too close for the cut at unchanged rows. It is cut where the
    `async def` starts left of every line above it, and each method's part gets its window."""
    rows = [" " + r for r in ["        headers = event.headers"]]
    rows += ["-        body = self.body_iter()", "+        body = self._body_iter()", "         return Response(",
             "-            body=body, on_close=self.close", "+            body=body, on_close=self._release",
             "         )", " ", "-    async def body_iter(self) -> typing.AsyncIterator[bytes]:",
             "+    async def _body_iter(self) -> typing.AsyncIterator[bytes]:",
             "         event = await self._receive_event()", "         while isinstance(event, h11.Data):",
             "             yield event.data"]
    assert files.python_window(rows) is None
    pieces = examples._pieces(rows, 70)
    assert [(p.lang, p.line) for p in pieces] == [("python", 70), ("python", 76)]
    assert pieces[0].after.startswith("        headers = event.headers\n") and "_release" in pieces[0].after
    assert pieces[1].after.startswith("    async def _body_iter(") and pieces[1].after.endswith("yield event.data\n")
    assert "async def body_iter(" in pieces[1].before
    for p in pieces:
        ast.parse(textwrap.dedent(p.after))
    # A def no further left than the lines above it is no such end: one window, no parts.
    assert examples._pieces([" class A:", "-    x = 1", "+    x = 2", "     def f(self):", "-        pass",
                             "+        return 1"], 1) == []


def test_a_try_without_its_handlers_and_code_commented_out_at_column_0_do_not_hide_the_window() -> None:
    """requests' early `core.py`, indented with tabs (its 273 Python snippets with no language):
    every start above the change sat on an `if` or a `try:` whose `except` lay below the hunk,
    which spent the three tries, and code commented out at the first column (`#\t\t\t\t\tif`)
    set the block's floor to 0. The window that parses starts below the `try:` and keeps the
    comment as a comment."""
    t = "\t"
    rows = [" " + t * 2 + "if self.method.lower() in ('get', 'head'):", " " + t * 3 + "if (not self.sent) or anyway:",
            " " + t * 4 + "try:", " " + t * 5 + "params = self.params", " ",
            "-" + t * 5 + "req = urllib2.Request(self.url)", "+" + t * 5 + "req = _Request(self.url, method='GET')",
            "+#" + t * 5 + "req.get_method = lambda : 'HEAD'", "+" + t * 5 + "opener = self._get_opener()",
            " " + t * 5 + "resp = opener(req)", " " + t * 5 + "success = True"]
    window = files.python_window(rows)
    assert window == (3, 11)  # from the first row below the `try:`, down to the hunk's end
    code = "\n".join(r[1:] for r in rows[3:11] if r[0] != "-")
    ast.parse(textwrap.dedent(code.replace("\n#", "\n" + t * 5 + "#")))
    assert files.python_window([r for r in rows if not r.startswith("+#")]) == (3, 10)  # the `try:` alone
    commented = [" " + t * 2 + "foo()", " " + t * 2 + "bar()", "+#" + t * 2 + "baz()", "+" + t * 2 + "qux()",
                 " " + t * 2 + "end()"]
    assert files.python_window(commented) == (0, 5)  # the comment alone
    # A '#' row in a string is no comment (rich's CSS `#rich-svg-wrapper span {` in a test's
    # expected output): it stays as written.
    css = [" def test_svg():", ' ' + ' ' * 4 + 'expected = """\\', "         <style>", " #wrapper span {",
           "+            display: block;", " }", '         </style>"""', "     assert render() == expected"]
    window = files.python_window(css)
    assert window == (0, 8) and "\n".join(r[1:] for r in css).count("\n#wrapper span {") == 1
    assert files.python_window([*rows[:-1], " " + t * 4 + "except RequestException:", " " + t * 5 + "raise"]) == (0, 12)
    # A `try:` closed by its handler inside the window, or in a string, is no reason to pass it over.
    ok = [" x = 1", " try:", "+    y = f()", " except E:", "     y = None", ' s = """', " try:", ' """']
    assert files.python_window(ok) == (0, 8)


def test_a_part_of_a_hunk_with_no_window_is_shown_whole_beside_the_parts_that_have_one() -> None:
    """TheAlgorithms' binary_seach.py: a new function under the module docstring, then a change to
    the next function's docstring, whose end lies past the hunk. The first part gets its window
    (python); the second is shown whole, unlabelled, with its own line number."""
    rows = ([' """', " from __future__ import print_function", "+import bisect", "+", "+",
             "+def assert_sorted(collection):", "+    return collection == sorted(collection)", " ", " ",
             " def binary_search(sorted_collection, item):",
             '-    """Pure implementation of binary sort algorithm in Python',
             '+    """Pure implementation of binary search algorithm in Python', " ", "     Examples:"])
    pieces = examples._pieces(rows, 10)
    assert [p.lang for p in pieces] == ["python", ""]
    assert pieces[0].after.startswith("from __future__ import print_function\nimport bisect\n")
    assert "def assert_sorted" in pieces[0].after and pieces[0].line == 11
    ast.parse(pieces[0].after)
    assert pieces[1].after.startswith("\ndef binary_search") and pieces[1].line == 18
    assert "binary search algorithm" in pieces[1].after and "binary sort" in pieces[1].before
    new_lines = [r[1:] for r in rows if r[0] != "-"]
    for p in pieces:  # each piece's line number is its first line's on the new side
        assert new_lines[p.line - 10:p.line - 10 + p.after.count("\n")] == p.after.split("\n")[:-1]
    assert examples._pieces(rows[:7], 10) == []  # one run of changes: no parts


def test_a_docstring_fix_below_another_docstring_in_the_hunk_is_an_edit(tmp_path: Path) -> None:
    """flask's "Fixing a word usage issue in docs." ("catched" -> "caught" in `handle_exception`'s
    docstring): the hunk's rows begin with the end of the method above, whose docstring closes
    there, so counted from the hunk's first row the changed line lay outside any string, and the
    window that parsed around it was taken for code: a bug to find. Counted from the window's
    start and told by the parse, it is documentation (2 of flask's 431 debugging examples)."""
    q3 = '"' * 3
    prose = "".join(f"        Line {i} of the docs.\n" for i in range(12))
    src = (f"class Flask:\n    def log_exception(self, exc_info):\n        {q3}Logs an exception.\n\n"
           f"{prose}        {q3}\n        self.logger.error(exc_info)\n\n"
           f"    def handle_exception(self, e):\n        {q3}Default exception handling that kicks in when an exception\n"
           "        occours that is not catched.  In debug mode the exception will\n        be re-raised.\n"
           f"        {q3}\n        if self.debug:\n            raise e\n        return 500\n")
    r = new_repo(tmp_path / "r")
    commit(r, "Add the handler", {"app.py": src})
    commit(r, "Fixing a word usage issue in docs.", {"app.py": src.replace("not catched", "not caught")})
    commit(r, "Fix the handler returning 500 in debug", {"app.py": src.replace("not catched", "not caught")
                                                          .replace("            raise e\n", "            raise\n")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=10))
    (docs,) = [c for c in cands(out) if "word usage" in c.messages[0]["content"]]
    assert docs.category == "editing" and "not caught" in docs.messages[1]["content"]
    (fix,) = [c for c in cands(out) if "returning 500" in c.messages[0]["content"]]
    assert fix.category == "debugging"  # a code line in the same window is code


def test_a_change_inside_a_long_docstring_is_shown_from_the_function_that_owns_it(tmp_path: Path) -> None:
    """more-itertools' "from itertools import product" added to a doctest in `nth_product`'s
    docstring: among the file's lines read around the hunk, the docstring's own rows were taken
    for starts of a window, and the tries were spent on them before the `def` was reached. 9.8%
    of its Python lines were shown unlabelled, 4.6% now; flask 6.3% -> 3.9%. The window starts at
    the `def` (at its decorators) and ends where the docstring does; a docstring whose `def` or
    end lies past the lines read around the hunk (`python_context_lines`) is not read further."""
    prose = "".join(f"    Line {i} of the prose about products.\n" for i in range(14))
    func = ('@cache\ndef nth_product(index, *args):\n    """Equivalent to ``list(product(*args))[index]``.\n\n'
            + prose + "\n    The equivalent being:\n\n        >>> list(product(range(2), range(2)))[3]\n"
            "        (1, 1)\n\n" + prose + '    """\n    pools = list(map(tuple, reversed(args)))\n'
            "    return pools[index]\n")
    old = "import functools\n\n\ndef cache(f):\n    return f\n\n\n" + func + "\n\ndef last():\n    return None\n"
    new = old.replace("        >>> list(product", "        >>> from itertools import product\n        >>> list(product")
    r, ex = _edited(tmp_path, "more.py", old, new, "Import product in the nth_product doctest",
                    GitMiningConfig(context_lines=10))
    ask, answer = ex.messages[0]["content"], ex.messages[1]["content"]
    ((lang, after),) = fences(answer)
    assert lang == "python" and after.startswith("@cache\ndef nth_product(index, *args):\n")
    assert after.endswith("    Line 13 of the prose about products.\n    " + '"' * 3 + "\n")
    assert "        >>> from itertools import product\n" in after
    assert "\n" + after in "\n" + new  # the new file's own lines
    ((_, before),) = fences(ask)
    assert before in old and "from itertools" not in before and before.startswith("@cache\n")
    ast.parse(after)
    # python_context_lines = 0, or too few lines to reach the `def`: the hunk's own rows, unlabelled
    for around in (0, 5):
        out, _, _ = run(r, cfg=GitMiningConfig(context_lines=10, python_context_lines=around))
        (ex,) = [c for c in cands(out) if "Import product" in c.messages[0]["content"] and c.category != "review"]
        assert [lang for lang, _ in fences(ex.messages[1]["content"])] == [""], around


def test_a_change_in_a_module_docstring_from_the_files_first_line_is_windowed(tmp_path: Path) -> None:
    """flask's setup.py: its module docstring opens on the first line and closes past the hunk's
    end. Its lone opening quotes were taken for a docstring's closing ones (a hunk may start
    inside a string), and its prose rows, nearest the change, took every try as starts. Rows
    from the file's first line start inside no string; rows inside a string are tried as starts
    after those outside. flask's unlabelled Python lines 3.20% -> 2.85%, werkzeug 4.61% -> 4.09%,
    rich 3.38% -> 3.13%."""
    q3 = '"' * 3
    doc = (f"{q3}\nFlask\n-----\n\nFlask is a microframework.\n\nFlask is Fun\n~~~~~~~~~~~~\n\n::\n\n"
           "    from flask import Flask\n    app = Flask(__name__)\n\nLinks\n~~~~~\n\n"
           + "".join(f"* `link {i} <https://example.com/{i}>`_\n" for i in range(6)) + f"\n{q3}\n")
    old = doc + "from setuptools import setup\n\n\nsetup(name='Flask', version='0.1')\n"
    new = old.replace("\n::\n", "\n.. code:: python\n", 1)
    _r, ex = _edited(tmp_path, "setup.py", old, new, "Use the code directive in the long description",
                     GitMiningConfig())
    ((lang, after),) = fences(ex.messages[1]["content"])
    assert lang == "python" and after.startswith(q3 + "\nFlask\n") and ".. code:: python" in after
    assert after.rstrip("\n").endswith(q3) or "from setuptools import setup" in after
    ast.parse(after)
    # the rows alone, from the file's top: no string is open before the first
    rows = [" " + ln for ln in new.split("\n")[:14]]
    rows[9:10] = ["-::", "+.. code:: python"]
    more = rows + [" " + ln for ln in new.split("\n")[13:28]]
    assert files.python_window(more, narrow=True, from_top=True) is not None
    assert files.python_window(more, narrow=True) is None  # (the quotes read as a string's end)


def test_a_change_deep_in_a_long_parameter_list_is_windowed_from_its_def(tmp_path: Path) -> None:
    """attrs' stubs of `define(...)` and alembic's and rich's long parameter lists: a change near
    the end of a signature of many lines, whose `def` lies above the lines read around the hunk,
    was shown unlabelled (1.1 to 1.8 points of their Python lines). The bracket's opening is looked
    for further up, with a long docstring's cap: attrs 4.94% -> 4.60%, alembic 6.33% -> 6.17%, rich
    3.16% -> 3.06%."""
    params = "".join(f"    option_{i}: bool = ...,\n" for i in range(50))
    old = "from typing import Any\n\n\ndef define(\n    maybe_cls: Any,\n    *,\n" + params + ") -> Any: ...\n"
    new = old.replace("option_40: bool = ...", "option_40: bool | None = ...")  # 36 lines below the `def`
    _r, ex = _edited(tmp_path, "attr/__init__.pyi", old, new, "Let option_40 be None", GitMiningConfig())
    ((lang, after),) = fences(ex.messages[1]["content"])
    assert lang == "python" and after.startswith("def define(\n") and "option_40: bool | None = ...," in after
    ast.parse(after)
    # a bracket the rows close, opened before them: told with strings and comments blanked
    assert files.closes_above([" a,", " b)", " c = 1"]) and not files.closes_above([" f(a,", " b)"])
    assert not files.closes_above([' x = ")"', " # )"]) and files.closes_above(["-(", " )"])


def test_the_statement_that_owns_a_string_a_hunk_starts_in() -> None:
    doc = "".join(f"    doc line {i}\n" for i in range(20))
    q3, s3 = '"' * 3, "'" * 3
    data = (f"s = {s3}one{s3}\n\n\nclass A:\n    @property\n    def f(self):  # the value\n        {q3}Doc.\n\n"
            + doc.replace("    doc", "        doc") + f"        {q3}\n        return 1\n\n\nT = {s3}\n" + doc + f"{s3}\n"
            + f"Q = (\n    {q3}\n    SELECT x\n    {q3}\n)\n")
    rows = [" " + ln for ln in data.split("\n")]

    def around(text: str, n: int = 13) -> tuple[list[str], int]:
        at = rows.index(" " + text)
        got = rows[max(0, at - n):at + n]
        got[min(at, n)] = "+" + text  # the hunk's first row, added
        return got, min(at, n)

    got, pre = around("        doc line 10", 14)
    top = examples._in_string(got, pre)
    assert top is not None and got[top:top + 2] == ["     @property", "     def f(self):  # the value"]
    window = files.python_window(got[top:], narrow=True, top=True)  # the def, its decorator, the docstring
    assert window is not None and got[top:][window[1] - 1] == "         " + q3
    # the nearest starts, among the docstring's lines, are tried after the rows outside it (the
    # decorated def's, after its decorator): the same window
    assert top == 0 and files.python_window(got, narrow=True) == window
    # the def not among the lines read: None
    assert examples._in_string(*around("        doc line 10", 12)) is None
    # a string at the first column: from its own row
    got, pre = around("    doc line 11")
    assert got[examples._in_string(got, pre)] == " T = " + s3
    # a row in no string, after a docstring's closing quotes, in a string assigned: None
    for text in ("class A:", "        return 1", "    SELECT x"):
        assert examples._in_string(*around(text)) is None, text
    # the lines between triple quotes by their count (a superset of the docstrings' lines: quotes
    # in a one-line string count too, and the parse decides after)
    assert files.quoted_lines(f"x = 1\n{q3}a\nb\n{q3}\ny = '{q3}'\nz = 2\n{q3}\nw = 3\n") == {2, 3, 4, 5, 6, 7}


def test_text_at_the_first_column_inside_a_string_ends_no_block(tmp_path: Path) -> None:
    """client_python's test of a metrics text, written at the first column in a triple-quoted
    string inside a test method (`families = parse(\"\"\"# HELP ...` ... `\"\"\")`): the string's
    rows were read as a block's end, no window parsed, and 7.3% of its Python lines were shown
    unlabelled (4.1% now). Rows inside a triple-quoted string have no indentation of their own
    when a window starts outside any string; a window that starts inside one does not parse."""
    q3 = '"' * 3

    def method(name: str, text: str) -> str:
        return (f"    def {name}(self):\n        families = parse({q3}# HELP a help\n# TYPE a counter\n{text}\n"
                f"{q3})\n        self.assertEqual(['a'], list(families))\n\n")

    above = "".join(f"    def test_{i}(self):\n        self.assertTrue({i})\n\n" for i in range(16))  # past the lines read
    old = ("import unittest\n\n\nclass TestParse(unittest.TestCase):\n" + above + method("test_simple", "a 1")
           + method("test_switched", "a 2") + "    def test_last(self):\n        pass\n")
    added = method("test_untyped", 'redis_connected_clients{instance="rough"} 10.0')
    new = old.replace("    def test_switched", added + "    def test_switched")
    _, ex = _edited(tmp_path, "tests/test_parser.py", old, new, "Test an untyped metric",
                    GitMiningConfig(context_lines=10))
    ((lang, after),) = fences(ex.messages[1]["content"])
    assert lang == "python" and added in after, after
    ast.parse("class T:\n" + after)  # methods, in their class
    lines = old.split("\n")[52:]  # from the first method's `def`: no start at the first column
    rows = [" " + ln for ln in lines[:7]] + ["+" + ln for ln in added.split("\n")[:-1]] + \
        [" " + ln for ln in lines[7:13]]
    assert files.python_window(rows) is None  # the string's first-column rows end the method's block
    s, e = files.python_window(rows, strings=True) or (0, 0)
    assert rows[s] == "     def test_simple(self):" and e >= 14 and rows[7] == "+    def test_untyped(self):"
    ast.parse("class T:\n" + "\n".join(r[1:] for r in rows[s:e]))  # the method's rows, in their class
    # rows that start inside a docstring: their count of quotes from the first row is off by one,
    # and the rows of code that follow the docstring's end are not taken for its text
    doc = [" " + ln for ln in ("is held here, at the first column.", '        """', "        x = 1", "        y = x",
                              "", "", "def g():", "    return 2")]
    doc[2] = "+        x = 2"
    assert files.python_window(doc, strings=True) == files.python_window(doc) == (2, 6)
    # no string's row left of the code: the retry answers None at once (the first try's answer stands)
    method = [" " + ln for ln in ("    def f(self):", '        """Doc,', "        more of it.", '        """', "")]
    method[-1] = "+        return 1"
    assert files.python_window(method) == (0, 5) and files.python_window(method, strings=True) is None


def test_a_hunk_in_a_string_passed_or_assigned_is_shown_from_its_statement(tmp_path: Path) -> None:
    """A hunk that starts inside a string passed to a call (a test's expected text) is read from
    the statement that opens the string, among the file's lines around the hunk: up past the
    rows that continue a call's arguments. A docstring's closing quotes, or a string alone on
    its row, name no statement."""
    q3 = '"' * 3
    text = "".join(f"metric_{i} {i}\n" for i in range(12))
    above = "".join(f"    def test_{i}(self):\n        self.assertTrue({i})\n\n" for i in range(16))  # past the lines read
    old = (f"import unittest\n\n\nclass TestParse(unittest.TestCase):\n{above}    def test_many(self):\n"
           f"        families = parse(\n            'a',\n            {q3}# HELP a help\n{text}{q3})\n"
           "        self.assertEqual(12, len(families))\n")
    new = old.replace("metric_6 6\n", "metric_6 6.5\n")
    _, ex = _edited(tmp_path, "tests/test_parser.py", old, new, "Parse a float", GitMiningConfig(context_lines=3))
    ((lang, after),) = fences(ex.messages[1]["content"])
    assert lang == "python" and after.startswith("        families = parse(\n") and after.endswith(f"{q3})\n")
    assert "metric_6 6.5\n" in after and "\n" + after in "\n" + new

    lines = ["class T:", "    def test_a(self):", "        got = render(", "            1,",
             f"            {q3}first line", "second line", "third line", "", "fourth line", f"{q3})",
             "        assert got"]
    rows = [" " + ln for ln in lines]
    rows[6] = "+third line, changed"
    assert examples._in_string(rows, 6) == 2  # `got = render(`, whose arguments the string is one of
    s, e = files.python_window(rows[2:], narrow=True, top=True, strings=True) or (0, 0)
    assert (s, e) == (0, 8) and ast.parse("def f():\n" + "\n".join(r[1:] for r in rows[2:10]))  # the call, whole
    assert examples._statement_start(rows, 4) == 2 and examples._statement_start(rows, 2) == 2
    alone = [" " + ln for ln in ("x = f(", f"    {q3}", "text", "+more text", f"{q3})")]
    assert examples._in_string(alone, 3) is None  # quotes alone on their row: no statement named


def test_a_change_deep_in_a_long_docstring_under_a_signature_over_several_lines_is_windowed(tmp_path: Path) -> None:
    """jsonschema's `Validator.__init__`: its signature written over several lines (`    ):` under
    `def __init__(`), and a docstring of 40 lines, longer than the lines read around a hunk
    (`python_context_lines`): its owner was not found, and the change was shown unlabelled
    (jsonschema 7.04% of its Python lines, 6.60% now). The opening quotes are looked for further
    up, and a signature's closing bracket leads to its `def`; such a window is taken where it at
    most triples the hunk's own rows (else more files lost their place in an example than it
    labelled)."""
    q3 = '"' * 3
    doc = "".join(f"        Line {i} of what the validator does.\n" for i in range(50))
    init = ("class Validator(object):\n    def __init__(\n        self, stop_on_error=True,\n"
            "        unknown_type='skip',\n    ):\n" + f"        {q3}\n        Initialize a Validator.\n\n" + doc
            + f"        {q3}\n        self.stop_on_error = stop_on_error\n        self.unknown_type = unknown_type\n")
    new = init.replace("Line 45 of what", "Line 45, reworded, of what")
    r, ex = _edited(tmp_path, "validator.py", init, new, "Reword the validator's docs",
                    GitMiningConfig(context_lines=10))
    ((lang, after),) = fences(ex.messages[1]["content"])
    assert lang == "python" and after.startswith("    def __init__(\n") and "Line 45, reworded" in after, after
    ast.parse("class V:\n" + after)
    # three lines of context: a window of the whole docstring would be 8 times the hunk's rows
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=3))
    (ex,) = [c for c in cands(out) if "Reword the validator" in c.messages[0]["content"] and c.category != "review"]
    assert [lang for lang, _ in fences(ex.messages[1]["content"])] == [""]


def test_the_lines_around_a_hunk_stop_at_its_neighbours_and_at_a_blob_that_is_not_its_own() -> None:
    hunks = [Hunk("a.py", "@@", [" a = (", "-1", "+2", " )"], old_start=3, new_start=3, added=1, removed=1),
             Hunk("a.py", "@@", [" b = [", "-1", "+2", " ]"], old_start=8, new_start=8, added=1, removed=1)]
    fd = FileDiff("a.py", "M", hunks=hunks)
    data = "".join(f"x{i} = {i}\n" for i in range(1, 3)) + "a = (\n2\n)\n" + "y = 1\nz = 2\n" + "b = [\n2\n]\nw = 3\n"
    rows, before = examples._around(fd, hunks[1], data.encode(), 30)
    assert before == 2 and rows[:2] == [" y = 1", " z = 2"]  # not into the first hunk's rows
    assert rows[-1] == " w = 3" and rows[2:-1] == hunks[1].lines
    rows, before = examples._around(fd, hunks[0], data.encode(), 30)
    assert before == 2 and rows[-2:] == [" y = 1", " z = 2"]  # up to the next hunk
    assert examples._around(fd, hunks[0], data.replace("a = (", "a = [").encode(), 30) is None  # not its lines


def test_a_file_split_off_a_kept_file_is_written_beside_it_not_alone(tmp_path: Path) -> None:
    """FSharpPlus' "Split up functor" wrote Control/MonadOps.fs from what it cut out of another
    file; split per file (a large commit), "Write src/.../MonadOps.fs" alone asked for text only
    the other file held (home-manager: 209 such files, its news entries moved out of news.nix
    among them). Beside the file it came from, in one example, the change is one to make."""
    ops = "".join(f"def op_{i}(x):\n    return x.bind({i})\n\n\n" for i in range(8))
    base = "import functools\n\n\n" + ops + "def functor(f):\n    return f\n"
    others = {f"pkg/other{i}.py": f"def other_{i}():\n    return {i}\n" for i in range(6)}
    for split, name in ((True, "big"), (False, "small")):
        r = new_repo(tmp_path / name)
        commit(r, "Add the operators", {"pkg/functor.py": base, **others})
        change = {"pkg/functor.py": "import functools\n\n\ndef functor(f):\n    return f\n",
                  "pkg/monad_ops.py": "import functools\n\n\n" + ops}
        if split:  # and six more files: the group splits per file
            change |= {p: t.replace("return", "return -") for p, t in others.items()}
        commit(r, "Split up functor", change)
        out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_split_examples=10))
        paths = [c.provenance["paths"] for c in cands(out) if c.messages[0]["content"].startswith("Split up")]
        if split:
            assert "skip:extracted_file" in out and ["pkg/monad_ops.py"] not in paths
            assert ["pkg/functor.py"] in paths and len(paths) == 7  # the rest, one example a file
        else:
            assert "skip:extracted_file" not in out and paths == [["pkg/functor.py", "pkg/monad_ops.py"]]
            (ex,) = [c for c in cands(out) if c.messages[0]["content"].startswith("Split up")]
            assert "def op_7(x)" in ex.messages[0]["content"]  # the text to move is shown


def test_python2_is_told_by_its_statements_and_by_a_lambda_that_unpacks_its_parameters() -> None:
    """more-itertools' early `collate`: `key=lambda (a, b): a` (PEP 3113 took tuple parameters
    away), in no window that parses, was fenced with no language."""
    assert files.python2(["+    min_or_max = partial(min, key=lambda (a, b): a)"])
    assert files.python2([" print 'hello'", "+x = 1"]) and files.python2(["+    except ValueError, e:"])
    # a raise with a traceback, the exception called first (jsonschema's early `validate`)
    for py2 in ("+    raise SchemaError(str(e)), None, sys.exc_info()[2]", "+raise TypeError('bad %s' % (x,)), None, tb"):
        assert files.python2([py2]), py2
    for py3 in ("+raise ValueError('a, b')", "+raise ValueError(f(x, y))", "+raise X from e"):
        assert not files.python2([py3]), py3
    for py3 in ("+key = lambda a, b: a", "+f = lambda: (1, 2)", "+sort(key=lambda x: (x[1], x[0]))",
                "-    key=lambda (a, b): a", "+# print the result", "+g = lambda *a: (a)"):
        assert not files.python2([py3]), py3
    # paramiko's early util.py and sftp code: longs and octals without `0o`
    for py2 in ("+    out = 0L", " s = struct.pack('>I', n & 0xffffffffL) + s", "+os.chmod(path, 0755)",
                "+    if n < 5l:"):
        assert files.python2([py2]), py2
    for py3 in ("+x = '0L'", "+# mode 0755", "+x = 0o755", "+x = 00", "+x = 1.5 + 10", "+final = 0x1f",
                "+t = 1e10", "-    out = 0L"):
        assert not files.python2([py3]), py3
    # gunicorn's early workers: `async` as a name, before Python 3.7 made it a keyword
    for py2 in (" from gunicorn.workers.async import AsyncWorker", "+    self.async = True",
                "+    run(async=True)", "+import async", "+def await(x):"):
        assert files.python2([py2]), py2
    for py3 in ("+async def f():", "+    await self.run()", "+    async with lock:", "+x = 'async=True'",
                "+# the .async module", "+    return await asyncio.sleep(1)", "+async for x in xs:"):
        assert not files.python2([py3]), py3


def test_a_copyrights_year_moved_on_beside_a_change_is_left_out_of_its_example(tmp_path: Path) -> None:
    """lua's '"storeglobal" changed to "setglobal"' also set LUA_COPYRIGHT to 1994-1997: an answer
    with a year the task does not give (commons-io 22 answers, werkzeug 4, lua 3). Left out,
    unless the task speaks of the year, a copyright or a licence."""
    head = '#define LUA_COPYRIGHT "Copyright (C) 1994-1996 TeCGraf"\n' + "".join(f"int pad{i};\n" for i in range(12))
    code = "void storeglobal (char *name) {\n  put(name);\n}\n"
    r = new_repo(tmp_path / "r")
    commit(r, "Add the API", {"lua.h": head + code})
    commit(r, '"storeglobal" changed to "setglobal"', {
        "lua.h": head.replace("1996", "1997") + code.replace("storeglobal", "setglobal")})
    commit(r, "Update the copyright year", {"lua.h": head.replace("1996", "1998") + code.replace(
        "storeglobal", "setglobal").replace("put(name)", "put(name, 1)")})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (renamed,) = [c for c in cands(out) if c.messages[0]["content"].startswith("\"storeglobal\" changed") and
                  c.category != "review"]
    assert "1997" not in renamed.messages[1]["content"] and "void setglobal" in renamed.messages[1]["content"]
    (said,) = [c for c in cands(out) if "copyright year" in c.messages[0]["content"] and c.category != "review"]
    assert "1994-1998" in said.messages[1]["content"]  # the task speaks of it
    from aitherd.sources.git.examples import _year_bump
    from aitherd.sources.git.parse import Hunk

    assert not _year_bump(Hunk(path="a.c", header="", lines=["-int year = 1996;", "+int year = 1997;"], old_start=1,
                               new_start=1, added=1, removed=1))  # no copyright: a change like any other


def test_a_version_set_beside_a_fix_is_left_out_of_its_example(tmp_path: Path) -> None:
    """marshmallow's "Constant field value is always present, even if field name is missing" also
    set `__version__ = '2.1.1dev0'`: the answer to "find the bug" held a version the model can
    only guess (marshmallow 9 examples, flask 9, werkzeug 8; tqdm's pre-commit `rev:` bumps beside
    its workflow changes). The hunk is left out; a version the task names stays, and a change of
    versions alone is still `version_only`."""
    init = "__version__ = '2.1.0'\n__author__ = 'Steven Loria'\n"
    fields = "class Constant:\n    def _serialize(self, value):\n        return value\n"
    r = new_repo(tmp_path / "r")
    commit(r, "Add the constant field", {"m/__init__.py": init, "m/fields.py": fields})
    commit(r, "Fix the constant field returning the value", {
        "m/__init__.py": init.replace("2.1.0", "2.1.1dev0"),
        "m/fields.py": fields.replace("return value", "return self.constant")})
    commit(r, "Make the constant field return 2 for 2.2.0", {
        "m/__init__.py": init.replace("2.1.0", "2.2.0"), "m/fields.py": fields.replace("return value", "return 2")})
    commit(r, "Set the version", {"m/__init__.py": init.replace("2.1.0", "2.3.0")})
    out, _, _ = run(r)
    (fix,) = [c for c in cands(out) if "returning the value" in c.messages[0]["content"] and c.category != "review"]
    assert fix.category == "debugging" and fix.provenance["paths"] == ["m/fields.py"]
    assert "__version__" not in fix.messages[0]["content"] + fix.messages[1]["content"]
    (named,) = [c for c in cands(out) if "return 2 for 2.2.0" in c.messages[0]["content"] and c.category != "review"]
    assert named.provenance["paths"] == ["m/__init__.py", "m/fields.py"]  # the version the task gives
    assert not [c for c in cands(out) if "Set the version" in c.messages[0]["content"]]
    assert "skip:version_only" in out
