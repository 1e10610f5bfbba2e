"""Jupyter notebooks are mined as their cells, not as JSON (jakevdp's PythonDataScienceHandbook:
107 of its 192 examples asked for edits of escaped JSON)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from test_sources_gitmine import cands, commit, new_repo, run

from aitherd.sources.git import notebook
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.git.parse import hunks


def nb(cells: list[tuple[str, str]], outputs: int = 0, kernel: str | None = "python", v3: bool = False) -> str:
    """A notebook of (cell type, source) cells; code cells carry `outputs` and execution counts."""
    made = []
    for i, (kind, src) in enumerate(cells):
        cell: dict = {"cell_type": kind, "metadata": {}, "source": src.splitlines(keepends=True)}
        if kind == "code":
            cell |= {"execution_count": outputs + i, "outputs": [
                {"output_type": "stream", "name": "stdout", "text": [f"run {outputs}\n"]},
                {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo" + "A" * 400}, "metadata": {}}]}
            if v3:
                cell["input"] = cell.pop("source")
        made.append(cell)
    meta = {"kernelspec": {"name": kernel, "language": kernel, "display_name": kernel}} if kernel else {}
    doc = {"worksheets": [{"cells": made}], "metadata": meta, "nbformat": 3} if v3 else \
        {"cells": made, "metadata": meta, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(doc, indent=1) + "\n"


CELLS = [("markdown", "# Fitting\n\nWe fit a line."), ("code", "%matplotlib inline\nimport numpy as np"),
         ("code", "def fit(x, y):\n    return np.polyfit(x, y, 1)"), ("markdown", ""), ("code", "!pip install numpy")]


def test_a_notebook_reads_as_a_percent_script() -> None:
    text, lang = notebook.script(nb(CELLS))  # type: ignore[misc]
    assert lang == "python"
    assert text == ("# %% [markdown]\n# # Fitting\n#\n# We fit a line.\n\n"
                    "# %%\n# %matplotlib inline\nimport numpy as np\n\n"
                    "# %%\ndef fit(x, y):\n    return np.polyfit(x, y, 1)\n\n"
                    "# %% [markdown]\n\n# %%\n# !pip install numpy\n")
    compile(text, "<nb>", "exec")  # magics and shell escapes commented out: the script is Python
    assert "iVBOR" not in text and "execution_count" not in text and "run 0" not in text
    # nbformat 3, another kernel, none said
    assert notebook.script(nb(CELLS, v3=True))[0] == text  # type: ignore[index]
    r_text, r_lang = notebook.script(nb([("code", "%>% filter(x)")], kernel="R"))  # type: ignore[misc]
    assert (r_text, r_lang) == ("# %%\n%>% filter(x)\n", "r")  # no magics in R
    assert notebook.script(nb([("code", "x")], kernel=None))[1] == "python"  # type: ignore[index]
    assert notebook.script(nb([("code", "let x = 1")], kernel="C++17"))[1] == "c++17"  # type: ignore[index]
    for bad in ("not json", "[1, 2]", '{"cells": 3}', b"\xff\xfe"):
        assert notebook.script(bad) is None


def test_a_script_diff_cuts_hunks_as_git_does(tmp_path: Path) -> None:
    before = "".join(f"line {i}\n" for i in range(40))
    after = before.replace("line 5\n", "line 5\nline 5b\n").replace("line 30\n", "").replace("line 33", "line 33!")
    (tmp_path / "a").write_text(before)
    (tmp_path / "b").write_text(after)
    out = subprocess.run(["git", "diff", "--no-index", "-U3", "a", "b"], cwd=tmp_path, capture_output=True, text=True)
    at = out.stdout.index("\n@@ ") + 1
    want = hunks("x.ipynb", out.stdout, at)
    got = notebook.diff("x.ipynb", before, after, 3)
    assert [(h.old_start, h.new_start, h.added, h.removed, h.lines) for h in got] == \
        [(h.old_start, h.new_start, h.added, h.removed, h.lines) for h in want]
    assert len(got) == 2 and notebook.diff("x.ipynb", before, before, 3) == []


def test_notebooks_are_mined_as_their_cells(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add the fitting notebook", {"fit.ipynb": nb(CELLS), "src/fit.py": "def fit():\n    return 1\n"})
    changed = [c if c[1] != CELLS[2][1] else ("code", "def fit(x, y, degree=1):\n    return np.polyfit(x, y, degree)")
               for c in CELLS]
    commit(r, "Let the fit take a degree", {"fit.ipynb": nb(changed, outputs=1)})
    commit(r, "Run the notebook again", {"fit.ipynb": nb(changed, outputs=2)})  # outputs and counts only
    guarded = ("code", "def fit(x, y, degree=1):\n    if not x:\n        return None\n    return np.polyfit(x, y, degree)")
    commit(r, "Handle an empty sample in fit", {"fit.ipynb": nb([*changed[:2], guarded], outputs=3),
                                                "src/fit.py": "def fit():\n    return 2\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    (edit,) = [c for c in cands(out) if "Let the fit take a degree" in c.messages[0]["content"]]
    ask, answer = edit.messages[0]["content"], edit.messages[1]["content"]
    assert re.findall(r"`fit\.ipynb`[^\n]*:\n```(\S*)\n", answer) == ["python"]
    assert "def fit(x, y, degree=1):\n    return np.polyfit(x, y, degree)" in answer
    assert "def fit(x, y):\n    return np.polyfit(x, y, 1)" in ask
    for text in (ask, answer):
        assert '"source"' not in text and "execution_count" not in text and "iVBOR" not in text
    (new,) = [c for c in cands(out) if "Add the fitting notebook" in c.messages[0]["content"]
              and "fit.ipynb" in c.provenance.get("paths", [])]
    assert "# %% [markdown]\n# # Fitting" in new.messages[1]["content"]
    assert counts["skipped_files.notebook_outputs"] == 1  # "Run the notebook again" shows no change
    assert not any("Run the notebook again" in c.messages[0]["content"] for c in cands(out))
    # a fix's notebook gets no review pairs (blame reads the JSON, not the cells); its .py does
    fix = [c for c in cands(out) if "Handle an empty sample" in c.messages[0]["content"]]
    assert {p for c in fix for p in c.provenance.get("paths", [])} == {"fit.ipynb", "src/fit.py"}
    reviews = [c for c in cands(out) if c.category == "review"]
    assert reviews and all("fit.ipynb" not in c.messages[0]["content"] for c in reviews)
    assert any("src/fit.py" in c.messages[0]["content"] for c in reviews)


def test_a_notebook_that_is_not_json_is_left_out_and_counted(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add a broken notebook", {"bad.ipynb": "{ not json\n" * 3, "ok.py": "x = 1\n"})
    commit(r, "Break it further and fix the module", {"bad.ipynb": "{ not json\n" * 4, "ok.py": "x = 2\n"})
    out, counts, _ = run(r, cfg=GitMiningConfig(context_lines=2))
    assert counts["skipped_files.notebook_unreadable"] == 2
    assert all("bad.ipynb" not in c.provenance.get("paths", []) for c in cands(out))
    assert any("ok.py" in c.provenance.get("paths", []) for c in cands(out))


def test_a_notebook_counts_as_its_cells_not_its_outputs_against_the_size_limit(tmp_path: Path) -> None:
    """Plots in the outputs made a notebook commit too large to mine (33 of
    PythonDataScienceHandbook's commits): the limit reads the cells' diff."""
    r = new_repo(tmp_path / "r")
    plot = "iVBORw0KGgo" + "B" * 60_000
    big = nb(CELLS).replace("iVBORw0KGgo" + "A" * 400, plot)
    commit(r, "Add the fitting notebook", {"fit.ipynb": big})
    commit(r, "Fit a quadratic", {"fit.ipynb": big.replace("np.polyfit(x, y, 1)", "np.polyfit(x, y, 2)").replace(
        plot, plot.replace("B" * 10, "C" * 10))})
    commit(r, "Add a large module", {"big.py": "".join(f"X_{i} = {i}\n" for i in range(3000))})
    out, _, _ = run(r, cfg=GitMiningConfig(context_lines=2, max_diff_bytes=20_000))
    (fit,) = [c for c in cands(out) if "Fit a quadratic" in c.messages[0]["content"]]
    assert "np.polyfit(x, y, 2)" in fit.messages[1]["content"] and "CCCC" not in fit.messages[1]["content"]
    assert "skip:large_diff" in out  # the limit still holds for code
