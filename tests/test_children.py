"""Child processes: a stopped group leaves nothing behind; children lose systemd's variables and
die with their parent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aitherd import children

# A leader that starts a grandchild which ignores SIGTERM (like a stuck engine process), then waits.
STUBBORN = """
import os, signal, subprocess, sys, time
kid = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(600)"],
    stdout=subprocess.PIPE)
kid.stdout.readline()
open(sys.argv[1], "w").write(str(kid.pid))
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): read its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except OSError:
        return False


def test_stopping_a_group_kills_a_grandchild_that_ignores_sigterm(tmp_path: Path) -> None:
    pid_file = tmp_path / "kid.pid"

    async def scenario() -> tuple[int, int | None]:
        proc = await children.start(sys.executable, "-c", STUBBORN, str(pid_file))
        for _ in range(200):
            if pid_file.exists() and pid_file.read_text():
                break
            await asyncio.sleep(0.05)
        began = time.monotonic()
        code = await children.stop_group(proc, grace=1.0)
        assert time.monotonic() - began < 10
        return int(pid_file.read_text()), code

    kid, code = asyncio.run(scenario())
    assert code == -signal.SIGTERM  # the leader went on SIGTERM; the grandchild needed SIGKILL
    for _ in range(100):
        if not alive(kid):
            break
        time.sleep(0.05)
    assert not alive(kid)


def test_a_child_gets_no_systemd_channel_and_keeps_the_rest() -> None:
    env = children.child_env({"EXTRA": "1"}, base={"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "5",
                                                   "PATH": "/bin", "LISTEN_FDS": "1"})
    assert env == {"PATH": "/bin", "EXTRA": "1"}


def test_a_child_dies_with_its_parent_even_when_the_parent_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen([sys.executable, "-c", f"""
import subprocess, sys, time
from aitherd.children import own_group_dying_with_parent
kid = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], preexec_fn=own_group_dying_with_parent)
open({str(pid_file)!r}, "w").write(str(kid.pid))
time.sleep(600)
"""])
    for _ in range(200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    kid = int(pid_file.read_text())
    assert alive(kid)
    parent.kill()
    parent.wait()
    for _ in range(100):
        if not alive(kid):
            break
        time.sleep(0.05)
    assert not alive(kid)
