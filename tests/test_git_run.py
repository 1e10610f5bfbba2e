"""Mining in worker processes gives what one process gives; a git killed mid-stream (SIGTERM to
the job's process group on cancel) never lets a half-read commit be checkpointed."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from items_util import outputs
from support import git
from test_sources_gitmine import commit, new_repo

from aitherd.candidate import Candidate
from aitherd.sources.git.config import GitMiningConfig
from aitherd.sources.git.gitio import GitError
from aitherd.sources.gitmine import mine
from aitherd.sources.items import BadInput, Checkpoint, Skip


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


def _drop_blob(repo: Path, rev: str) -> str:
    """Delete a blob from the repository's loose objects, as a partial or damaged clone lacks it."""
    blob = git(repo, "rev-parse", rev)
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    return blob


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_commit_whose_blobs_are_missing_is_mined_without_them_and_mining_goes_on(tmp_path: Path,
                                                                                   jobs: int) -> None:
    r = history(tmp_path / "r")
    commit(r, "Add a video and fix f1", {"demo.mp4": "not really a video\n",
                                         "m.py": (r / "m.py").read_text().replace("x + 1", "x + 1.0")})
    commit(r, "Replace the video", {"demo.mp4": "still not a video\n"})
    commit(r, "Add k", {"k.py": "def k():\n    return 3\n"})
    _drop_blob(r, "HEAD~2:demo.mp4")
    assert subprocess.run(["git", "-C", str(r), "log", "-p"], capture_output=True).returncode != 0
    cfg = GitMiningConfig(jobs=jobs, parallel_min_commits=6)
    out = list(mine(str(r), "main", {}, cfg, counts := {}))
    bad = [i for i in out if isinstance(i, BadInput)]
    # Both commits touching the lost blob say so, with where; the rest of each is still mined.
    assert len(bad) == 2 and all("demo.mp4" in b.why and b.where.startswith(f"{r}@") for b in bad)
    assert counts["skipped_files.unreadable"] == 2 and counts["commits"] == 42
    assert [c for c in out if isinstance(c, Candidate) and "Add a video and fix f1" in c.messages[0]["content"]]
    assert [c for c in out if isinstance(c, Candidate) and "Add k" in c.messages[0]["content"]]
    assert out[-1].mark == {"ref": "main", "last": git(r, "rev-parse", "HEAD")}
    assert [i for i in mine(str(r), "main", out[-1].mark, cfg, {})] == []  # nothing is read again


def test_a_missing_blob_of_a_file_that_is_skipped_anyway_is_no_bad_input(tmp_path: Path) -> None:
    """spdlog's mirror lacks the blobs of tests/.vs/ (Visual Studio's browse database): those
    files are skipped by path whatever they hold, so nothing is lost and nothing is reported;
    they are counted as the skip they are."""
    r = history(tmp_path / "r")
    commit(r, "Fix f1 and save the IDE's state", {".vs/tests/Browse.VC.db": "not really a database\n",
                                                  "m.py": (r / "m.py").read_text().replace("x + 1", "x + 1.0")})
    commit(r, "Add k", {"k.py": "def k():\n    return 3\n"})
    _drop_blob(r, "HEAD~1:.vs/tests/Browse.VC.db")
    out = list(mine(str(r), "main", {}, GitMiningConfig(jobs=1), counts := {}))
    assert not [i for i in out if isinstance(i, BadInput)]
    assert counts["skipped_files.vendored_or_generated"] == 1 and "skipped_files.unreadable" not in counts
    assert [c for c in out if isinstance(c, Candidate) and "Fix f1" in c.messages[0]["content"]]


