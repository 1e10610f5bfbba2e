"""The git miner's shortcuts give the answers of the long way: the parse check's early "no" for
an indented first line, the whitespace check for hunks that only add or only remove lines, and
a commit over the size limit that is not cut into hunks (real repositories made here)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from test_sources_gitmine import cands, commit, new_repo, run

from aitherd.sources.git import files
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.git.parse import parse_commit


def _compiles(code: str) -> bool:
    try:
        compile(code, "<hunk>", "exec", ast.PyCF_ONLY_AST)
    except (SyntaxError, ValueError):
        return False
    return True


@pytest.mark.parametrize("code", [
    "  x = 1", "\n\n  # note\n  x = 1", "# note\n    x = 1", "\tpass", "x = 1\n  y = 2", "  # only a comment",
    "  \n", "", "x = 1", " \f x = 1", "\f  x = 1", "  \\\nx = 1", "\\\n  x = 1", "  \r\nx = 1", "\ufeff  x = 1",
    "\xa0x = 1", '  """doc"""', "if x:\n    y = 1", "   \n\t\n  # c\nx = (1,\n  2)",
])
def test_the_indented_first_line_check_agrees_with_the_parser(code: str) -> None:
    assert files.parses(code) is _compiles(code), repr(code)


def test_the_parse_check_binds_names_as_the_compiler_does() -> None:
    """The symbol table stands for the AST (a fifth faster): the same answers, but for a window
    that holds a `nonlocal` without its function, which the compiler refuses too."""
    inner = "def g():\n    nonlocal count\n    count += 1\n"
    assert _compiles(inner) and not files.parses(inner)
    with pytest.raises(SyntaxError):
        compile(inner, "<hunk>", "exec")
    whole = "def f():\n    count = 0\n\n" + "".join("    " + ln + "\n" for ln in inner.splitlines())
    assert files.parses(whole) and _compiles(whole)
    assert files.parses("return x\n") and not files.parses("def f(:\n    pass\n")  # no bytecode: a body's `return`


def test_hunks_that_only_add_or_only_remove_lines_are_whitespace_only_when_blank(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add f", {"f.py": "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2\n"})
    commit(r, "Space f out", {"f.py": "def f(x):\n\n    return x + 1\n\n\n\ndef g():\n    return 2\n"})
    commit(r, "Close up f", {"f.py": "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2\n"})
    commit(r, "Add h", {"f.py": "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2\n\n\ndef h():\n    pass\n"})
    commit(r, "Drop h", {"f.py": "def f(x):\n    return x + 1\n\n\ndef g():\n    return 2\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=0))
    asked = [c.messages[0]["content"] for c in cands(out)]
    assert not [a for a in asked if "Space f out" in a or "Close up f" in a]
    assert [a for a in asked if "Add h" in a]
    # Without context lines, dropping h leaves nothing to show on the new side: no example
    # whose answer is an empty fence (and not counted as whitespace-only either).
    assert not [a for a in asked if "Drop h" in a] and "skip:empty_answer" in out
    assert counts["skipped_hunks.whitespace_only"] == 4  # two blank lines added, then removed


def test_a_commit_over_the_size_limit_keeps_its_counts_but_is_not_cut_into_hunks(tmp_path: Path) -> None:
    big = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(400))
    patch = ("\ndiff --git a/m.py b/m.py\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n"
             "+++ b/m.py\n@@ -0,0 +1,1600 @@\n" + "".join(f"+{ln}\n" for ln in big.split("\n")[:-1]) +
             "diff --git a/logo.png b/logo.png\nnew file mode 100644\nindex 0000000..2222222\n"
             "Binary files /dev/null and b/logo.png differ\n")
    whole = parse_commit("abc\x1f\x1fA\x1f1\x1fAdd m\n", patch, lambda _p: None)
    cut = parse_commit("abc\x1f\x1fA\x1f1\x1fAdd m\n", patch, lambda _p: None, max_bytes=1_000)
    assert whole.size == cut.size > 1_000 and whole.skipped == cut.skipped == {"files.binary": 1}
    assert whole.paths == cut.paths and [f.path for f in cut.files] == ["m.py"]
    assert len(whole.files[0].hunks) == 1 and cut.files[0].hunks == []
    # Mined, the commit is still skipped as too large, with its files counted.
    r = new_repo(tmp_path / "r")
    commit(r, "Add m", {"m.py": big})
    out, counts, _ = run(r, cfg=GitMiningConfig(max_diff_bytes=1_000))
    assert "skip:large_diff" in out and not cands(out) and counts["commits"] == 1


def test_a_commit_skipped_for_what_it_is_still_counts_its_files(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add the app", {"requirements.txt": "flask==1.0\n", "app.py": "import flask\n"})
    commit(r, "Bump flask from 1.0 to 2.0", {"requirements.txt": "flask==2.0\n", "logo.png": b"\x89PNG\x00\x01",
                                             "vendor/lib.py": "x = 1\n"})
    out, counts, _ = run(r)
    assert "skip:dependency_bump" in out and counts["commits"] == 2
    assert counts["skipped_files.binary"] == 1 and counts["skipped_files.vendored_or_generated"] == 1
