"""Router figures, side by side with the router issue's targets, in one run.

    python bench/router.py [--math GSM8K_TRAIN.jsonl] [--repo GIT_REPO] [--store aitherd.db]
                           [--streams 200] [--seconds 6] [--concurrency 64]

1. Routing accuracy on the labelled request sets (tests/router_requests.jsonl, written beside the
   heuristic, and tests/router_requests_fresh.jsonl, written after it was frozen): the heuristic
   vs the learned classifier, trained by `router_train`'s own code on a store of real text:
   `--store` (a daemon's aitherd.db), else one built here from `--repo` (commits and functions
   through the project's gitmine and codegraph harvesters; default: this repository) and `--math`
   (a JSONL of GSM8K-format {"question", "answer"} rows: reasoner/math, plus the reasoner
   source's derived direct-answer tasks as reasoner/non_reasoning). Without curation: a bench.
2. A real daemon with [serve] on supervising the vLLM stand-in (tests/standin_vllm.py), coder and
   reasoner adapters live, the learned model in its state dir. Added latency at --streams
   concurrent streams: time to first chunk and to the last, the same requests sent straight to
   the stand-in and through the router (`model: auto`), rounds alternated; p50 and p99 each.
3. Non-streaming requests/s through the router (closed loop, --concurrency in flight), beside
   the stand-in alone, with the CPU seconds each process spent (where the time goes).
4. The control API's GET /v1/health at 200/s from a second process, idle and while the router
   carries the streams.
Loopback only; every phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
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

from aitherd.serve.upstream import Upstream  # noqa: E402
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
    from aitherd.sources.reasoner import derive_non_reasoning
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
        insert_candidates(engine, derive_non_reasoning(engine, 0.25, limit))
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


async def one(up: Upstream, path: str, body: bytes, stream: bool) -> tuple[float, float, bool]:
    t0 = time.perf_counter()
    try:
        resp = await up.stream("POST", path, body, headers=[("Content-Type", "application/json")], timeout=60)
        first = None
        tail = b""
        async for chunk in resp.chunks():
            if first is None:
                first = time.perf_counter() - t0
            tail = (tail + chunk)[-64:]
    except Exception:
        return 0.0, 0.0, False
    ok = resp.status == 200 and (not stream or b"[DONE]" in tail)
    return first or 0.0, time.perf_counter() - t0, ok


async def closed_loop(port: int, model: str | None, stream: bool, concurrency: int, seconds: float
                      ) -> dict[str, Any]:
    up = Upstream("127.0.0.1", port, pool_size=concurrency + 8)
    body = json.dumps({**CHAT, **({"model": model} if model else {}), "stream": stream}).encode()
    firsts: list[float] = []
    totals: list[float] = []
    failed = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failed
        while time.perf_counter() < stop:
            f, t, ok = await one(up, "/v1/chat/completions", body, stream)
            if ok:
                firsts.append(f)
                totals.append(t)
            else:
                failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    up.close()
    return {"firsts": firsts, "totals": totals, "failed": failed, "rate": len(totals) / elapsed}


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
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="aitherd-router-bench-"))
    try:
        store = args.store
        counts: dict[str, int] = {}
        if store is None:
            store = root / "corpus.db"
            counts = build_store(store, args.repo, args.math, args.per_label)
        state = root / "d" / "state"
        state.mkdir(parents=True)
        acc_rows, acc = accuracy(store, state, args.per_label)

        add_live(state)
        d = Daemon(root / "d", serve=True, token_delay=args.token_delay)
        st = d.wait_up()
        for spec in ("coder", "reasoner"):
            assert d.client.post(f"/v1/adapters/{spec}/deploy", {"version": "v0001"})["ok"]
        proxy_port = int(st["proxy"]["url"].rsplit(":", 1)[1].split("/")[0])
        standin_port, standin_pid = int(st["port"]), int(st["pid"])
        time.sleep(11)  # the router's model watch (reload_interval 10 s) picks up the learned model
        router_state = d.client.get("/v1/serve")["router"]

        p = probe(d.sock, 200, 3)
        idle_health = json.loads(p.communicate(timeout=60)[0])

        streams: dict[str, dict[str, list[float]]] = {"direct": {"firsts": [], "totals": []},
                                                      "router": {"firsts": [], "totals": []}}
        failed = {"direct": 0, "router": 0}
        stream_cpu = {"direct": {"daemon": 0.0, "stand-in": 0.0, "client": 0.0},
                      "router": {"daemon": 0.0, "stand-in": 0.0, "client": 0.0}}
        pids = {"daemon": d.proc.pid, "stand-in": standin_pid, "client": os.getpid()}
        loaded_health: list[float] = []
        for _ in range(args.rounds):
            for mode in ("direct", "router"):
                p = probe(d.sock, 200, args.seconds) if mode == "router" else None
                before = {n: cpu_seconds(pid) for n, pid in pids.items()}
                out = asyncio.run(closed_loop(standin_port if mode == "direct" else proxy_port,
                                              None if mode == "direct" else "auto", True, args.streams,
                                              args.seconds))
                for n, pid in pids.items():
                    stream_cpu[mode][n] += cpu_seconds(pid) - before[n]
                streams[mode]["firsts"] += out["firsts"]
                streams[mode]["totals"] += out["totals"]
                failed[mode] += out["failed"]
                if p is not None:
                    loaded_health += json.loads(p.communicate(timeout=120)[0])

        tput: dict[str, dict[str, Any]] = {}
        for mode, port, model in (("stand-in alone", standin_port, None), ("router, model auto", proxy_port, "auto"),
                                  ("router, model coder", proxy_port, "coder")):
            before = {n: cpu_seconds(pid) for n, pid in (("daemon", d.proc.pid), ("stand-in", standin_pid),
                                                          ("client", os.getpid()))}
            out = asyncio.run(closed_loop(port, model, False, args.concurrency, args.seconds))
            spent = {n: cpu_seconds(pid) - before[n] for n, pid in (("daemon", d.proc.pid), ("stand-in", standin_pid),
                                                                     ("client", os.getpid()))}
            n = len(out["totals"])
            tput[mode] = {"rate": out["rate"], "failed": out["failed"], "n": n,
                          "cpu_ms": {k: 1000 * v / max(n, 1) for k, v in spent.items()},
                          "p50": pct(out["totals"], 0.5)}
        d.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"ran against: the vLLM stand-in (tests/standin_vllm.py) started by a real daemon's supervisor, "
          f"loopback, {os.cpu_count()} cores shared with other work (load average "
          f"{os.getloadavg()[0]:.1f}); learned from "
          + (f"the store {args.store}" if args.store else
             f"a store built from {args.repo} (gitmine + codegraph) and {args.math or 'no math corpus'}: "
             + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))))
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
    rows = [
        ("added time to first chunk, p50", (pct(f_r, .5) - pct(f_d, .5)) * 1000, "< 1 ms", 1),
        ("added time to first chunk, p99", (pct(f_r, .99) - pct(f_d, .99)) * 1000, "< 5 ms", 5),
        ("added time to last chunk, p50", (pct(t_r, .5) - pct(t_d, .5)) * 1000, "< 1 ms", 1),
        ("added time to last chunk, p99", (pct(t_r, .99) - pct(t_d, .99)) * 1000, "< 5 ms", 5),
    ]
    print(f"\n{args.streams} concurrent streams, {args.rounds} x {args.seconds:g} s per side, stand-in "
          f"{args.token_delay:g} s between 8 words; streams done direct {len(t_d)} (failed {failed['direct']}), "
          f"router {len(t_r)} (failed {failed['router']})")
    print(f"  direct: first chunk p50 {pct(f_d, .5) * 1000:.1f} ms p99 {pct(f_d, .99) * 1000:.1f} ms, last p50 "
          f"{pct(t_d, .5) * 1000:.1f} p99 {pct(t_d, .99) * 1000:.1f} ms")
    print(f"  router: first chunk p50 {pct(f_r, .5) * 1000:.1f} ms p99 {pct(f_r, .99) * 1000:.1f} ms, last p50 "
          f"{pct(t_r, .5) * 1000:.1f} p99 {pct(t_r, .99) * 1000:.1f} ms")
    for name, value, target, limit in rows:
        print(f"  {name:34} {value:8.1f} ms   target {target:7} {'ok' if value < limit else 'MISSED'}")
    for mode, spent in stream_cpu.items():
        n = max(len(streams[mode]["totals"]), 1)
        wall = args.rounds * args.seconds
        print(f"  CPU per stream ({mode}): daemon {1000 * spent['daemon'] / n:.2f} ms, stand-in "
              f"{1000 * spent['stand-in'] / n:.2f} ms, bench client {1000 * spent['client'] / n:.2f} ms; "
              f"daemon busy {spent['daemon'] / wall:.0%} of one core")

    print(f"\nnon-streaming, {args.concurrency} in flight for {args.seconds:g} s (CPU ms per request: "
          f"daemon / stand-in / bench client)")
    for mode, r in tput.items():
        c = r["cpu_ms"]
        target = "  target >= 1000/s " + ("ok" if r["rate"] >= 1000 else "MISSED") if mode.startswith("router") else ""
        print(f"  {mode:20} {r['rate']:7.0f} req/s  p50 {r['p50'] * 1000:6.1f} ms  failed {r['failed']}  "
              f"cpu {c['daemon']:.2f} / {c['stand-in']:.2f} / {c['client']:.2f}{target}")

    print("\ncontrol API GET /v1/health at 200/s from a second process (daemon's own target: p99 < 10 ms);"
          " from the scheduled send time (open loop) and from the actual send (the request alone)")
    for name, lat in (("idle", idle_health), (f"while the router carries {args.streams} streams", loaded_health)):
        sched, alone = [x[0] for x in lat], [x[1] for x in lat]
        print(f"  {name:42} scheduled p50 {pct(sched, .5) * 1000:7.2f} p99 {pct(sched, .99) * 1000:7.2f} ms; "
              f"alone p50 {pct(alone, .5) * 1000:6.2f} p99 {pct(alone, .99) * 1000:7.2f} ms ({len(lat)} probes) "
              f"{'ok' if pct(sched, .99) < 0.010 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
