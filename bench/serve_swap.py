"""Serving figures against the vLLM stand-in, side by side with the serving issue's targets.

    python bench/serve_swap.py [--swaps 10] [--rate 100] [--token-delay 0.01]

Runs a real daemon with [serve] on, supervising tests/standin_vllm.py exactly as it would run
vLLM (no GPU here: there is no GPU figure, and none is faked). It measures:
- deploy with verify: wall time of each `POST /v1/adapters/coder/deploy` (load, probe the base
  and the adapter with greedy decoding, flip the alias) over --swaps swaps
- failed requests during those swaps while a second process sends --rate requests/s (open loop,
  half of them streaming) to `model: coder` through the alias proxy on loopback; a request fails
  on any status but 200, a broken stream, or a stream without `data: [DONE]`
- `aitherctl rollback coder` wall time, the CLI's own start included
- daemon RSS with serving on, idle after start and after the load, beside the same daemon
  with serving off
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aitherd.client import Client, ClientError  # noqa: E402
from aitherd.serve.upstream import Upstream  # noqa: E402
from aitherd.store import open_store, session  # noqa: E402
from aitherd.store.models import Adapter  # noqa: E402

STANDIN = ROOT / "tests" / "standin_vllm.py"
BIN = Path(sys.executable).parent


def cmd(name: str) -> list[str]:
    script = BIN / name
    return [str(script)] if script.exists() else [sys.executable, "-m", {"aitherd": "aitherd.daemon",
                                                                        "aitherctl": "aitherd.ctl"}[name]]


class Daemon:
    def __init__(self, root: Path, serve: bool, token_delay: float, standin: Path = STANDIN) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.sock = Path(tempfile.mkdtemp(prefix="aitherd-sbench-")) / "c.sock"
        lines = [f'[daemon]\nstate_dir = "{root / "state"}"\nsocket = "{self.sock}"',
                 "[metrics]\nport = 0", "[watch]\ncwd_repo = false"]
        if serve:
            lines.append(
                f'[serve]\nenabled = true\ncommand = "{sys.executable} {standin}"\nmodel = "/models/base"\n'
                f'port = 0\nstartup_poll = "100ms"\nhealth_interval = "5s"\n'
                f'extra_args = ["--standin-token-delay", "{token_delay}"]\n'
                '[serve.proxy]\nport = 0')
        self.cfg = root / "aitherd.toml"
        self.cfg.write_text("\n".join(lines) + "\n")
        self.proc = subprocess.Popen([*cmd("aitherd"), "--config", str(self.cfg)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not self.sock.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the daemon did not start")
            time.sleep(0.05)
        self.client = Client(self.sock, timeout=120)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def wait_up(self) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        st: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                st = self.client.get("/v1/serve")
            except ClientError:  # the control API answers before serving is assembled
                time.sleep(0.1)
                continue
            if st["state"] == "up" and st["ready"]:
                return st
            time.sleep(0.1)
        raise RuntimeError(f"vLLM stand-in not up: {st}")

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(timeout=60)
        shutil.rmtree(self.sock.parent, ignore_errors=True)


def add_adapters(state: Path, n: int) -> None:
    engine = open_store(state / "aitherd.db")
    with session(engine) as s:
        for i in range(1, n + 1):
            path = state / "adapters" / "coder" / f"v{i:04d}"
            path.mkdir(parents=True, exist_ok=True)
            (path / "adapter_config.json").write_text(json.dumps(
                {"peft_type": "LORA", "r": 32, "target_modules": ["q_proj", "v_proj"]}))
            s.add(Adapter(specialist="coder", version=f"v{i:04d}", path=str(path)))
        s.commit()
    engine.dispose()


async def one(up: Upstream, i: int) -> tuple[bool, float, str]:
    stream_it = i % 2 == 0
    body = json.dumps({"model": "coder", "max_tokens": 8, "stream": stream_it,
                       "messages": [{"role": "user", "content": f"request {i}"}]}).encode()
    t0 = time.perf_counter()
    try:
        resp = await up.stream("POST", "/v1/chat/completions", body,
                               headers=[("Content-Type", "application/json")], timeout=30)
        data = await resp.read()
    except Exception as err:  # any failure counts
        return False, time.perf_counter() - t0, f"{type(err).__name__}: {err}"
    took = time.perf_counter() - t0
    if resp.status != 200:
        return False, took, f"HTTP {resp.status}: {data[:120]!r}"
    if stream_it and not data.rstrip().endswith(b"data: [DONE]"):
        return False, took, "stream without [DONE]"
    return True, took, ""


async def load_during_swaps(proxy_port: int, rate: float, sock: Path, swaps: int) -> dict[str, Any]:
    up = Upstream("127.0.0.1", proxy_port, pool_size=256)
    results: list[tuple[bool, float, str]] = []
    tasks: list[asyncio.Task[None]] = []
    done_swaps = asyncio.Event()
    deploys: list[float] = []

    async def fire(i: int) -> None:
        results.append(await one(up, i))

    async def swapper() -> None:
        client = Client(sock, timeout=120)
        await asyncio.sleep(0.5)
        for k in range(swaps):
            version = f"v{k + 2:04d}"
            t0 = time.perf_counter()
            out = await asyncio.to_thread(client.post, "/v1/adapters/coder/deploy",
                                         {"version": version, "force": True})  # not benchmarked: past the gate
            deploys.append(time.perf_counter() - t0)
            assert out["ok"], out
            await asyncio.sleep(0.3)
        client.close()
        await asyncio.sleep(0.5)
        done_swaps.set()

    swap_task = asyncio.create_task(swapper())
    start = time.perf_counter()
    i = 0
    while not done_swaps.is_set():
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i)))
        i += 1
    await swap_task
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    up.close()
    failures = [r for r in results if not r[0]]
    lat = sorted(r[1] for r in results)
    return {"sent": len(results), "failed": len(failures), "errors": sorted({f[2] for f in failures})[:5],
            "achieved_rate": len(results) / elapsed, "p50": lat[len(lat) // 2],
            "p99": lat[min(len(lat) - 1, int(0.99 * len(lat)))], "deploys": deploys}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--swaps", type=int, default=10)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--token-delay", type=float, default=0.01,
                    help="stand-in delay between streamed words (keeps requests in flight)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aitherd-serve-bench-"))
    try:
        off = Daemon(root / "off", serve=False, token_delay=args.token_delay)
        time.sleep(3)
        rss_off = off.rss_mb()
        off.stop()

        d = Daemon(root / "on", serve=True, token_delay=args.token_delay)
        st = d.wait_up()
        time.sleep(3)
        rss_idle = d.rss_mb()
        add_adapters(root / "on" / "state", args.swaps + 1)
        first = d.client.post("/v1/adapters/coder/deploy", {"version": "v0001", "force": True})
        assert first["ok"], first
        port = int(st["proxy"]["url"].rsplit(":", 1)[1].split("/")[0])
        load = asyncio.run(load_during_swaps(port, args.rate, d.sock, args.swaps))
        t0 = time.perf_counter()
        out = subprocess.run([*cmd("aitherctl"), "--socket", str(d.sock), "rollback", "coder"],
                             capture_output=True, text=True)
        rollback = time.perf_counter() - t0
        assert out.returncode == 0, out.stderr
        time.sleep(3)
        rss_after = d.rss_mb()
        d.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    deploys = load["deploys"]
    rows = [
        (f"deploy with verify, median of {len(deploys)}", f"{statistics.median(deploys):.3f} s", "< 2 s",
         statistics.median(deploys) < 2),
        ("deploy with verify, worst", f"{max(deploys):.3f} s", "< 2 s", max(deploys) < 2),
        (f"failed requests during {len(deploys)} swaps", f"{load['failed']} of {load['sent']}", "0",
         load["failed"] == 0),
        ("request rate achieved", f"{load['achieved_rate']:.0f}/s", f"{args.rate:g}/s",
         load["achieved_rate"] >= 0.95 * args.rate),
        ("proxied request p50 / p99", f"{load['p50'] * 1000:.0f} / {load['p99'] * 1000:.0f} ms", "", True),
        ("`aitherctl rollback coder` wall time", f"{rollback:.2f} s", "< 5 s", rollback < 5),
        ("daemon RSS, serving on, idle", f"{rss_idle:.1f} MB", "< 80 MB", rss_idle < 80),
        ("daemon RSS, serving on, after the load", f"{rss_after:.1f} MB", "< 80 MB", rss_after < 80),
        ("daemon RSS, serving off (reference)", f"{rss_off:.1f} MB", "", True),
    ]
    width = max(len(r[0]) for r in rows)
    print("ran against: the vLLM stand-in (tests/standin_vllm.py) started by the daemon's supervisor; "
          "no GPU, no GPU figure")
    print(f"{'figure':{width}}  {'measured':>14}  {'target':>8}")
    for name, value, target, ok in rows:
        print(f"{name:{width}}  {value:>14}  {target:>8}  {'' if not target else 'ok' if ok else 'MISSED'}")
    if load["errors"]:
        print("errors: " + "; ".join(load["errors"]))
    print(f"(machine: {os.cpu_count()} cores; stand-in token delay {args.token_delay:g}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
