"""Router figures, side by side with the router issue's targets, in one run.

    python bench/router.py [--math GSM8K_TRAIN.jsonl] [--repo GIT_REPO] [--store aitherd.db]
                           [--streams 200] [--seconds 6] [--concurrency 64] [--pin]

1. Routing accuracy on the labelled request sets (tests/router_requests.jsonl, written beside the
   heuristic, and tests/router_requests_fresh.jsonl, written after it was frozen): the heuristic
   vs the learned classifier, trained by `router_train`'s own code on a store of real text:
   `--store` (a daemon's aitherd.db), else one built here from `--repo` (commits and functions
   through the project's gitmine and codegraph harvesters; default: this repository) and `--math`
   (a JSONL of GSM8K-format {"question", "answer"} rows: reasoner/math, plus the non-reasoning
   source's generated direct questions as reasoner/non_reasoning). Without curation: a bench.
2. A real daemon with [serve] on supervising the fast vLLM stand-in (tests/standin_fast.py: raw
   asyncio + httptools, so it is not the bottleneck), coder and reasoner adapters live, the learned
   model in its state dir; the router is the daemon's relay process. The load comes from a
   separate process (h1 client, uvloop). Added latency at --streams concurrent streams: time to
   first chunk and to the last, the same requests sent straight to the stand-in ("direct") and
   through the router (`model: auto`), rounds alternated; p50 and p99 each, side by side.
3. Non-streaming requests/s (closed loop, --concurrency in flight), direct beside through the
   router, and CPU-seconds per 1,000 requests of each process (relay, daemon, stand-in, load
   generator): the load-independent figure, since wall-clock rates on a shared machine vary.
4. The control API's GET /v1/health at 200/s from another process, idle and while the router
   carries the streams (the daemon's own target: p99 < 10 ms).
--pin: the load generator and the stand-in on CPU 0, the relay and the daemon on CPU 1 (when
there are 2+ cores), so direct and router runs give the load side the same core.
Loopback only; every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

from router_support import FRESH, LABELLED, labelled, request_of  # noqa: E402
from serve_swap import Daemon  # noqa: E402

STANDIN_FAST = ROOT / "tests" / "standin_fast.py"

from aitherd.store import open_store, session  # noqa: E402
from aitherd.store.models import Adapter  # noqa: E402

CHAT = {"max_tokens": 8, "messages": [{"role": "user", "content": "Write a Python function that merges two "
                                                                  "sorted lists into one sorted list."}]}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


# -- 1. accuracy ------------------------------------------------------------------------------------
def build_store(db: Path, repo: Path, math: Path | None, limit: int) -> dict[str, int]:
    from sqlalchemy import text

    from aitherd.candidate import Candidate
    from aitherd.sources.codegraph import CodeGraphConfig, harvest_repo
    from aitherd.sources.gitmine import GitMiningConfig, mine
    from aitherd.sources.non_reasoning import generated
    from aitherd.store.examples import insert_candidates

    engine = open_store(db)
    cands = [c for c in mine(str(repo), "HEAD", {}, GitMiningConfig(), {}) if isinstance(c, Candidate)]
    cands += [c for c in harvest_repo(str(repo), CodeGraphConfig(), {}) if isinstance(c, Candidate)]
    insert_candidates(engine, [c for c in cands if c.status == "accepted"][:limit * 5])
    if math is not None:
        rows = [json.loads(line) for line in math.read_text().splitlines()[:limit]]
        insert_candidates(engine, [Candidate("reasoner", "math", [
            {"role": "user", "content": r["question"]},
            {"role": "assistant", "content": r["answer"].split("####")[0].strip()}],
            source="corpus", answer=r["answer"].split("####")[-1].strip()) for r in rows])
        n = max(limit // 3, 50)  # direct questions (arithmetic, conversions, lookups, chat): non_reasoning
        insert_candidates(engine, [c for _, (_, c) in zip(range(n), generated(0, 0), strict=False)])
    with engine.connect() as conn:
        counts = {f"{s}/{c}": int(n) for s, c, n in conn.execute(text(
            "SELECT specialist, category, count(*) FROM example WHERE status = 'accepted' GROUP BY 1, 2"))}
    engine.dispose()
    return counts


def accuracy(store: Path, state: Path, per_label: int) -> tuple[list[tuple[str, ...]], dict[str, Any]]:
    from aitherd.serve.config import RouterSection
    from aitherd.serve.metrics import RelayMetrics
    from aitherd.serve.router import Router, RouteRequest, model_file
    from aitherd.serve.router_train import train, write_model

    engine = open_store(store)
    models: dict[str, dict[str, Any]] = {}
    for learner in ("naive_bayes", "logreg"):
        try:
            models[learner] = train(engine, RouterSection(learner=learner, max_per_category=per_label), 0, 0.02)
        except ImportError:
            continue
    engine.dispose()
    sets = {"labelled (60, written with the heuristic)": labelled(LABELLED),
            "fresh (30, written after it)": labelled(FRESH)}

    def score(router: Router, items: list[dict[str, Any]]) -> tuple[int, int]:
        ok = 0
        for it in items:
            path, body, headers = request_of(it)
            ok += router.decide(RouteRequest(path, body, {k.lower(): v for k, v in headers.items()})).route == it["route"]
        return ok, len(items)

    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="aitherd-router-acc-"))
    for name, cfg, data in [("heuristic", RouterSection(classifier="heuristic"), None),
                            *[(f"{lr}, falls back when unsure (p<0.5)", RouterSection(classifier="learned"), d)
                              for lr, d in models.items()],
                            *[(f"{lr} alone", RouterSection(classifier="learned", min_confidence=0), d)
                              for lr, d in models.items()]]:
        if data is not None:
            write_model(model_file(scratch, cfg), data)
        r = Router(lambda cfg=cfg: cfg, scratch, RelayMetrics())
        row = [name]
        for items in sets.values():
            ok, n = score(r, items)
            row.append(f"{ok}/{n} ({ok / n:.0%})")
        val = (data or {}).get("validation") or {}
        row.append(f"{val['route_accuracy']:.3f} (heur. {val['heuristic_route_accuracy']:.3f}, n={val['examples']})"
                   if val.get("examples") else "")
        rows.append(tuple(row))
    shutil.rmtree(scratch, ignore_errors=True)
    best = models.get("logreg") or models.get("naive_bayes")
    if best is not None:
        write_model(model_file(state, RouterSection()), best)
    return rows, {"sets": list(sets), "models": models}


# -- 2-4. the daemon under load --------------------------------------------------------------------
def add_live(state: Path) -> None:
    engine = open_store(state / "aitherd.db")
    with session(engine) as s:
        for spec in ("coder", "reasoner"):
            path = state / "adapters" / spec / "v0001"
            path.mkdir(parents=True, exist_ok=True)
            (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 32,
                                                                  "target_modules": ["q_proj", "v_proj"]}))
            s.add(Adapter(specialist=spec, version="v0001", path=str(path)))
        s.commit()
    engine.dispose()


def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    """In the load-generator process: a closed loop of `concurrency` clients for `seconds`."""
    from aitherd.serve.h1 import Pool, fetch

    async def run() -> dict[str, Any]:
        pool = Pool("127.0.0.1", spec["port"], max_idle=spec["concurrency"] + 8)
        body = json.dumps({**CHAT, **({"model": spec["model"]} if spec["model"] else {}),
                           "stream": spec["stream"]}).encode()
        hdrs = [(b"content-type", b"application/json")]
        firsts: list[float] = []
        totals: list[float] = []
        failed = 0
        stop = time.perf_counter() + spec["seconds"]

        async def worker(i: int) -> None:
            nonlocal failed
            # staggered over one request's length: clients that do not all fire in the same instant
            await asyncio.sleep(spec.get("spread", 0) * i / spec["concurrency"])
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    status, _, data, first = await fetch(pool, b"POST", "/v1/chat/completions", body, hdrs)
                except Exception:
                    failed += 1
                    continue
                if status == 200 and (not spec["stream"] or b"[DONE]" in data[-64:]):
                    totals.append(time.perf_counter() - t0)
                    firsts.append((first or time.perf_counter()) - t0)
                else:
                    failed += 1

        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(spec["concurrency"])))
        elapsed = time.perf_counter() - t0
        pool.close()
        return {"firsts": firsts, "totals": totals, "failed": failed, "rate": len(totals) / elapsed,
                "cpu": time.process_time() - cpu0}

    try:
        import uvloop

        return uvloop.run(run())
    except ImportError:
        return asyncio.run(run())


def load(port: int, model: str | None, stream: bool, concurrency: int, seconds: float,
         cpu: int | None, spread: float = 0.0) -> dict[str, Any]:
    """Run the load generator in a process of its own (pinned to `cpu` when given)."""
    spec = {"port": port, "model": model, "stream": stream, "concurrency": concurrency, "seconds": seconds,
            "spread": spread}
    pre = (lambda: os.sched_setaffinity(0, {cpu})) if cpu is not None else None
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        spec["out"] = fh.name
        out = subprocess.run([sys.executable, __file__, "--loadgen", json.dumps(spec)], capture_output=True,
                             text=True, timeout=seconds + 120, preexec_fn=pre)
        if out.returncode != 0:
            raise RuntimeError(f"the load generator failed: {out.stderr[-2000:]}")
        return json.loads(Path(fh.name).read_text())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe(sock: Path, rate: float, seconds: float) -> subprocess.Popen[str]:
    code = ("import json, sys, time\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from aitherd.client import Client\n"
            f"c = Client({str(sock)!r}); c.get('/v1/health'); out = []\n"
            f"n = int({rate} * {seconds}); start = time.perf_counter()\n"
            "for i in range(n):\n"
            f"    at = start + i / {rate}\n"
            "    d = at - time.perf_counter()\n"
            "    time.sleep(d) if d > 0 else None\n"
            "    t0 = time.perf_counter(); c.get('/v1/health'); t1 = time.perf_counter()\n"
            "    out.append([t1 - at, t1 - t0])\n"
            "print(json.dumps(out))\n")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def pin(pid: int, cpu: int) -> None:
    """The process and its threads on one CPU."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(int(tid), {cpu})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, help="a daemon's aitherd.db to learn from")
    ap.add_argument("--repo", type=Path, default=ROOT, help="a git repository for coder examples")
    ap.add_argument("--math", type=Path, help="GSM8K-format JSONL for reasoner examples")
    ap.add_argument("--per-label", type=int, default=3000)
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--token-delay", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--pin", action="store_true", help="load side on CPU 0, relay and daemon on CPU 1")
    ap.add_argument("--skip-accuracy", action="store_true", help="phases 2-4 only")
    ap.add_argument("--loadgen", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.loadgen:
        spec = json.loads(args.loadgen)
        Path(spec["out"]).write_text(json.dumps(loadgen(spec)))
        return 0
    root = Path(tempfile.mkdtemp(prefix="aitherd-router-bench-"))
    load_cpu = 0 if args.pin and (os.cpu_count() or 1) >= 2 else None
    try:
        store = args.store
        counts: dict[str, int] = {}
        state = root / "d" / "state"
        state.mkdir(parents=True)
        acc_rows: list[tuple[str, ...]] = []
        acc: dict[str, Any] = {"sets": []}
        if not args.skip_accuracy:
            if store is None:
                store = root / "corpus.db"
                counts = build_store(store, args.repo, args.math, args.per_label)
            acc_rows, acc = accuracy(store, state, args.per_label)

        add_live(state)
        d = Daemon(root / "d", serve=True, token_delay=args.token_delay, standin=STANDIN_FAST)
        st = d.wait_up()
        for spec in ("coder", "reasoner"):
            assert d.client.post(f"/v1/adapters/{spec}/deploy", {"version": "v0001", "force": True})["ok"]
        proxy_port = int(st["proxy"]["url"].rsplit(":", 1)[1].split("/")[0])
        standin_port, standin_pid = int(st["port"]), int(st["pid"])
        relay_pid = int(st["proxy"]["relay"]["pid"])
        relay_loop = st["proxy"]["relay"]["loop"]
        if load_cpu is not None:
            pin(standin_pid, 0)
            pin(relay_pid, 1)
            pin(d.proc.pid, 1)
        if not args.skip_accuracy:
            time.sleep(11)  # the router's model watch (reload_interval 10 s) picks up the learned model
        router_state = d.client.get("/v1/serve")["router"]

        p = probe(d.sock, 200, 3)
        idle_health = json.loads(p.communicate(timeout=60)[0])

        pids = {"relay": relay_pid, "daemon": d.proc.pid, "stand-in": standin_pid}
        streams: dict[str, dict[str, list[float]]] = {m: {"firsts": [], "totals": []} for m in ("direct", "router")}
        failed = {"direct": 0, "router": 0}
        stream_cpu = {m: dict.fromkeys([*pids, "load generator"], 0.0) for m in ("direct", "router")}
        loaded_health: dict[str, list[float]] = {"direct": [], "router": []}
        for _ in range(args.rounds):
            for mode in ("direct", "router"):
                p = probe(d.sock, 200, args.seconds)
                before = {n: cpu_seconds(pid) for n, pid in pids.items()}
                out = load(standin_port if mode == "direct" else proxy_port, None if mode == "direct" else "auto",
                           True, args.streams, args.seconds, load_cpu, spread=args.token_delay * 9)
                for n, pid in pids.items():
                    stream_cpu[mode][n] += cpu_seconds(pid) - before[n]
                stream_cpu[mode]["load generator"] += out["cpu"]
                streams[mode]["firsts"] += out["firsts"]
                streams[mode]["totals"] += out["totals"]
                failed[mode] += out["failed"]
                loaded_health[mode] += json.loads(p.communicate(timeout=120)[0])

        tput: dict[str, dict[str, Any]] = {}
        for mode, port, model in (("direct to stand-in", standin_port, None),
                                  ("router, model auto", proxy_port, "auto"),
                                  ("router, model coder", proxy_port, "coder")):
            before = {n: cpu_seconds(pid) for n, pid in pids.items()}
            out = load(port, model, False, args.concurrency, args.seconds, load_cpu)
            spent = {n: cpu_seconds(pid) - before[n] for n, pid in pids.items()}
            spent["load generator"] = out["cpu"]
            n = len(out["totals"])
            tput[mode] = {"rate": out["rate"], "failed": out["failed"], "n": n,
                          "cpu": {k: 1000 * v / max(n, 1) for k, v in spent.items()},
                          "p50": pct(out["totals"], 0.5), "p99": pct(out["totals"], 0.99)}
        d.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"ran against: the fast vLLM stand-in (tests/standin_fast.py) started by a real daemon's supervisor, "
          f"loopback, {os.cpu_count()} cores shared with other work (load average {os.getloadavg()[0]:.1f}); "
          f"relay event loop: {relay_loop}; pinned: {'yes' if load_cpu is not None else 'no'}; "
          + ("accuracy skipped" if args.skip_accuracy else "learned from " + (
              f"the store {args.store}" if args.store else
              f"a store built from {args.repo} (gitmine + codegraph) and {args.math or 'no math corpus'}: "
              + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))))
    if acc_rows:
        print("\nrouting accuracy (route = orchestrator | coder | reasoner); last column: held-out on the "
              "store's validation split")
        head = ("decider", *acc["sets"], "store validation")
        widths = [max(len(str(r[i])) for r in [head, *acc_rows]) for i in range(len(head))]
        for r in [head, *acc_rows]:
            print("  " + "  ".join(f"{c!s:{w}}" for c, w in zip(r, widths, strict=True)))
        print(f"  the daemon used: {router_state['deciding']} "
              f"({(router_state.get('model') or {}).get('learner')}, use={(router_state.get('model') or {}).get('use')})")

    f_d, f_r = streams["direct"]["firsts"], streams["router"]["firsts"]
    t_d, t_r = streams["direct"]["totals"], streams["router"]["totals"]
    print(f"\n{args.streams} concurrent streams, {args.rounds} x {args.seconds:g} s per side, stand-in "
          f"{args.token_delay:g} s between 8 words; streams done direct {len(t_d)} (failed {failed['direct']}), "
          f"router {len(t_r)} (failed {failed['router']})")
    print(f"  {'':28} {'direct to stand-in':>18} {'through router':>15} {'added':>9}   target")
    for name, a, b, q, limit in (("time to first chunk, p50", f_d, f_r, .5, 1), ("time to first chunk, p99", f_d, f_r, .99, 5),
                                 ("time to last chunk, p50", t_d, t_r, .5, 1), ("time to last chunk, p99", t_d, t_r, .99, 5)):
        added = (pct(b, q) - pct(a, q)) * 1000
        print(f"  {name:28} {pct(a, q) * 1000:15.1f} ms {pct(b, q) * 1000:12.1f} ms {added:6.1f} ms   "
              f"< {limit} ms {'ok' if added < limit else 'MISSED'}")
    for mode, spent in stream_cpu.items():
        n = max(len(streams[mode]["totals"]), 1)
        print(f"  CPU-seconds per 1,000 streams ({mode}): " + ", ".join(f"{k} {1000 * v / n:.2f}" for k, v in spent.items()))

    print(f"\nnon-streaming, {args.concurrency} in flight for {args.seconds:g} s each")
    print(f"  {'':22} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} failed   CPU-seconds per 1,000 requests")
    for mode, r in tput.items():
        c = r["cpu"]
        target = ("   target >= 1000/s " + ("ok" if r["rate"] >= 1000 else "MISSED")) if mode.startswith("router") else ""
        print(f"  {mode:22} {r['rate']:7.0f} {r['p50'] * 1000:7.1f} {r['p99'] * 1000:7.1f} {r['failed']:6}   "
              + ", ".join(f"{k} {v:.2f}" for k, v in c.items()) + target)
    relay_ms = tput["router, model auto"]["cpu"]["relay"]
    print(f"  the relay spends {relay_ms:.2f} CPU-seconds per 1,000 `auto` requests: one core carries about "
          f"{1000 / max(relay_ms, 1e-9):,.0f} req/s through it, whatever else the machine runs")

    print("\ncontrol API GET /v1/health at 200/s from another process (daemon's own target: p99 < 10 ms);"
          " from the scheduled send time (open loop) and from the actual send (the request alone)")
    for name, lat in (("idle", idle_health),
                      (f"{args.streams} streams direct to the stand-in", loaded_health["direct"]),
                      (f"{args.streams} streams through the router", loaded_health["router"])):
        sched, alone = [x[0] for x in lat], [x[1] for x in lat]
        print(f"  {name:42} scheduled p50 {pct(sched, .5) * 1000:7.2f} p99 {pct(sched, .99) * 1000:7.2f} ms; "
              f"alone p50 {pct(alone, .5) * 1000:6.2f} p99 {pct(alone, .99) * 1000:7.2f} ms ({len(lat)} probes) "
              f"{'ok' if pct(sched, .99) < 0.010 else 'MISSED'}")
    print("  (the daemon's CPU in the stream rows above includes answering these probes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
