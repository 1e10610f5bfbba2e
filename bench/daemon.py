"""Daemon figures, side by side with the targets of the daemon issue.

    python bench/daemon.py [--starts 10] [--rate 200] [--seconds 10]

- start to READY: wall time from exec to the READY=1 datagram on a real $NOTIFY_SOCKET
- idle RSS: VmRSS of the daemon process after it has settled (no heavy ML import)
- control API latency at a fixed request rate from this (second) process over the Unix socket;
  latencies are measured from each request's scheduled time, so a slow reply also delays and
  counts against the ones queued behind it (no coordinated omission)
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.client import Client


def aitherd_cmd() -> list[str]:
    script = Path(sys.executable).parent / "aitherd"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aitherd"]


class Instance:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.sock = Path(tempfile.mkdtemp(prefix="aitherd-bench-")) / "c.sock"
        self.notify = root / "notify.sock"
        cfg = root / "aitherd.toml"
        cfg.write_text(f'[daemon]\nstate_dir = "{root / "state"}"\nsocket = "{self.sock}"\n'
                       '[metrics]\nport = 0\n[watch]\ncwd_repo = false\n')
        self.cfg = cfg
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        self.notify.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(str(self.notify))
        listener.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify)}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([*aitherd_cmd(), "--config", str(self.cfg)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while b"READY=1" not in listener.recv(4096):
            pass
        elapsed = time.perf_counter() - t0
        listener.close()
        return elapsed

    def rss_mb(self) -> float:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def latency(inst: Instance, path: str, rate: float, seconds: float) -> list[float]:
    client = Client(inst.sock)
    client.get(path)  # warm the connection
    n = int(rate * seconds)
    out: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        scheduled = start + i / rate
        now = time.perf_counter()
        if now < scheduled:
            time.sleep(scheduled - now)
        client.get(path)
        out.append(time.perf_counter() - scheduled)
    client.close()
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aitherd-bench-"))
    inst = Instance(root)
    try:
        starts = []
        for _ in range(args.starts):
            starts.append(inst.start())
            inst.stop()
        inst.start()
        time.sleep(3)
        rss = inst.rss_mb()
        lat = {p: latency(inst, p, args.rate, args.seconds) for p in ("/v1/status", "/v1/health")}
        rss_after = inst.rss_mb()
    finally:
        inst.stop()
        shutil.rmtree(root, ignore_errors=True)

    rows = [
        (f"start to READY, median of {args.starts}", f"{statistics.median(starts):.3f} s", "< 1.5 s",
         statistics.median(starts) < 1.5),
        ("start to READY, worst", f"{max(starts):.3f} s", "< 1.5 s", max(starts) < 1.5),
        ("idle RSS", f"{rss:.1f} MB", "< 80 MB", rss < 80),
        ("RSS after the latency runs", f"{rss_after:.1f} MB", "< 80 MB", rss_after < 80),
    ]
    for path, values in lat.items():
        rows.append((f"GET {path} p50 @ {args.rate:g}/s x {args.seconds:g}s",
                     f"{pct(values, 0.5) * 1000:.2f} ms", "", True))
        rows.append((f"GET {path} p99 @ {args.rate:g}/s x {args.seconds:g}s",
                     f"{pct(values, 0.99) * 1000:.2f} ms", "< 10 ms", pct(values, 0.99) < 0.010))
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':{width}}  {'measured':>10}  {'target':>8}")
    for name, value, target, ok in rows:
        print(f"{name:{width}}  {value:>10}  {target:>8}  {'' if not target else 'ok' if ok else 'MISSED'}")
    print(f"({len(lat['/v1/status'])} requests per endpoint; machine: {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
