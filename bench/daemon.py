"""Daemon figures, side by side with the targets of the daemon and crash-safety issues.

    python bench/daemon.py [--starts 10] [--rate 200] [--seconds 10] [--clients 500]
                           [--flood-procs 2] [--hammer-seconds 15] [--probe-rate 50] [--rounds 1]
                           [--flood-only] [--db PATH]

- start to READY: wall time from exec to the READY=1 datagram on a real $NOTIFY_SOCKET
- idle RSS: VmRSS of the daemon process after it has settled (no heavy ML import)
- control API latency at a fixed request rate from this (second) process over the Unix socket;
  latencies are measured from each request's scheduled time, so a slow reply also delays and
  counts against the ones queued behind it (no coordinated omission)
- under a flood: --flood-procs other processes keep --clients keep-alive connections between them
  (at most 1000), each sending GET /v1/status back to back for --hammer-seconds (at most 60),
  while this process probes GET /v1/health with aitherd's own client at --probe-rate, as above.
  Run twice per round on a fresh daemon: the old path (AITHERD_API_FAST_PATH=0: every request
  through h11 and the ASGI app) and the fast path, printed side by side with the daemon's
  CPU-seconds (utime + stime from /proc) over the flood and per status answer
- --db: start from a copy of a real aitherd.db (a real-sized store for /v1/status to read);
  default an empty, fresh store. Everything stays on the Unix socket; nothing leaves the machine.
- --flood-only: skip the start, RSS and idle figures (quicker for comparing the two paths)
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
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.client import Client, ClientError


def aitherd_cmd() -> list[str]:
    script = Path(sys.executable).parent / "aitherd"
    return [str(script)] if script.exists() else [sys.executable, "-m", "aitherd"]


def schedstat(path: str) -> tuple[int, int, int]:
    run, wait, slices = (int(x) for x in Path(path).read_text().split())
    return run, wait, slices


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

    def start(self, env: dict[str, str] | None = None) -> float:
        self.notify.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        listener.bind(str(self.notify))
        listener.settimeout(30)
        env = {**os.environ, "NOTIFY_SOCKET": str(self.notify), **(env or {})}
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

    def cpu_s(self) -> float:
        """CPU-seconds the daemon has used so far, all threads, user + system."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def schedstat(self) -> tuple[int, int, int]:
        """The daemon's event-loop thread: (ns on a CPU, ns waiting for one while runnable, slices)."""
        assert self.proc is not None
        return schedstat(f"/proc/{self.proc.pid}/schedstat")

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


@dataclass
class Flood:
    health: list[float]  # health probe latencies, seconds
    codes: dict[str, int]  # status answers by HTTP status, over all flood processes
    seconds: float
    cpu_s: float  # the daemon's CPU-seconds over the flood
    failed: int  # health probes that failed or timed out
    idle: list[float]  # health probe latencies in the 3 s before the flood
    loop_wait: tuple[float, int]  # the daemon's loop thread: seconds runnable but off-CPU, slices
    probe_wait: tuple[float, int]  # the same for this process's probing thread
    rss_mb: float = 0.0  # the daemon's RSS after the flood


def hammer(inst: Instance, clients: int, procs: int, seconds: float, rate: float) -> Flood:
    """Health latencies measured here while `procs` other processes flood /v1/status."""
    idle = latency(inst, "/v1/health", rate, 3.0)  # the same probe just before: this moment's floor
    share = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    cpu0 = inst.cpu_s()
    loop0, probe0 = inst.schedstat(), schedstat(f"/proc/self/task/{threading.get_native_id()}/schedstat")
    children = [subprocess.Popen([sys.executable, __file__, "--hammer-child", str(inst.sock), str(n),
                                  str(seconds)], stdout=subprocess.PIPE, text=True) for n in share if n]
    time.sleep(min(2.0, seconds / 4))  # let every client connect and get going
    failed_before = FAILED.get("/v1/health", 0)
    lat = latency(inst, "/v1/health", rate, max(1.0, seconds - 3.0))  # a health checker's pace
    codes: dict[str, int] = {}
    for child in children:
        out, _ = child.communicate(timeout=seconds + 60)
        for code, n in json.loads(out).items():
            codes[code] = codes.get(code, 0) + n
    cpu = inst.cpu_s() - cpu0
    loop1, probe1 = inst.schedstat(), schedstat(f"/proc/self/task/{threading.get_native_id()}/schedstat")
    waits = (((loop1[1] - loop0[1]) / 1e9, max(loop1[2] - loop0[2], 1)),
             ((probe1[1] - probe0[1]) / 1e9, max(probe1[2] - probe0[2], 1)))
    return Flood(lat, codes, seconds, cpu, FAILED.get("/v1/health", 0) - failed_before, idle,
                 *waits)


