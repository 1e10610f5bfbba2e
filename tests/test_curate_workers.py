"""Curation's worker processes under a stop request: a SIGTERM to the job's process group (how
the runner asks a job to stop) lets the harvest finish the batch in hand, and the process exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_CHILD = textwrap.dedent("""
    import signal, sys
    sys.path.insert(0, sys.argv[1])
    from test_curate_support import CLEAN_CODE, coder, config
    from aitherd.curate import Curator
    from aitherd.curate.parallel import Workers

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # as aitherd.worker does
    Workers.min_batch = 2
    cur = Curator(config(workers=2, decontam={"enabled": False}, dedup={"enabled": False}), None)
    done = 0
    while True:
        batch = [coder(f"{u} ({done} {i})", a) for i in range(8) for u, a in CLEAN_CODE]
        out = list(cur.process(batch))
        assert len(out) == len(batch) and all(c.status == "accepted" for c in out)
        done += 1
        print("batch", done, flush=True)
        if stop:
            break
    print("stopped after", done, flush=True)
""")


def test_a_stop_request_to_the_group_finishes_the_batch_and_the_process_exits(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(ROOT / "tests")], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("batch 1")  # the workers are running
        os.killpg(proc.pid, signal.SIGTERM)  # the job's whole group: harvest and workers
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert "stopped after" in out
    time.sleep(0.2)
    leftover = subprocess.run(["pgrep", "-g", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert leftover == []  # no worker outlives the harvest
