"""Code patterns from a real git repository: whole signatures and decorators, tests paired
through resolved imports, and explain answers rendered from reST."""

from __future__ import annotations

from pathlib import Path

from items_util import outputs
from support import git

from aitherd.sources.codegraph import CodeGraphConfig, harvest_repo
from aitherd.sources.docstrings import render, says_less_than_name

PARSER = '''"""A tiny option parser."""
import functools


def add_option(name, default=None):
    """Make an option tuple from a flag name and its default value."""
    flag = name.lstrip("-")
    return (flag, default)


class Parser:
    """Holds options."""

    def __init__(self):
        self._options = []

    @functools.lru_cache(
        maxsize=None,
    )
    @staticmethod
    def helper_cached(
        value: int,
        *,
        scale: int = 2,
    ) -> int:
        """Multiply a cached value by its scale, for repeated lookups."""
        result = value * scale
        return result

    def add_option(
        self,
        *args: str,
        **kwargs: int,
    ) -> "tuple":
        """Register an option on this parser and remember it for parsing."""
        opt = add_option(*args, **kwargs)
        self._options.append(opt)
        return opt

    def get_user_name(self):
        """Return the user name."""
        name = self._options[0]
        return name[0]


def highlight(code, lexer):
    """Highlight ``code`` with a :class:`~pygments.lexer.Lexer`.

    :param code: the source to highlight
    :type code: str
    :param lexer: the lexer to use
    :returns: the highlighted text
    :raises ValueError: when the lexer is unknown
    """
    if lexer is None:
        raise ValueError(code)
    return lexer(code)
'''
TESTS = '''import optparse

from lib import parser
from lib.parser import Parser


def make_parser():
    return Parser()


def test_module_function():
    assert parser.add_option("--x") == ("x", None)


def test_method():
    p = Parser()
    assert p.add_option("--y") == ("y", None)


def test_optparse_is_not_ours():
    op = optparse.OptionParser()
    op.add_option("-v")
    assert op


class TestParser:
    def test_through_a_new_object(self):
        assert Parser().add_option("--z") == ("z", None)
'''


def repo_with(tmp: Path, files: dict[str, str]) -> Path:
    repo = tmp / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "d@e.com")
    git(repo, "config", "user.name", "D")
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "code")
    return repo


def examples(tmp: Path) -> dict[tuple[str, str], list]:
    repo = repo_with(tmp, {"lib/__init__.py": "", "lib/parser.py": PARSER, "tests/test_parser.py": TESTS})
    out: dict[tuple[str, str], list] = {}
    for c in outputs(harvest_repo(str(repo), CodeGraphConfig(min_lines=2), {})):
        out.setdefault((c.provenance["symbol"], c.provenance["task"]), []).append(c)
    return out


def test_multi_line_signatures_and_decorators_are_taken_whole(tmp_path):
    got = examples(tmp_path)
    ask = got[("Parser.add_option", "implement")][0].messages[0]["content"]
    assert "def add_option(\n    self,\n    *args: str,\n    **kwargs: int,\n) -> \"tuple\":\n    \"\"\"Register" in ask
    assert "def add_option(:" not in ask
    cached = got[("Parser.helper_cached", "implement")][0]
    assert "```python\n@functools.lru_cache(\n    maxsize=None,\n)\n@staticmethod\ndef helper_cached(\n" in (
        cached.messages[0]["content"])
    shown = got[("Parser.helper_cached", "explain")][0].messages[0]["content"]
    assert shown.startswith("Explain what this code does:\n\n```python\n@functools.lru_cache(\n")
    assert '"""' not in cached.messages[1]["content"] and "result = value * scale" in cached.messages[1]["content"]


def test_tests_are_paired_through_resolved_imports_and_answers_are_test_functions(tmp_path):
    got = examples(tmp_path)
    module_tests = got[("add_option", "tests")][0].messages[1]["content"]
    method_tests = got[("Parser.add_option", "tests")][0].messages[1]["content"]
    assert "def test_module_function" in module_tests and "test_method" not in module_tests
    assert "def test_method" in method_tests and "def test_through_a_new_object" in method_tests
    assert "test_module_function" not in method_tests
    every = "".join(c.messages[1]["content"] for (_, task), cs in got.items() if task == "tests" for c in cs)
    assert "optparse" not in every and "def make_parser" not in every  # not ours; not a test
    assert got[("Parser.add_option", "tests")][0].provenance["tests"] == [
        "tests.test_parser.test_method", "tests.test_parser.TestParser.test_through_a_new_object"]


def test_explain_answers_are_prose_and_trivial_docstrings_give_none(tmp_path):
    got = examples(tmp_path)
    answer = got[("highlight", "explain")][0].messages[1]["content"]
    assert ":param" not in answer and ":class:" not in answer and "``" not in answer
    assert answer.startswith("Highlight `code` with a `Lexer`.")
    assert "Parameters:\n- `code` (str): the source to highlight\n- `lexer`: the lexer to use" in answer
    assert "Returns: the highlighted text" in answer and "- `ValueError`: when the lexer is unknown" in answer
    assert ("Parser.get_user_name", "explain") not in got and ("Parser.get_user_name", "implement") in got


def test_rendering_rest_and_numpy_docstrings():
    doc = ("Compute things.\n\nParameters\n----------\nx : int\n    The input.\n\n"
           ".. versionadded:: 1.2\n\nExample::\n\n    f(1)\n\n.. note::\n   Slow.\n\nSee `the docs <https://x.org>`_.")
    out = render(doc)
    assert "Parameters:\nx : int" in out and "----------" not in out
    assert "New in version 1.2." in out and "Example:\n```\nf(1)\n```" in out and "Note: Slow." in out
    assert "See the docs (https://x.org)." in out
    assert says_less_than_name("get_user_name", "Get the user's name.")
    assert not says_less_than_name("total", "Sum the price of every item.")
