"""Watermarks move only at group boundaries: a run stopped after any batch, resumed until done,
stores exactly what one uninterrupted run stores (real store, real git repositories)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support import git
from test_sources_gitmine import commit

from aitherd.candidate import Candidate
from aitherd.config import Loaded, Paths, RepoEntry, parse_config
from aitherd.logs import get_logger
from aitherd.runs import JobContext
from aitherd.sources import codegraph, gitmine
from aitherd.sources.harvest import BadInput, Checkpoint, FnSource, Harvest, Item, Mark, Skip, get_mark
from aitherd.store import open_store


def context(tmp_path: Path, run_id: int = 1) -> JobContext:
    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = open_store(tmp_path / "s.db")
    loaded = Loaded(parse_config({}), None, Paths(tmp_path, tmp_path / "c.sock"), ())
    return JobContext(job="harvest_coder", run_id=run_id, trigger="manual", engine=engine,
                      log=get_logger("t"), loaded=loaded)


def stored(ctx: JobContext) -> set[str]:
    from sqlalchemy import text

    with ctx.engine.connect() as conn:
        return {r[0] for r in conn.execute(text("SELECT content_hash FROM example"))}


def categories(ctx: JobContext) -> dict[str, int]:
    from sqlalchemy import text

    with ctx.engine.connect() as conn:
        return dict(conn.execute(text("SELECT category, COUNT(*) FROM example GROUP BY category")).all())


def cand(text: str) -> Candidate:
    return Candidate("coder", "instruction", [{"role": "user", "content": f"Write {text}"},
                                              {"role": "assistant", "content": f"```python\n{text}\n```"}],
                     source="test")


def groups(mark: Mark) -> Iterator[Item]:
    """Five groups of three candidates; the mark is the number of groups done."""
    for g in range(int(mark.get("done", 0)), 5):
        for i in range(3):
            yield cand(f"g{g}_{i} = {g * 10 + i}")
        yield Checkpoint({"done": g + 1})


def harvest_with_stops(tmp_path: Path, make_source: Any, batch_size: int, stop_after: int) -> tuple[set[str], int]:
    """Run until a run ends without being stopped; each run stops after `stop_after` stores."""
    ctx = context(tmp_path)
    runs = 0
    while True:
        runs += 1
        assert runs < 200, "the harvest never finished"
        ctx._stop, ctx.counts = False, {}
        flushes = {"n": 0}

        def after_store(flushes: dict[str, int] = flushes) -> None:
            flushes["n"] += 1
            if flushes["n"] >= stop_after:
                ctx.request_stop()

        h = Harvest(ctx, lambda b: b, batch_size, after_store)
        h.run(make_source())
        if not h.stopped:
            return stored(ctx), runs


def test_a_stop_inside_a_group_loses_nothing_and_the_resume_finishes(tmp_path: Path) -> None:
    clean, _ = harvest_with_stops(tmp_path / "clean", lambda: FnSource("t", "k", groups), 100, 10**6)
    assert len(clean) == 15
    for batch_size in (1, 2, 4):
        got, runs = harvest_with_stops(tmp_path / f"b{batch_size}", lambda: FnSource("t", "k", groups),
                                       batch_size, 1)
        assert got == clean and runs > 1, batch_size


def test_skips_and_bad_input_are_counted_and_reading_goes_on(tmp_path: Path) -> None:
    def items(_mark: Mark) -> Iterator[Item]:
        yield BadInput("f.jsonl:3", "malformed line")
        yield Skip("not_code")
        yield cand("x = 1")
        yield Checkpoint({"line": 4})

    ctx = context(tmp_path)
    h = Harvest(ctx, lambda b: b, 10)
    h.run(FnSource("corpus", "f.jsonl", items))
    assert ctx.counts["errors.corpus"] == 1 and ctx.counts["skipped.not_code"] == 1
    assert ctx.counts["stored.corpus"] == 1 and h.errors == ["f.jsonl:3: malformed line"]
    assert get_mark(ctx.engine, "corpus", "f.jsonl") == {"line": 4}


def test_one_candidate_the_store_rejects_does_not_take_its_batch_down(tmp_path: Path) -> None:
    bad = cand("y = 2")
    bad.messages[1]["content"] = "```python\ny = '\ud83d'\n```"  # a lone surrogate: cannot be encoded

    def items(_mark: Mark) -> Iterator[Item]:
        yield cand("x = 1")
        yield bad
        yield cand("z = 3")
        yield Checkpoint({"line": 3})

    ctx = context(tmp_path)
    h = Harvest(ctx, lambda b: b, 10)
    h.run(FnSource("session", "s.jsonl", items))
    assert ctx.counts["stored.session"] == 2 and ctx.counts["errors.session"] == 1
    assert "cannot store" in h.errors[0]
    assert get_mark(ctx.engine, "session", "s.jsonl") == {"line": 3}


def empty_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    return path


def many_hunk_repo(path: Path) -> Path:
    """Three files of twelve functions; each later commit changes three functions far apart in
    every file, so every commit has several hunks and (one example per file, see git_source)
    several examples. Then a bugfix on a side branch, whose review pairs blame a rewrite step,
    a docs commit on main, and a merge at HEAD."""
    empty_repo(path)
    for step in range(4):
        body = {f"pkg/m{i}.py": "".join(
            f"def f{i}_{j}(x):\n    return x * {j + step} - {step}\n\n\n" if step and j in (0, 6, 11)
            else f"def f{i}_{j}(x):\n    return x + {j}\n\n\n" for j in range(12)) for i in range(3)}
        commit(path, f"refactor: step {step} of the rewrite" if step else "feat: add modules", body)
    git(path, "checkout", "-qb", "topic")
    fixed = {name: text.replace("return x * 3 - 3", "return x * 3 - 3 if x else 0") for name, text in body.items()}
    commit(path, "fix: zero stays zero in f_0", fixed)
    git(path, "checkout", "-q", "main")
    commit(path, "docs: explain the modules", {"README.md": "# Modules\n\nThree modules of small functions.\n"})
    git(path, "merge", "-q", "--no-ff", "--no-edit", "topic")
    return path


def git_source(repo: str) -> Any:
    # One example per file (several per commit), worker processes for ranges of 4 commits or more.
    cfg = gitmine.GitMiningConfig(context_lines=1, max_example_files=1, jobs=2, parallel_min_commits=4)
    return lambda: FnSource("git", f"{repo}@main", lambda m: gitmine.mine(repo, "main", m, cfg, {}))


def test_git_mining_resumed_after_every_batch_boundary_equals_a_clean_run(tmp_path: Path) -> None:
    repo = str(many_hunk_repo(tmp_path / "repo"))
    source = git_source(repo)
    clean, _ = harvest_with_stops(tmp_path / "clean", source, 1000, 10**6)
    assert len(clean) >= 12
    kinds = categories(context(tmp_path / "clean"))
    assert kinds["review"] == 3 and kinds["debugging"] == 3  # the fix: one per file, each with its review
    head = git(Path(repo), "rev-parse", "HEAD")
    assert get_mark(context(tmp_path / "clean").engine, "git", f"{repo}@main") == {"ref": "main", "last": head}
    for batch_size in (1, 2, 5):
        got, runs = harvest_with_stops(tmp_path / f"b{batch_size}", source, batch_size, 1)
        assert got == clean and runs > 2, batch_size


def test_code_patterns_stopped_after_a_batch_resume_and_finish(tmp_path: Path) -> None:
    repo = empty_repo(tmp_path / "repo")
    funcs = "".join(f'def helper_{i}(items, scale):\n    """Scale every item by {i}."""\n'
                    f"    out = []\n    for it in items:\n        out.append(it * scale * {i})\n"
                    f"    return out\n\n\n" for i in range(8))
    commit(repo, "feat: helpers", {"lib/helpers.py": funcs, "lib/more.py": funcs.replace("helper_", "more_")})
    cfg = codegraph.CodeGraphConfig()

    def source() -> FnSource:
        return FnSource("codegraph", str(repo), lambda m: codegraph.harvest_repo(str(repo), cfg, m))

    clean, _ = harvest_with_stops(tmp_path / "clean", source, 1000, 10**6)
    assert len(clean) == 32  # implement + explain for 16 functions
    got, runs = harvest_with_stops(tmp_path / "stopped", source, 3, 1)
    assert got == clean and runs > 3
    # Once complete, the mark says so and a new run reads nothing.
    ctx = context(tmp_path / "stopped")
    assert get_mark(ctx.engine, "codegraph", str(repo)) == {"head": git(repo, "rev-parse", "HEAD")}
    assert list(codegraph.harvest_repo(str(repo), cfg, get_mark(ctx.engine, "codegraph", str(repo)))) == []


def test_the_repo_entry_type_is_what_coder_sources_read(tmp_path: Path) -> None:
    # coder_sources builds one git source per ref and one code-pattern source per repo.
    from aitherd.sources.coder import coder_sources
    from aitherd.sources.coder_config import CoderSources

    ctx = context(tmp_path)
    ctx.loaded = Loaded(parse_config({}), None, Paths(tmp_path, tmp_path / "c.sock"),
                        (RepoEntry(path="/r", refs=["main", "dev"]),))
    names = [(s.name, s.key) for s in coder_sources(ctx, CoderSources())]
    assert names == [("git", "/r@main"), ("git", "/r@dev"), ("codegraph", "/r")]


class Killed(BaseException):
    """Stands for kill -9: nothing after it runs, not even the harvest's own error path."""


