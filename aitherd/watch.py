"""File-system watchers: new commits on watched refs and new or grown session logs start the
matching harvest early, debounced so a burst of writes starts one run."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from aitherd.config import LogDirEntry, RepoEntry
from aitherd.logs import get_logger
from aitherd.metrics import Metrics
from aitherd.sources.gitmine import resolve

log = get_logger("aitherd.watch")

_CHANGE_EVENTS = ("created", "modified", "moved", "deleted")
Trigger = Callable[[str, str], Awaitable[Any]]


def _git(repo: str, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True,
                             timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def resolve_refs(repo: str, refs: list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for ref in refs:
        try:
            out[ref] = resolve(repo, ref)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            out[ref] = None
    return out


@dataclass
class WatchState:
    path: str
    kind: str  # repo | log
    job: str
    ok: bool = True
    error: str | None = None
    refs: dict[str, str | None] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "kind": self.kind, "job": self.job,
               "state": "watching" if self.ok else "error"}
        if self.error:
            out["error"] = self.error
        if self.refs:
            out["refs"] = self.refs
        return out


class _Handler(FileSystemEventHandler):
    def __init__(self, relevant: Callable[[str], bool], poke: Callable[[], None]) -> None:
        self._relevant = relevant
        self._poke = poke

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGE_EVENTS or event.is_directory:
            return
        paths = [os.fsdecode(event.src_path)]
        if getattr(event, "dest_path", ""):
            paths.append(os.fsdecode(event.dest_path))
        if any(self._relevant(p) for p in paths):
            self._poke()


def _is_ref_file(path: str) -> bool:
    name = os.path.basename(path)
    if name.endswith(".lock"):
        return False
    return name in ("HEAD", "packed-refs") or f"{os.sep}refs{os.sep}" in path


class Watchers:
    def __init__(self, loop: asyncio.AbstractEventLoop, trigger: Trigger, metrics: Metrics) -> None:
        self._loop = loop
        self._trigger = trigger
        self._metrics = metrics
        self._observer: Any = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.states: list[WatchState] = []
        self.debounce = 30.0

    def apply(self, repos: tuple[RepoEntry, ...], logs: list[LogDirEntry], debounce: float,
              enabled: bool = True) -> None:
        """(Re)build every watch from the config; bad paths are reported, not fatal."""
        self.stop()
        self.debounce = debounce
        self.states = []
        if not enabled:
            return
        self._observer = Observer()
        for repo in repos:
            self._watch_repo(repo)
        for entry in logs:
            self._watch_logs(entry)
        self._observer.start()

    def _fail(self, state: WatchState, reason: str, message: str) -> None:
        state.ok, state.error = False, message
        self._metrics.errors.labels(component="watch", reason=reason).inc()
        log.warning("watch_failed", path=state.path, error=message)

    def _watch_repo(self, repo: RepoEntry) -> None:
        state = WatchState(path=repo.path, kind="repo", job="harvest_coder")
        self.states.append(state)
        dirs = _git(repo.path, "rev-parse", "--absolute-git-dir", "--git-common-dir")
        if dirs is None:
            self._fail(state, "not_a_repo", "not a readable git repository")
            return
        git_dir, common = dirs.splitlines()[:2]
        common_dir = Path(common) if os.path.isabs(common) else Path(repo.path, common).resolve()
        state.refs = resolve_refs(repo.path, repo.refs)
        key = f"repo:{repo.path}"

        def poke() -> None:
            self._metrics.watch_events.labels(kind="repo").inc()
            self._loop.call_soon_threadsafe(self._poke, key, state)

        handler = _Handler(_is_ref_file, poke)
        watched = {str(common_dir): False, str(common_dir / "refs"): True, git_dir: False}
        try:
            for path, recursive in watched.items():
                if os.path.isdir(path):
                    self._observer.schedule(handler, path, recursive=recursive)
        except OSError as err:
            self._fail(state, "watch_error", f"cannot watch {repo.path}: {err}")

    def _watch_logs(self, entry: LogDirEntry) -> None:
        path = str(Path(entry.path).expanduser())
        state = WatchState(path=path, kind="log", job=entry.job)
        self.states.append(state)
        if not os.path.isdir(path):
            self._fail(state, "missing_dir", "directory does not exist")
            return
        key = f"log:{path}"

        def relevant(p: str) -> bool:
            return fnmatch.fnmatch(os.path.basename(p), entry.pattern)

        def poke() -> None:
            self._metrics.watch_events.labels(kind="log").inc()
            self._loop.call_soon_threadsafe(self._poke, key, state)

        try:
            self._observer.schedule(_Handler(relevant, poke), path, recursive=True)
        except OSError as err:
            self._fail(state, "watch_error", f"cannot watch: {err}")

    def _poke(self, key: str, state: WatchState) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = self._loop.call_later(self.debounce, self._start_fire, key, state)

    def _start_fire(self, key: str, state: WatchState) -> None:
        task = self._loop.create_task(self._fire(key, state))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, key: str, state: WatchState) -> None:
        self._timers.pop(key, None)
        if state.kind == "repo":
            refs = await asyncio.to_thread(resolve_refs, state.path, list(state.refs))
            moved = [ref for ref, sha in refs.items() if sha != state.refs.get(ref)]
            state.refs = refs
            if not moved:
                return
            reason = f"new commits on {', '.join(moved)} in {state.path}"
        else:
            reason = f"new or grown logs in {state.path}"
        self._metrics.watch_triggers.labels(job=state.job).inc()
        log.info("watch_trigger", job=state.job, reason=reason)
        await self._trigger(state.job, reason)

    def stop(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
