"""Mining in worker processes gives what one process gives; a git killed mid-stream (SIGTERM to
the job's process group on cancel) never lets a half-read commit be checkpointed."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest
from items_util import outputs
from support import git
from test_sources_gitmine import commit, new_repo

from aitherd.candidate import Candidate
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.gitmine import mine
from aitherd.sources.items import Checkpoint


def history(path: Path) -> Path:
    """Forty commits: features, fixes of earlier lines (review pairs), tests, docs, a merge."""
    r = new_repo(path)
    funcs = [f"def f{i}(x):\n    return x + {i}\n" for i in range(20)]
    commit(r, "Add functions", {"m.py": "\n\n".join(funcs), "README.md": "# M\n"})
    for k in range(36):
        i = (k * 7) % 20
        if k % 3 == 0:
            funcs[i] = funcs[i].replace("return x", "return 2 * x")
            commit(r, f"Fix f{i} scaling", {"m.py": "\n\n".join(funcs)})
        elif k % 3 == 1:
            funcs[i] = funcs[i].replace("(x):", "(x, y=0):").replace("\n    return", "\n    x += y\n    return")
            commit(r, f"Add a y argument to f{i}", {"m.py": "\n\n".join(funcs),
                                                    f"tests/test_f{i}.py": f"def test_f{i}():\n    assert True\n"})
        else:
            commit(r, f"Document step {k}", {"README.md": f"# M\n\nStep {k}.\n"})
    git(r, "checkout", "-qb", "topic")
    commit(r, "Add g", {"g.py": "def g():\n    return 1\n"})
    git(r, "checkout", "-q", "main")
    commit(r, "Add h", {"h.py": "def h():\n    return 2\n"})
    git(r, "merge", "-q", "--no-ff", "--no-edit", "topic")
    return r


def test_worker_processes_yield_what_one_process_yields(tmp_path: Path) -> None:
    r = str(history(tmp_path / "r"))
    one = list(mine(r, "main", {}, GitMiningConfig(jobs=1), counts1 := {}))
    many = list(mine(r, "main", {}, GitMiningConfig(jobs=2, parallel_min_commits=6), counts2 := {}))
    assert [type(i).__name__ for i in one] == [type(i).__name__ for i in many]
    assert [i.content_hash for i in one if isinstance(i, Candidate)] == \
        [i.content_hash for i in many if isinstance(i, Candidate)]
    assert [i.mark for i in one if isinstance(i, Checkpoint)] == [i.mark for i in many if isinstance(i, Checkpoint)]
    assert counts1 == counts2 and counts1["commits"] == 39 and counts1["reviews"] >= 5


def killing_git(tmp_path: Path, limit: int) -> Path:
    """A `git` that, asked for the miner's patch stream, sends `limit` bytes of it and is then
    killed by SIGTERM, as a cancel does to the job's process group."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "git"
    shim.write_text(f"""#!/bin/sh
for a in "$@"; do [ "$a" = "--stdin" ] && walk=1; done
if [ -n "$walk" ]; then
  {shutil.which("git")} "$@" | head -c {limit}
  kill -TERM $$
fi
exec {shutil.which("git")} "$@"
""")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return bin_dir


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_git_killed_mid_stream_checkpoints_only_whole_commits(tmp_path: Path, monkeypatch, jobs: int) -> None:  # type: ignore[no-untyped-def]
    r = str(history(tmp_path / "r"))
    cfg = GitMiningConfig(jobs=jobs, parallel_min_commits=6)
    clean = list(mine(r, "main", {}, cfg, {}))
    want = {i.content_hash for i in clean if isinstance(i, Candidate)}
    monkeypatch.setenv("PATH", f"{killing_git(tmp_path, 6_000)}:/usr/bin:/bin")
    cut = list(mine(r, "main", {}, cfg, {}))
    monkeypatch.undo()
    marks = [i.mark for i in cut if isinstance(i, Checkpoint)]
    assert marks and "target" in marks[-1]  # it stopped inside the range: no "done up to the tip" mark
    got = {i.content_hash for i in cut if isinstance(i, Candidate)}
    assert got < want
    # Everything yielded before the last checkpoint is whole; the rest comes on the resume.
    upto = max(k for k, i in enumerate(cut) if isinstance(i, Checkpoint))
    kept = {i.content_hash for i in cut[:upto] if isinstance(i, Candidate)}
    rest = list(mine(r, "main", marks[-1], cfg, {}))
    assert kept | {i.content_hash for i in rest if isinstance(i, Candidate)} == want
    assert outputs(rest) and rest[-1].mark == {"ref": "main", "last": git(Path(r), "rev-parse", "HEAD")}