def test_git_mining_killed_at_every_batch_boundary_then_resumed_equals_a_clean_run(tmp_path: Path) -> None:
    source = git_source(str(many_hunk_repo(tmp_path / "repo")))
    clean, _ = harvest_with_stops(tmp_path / "clean", source, 1000, 10**6)
    batch_size, kill_at = 2, 1
    while True:
        ctx = context(tmp_path / f"kill{kill_at}")
        flushes = {"n": 0}

        def after_store(flushes: dict[str, int] = flushes, kill_at: int = kill_at) -> None:
            flushes["n"] += 1
            if flushes["n"] == kill_at:
                raise Killed

        try:
            Harvest(ctx, lambda b: b, batch_size, after_store).run(source())
            finished_without_kill = True
        except Killed:
            finished_without_kill = False
        Harvest(ctx, lambda b: b, batch_size).run(source())  # the resume after the restart
        assert stored(ctx) == clean, f"killed after batch {kill_at}"
        if finished_without_kill:
            break
        kill_at += 1
    assert kill_at > len(clean) // batch_size


def test_a_broken_channel_to_the_daemon_stops_the_harvest_instead_of_failing_one_source(tmp_path: Path) -> None:
    import os

    ctx = context(tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the daemon died: nobody reads progress any more
    ctx._channel = os.fdopen(write_end, "w", buffering=1)
    read: list[str] = []

    def source(name: str) -> FnSource:
        def items(_mark: Mark) -> Iterator[Item]:
            read.append(name)
            for g in range(3):
                yield cand(f"{name}_{g} = {g}")
                yield Checkpoint({"done": g + 1})
        return FnSource(name, "k", items)

    h = Harvest(ctx, lambda b: b, 1)
    for name in ("first", "second"):
        if not h.stopped:
            h.run(source(name))
    assert h.stopped and ctx.daemon_gone and ctx.should_stop()
    assert read == ["first"] and h.errors == []  # not counted as a failing source
    assert get_mark(ctx.engine, "first", "k") == {"done": 1}
