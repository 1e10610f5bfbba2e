"""Launching the vLLM child: its command line and environment, a free port, the members of its
process group (read from /proc, zombies excluded) and the rotating file its output goes to."""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from pathlib import Path

from aitherd.children import child_env
from aitherd.lora import LoraSection
from aitherd.serve.config import ServeConfig


def vllm_args(cfg: ServeConfig, model: str, port: int, lora: LoraSection) -> list[str]:
    """The full command line: the configured command, then the flags aitherd manages
    (`--max-lora-rank` from [lora]: r rounded up to a rank vLLM accepts, or its max_rank)."""
    args = [*cfg.argv(), "--model", model, "--host", cfg.host, "--port", str(port),
            "--enable-lora", "--max-lora-rank", str(lora.server_rank),
            "--max-loras", str(cfg.max_loras), "--max-cpu-loras", str(cfg.max_cpu_loras)]
    if cfg.served_model_name:
        args += ["--served-model-name", cfg.served_model_name]
    if cfg.gpu.policy == "sleep":
        args.append("--enable-sleep-mode")
    return [*args, *cfg.extra_args]


def vllm_env(cfg: ServeConfig, base: dict[str, str] | None = None) -> dict[str, str]:
    env = child_env(base=base)  # without systemd's notify, watchdog and socket variables
    env["VLLM_ALLOW_RUNTIME_LORA_UPDATING"] = "True"
    if cfg.gpu.policy == "sleep":
        env["VLLM_SERVER_DEV_MODE"] = "1"  # vLLM reads it with int(): "1", not "True"
    env.update(cfg.env)
    return env


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def group_members(pgid: int) -> list[int]:
    """Live processes in a process group, read from /proc. Zombies do not count: `killpg(pgid,
    0)` does count them, and an init that is slow to reap orphans (a container's) would keep a
    stopped group looking alive."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2 and fields[0] != b"Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


class RotatingLog:
    """Appends the child's output; rotates at max_bytes keeping `backups` old files."""

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "ab")  # noqa: SIM115 - lives as long as the supervisor
        self.tail: deque[bytes] = deque(maxlen=40)

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._fh.flush()
        self.tail.extend(data.splitlines())
        if self._fh.tell() >= self.max_bytes:
            self._rotate()

    def note(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.write(f"---- aitherd {stamp}: {text}\n".encode())

    def _rotate(self) -> None:
        self._fh.close()
        for i in range(self.backups, 0, -1):
            src = self.path.with_name(f"{self.path.name}.{i - 1}" if i > 1 else self.path.name)
            if src.exists():
                os.replace(src, self.path.with_name(f"{self.path.name}.{i}"))
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        self._fh = open(self.path, "ab")  # noqa: SIM115

    def last_lines(self, n: int = 5) -> str:
        return " | ".join(line.decode("utf-8", "replace").strip() for line in list(self.tail)[-n:])

    def close(self) -> None:
        self._fh.close()