PATHS = {"old path": {"AITHERD_API_FAST_PATH": "0"}, "fast path": {}}


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


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def flood_rows(floods: dict[str, list[Flood]], clients: int, rate: float) -> list[tuple[str, list[str], str]]:
    """(figure, one value per path, target) rows, each path's rounds pooled."""
    pooled = {}
    for name, runs in floods.items():
        health = [x for f in runs for x in f.health]
        idle = [x for f in runs for x in f.idle]
        codes: dict[str, int] = {}
        for f in runs:
            for code, n in f.codes.items():
                codes[code] = codes.get(code, 0) + n
        served = codes.get("200", 0)
        cpu, secs = sum(f.cpu_s for f in runs), sum(f.seconds for f in runs)
        pooled[name] = [
            ms(pct(idle, 0.5)), ms(pct(idle, 0.99)),
            ms(pct(health, 0.5)), ms(pct(health, 0.99)), ms(max(health)), str(sum(f.failed for f in runs)),
            f"{served / secs:,.0f}/s", str(sum(codes.values()) - served),
            f"{cpu / secs:.2f} s/s", f"{cpu / max(served, 1) * 1e6:.0f} us",
            f"{max(f.rss_mb for f in runs):.1f} MB",
            f"{sum(f.loop_wait[0] for f in runs) / secs * 1000:.0f} ms/s",
            f"{sum(f.loop_wait[0] for f in runs) / sum(f.loop_wait[1] for f in runs) * 1e6:.0f} us",
            f"{sum(f.probe_wait[0] for f in runs) / sum(f.probe_wait[1] for f in runs) * 1e6:.0f} us",
        ]
    names = [
        (f"GET /v1/health p50 @ {rate:g}/s, no flood (the 3 s before it)", ""),
        (f"GET /v1/health p99 @ {rate:g}/s, no flood (the 3 s before it)", ""),
        (f"GET /v1/health p50 @ {rate:g}/s while {clients} clients hammer /v1/status", ""),
        (f"GET /v1/health p99 @ {rate:g}/s while {clients} clients hammer /v1/status", "< 10 ms"),
        ("GET /v1/health worst", ""),
        ("GET /v1/health failed or timed out (10 s)", "0"),
        ("/v1/status answered under the hammer", ""),
        ("/v1/status not answered 200", "0"),
        ("daemon CPU-seconds per second of flood", ""),
        ("daemon CPU per /v1/status answered", ""),
        ("RSS after the hammer", "< 80 MB"),
        ("daemon loop thread runnable but waiting for a CPU", ""),
        ("  the same, per time it was scheduled", ""),
        ("health prober waiting for a CPU, per time scheduled", ""),
    ]
    return [(n, [pooled[p][i] for p in floods], t) for i, (n, t) in enumerate(names)]


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
    ap.add_argument("--flood-procs", type=int, default=2, help="processes the flood's clients are spread over")
    ap.add_argument("--hammer-seconds", type=float, default=15, help="how long they hammer (<= 60)")
    ap.add_argument("--probe-rate", type=float, default=50, help="health probes per second under the hammer")
    ap.add_argument("--rounds", type=int, default=1, help="old path then fast path, this many times")
    ap.add_argument("--flood-only", action="store_true", help="only the flood figures")
    ap.add_argument("--db", type=Path, help="start from a copy of this aitherd.db (a real-sized store)")
    args = ap.parse_args()
    clients, hammer_s = min(args.clients, 1000), min(args.hammer_seconds, 60.0)
    procs = max(1, min(args.flood_procs, clients or 1))
    root = Path(tempfile.mkdtemp(prefix="aitherd-bench-"))
    inst = Instance(root, args.db)
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, str, str, bool]] = []
    lat: dict[str, list[float]] = {}
    floods: dict[str, list[Flood]] = {name: [] for name in PATHS}
    try:
        if not args.flood_only:
            starts = []
            for _ in range(args.starts):
                starts.append(inst.start())
                inst.stop()
            inst.start()
            time.sleep(3)
            rss = inst.rss_mb()
            lat = {p: latency(inst, p, args.rate, args.seconds) for p in ("/v1/status", "/v1/health")}
            rss_after = inst.rss_mb()
            inst.stop()
            rows += [
                (f"start to READY, median of {args.starts}", f"{statistics.median(starts):.3f} s", "< 1.5 s",
                 statistics.median(starts) < 1.5),
                ("start to READY, worst", f"{max(starts):.3f} s", "< 1.5 s", max(starts) < 1.5),
                ("idle RSS", f"{rss:.1f} MB", "< 80 MB", rss < 80),
                ("RSS after the latency runs", f"{rss_after:.1f} MB", "< 80 MB", rss_after < 80),
            ]
            for path, values in lat.items():
                rows.append((f"GET {path} p50 @ {args.rate:g}/s x {args.seconds:g}s", ms(pct(values, 0.5)), "", True))
                rows.append((f"GET {path} p99 @ {args.rate:g}/s x {args.seconds:g}s", ms(pct(values, 0.99)),
                             "< 10 ms", pct(values, 0.99) < 0.010))
        for _ in range(args.rounds if clients > 0 else 0):
            for name, env in PATHS.items():
                inst.start(env)
                time.sleep(2)
                flood = hammer(inst, clients, procs, hammer_s, args.probe_rate)
                flood.rss_mb = inst.rss_mb()
                inst.stop()
                floods[name].append(flood)
    finally:
        inst.stop()
        shutil.rmtree(root, ignore_errors=True)

    if rows:
        width = max(len(r[0]) for r in rows)
        print(f"{'figure':{width}}  {'measured':>10}  {'target':>8}")
        for name, value, target, ok in rows:
            print(f"{name:{width}}  {value:>10}  {target:>8}  {'' if not target else 'ok' if ok else 'MISSED'}")
        print(f"({len(lat['/v1/status'])} requests per endpoint)\n")
    if any(floods.values()):
        table = flood_rows(floods, clients, args.probe_rate)
        width = max(len(r[0]) for r in table)
        print(f"{'under the flood':{width}}  " + "  ".join(f"{n:>10}" for n in floods) + f"  {'target':>8}")
        for name, values, target in table:
            print(f"{name:{width}}  " + "  ".join(f"{v:>10}" for v in values) + f"  {target:>8}")
        probes = {n: sum(len(f.health) for f in fs) for n, fs in floods.items()}
        print(f"({clients} keep-alive clients in {procs} processes for {hammer_s:g} s, {args.rounds} round(s); "
              f"health probes {probes}; old path = AITHERD_API_FAST_PATH=0, every request through h11 "
              "and the ASGI app)")
    print(f"(machine: {os.cpu_count()} cores, load average {load_before:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end; {store_note(args.db)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
