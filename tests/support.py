"""Test harness: the real daemon as a subprocess, with a real sd_notify socket and control socket."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aitherd.client import Client

TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def command(name: str) -> list[str]:
    """The installed console script if there is one, else the module."""
    script = BIN / name
    if script.exists():
        return [str(script)]
    module = {"aitherd": "aitherd", "aitherctl": "aitherd.ctl"}[name]
    return [sys.executable, "-m", module]


def to_toml(data: dict[str, Any]) -> str:
    """Just enough TOML for test configs: tables, arrays of tables, scalars, lists of scalars."""
    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return json.dumps(str(v))

    lines: list[str] = []

    def table(prefix: str, body: dict[str, Any]) -> None:
        simple = {k: v for k, v in body.items()
                  if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in simple.items())
        for k, v in body.items():
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                table(name, v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{name}]]")
                    lines.extend(f"{ik} = {scalar(iv)}" for ik, iv in item.items())

    table("", data)
    return "\n".join(lines) + "\n"


class Daemon:
    """One aitherd process under test. Each test gets its own state dir, socket and port 0."""

    def __init__(self, tmp: Path, config: dict[str, Any] | None = None, *, fake_jobs: bool = True,
                 env: dict[str, str] | None = None, cwd: Path | None = None, umask: int = -1) -> None:
        self.tmp = tmp
        tmp.mkdir(parents=True, exist_ok=True)
        self.state = tmp / "state"
        # AF_UNIX paths are limited to 107 bytes: keep the socket short.
        self.socket = Path(f"/tmp/aitherd-test-{os.getpid()}-{id(self) % 10**6}.sock")
        self.config_path = tmp / "aitherd.toml"
        self.plan_file = tmp / "plan.json"
        self.log_path = tmp / "daemon.log"
        self.notify_path = tmp / "notify.sock"
        self.cwd = cwd or tmp
        self.extra_env = env or {}
        self.fake_jobs = fake_jobs
        self.umask = umask
        self.preexec: Any = None  # a callable run in the daemon's process before exec
        self.notifications: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._notify_sock: socket.socket | None = None
        self.write_config(config or {})

    def write_config(self, config: dict[str, Any]) -> None:
        base: dict[str, Any] = {
            "daemon": {"state_dir": str(self.state), "socket": str(self.socket),
                       "shutdown_timeout": "10s"},
            "metrics": {"port": 0},
            "watch": {"cwd_repo": False},
        }
        for section, values in config.items():
            if isinstance(values, dict) and isinstance(base.get(section), dict):
                base[section] = {**base[section], **values}
            else:
                base[section] = values
        self.config_path.write_text(to_toml(base))

    def plan(self, plan: dict[str, Any]) -> None:
        self.plan_file.write_text(json.dumps(plan))

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "AITHERD_CONFIG")}
        env["NOTIFY_SOCKET"] = str(self.notify_path)
        env["FAKE_JOB_PLAN"] = str(self.plan_file)
        if self.fake_jobs:
            env["AITHERD_JOB_MODULE"] = "fakejobs"
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS), env.get("PYTHONPATH")]))
        env.update(self.extra_env)
        return env

    def _listen(self) -> None:
        if self._notify_sock is not None:
            return
        self.notify_path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self.notify_path))
        self._notify_sock = sock

        def reader() -> None:
            while True:
                try:
                    data = sock.recv(4096)
                except OSError:
                    return
                self.notifications.append(data.decode())

        threading.Thread(target=reader, daemon=True).start()

    def start(self, *, wait: bool = True, timeout: float = 20) -> Daemon:
        self._listen()
        self.notifications.clear()
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*command("aitherd"), "--config", str(self.config_path)], cwd=self.cwd,
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, umask=self.umask,
            preexec_fn=self.preexec)
        log.close()
        if wait:
            self.wait_for(lambda: any("READY=1" in n for n in self.notifications), timeout,
                          "READY=1")
        return self

    def wait_for(self, cond: Any, timeout: float = 20, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = cond()
            if value:
                return value
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode} waiting for "
                                     f"{what}:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> Client:
        return Client(self.socket)

    def api(self, method: str, path: str) -> dict[str, Any]:
        c = self.client()
        try:
            return c.request(method, path)
        finally:
            c.close()

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command("aitherctl"), "--socket", str(self.socket), *args],
                              capture_output=True, text=True, timeout=timeout, env=self.env())

    def wait_run(self, run_id: int, timeout: float = 30) -> dict[str, Any]:
        return self.wait_for(
            lambda: (r := self.api("GET", f"/v1/runs/{run_id}"))["status"] != "running" and r,
            timeout, f"run {run_id} to finish")

    def runs(self, **query: Any) -> list[dict[str, Any]]:
        qs = "&".join(f"{k}={v}" for k, v in {"limit": 200, **query}.items())
        return self.api("GET", f"/v1/runs?{qs}")["runs"]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self._notify_sock is not None:
            self._notify_sock.close()
        self.socket.unlink(missing_ok=True)


def http(socket_path: Path, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 10) -> tuple[int, dict[str, Any]]:
    """One raw request over the Unix socket: (status, JSON body), whatever the status."""
    from aitherd.client import _UnixConnection

    conn = _UnixConnection(str(socket_path), timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else {})
    finally:
        conn.close()


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "dev@example.com")
    git(path, "config", "user.name", "Dev")
    (path / "app.py").write_text("def add(a, b):\n    return a + b\n")
    git(path, "add", "-A")
    git(path, "commit", "-qm", "feat: add")
    return path


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
