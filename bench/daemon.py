"""Daemon figures, side by side with the targets of the daemon and crash-safety issues.

    python bench/daemon.py [--starts 10] [--rate 200] [--seconds 10]
                           [--clients 500] [--hammer-seconds 10] [--db PATH]

- start to READY: wall time from exec to the READY=1 datagram on a real $NOTIFY_SOCKET
- idle RSS: VmRSS of the daemon process after it has settled (no heavy ML import)
- control API latency at a fixed request rate from this (second) process over the Unix socket;
  latencies are measured from each request's scheduled time, so a slow reply also delays and
  counts against the ones queued behind it (no coordinated omission)
- under a flood: a third process keeps --clients connections (at most 1000) each sending
  GET /v1/status back to back for --hammer-seconds (at most 60), while this process measures
  GET /v1/health as above at a health checker's pace (--probe-rate, 20/s); printed beside the
  idle health figure (the baseline)
- --db: start from a copy of a real aitherd.db (a real-sized store for /v1/status to read);
  default an empty, fresh store. Everything stays on the Unix socket; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.client import Client, ClientError


def aitherd_cmd() -> list[str]:
    script = Path(sys.executable).parent / "aitherd"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aitherd"]


class Instance:
    def __init__(self, root: Path, db: Path | None = None) -> None:
        self.root = root
        if db is not None:
            (root / "state").mkdir(parents=True)
            src = sqlite3.connect(db)
            src.backup(sqlite3.connect(root / "state" / "aitherd.db"))
            src.close()
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
    """Latencies from each request's scheduled time; a request that fails or takes longer than
    the client's 10 s timeout counts as its time to fail (the run goes on)."""
    client = Client(inst.sock)
    try:
        client.get(path)  # warm the connection
    except ClientError:
        client.close()
    n = int(rate * seconds)
    out: list[float] = []
    start = time.perf_counter()
    for i in range(n):
        scheduled = start + i / rate
        now = time.perf_counter()
        if now < scheduled:
            time.sleep(scheduled - now)
        try:
            client.get(path)
        except ClientError:
            FAILED[path] = FAILED.get(path, 0) + 1
            client.close()
        out.append(time.perf_counter() - scheduled)
    client.close()
    return out


FAILED: dict[str, int] = {}


async def _hammer(sock: str, clients: int, seconds: float) -> dict[str, int]:
    """`clients` keep-alive connections, each sending GET /v1/status back to back."""
    request = b"GET /v1/status HTTP/1.1\r\nHost: aitherd\r\n\r\n"
    codes: dict[str, int] = {}
    stop = time.monotonic() + seconds

    async def one() -> None:
        reader = writer = None
        while time.monotonic() < stop:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_unix_connection(sock)
                assert reader is not None
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                code = head.split(b" ", 2)[1].decode()
                length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:"))
                await reader.readexactly(length)
                codes[code] = codes.get(code, 0) + 1
                if b"connection: close" in head.lower():
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, StopIteration):
                codes["dropped"] = codes.get("dropped", 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(one() for _ in range(clients)))
    return codes


def hammer(inst: Instance, clients: int, seconds: float, rate: float) -> tuple[list[float], dict[str, int]]:
    """Health latencies measured here while a child process floods /v1/status."""
    child = subprocess.Popen([sys.executable, __file__, "--hammer-child", str(inst.sock), str(clients),
                              str(seconds)], stdout=subprocess.PIPE, text=True)
    time.sleep(min(2.0, seconds / 4))  # let every client connect and get going
    lat = latency(inst, "/v1/health", rate, max(1.0, seconds - 3.0))  # a health checker's pace
    out, _ = child.communicate(timeout=seconds + 60)
    return lat, json.loads(out)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def store_note(db: Path | None) -> str:
    if db is None:
        return "store: a fresh, empty state directory"
    with sqlite3.connect(db) as conn:
        examples = conn.execute("SELECT count(*) FROM example").fetchone()[0]
        runs = conn.execute("SELECT count(*) FROM run").fetchone()[0]
    return f"store: a copy of {db} ({examples} examples, {runs} runs)"


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--hammer-child":
        codes = asyncio.run(_hammer(sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
        print(json.dumps(codes))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--rate", type=float, default=200)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", type=int, default=500, help="connections hammering /v1/status (<= 1000)")
    ap.add_argument("--hammer-seconds", type=float, default=10, help="how long they hammer (<= 60)")
    ap.add_argument("--probe-rate", type=float, default=20, help="health probes per second under the hammer")
    ap.add_argument("--db", type=Path, help="start from a copy of this aitherd.db (a real-sized store)")
    args = ap.parse_args()
    clients, hammer_s = min(args.clients, 1000), min(args.hammer_seconds, 60.0)
    root = Path(tempfile.mkdtemp(prefix="aitherd-bench-"))
    inst = Instance(root, args.db)
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
        flood, codes = hammer(inst, clients, hammer_s, args.probe_rate) if clients > 0 else ([], {})
        rss_flood = inst.rss_mb()
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
    if flood:
        served = codes.get("200", 0)
        rows += [
            ("GET /v1/health p99, idle (baseline, above)", f"{pct(lat['/v1/health'], 0.99) * 1000:.2f} ms",
             "", True),
            (f"GET /v1/health p50 @ {args.probe_rate:g}/s while {clients} clients hammer /v1/status",
             f"{pct(flood, 0.5) * 1000:.2f} ms", "", True),
            (f"GET /v1/health p99 @ {args.probe_rate:g}/s while {clients} clients hammer /v1/status",
             f"{pct(flood, 0.99) * 1000:.2f} ms", "< 10 ms", pct(flood, 0.99) < 0.010),
            (f"GET /v1/health worst while {clients} clients hammer", f"{max(flood) * 1000:.2f} ms", "", True),
            ("GET /v1/health failed or timed out (10 s)", f"{FAILED.get('/v1/health', 0)}", "0",
             not FAILED.get("/v1/health")),
            ("/v1/status answered under the hammer", f"{served / hammer_s:.0f}/s", "", True),
            ("/v1/status not answered 200", f"{sum(codes.values()) - served}", "0", sum(codes.values()) == served),
            ("RSS after the hammer", f"{rss_flood:.1f} MB", "< 80 MB", rss_flood < 80),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':{width}}  {'measured':>10}  {'target':>8}")
    for name, value, target, ok in rows:
        print(f"{name:{width}}  {value:>10}  {target:>8}  {'' if not target else 'ok' if ok else 'MISSED'}")
    print(f"({len(lat['/v1/status'])} requests per endpoint; {len(flood)} health probes under the hammer, "
          f"status codes {codes}; machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{store_note(args.db)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