def test_a_commit_git_cannot_read_at_all_is_skipped_with_where_and_why(tmp_path: Path) -> None:
    r = new_repo(tmp_path / "r")
    commit(r, "Add f", {"f.py": "def f():\n    return 1\n"})
    commit(r, "Change f", {"f.py": "def f():\n    return 2\n"})
    commit(r, "Add g", {"g.py": "def g():\n    return 1\n"})
    commit(r, "Add h", {"h.py": "def h():\n    return 1\n"})
    tree = git(r, "rev-parse", "HEAD~2^{tree}")  # a lost tree: no file list to leave out either
    (r / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    out = list(mine(str(r), "main", {}, GitMiningConfig(jobs=1), counts := {}))
    # The commit whose tree is lost, and its child (diffed against that tree), are skipped.
    bad = [i for i in out if isinstance(i, BadInput)]
    assert [b.where for b in bad] == [f"{r}@{git(r, 'rev-parse', rev)[:12]}" for rev in ("HEAD~2", "HEAD~1")]
    assert all("cannot read" in b.why and tree in b.why for b in bad)
    assert out.count(Skip("unreadable_commit")) == 2 and counts["commits"] == 4
    assert [c for c in out if isinstance(c, Candidate) and "Add h" in c.messages[0]["content"]]
    assert out[-1].mark["last"] == git(r, "rev-parse", "HEAD")


def test_a_repository_gone_mid_range_is_an_error_not_a_skip(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    r = history(tmp_path / "r")
    real = shutil.which("git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "git"
    # The patch stream fails, and so does every later question: the repository is gone.
    shim.write_text(f"""#!/bin/sh
for a in "$@"; do [ "$a" = "--stdin" ] && walk=1; [ "$a" = "-e" ] && probe=1; done
[ -n "$walk$probe" ] && {{ echo "fatal: not a git repository" >&2; exit 128; }}
exec {real} "$@"
""")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    got: list = []
    with pytest.raises(GitError, match="not a git repository"):
        for item in mine(str(r), "main", {}, GitMiningConfig(jobs=1), {}):
            got.append(item)
    assert not [i for i in got if isinstance(i, (Candidate, BadInput))]


def test_a_commit_the_miner_cannot_handle_is_reported_and_passed_but_many_stop_the_run(tmp_path: Path,
                                                                                       monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from aitherd.sources.git import run as run_mod

    r = history(tmp_path / "r")
    real = run_mod.Miner._items

    def items(self, commit, res, reason):  # type: ignore[no-untyped-def]
        if commit.subject.startswith(bad):
            raise ValueError(f"cannot cope with {commit.subject}")
        return real(self, commit, res, reason)

    monkeypatch.setattr(run_mod.Miner, "_items", items)
    bad = "Fix f7 "
    out = list(mine(str(r), "main", {}, GitMiningConfig(jobs=1), counts := {}))
    errors = [i for i in out if isinstance(i, BadInput)]
    assert len(errors) == 1 and "ValueError: cannot cope with Fix f7 scaling" in errors[0].why
    assert Skip("commit_error") in out and counts["commits"] == 39
    assert out[-1].mark == {"ref": "main", "last": git(r, "rev-parse", "HEAD")}
    bad = ""  # every commit: a bug, not a bad commit
    got: list = []
    with pytest.raises(ValueError):
        for item in mine(str(r), "main", {}, GitMiningConfig(jobs=1), {}):
            got.append(item)
    assert len([i for i in got if isinstance(i, BadInput)]) <= run_mod.MAX_COMMIT_ERRORS


def test_the_sweep_bench_reports_unreadable_files_and_no_stop(tmp_path: Path) -> None:
    r = history(tmp_path / "r")
    commit(r, "Add a video", {"demo.mp4": "not really a video\n"})
    _drop_blob(r, "HEAD:demo.mp4")
    script = Path(__file__).resolve().parents[1] / "bench" / "git_sweep.py"
    out = subprocess.run([sys.executable, str(script), str(r), "--commits", "100", "--jobs", "1"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "1 BadInput, 40 commits; unreadable files 1" in out.stdout and "demo.mp4" in out.stdout
    assert out.stdout.rstrip().endswith("1 repositories, 0 stopped by an exception")


@pytest.mark.parametrize("preset", [None, "glibc.malloc.arena_max=2"])
def test_the_miners_git_keeps_freed_heap_unless_the_environment_says_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, preset: str | None) -> None:
    """`git log -p` in a fresh process per chunk paid glibc's heap trimming in page faults
    (polars: 4.0 of 21 git CPU seconds): the miner's git runs with a 32 MiB trim threshold."""
    r = history(tmp_path / "r")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    seen = tmp_path / "seen"
    shim = bin_dir / "git"
    shim.write_text(f"""#!/bin/sh
for a in "$@"; do [ "$a" = "--stdin" ] && echo "$GLIBC_TUNABLES" >> {seen}; done
exec {shutil.which("git")} "$@"
""")
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    if preset is None:
        monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    else:
        monkeypatch.setenv("GLIBC_TUNABLES", preset)
    out = list(mine(str(r), "main", {}, GitMiningConfig(jobs=2, parallel_min_commits=6), {}))
    assert [i for i in out if isinstance(i, Candidate)]
    streams = seen.read_text().split()
    assert len(streams) >= 2  # a git per chunk, each with the setting
    assert set(streams) == {preset or "glibc.malloc.trim_threshold=33554432"}


def test_chunks_shrink_towards_the_end_and_keep_every_commit_in_order() -> None:
    from aitherd.sources.git.run import BATCH, chunked

    shas = [f"{i:040x}" for i in range(15_237)]
    sizes = [len(c) for c in chunked(shas, 2, 200)]
    assert [s for c in chunked(shas, 2, 200) for s in c] == shas
    assert sizes[0] == BATCH and sizes[-2] == 200 and sizes[-1] <= 200  # polars' last chunk was 1,000 commits
    assert sizes == sorted(sizes, reverse=True)
    assert [len(c) for c in chunked(shas[:10], 2, 3)] == [3, 3, 3, 1]


def mixed(path: Path) -> Path:
    """Widgets whose team says "mend" for a fix and "tidy" for a refactor: 60 prefixed commits
    that train the repo's model, and unprefixed ones among them that need it."""
    r = new_repo(path)
    commit(r, "feat: widgets", {f"w/w{i}.py": f"def w():\n    return {i}\n" for i in range(30)})
    for i in range(30):
        commit(r, f"fix: mend widget {i} overflow", {f"w/w{i}.py": f"def w():\n    return {i} + 1\n"})
        if i % 3 == 0:
            commit(r, f"mend widget {i} overflow again", {f"w/w{i}.py": f"def w():\n    return {i} + 2\n"})
        commit(r, f"refactor: tidy widget {i} layout", {f"w/w{i}.py": f"def w():\n    return {i} + 2 + 0\n"})
    return r


def slow_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seconds: float) -> Path:
    """The repo model made `seconds` late; the returned file gets a line each time a worker
    found it not there yet (a commit then waits for it)."""
    from aitherd.sources import gitmine
    from aitherd.sources.git.settings import PendingModel

    waits = tmp_path / "waits"
    real_model, real_read = gitmine._repo_model, PendingModel.read

    def late(*args):  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        return real_model(*args)

    def read(self, wait):  # type: ignore[no-untyped-def]
        came, model = real_read(self, wait)
        if not came:
            with waits.open("a") as f:
                f.write(f"{os.getpid()}\n")
        return came, model

    monkeypatch.setattr(gitmine, "_repo_model", late)
    monkeypatch.setattr(PendingModel, "read", read)
    return waits


def test_workers_mine_while_the_repo_model_is_made_and_commits_that_need_it_wait(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """polars' repo model took 1.5 s, one core idle, before a commit was mined: now it is made
    in a process of its own beside the workers, and a commit with no prefix waits for it."""
    r = str(mixed(tmp_path / "r"))
    cfg = GitMiningConfig(classifier_min_commits=50, review_days=0)
    one = list(mine(r, "main", {}, cfg.model_copy(update={"jobs": 1}), counts1 := {}))
    waits = slow_model(monkeypatch, tmp_path, 1.0)
    ours = f"aitherd-mine-{os.getpid()}-*"  # (named by pid: another miner on the machine makes its own)
    folders = set(Path(tempfile.gettempdir()).glob(ours))
    many = list(mine(r, "main", {}, cfg.model_copy(update={"jobs": 2, "parallel_min_commits": 6}), counts2 := {}))
    assert waits.exists()  # commits did wait for the model
    assert [type(i).__name__ for i in one] == [type(i).__name__ for i in many]
    assert [(i.content_hash, i.provenance) for i in one if isinstance(i, Candidate)] == \
        [(i.content_hash, i.provenance) for i in many if isinstance(i, Candidate)]
    assert [i.mark for i in one if isinstance(i, Checkpoint)] == [i.mark for i in many if isinstance(i, Checkpoint)]
    assert counts1 == counts2 and counts1["class_by.model"] == 10 and counts1["class_by.prefix"] == 61
    assert set(Path(tempfile.gettempdir()).glob(ours)) == folders  # its folder is gone


def test_a_git_killed_while_commits_wait_for_the_model_loses_none_of_them(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    r = str(mixed(tmp_path / "r"))
    cfg = GitMiningConfig(classifier_min_commits=50, review_days=0, jobs=2, parallel_min_commits=6)
    want = {i.content_hash for i in mine(r, "main", {}, cfg, {}) if isinstance(i, Candidate)}
    waits = slow_model(monkeypatch, tmp_path, 2.0)
    monkeypatch.setenv("PATH", f"{killing_git(tmp_path, 6_000)}:/usr/bin:/bin")
    cut = list(mine(r, "main", {}, cfg, {}))
    monkeypatch.delenv("PATH")
    monkeypatch.undo()
    assert waits.exists()
    marks = [i.mark for i in cut if isinstance(i, Checkpoint)]
    assert marks and "target" in marks[-1]
    upto = max(k for k, i in enumerate(cut) if isinstance(i, Checkpoint))
    kept = {i.content_hash for i in cut[:upto] if isinstance(i, Candidate)}
    assert kept < want
    rest = list(mine(r, "main", marks[-1], cfg, {}))
    assert kept | {i.content_hash for i in rest if isinstance(i, Candidate)} == want


@pytest.mark.parametrize("how", ["raises", "dies"])
def test_a_repo_model_that_cannot_be_made_stops_the_run_with_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 how: str) -> None:
    from aitherd.sources import gitmine
    from aitherd.sources.git.settings import ModelFailed

    r = str(mixed(tmp_path / "r"))

    def broken(*_args):  # type: ignore[no-untyped-def]
        if how == "dies":
            os._exit(3)  # killed, out of memory: nothing written
        raise RuntimeError("history unreadable")

    monkeypatch.setattr(gitmine, "_repo_model", broken)
    got: list = []
    with pytest.raises(ModelFailed, match="history unreadable" if how == "raises" else "exit code 3"):
        for item in mine(r, "main", {}, GitMiningConfig(classifier_min_commits=50, jobs=2, parallel_min_commits=6),
                         {}):
            got.append(item)
    # Nothing that needed the model was handed on without it.
    assert not [i for i in got if isinstance(i, Candidate) and i.provenance["by"] != "prefix"]


_SLOW_RANGE = """
import sys, time
sys.path.insert(0, sys.argv[2])
from aitherd.sources import gitmine
from aitherd.sources.git.config import GitMiningConfig
real = gitmine._repo_model
def late(*args):
    time.sleep(60)
    return real(*args)
gitmine._repo_model = late
cfg = GitMiningConfig(classifier_min_commits=50, review_days=0, jobs=2, parallel_min_commits=6)
for item in gitmine.mine(sys.argv[1], "main", {}, cfg, {}):
    pass
"""


def _start_worker(parent: int, out: str) -> None:
    from aitherd.sources.git.run import _init_worker

    _init_worker(parent)
    Path(out).write_text("started")


def test_a_worker_whose_parent_died_before_it_started_is_gone(tmp_path: Path) -> None:
    """A pool worker asks to die with the job's worker (PR_SET_PDEATHSIG) when it starts; a
    `kill -9` of the job's worker before that left it orphaned, waiting on its pool's queue for
    ever (one was found 28 minutes after this file's kill test). It now leaves at once when its
    parent is not the one that made it; with its parent alive, it goes on."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    gone, alive = tmp_path / "gone", tmp_path / "alive"
    orphan = ctx.Process(target=_start_worker, args=(os.getpid() + 1_000_000, str(gone)))  # not its parent
    orphan.start()
    orphan.join(30)
    child = ctx.Process(target=_start_worker, args=(os.getpid(), str(alive)))
    child.start()
    child.join(30)
    assert orphan.exitcode == 1 and not gone.exists()
    assert child.exitcode == 0 and alive.read_text() == "started"


def test_a_range_killed_mid_way_leaves_a_folder_the_next_range_removes(tmp_path: Path) -> None:
    """`kill -9` of the job's worker in the middle of a range (its workers and the model's
    process die with it) leaves the range's folder, which may hold a chunk's results: the next
    range removes it; a live process's folder is left alone."""
    from aitherd.sources.git.run import FOLDER_PREFIX, sweep_stale_folders

    r = str(mixed(tmp_path / "r"))
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-c", _SLOW_RANGE, r, str(Path(__file__).resolve().parents[1])], env=env)
    deadline = time.monotonic() + 60
    while not list(tmp.glob(f"{FOLDER_PREFIX}{proc.pid}-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    (left,) = tmp.glob(f"{FOLDER_PREFIX}{proc.pid}-*")
    proc.kill()
    proc.wait()
    mine_live = tmp / f"{FOLDER_PREFIX}{os.getpid()}-x"
    mine_live.mkdir()
    assert left.exists()
    assert sweep_stale_folders(str(tmp)) == [str(left)] and not left.exists() and mine_live.exists()
