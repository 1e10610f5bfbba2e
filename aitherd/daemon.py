"""The daemon: assembles store, scheduler, runner, watchers, control API and metrics, then waits.

Start order: config (nothing touched if invalid) -> state dir and single-instance lock -> store
(schema checked) -> recovery of interrupted runs -> control socket -> metrics -> scheduler and
watchers -> READY=1. SIGTERM stops in reverse, SIGHUP reloads the config.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy.exc import DBAPIError

from aitherd import __version__
from aitherd.api import Api, JobTiming, Limits, SchedulerState, build_app
from aitherd.config import ConfigError, Loaded, config_changes, load
from aitherd.control_socket import CHECK_INTERVAL, SocketKeeper, bind_control_socket
from aitherd.jobs import JOBS
from aitherd.logs import configure_logging, get_logger, set_level
from aitherd.metrics import Metrics
from aitherd.runner import Active, Runner, StartOutcome
from aitherd.schedule import Schedule
from aitherd.sdnotify import Notifier, watchdog_interval
from aitherd.startup import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    StartupError,
    disk_note,
    environment_error,
    instance_lock,
    raise_fd_limit,
    restrict_umask,
    tighten,
)
from aitherd.store import StoreError, open_store, store_error
from aitherd.store import queries as q
from aitherd.watch import Watchers

log = get_logger("aitherd.daemon")

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "Daemon", "StartupError", "bind_control_socket", "main"]

# Descriptors beyond the API's connections: the store, watchers, workers' pipes, metrics.
_FD_HEADROOM = 256


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Daemon:
    """The running daemon; the control API sees it through `aitherd.api.Control`."""

    def __init__(self, loaded: Loaded) -> None:
        self.loaded = loaded
        self.started_monotonic = time.monotonic()
        self.started_at = time.time()
        self.metrics = Metrics()
        self.notifier = Notifier()
        self.engine: Any = None
        self.runner: Runner | None = None
        self.schedule: Schedule | None = None
        self.watchers: Watchers | None = None
        self.metrics_address: str | None = None
        self.socket_path = loaded.paths.socket
        self.generation = 0  # moves on every run start/finish and schedule change
        self._stop = asyncio.Event()
        self._server: _Server | None = None
        self._api: Api | None = None
        self._keeper: SocketKeeper | None = None
        self.reloads = 0
        self.last_reload_error: str | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self.serving: Any = None  # serve: the vLLM supervisor, adapters, alias proxy

    def spawn(self, aw: Any) -> None:
        """Run a coroutine in the background, keeping a reference until it is done."""
        fut = asyncio.ensure_future(aw)
        self._background.add(fut)
        fut.add_done_callback(self._background.discard)

    # -- lifecycle ------------------------------------------------------------------------------
    async def run(self) -> int:
        paths = self.loaded.paths
        try:
            paths.state_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
        except OSError as err:
            raise environment_error(err, f"create the state directory {paths.state_dir}") from None
        with instance_lock(paths.lock):
            return await self._run_locked()

    def _open_store(self) -> list[str]:
        """Open the store and recover interrupted runs; the jobs to resume."""
        paths = self.loaded.paths
        tightened, refused = tighten([paths.state_dir, paths.lock, paths.db, paths.db.with_name(paths.db.name + "-wal"),
                                      paths.db.with_name(paths.db.name + "-shm"), paths.state_dir / "exports"])
        if tightened:
            log.warning("state_permissions_tightened", paths=tightened)
        if refused:
            log.warning("state_permissions_left_open", paths=refused,
                        hint="not ours to change; make them 0640/0750 by hand if others must not read them")
        try:
            self.engine = open_store(paths.db)
            self.metrics.watch_state(self.engine, paths.state_dir, paths.db, lambda: self.loaded,
                                     lambda: self.schedule)
            self.runner = Runner(self.engine, lambda: self.loaded, self.metrics, self._status_changed)
            resume = self.runner.recover()
        except (StoreError, DBAPIError) as err:
            failure = err if isinstance(err, StoreError) else store_error(paths.db, err)
            if not failure.environmental:
                raise StartupError(str(failure)) from None
            raise StartupError(str(failure) + disk_note(paths.state_dir), EXIT_CONFIG) from None
        return resume

    async def _run_locked(self) -> int:
        loop = asyncio.get_running_loop()
        resume = self._open_store()
        sock = bind_control_socket(self.socket_path)
        try:
            cfg = self.loaded.config
            if cfg.metrics.enabled:
                try:
                    host, port = self.metrics.serve(cfg.metrics.address, cfg.metrics.port)
                except OSError as err:
                    raise StartupError(
                        f"cannot serve metrics on {cfg.metrics.address}:{cfg.metrics.port}: "
                        f"{err.strerror}; set [metrics] port, or enabled = false") from None
                self.metrics_address = f"http://{host}:{port}/metrics"
            self.schedule = Schedule(self.engine, cfg)
            assert self.runner is not None
            self.runner.is_paused = self._is_paused
            self.schedule.on_missed = self._record_missed
            due = self.schedule.start(self._scheduled, paused=self._stored_paused())
            self.metrics.scheduler_paused.set(1 if self.schedule.paused else 0)
            self.watchers = Watchers(loop, self._watched, self.metrics)
            self.watchers.apply(self.loaded.repos, cfg.logs, cfg.watch.debounce, cfg.watch.enabled)
            serve_task = await self._serve_api(sock)
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.request_stop)
            loop.add_signal_handler(signal.SIGHUP, lambda: self.spawn(self.reload()))
            from aitherd.serve.service import Serving  # serve

            self.serving = Serving(self.loaded, self.engine, self.metrics)  # serve
            await self.serving.start()  # serve: vLLM starts in the background; READY does not wait
            for job in resume:
                if job not in due and not self._is_paused(job):
                    await self.runner.start(job, "resume")
            # Everything made so far lives as long as the daemon: keep it out of the collector's
            # scans, which otherwise grow with every module loaded and show up as latency spikes.
            gc.collect()
            gc.freeze()
            self.notifier.ready(self._status_line())
            log.info("ready", version=__version__, pid=os.getpid(), socket=str(self.socket_path),
                     state_dir=str(self.loaded.paths.state_dir), metrics=self.metrics_address,
                     config=str(self.loaded.source) if self.loaded.source else None,
                     repos=[r.path for r in self.loaded.repos], catch_up=due, resumed=resume,
                     startup_s=round(time.monotonic() - self.started_monotonic, 3))
            for note in self.loaded.notes:  # deprecated keys: migrated, said once
                log.warning("config_deprecated", note=note)
            background = [asyncio.create_task(self._watchdog()), asyncio.create_task(self._keep_socket())]
            await self._stop.wait()
            await self._shutdown(serve_task, background)
        finally:
            if self.serving is not None:
                await self.serving.stop()  # serve: the whole vLLM process group is gone after this
            if self._keeper is not None:
                self._keeper.remove()
            else:
                with contextlib.suppress(FileNotFoundError):
                    self.socket_path.unlink()
            sock.close()
            if self._api is not None:
                self._api.close()
            self.metrics.close()
            self.engine.dispose()
        log.info("stopped")
        return 0

    async def _serve_api(self, sock: socket.socket) -> asyncio.Task[None]:
        d = self.loaded.config.daemon
        limits = Limits(max_connections=d.max_connections, request_timeout=d.request_timeout,
                        concurrent_requests=d.concurrent_requests)
        before, after = raise_fd_limit(limits.max_connections + _FD_HEADROOM)
        if after < limits.max_connections + _FD_HEADROOM:
            log.warning("fd_limit_low", soft_limit=after, max_connections=limits.max_connections,
                        hint="raise LimitNOFILE= (systemd) or ulimit -n, or lower [daemon] max_connections")
        elif after != before:
            log.debug("fd_limit_raised", before=before, after=after)
        # AITHERD_API_FAST_PATH=0: every request through the ASGI stack (bench/daemon.py's baseline).
        self._api = build_app(self, limits, fast_path=os.environ.get("AITHERD_API_FAST_PATH", "1") != "0")
        config = uvicorn.Config(self._api.app, http=self._api.http, log_config=None, access_log=False,
                                lifespan="off", timeout_graceful_shutdown=5)
        server = self._server = _Server(config)
        serve_task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serve_task.done():
                serve_task.result()
                raise StartupError("the control API stopped during start")
            await asyncio.sleep(0.005)

        async def serve_more(new: socket.socket) -> None:
            protocol: Any = config.http_protocol_class
            factory = functools.partial(protocol, config=config,
                                        server_state=server.server_state, app_state=server.lifespan.state)
            extra = await asyncio.get_running_loop().create_server(factory, sock=new, backlog=config.backlog)
            server.servers.append(extra)  # closed with the others at shutdown

        def recreated() -> None:
            self.metrics.errors.labels(component="control_socket", reason="recreated").inc()

        self._keeper = SocketKeeper(self.socket_path, serve_more, recreated)
        return serve_task

    async def _keep_socket(self) -> None:
        assert self._keeper is not None
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            await self._keeper.check()

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("stop_requested")
            self._stop.set()

    async def _shutdown(self, serve_task: asyncio.Task[None], background: list[asyncio.Task[None]]) -> None:
        timeout = self.loaded.config.daemon.shutdown_timeout
        running = sorted(self.runner.active) if self.runner else []
        self.notifier.stopping("Stopping" + (f"; checkpointing {', '.join(running)}" if running else ""))
        if self.watchers:
            self.watchers.stop()
        if self.schedule:
            self.schedule.shutdown()
        if self.runner:
            await self.runner.shutdown(timeout)
        for task in background:
            task.cancel()
        if self._server is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(serve_task, timeout=10)

    async def _watchdog(self) -> None:
        interval = watchdog_interval() if self.loaded.config.daemon.watchdog else None
        if interval is None:
            return
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    # -- triggers ---------------------------------------------------------------------------------
    async def _scheduled(self, job: str, trigger: str) -> None:
        assert self.runner is not None
        await self.runner.start(job, trigger)

    async def _watched(self, job: str, reason: str) -> None:
        assert self.runner is not None
        if self._is_paused(job):
            log.info("watch_ignored_paused", job=job, reason=reason)
            return
        await self.runner.start(job, "watch")

    def _record_missed(self, job: str, due: Any) -> None:
        assert self.runner is not None
        grace = self.loaded.config.scheduler.misfire_grace
        self.spawn(asyncio.to_thread(
            self.runner.record_skip, job, "schedule",
            f"missed: was due at {due:%Y-%m-%d %H:%M %Z}, later than the misfire grace "
            f"({grace:g}s) allows"))
        self.generation += 1

    def _is_paused(self, job: str) -> bool:
        assert self.schedule is not None
        return self.schedule.paused or self.schedule.job_paused(job)

    # -- the control API's view (aitherd.api.Control) --------------------------------------------
    def running(self) -> Mapping[str, Active]:
        return self.runner.active if self.runner is not None else {}

    def job_timings(self) -> dict[str, JobTiming]:
        assert self.schedule is not None
        stored = self.schedule.stored()
        out = {}
        for name, spec in JOBS.items():
            cfg = self.loaded.config.jobs.get(name)
            schedule, next_run = stored.get(name, (None, None)) if spec.scheduled else (None, None)
            out[name] = JobTiming(schedule=schedule, enabled=bool(cfg.enabled) if cfg else False,
                                  paused=name in stored and next_run is None, next_run=next_run)
        return out

    def scheduler_state(self) -> SchedulerState:
        assert self.schedule is not None
        return SchedulerState(running=self.schedule.running, paused=self.schedule.paused,
                              timezone=str(self.schedule.tz))

    def watcher_states(self) -> list[dict[str, Any]]:
        return [w.describe() for w in self.watchers.states] if self.watchers else []

    async def start_job(self, name: str, args: dict[str, Any]) -> StartOutcome:
        assert self.runner is not None
        return await self.runner.start(name, "manual", args=args)

    def cancel_job(self, name: str) -> int | None:
        assert self.runner is not None
        return self.runner.cancel(name)

    def pause_job(self, name: str, pause: bool) -> bool:
        assert self.schedule is not None
        done = self.schedule.pause_job(name, pause)
        self.generation += 1
        return done

    # -- pause state ------------------------------------------------------------------------------
    def _stored_paused(self) -> bool:
        return q.get_meta(self.engine, "scheduler_paused") == "1"

    async def set_paused(self, paused: bool) -> None:
        assert self.schedule is not None
        if paused:
            self.schedule.scheduler.pause()
        else:
            self.schedule.scheduler.resume()
        await asyncio.to_thread(q.set_meta, self.engine, "scheduler_paused", "1" if paused else "0")
        self.metrics.scheduler_paused.set(1 if paused else 0)
        log.info("scheduler_paused" if paused else "scheduler_resumed")
        self._status_changed()

    # -- reload -----------------------------------------------------------------------------------
    async def reload(self) -> dict[str, Any]:
        """Re-read the config file; on any error keep the running config and say why."""
        assert self.schedule is not None and self.watchers is not None
        if self._keeper is not None:
            await self._keeper.check()
        try:
            new = await asyncio.to_thread(load, self.loaded.source)
        except ConfigError as err:
            self.last_reload_error = str(err)
            self.metrics.errors.labels(component="config", reason="reload_invalid").inc()
            log.error("reload_failed", error=str(err))
            return {"ok": False, "error": str(err)}
        old = self.loaded
        restart = [name for name, a, b in (
            ("daemon.state_dir", old.paths.state_dir, new.paths.state_dir),
            ("daemon.socket", old.paths.socket, new.paths.socket),
            ("daemon.max_connections", old.config.daemon.max_connections, new.config.daemon.max_connections),
            ("daemon.request_timeout", old.config.daemon.request_timeout, new.config.daemon.request_timeout),
            ("daemon.concurrent_requests", old.config.daemon.concurrent_requests,
             new.config.daemon.concurrent_requests),
            ("metrics", old.config.metrics, new.config.metrics),
            ("scheduler.misfire_grace", old.config.scheduler.misfire_grace,
             new.config.scheduler.misfire_grace),
            ("scheduler.timezone", old.config.scheduler.timezone, new.config.scheduler.timezone),
        ) if a != b]
        self.loaded = Loaded(config=new.config.model_copy(update={
            "metrics": old.config.metrics, "scheduler": old.config.scheduler}),
            source=new.source, paths=old.paths, repos=new.repos, notes=new.notes)
        set_level(new.config.log.level)
        changes = self.schedule.sync(self.loaded.config) + config_changes(old.config, new.config)
        self.watchers.apply(new.repos, new.config.logs, new.config.watch.debounce,
                            new.config.watch.enabled)
        if self.serving is not None:
            changes += await self.serving.reload(self.loaded)  # serve: restarts vLLM only if its settings changed
        self.reloads += 1
        self.last_reload_error = None
        log.info("reloaded", changes=changes, restart_needed=restart)
        for note in new.notes:
            log.warning("config_deprecated", note=note)
        self._status_changed()
        return {"ok": True, "changes": changes, "restart_needed": restart}

    # -- reporting --------------------------------------------------------------------------------
    def _status_line(self) -> str:
        running = sorted(self.runner.active) if self.runner else []
        state = "paused" if self.schedule and self.schedule.paused else "running"
        return f"scheduler {state}; " + (f"running {', '.join(running)}" if running else "idle")

    def _status_changed(self) -> None:
        self.generation += 1
        self.notifier.status(self._status_line())

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_monotonic


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="aitherd", description=__doc__.splitlines()[0])
    parser.add_argument("-c", "--config", type=Path, help="TOML config file "
                        "(default: $AITHERD_CONFIG, ~/.config/aitherd/aitherd.toml, "
                        "/etc/aitherd/aitherd.toml, else built-in defaults)")
    parser.add_argument("--check-config", action="store_true",
                        help="validate the configuration, print where things go, and exit")
    parser.add_argument("--version", action="version", version=f"aitherd {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        loaded = load(args.config)
    except ConfigError as err:
        print(f"aitherd: {err}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check_config:
        print(f"config: {loaded.source or '(built-in defaults)'}: ok")
        for note in loaded.notes:
            print(f"deprecated: {note}")
        print(f"state_dir: {loaded.paths.state_dir}\nsocket: {loaded.paths.socket}")
        print("repos: " + (", ".join(r.path for r in loaded.repos) or "(none)"))
        return 0
    restrict_umask()
    configure_logging(loaded.config.log.level, loaded.config.log.format, stream=sys.stdout)
    try:
        return asyncio.run(Daemon(loaded).run())
    except StartupError as err:
        return _refuse(str(err), err.exit_code)
    except OSError as err:  # anything the start did not foresee: still one line, not a traceback
        failure = environment_error(err, "start")
        return _refuse(str(failure), failure.exit_code)


def _refuse(message: str, code: int) -> int:
    log.error("startup_failed", error=message, exit_code=code)
    print(f"aitherd: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
