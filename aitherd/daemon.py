"""The daemon: assembles store, scheduler, runner, watchers, control API and metrics, then waits.

Start order: config (nothing touched if invalid) -> state dir and single-instance lock -> store
(schema checked) -> recovery of interrupted runs -> control socket -> metrics -> scheduler and
watchers -> READY=1. SIGTERM stops in reverse, SIGHUP reloads the config.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import fcntl
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import uvicorn

from aitherd import __version__
from aitherd.config import ConfigError, Loaded, load
from aitherd.logs import configure_logging, get_logger, set_level
from aitherd.metrics import Metrics
from aitherd.runner import Runner
from aitherd.schedule import Schedule
from aitherd.sdnotify import Notifier, watchdog_interval
from aitherd.store import Meta, StoreError, open_store, session
from aitherd.watch import Watchers

log = get_logger("aitherd.daemon")

EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus keeps a bad config from looping
EXIT_FAILURE = 1
_SUN_PATH_MAX = 107


class StartupError(Exception):
    """The daemon cannot start; the message says why and what to do."""


@contextlib.contextmanager
def instance_lock(path: Path) -> Iterator[IO[str]]:
    """One daemon per state directory: an flock the kernel releases even on SIGKILL."""
    fh = open(path, "a+")  # noqa: SIM115 - held for the daemon's lifetime
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise StartupError(
                f"another aitherd (pid {holder}) is already running with state directory "
                f"{path.parent}; stop it first or give this one another state_dir") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        yield fh
    finally:
        fh.close()


def bind_control_socket(path: Path) -> socket.socket:
    """Bind the control socket with mode 0660, replacing a stale one left by a crash."""
    if len(os.fsencode(path)) > _SUN_PATH_MAX:
        raise StartupError(f"socket path {path} is longer than {_SUN_PATH_MAX} bytes; "
                           "set [daemon] socket to a shorter path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as err:
        raise StartupError(f"cannot create the socket directory {path.parent}: {err.strerror}") from None
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise StartupError(f"{path} exists and is not a socket; remove it or set [daemon] socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            log.warning("stale_socket_replaced", path=str(path))
            path.unlink()
        else:
            raise StartupError(f"another process is answering on {path}; is another aitherd "
                               "running with a different state directory?")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)
    try:
        sock.bind(str(path))
    except OSError as err:
        sock.close()
        raise StartupError(f"cannot bind the control socket {path}: {err.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Daemon:
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
        self._stop = asyncio.Event()
        self._server: _Server | None = None
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
            raise StartupError(f"cannot create the state directory {paths.state_dir}: "
                               f"{err.strerror}") from None
        with instance_lock(paths.lock):
            return await self._run_locked()

    async def _run_locked(self) -> int:
        loop = asyncio.get_running_loop()
        paths = self.loaded.paths
        try:
            self.engine = open_store(paths.db)
        except StoreError as err:
            raise StartupError(str(err)) from None
        self.metrics.watch_state(self.engine, paths.state_dir, paths.db, lambda: self.loaded, lambda: self.schedule)
        self.runner = Runner(self.engine, lambda: self.loaded, self.metrics, self._status_changed)
        resume = self.runner.recover()
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
            self.runner.is_paused = self._is_paused
            self.schedule.on_missed = self._record_missed
            due = self.schedule.start(self._scheduled, paused=self._stored_paused())
            self.metrics.scheduler_paused.set(1 if self.schedule.paused else 0)
            self.watchers = Watchers(loop, self._watched, self.metrics)
            self.watchers.apply(self.loaded.repos, cfg.logs, cfg.watch.debounce, cfg.watch.enabled)

            from aitherd.api import build_app

            config = uvicorn.Config(build_app(self), log_config=None, access_log=False,
                                    lifespan="off", timeout_graceful_shutdown=5)
            self._server = _Server(config)
            serve_task = asyncio.create_task(self._server.serve(sockets=[sock]))
            while not self._server.started:
                if serve_task.done():
                    serve_task.result()
                    raise StartupError("the control API stopped during start")
                await asyncio.sleep(0.005)
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
                     state_dir=str(paths.state_dir), metrics=self.metrics_address,
                     config=str(self.loaded.source) if self.loaded.source else None,
                     repos=[r.path for r in self.loaded.repos], catch_up=due, resumed=resume,
                     startup_s=round(time.monotonic() - self.started_monotonic, 3))
            watchdog = asyncio.create_task(self._watchdog())
            await self._stop.wait()
            await self._shutdown(serve_task, watchdog)
        finally:
            if self.serving is not None:
                await self.serving.stop()  # serve: the whole vLLM process group is gone after this
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            sock.close()
            self.metrics.close()
            self.engine.dispose()
        log.info("stopped")
        return 0

    def request_stop(self) -> None:
        if not self._stop.is_set():
            log.info("stop_requested")
            self._stop.set()

    async def _shutdown(self, serve_task: asyncio.Task[None], watchdog: asyncio.Task[None]) -> None:
        timeout = self.loaded.config.daemon.shutdown_timeout
        running = sorted(self.runner.active) if self.runner else []
        self.notifier.stopping("Stopping" + (f"; checkpointing {', '.join(running)}" if running else ""))
        if self.watchers:
            self.watchers.stop()
        if self.schedule:
            self.schedule.shutdown()
        if self.runner:
            await self.runner.shutdown(timeout)
        watchdog.cancel()
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

    def _is_paused(self, job: str) -> bool:
        assert self.schedule is not None
        return self.schedule.paused or self.schedule.job_paused(job)

    # -- pause state ------------------------------------------------------------------------------
    def _stored_paused(self) -> bool:
        with session(self.engine) as s:
            row = s.get(Meta, "scheduler_paused")
            return row is not None and row.value == "1"

    def set_paused(self, paused: bool) -> None:
        assert self.schedule is not None
        if paused:
            self.schedule.scheduler.pause()
        else:
            self.schedule.scheduler.resume()
        with session(self.engine) as s:
            s.merge(Meta(key="scheduler_paused", value="1" if paused else "0"))
            s.commit()
        self.metrics.scheduler_paused.set(1 if paused else 0)
        log.info("scheduler_paused" if paused else "scheduler_resumed")
        self._status_changed()

    # -- reload -----------------------------------------------------------------------------------
    async def reload(self) -> dict[str, Any]:
        """Re-read the config file; on any error keep the running config and say why."""
        assert self.schedule is not None and self.watchers is not None
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
            ("metrics", old.config.metrics, new.config.metrics),
            ("scheduler.misfire_grace", old.config.scheduler.misfire_grace,
             new.config.scheduler.misfire_grace),
            ("scheduler.timezone", old.config.scheduler.timezone, new.config.scheduler.timezone),
        ) if a != b]
        self.loaded = Loaded(config=new.config.model_copy(update={
            "metrics": old.config.metrics, "scheduler": old.config.scheduler}),
            source=new.source, paths=old.paths, repos=new.repos)
        set_level(new.config.log.level)
        changes = self.schedule.sync(self.loaded.config)
        self.watchers.apply(new.repos, new.config.logs, new.config.watch.debounce,
                            new.config.watch.enabled)
        if self.serving is not None:
            changes += await self.serving.reload(self.loaded)  # serve: restarts vLLM only if its settings changed
        self.reloads += 1
        self.last_reload_error = None
        log.info("reloaded", changes=changes, restart_needed=restart)
        self._status_changed()
        return {"ok": True, "changes": changes, "restart_needed": restart}

    # -- reporting --------------------------------------------------------------------------------
    def _status_line(self) -> str:
        running = sorted(self.runner.active) if self.runner else []
        state = "paused" if self.schedule and self.schedule.paused else "running"
        return f"scheduler {state}; " + (f"running {', '.join(running)}" if running else "idle")

    def _status_changed(self) -> None:
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
        print(f"state_dir: {loaded.paths.state_dir}\nsocket: {loaded.paths.socket}")
        print("repos: " + (", ".join(r.path for r in loaded.repos) or "(none)"))
        return 0
    configure_logging(loaded.config.log.level, loaded.config.log.format, stream=sys.stdout)
    try:
        return asyncio.run(Daemon(loaded).run())
    except StartupError as err:
        log.error("startup_failed", error=str(err))
        print(f"aitherd: {err}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as err:
        if err.errno == errno.EACCES:
            print(f"aitherd: permission denied: {err.filename}", file=sys.stderr)
            return EXIT_FAILURE
        raise


if __name__ == "__main__":
    sys.exit(main())
