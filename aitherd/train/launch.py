"""Running the trainer subprocess from the job: launch, relay progress, forward a stop, collect
the result. Light imports only: this runs in the daemon's job worker."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aitherd
from aitherd.children import child_env, own_group_dying_with_parent, signal_group
from aitherd.train.spec import EXIT_INTERRUPTED, RunFiles


@dataclass
class Outcome:
    returncode: int
    result: dict[str, Any] = field(default_factory=dict)
    stopped: bool = False  # a stop was forwarded to the trainer
    log_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.result.get("status") == "ok"

    @property
    def interrupted(self) -> bool:
        return self.returncode == EXIT_INTERRUPTED or (
            self.stopped and self.result.get("status") == "interrupted")

    def error(self) -> str:
        if self.result.get("error"):
            return str(self.result["error"])
        if self.returncode < 0:
            sig = signal.Signals(-self.returncode).name
            hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" \
                if self.returncode == -signal.SIGKILL else ""
            return f"trainer killed by {sig}{hint}; log tail:\n{self.log_tail}"
        return f"trainer exited with status {self.returncode}; log tail:\n{self.log_tail}"


def trainer_command(spec_path: Path, python: str = "", accelerate_args: list[str] | None = None
                    ) -> list[str]:
    exe = python or sys.executable
    if accelerate_args:
        return [exe, "-m", "accelerate.commands.launch", *accelerate_args,
                "-m", "aitherd.train", str(spec_path)]
    return [exe, "-m", "aitherd.train", str(spec_path)]


def run_trainer(
    files: RunFiles,
    command: list[str],
    *,
    on_event: Callable[[dict[str, Any]], None],
    should_stop: Callable[[], bool],
    poll_s: float = 0.2,
    stop_grace_s: float = 600.0,
) -> Outcome:
    """Run the trainer to its end, relaying each progress line to `on_event`. When
    `should_stop()` turns true, SIGTERM goes to the trainer (it saves a checkpoint and exits);
    past `stop_grace_s` it gets SIGKILL."""
    files.result.unlink(missing_ok=True)
    env = child_env()
    package_root = str(Path(aitherd.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    offset = files.progress.stat().st_size if files.progress.exists() else 0
    with open(files.log, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(command)}\n".encode())
        log.flush()
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, env=env,
                                preexec_fn=own_group_dying_with_parent)  # checkpoints, no orphan
    (files.root / "trainer.pid").write_text(str(proc.pid))
    stopped_at: float | None = None
    try:
        while True:
            returncode = proc.poll()
            offset = _relay(files.progress, offset, on_event)
            if returncode is not None:
                break
            if stopped_at is None and should_stop():  # the whole group: accelerate's ranks too
                signal_group(proc.pid, signal.SIGTERM)
                stopped_at = time.monotonic()
            elif stopped_at is not None and time.monotonic() - stopped_at > stop_grace_s:
                signal_group(proc.pid, signal.SIGKILL)
            time.sleep(poll_s)
    except BaseException:
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        (files.root / "trainer.pid").unlink(missing_ok=True)
    result: dict[str, Any] = {}
    if files.result.exists():
        try:
            result = json.loads(files.result.read_text())
        except ValueError:
            result = {}
    return Outcome(returncode, result, stopped_at is not None, _tail(files.log))


def _trainer_of(pid: int, spec: Path) -> bool:
    """Whether `pid` is a live trainer of this run (not a reused pid of something else)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    text = [a.decode(errors="replace") for a in args]
    return "aitherd.train" in text and str(spec) in text


def reap_stale_trainer(files: RunFiles, grace_s: float = 600.0, poll_s: float = 0.2) -> str | None:
    """A `trainer.pid` left behind means the worker that ran the trainer was killed. Its
    trainer got SIGTERM from the kernel (PDEATHSIG) and is saving a checkpoint: wait for it to
    exit (SIGKILL after `grace_s`) so two trainers never share the run directory, then remove
    the file. Returns what was done, or None when there was nothing to do."""
    pid_file = files.root / "trainer.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().strip())
    except ValueError:
        pid = 0
    note = f"removed a stale trainer.pid ({pid or 'unreadable'}: no such trainer running)"
    if pid > 0 and _trainer_of(pid, files.spec):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # in case the kernel's signal did not reach it
        deadline = time.monotonic() + grace_s
        while _trainer_of(pid, files.spec) and time.monotonic() < deadline:
            time.sleep(poll_s)
        if _trainer_of(pid, files.spec):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            note = f"killed orphaned trainer {pid} after {grace_s:g} s"
        else:
            note = f"waited for orphaned trainer {pid} to stop"
    pid_file.unlink(missing_ok=True)
    return note


def _relay(path: Path, offset: int, on_event: Callable[[dict[str, Any]], None]) -> int:
    """Pass on the complete JSON lines appended to `path` since `offset`; return the new offset."""
    if not path.exists():
        return offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    for line in data[:end].splitlines():
        try:
            on_event(json.loads(line))
        except ValueError:
            continue
    return offset + end


def _tail(path: Path, lines: int = 15) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
