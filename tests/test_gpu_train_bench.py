"""bench/gpu_train.py, the GPU training benchmark, stays loadable where no GPU is: its --help runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_train_bench_imports_and_lists_its_modes_and_checks():
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu_train.py"), "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for option in ("--device", "--tiny", "--modes", "--check-adapter", "--check-resume", "--oom", "--out"):
        assert option in out.stdout
