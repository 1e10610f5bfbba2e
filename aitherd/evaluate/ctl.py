"""aitherctl's evaluation commands, registered by aitherd.ctl with `add_commands(sub, add, run_job)`:

  aitherctl bench SPECIALIST [VERSION] [--suite S] [--limit N] [--no-wait] [--report]
  aitherctl compare A B [--flips N]        A, B: SPECIALIST@VERSION or SPECIALIST@base

`bench` runs the `benchmark` job through aitherctl's `run` (handed in as `run_job`) and prints
base -> live -> candidate and the verdict when it ends; `--report` prints what is stored instead
of running. `--suite`/`--limit` make a quick run that is stored and shown but never gates a deploy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from aitherd.ctl_format import EXIT_OK, EXIT_USAGE, print_json, table


def cmd_bench(c: Any, args: argparse.Namespace) -> int:
    if args.report:
        if not args.version:
            print("aitherctl: bench --report needs a VERSION", file=sys.stderr)
            return EXIT_USAGE
        data = c.get(f"/v1/bench/{args.specialist}/{args.version}")
        if args.json:
            print_json(data)
            return EXIT_OK
        print(f"{args.specialist} {args.version} ({data['state']})")
        for line in data["lines"]:
            print(line)
        recorded = data.get("recorded")
        if recorded:
            print(f"recorded by run {recorded.get('run_id')}: {recorded.get('verdict')}")
        rows = [[r["suite"], f"{r['pass_rate']:.3f}", f"{r['passed']}/{r['total']}", r["run_id"],
                 "gate" if r["gating"] else "quick", (r.get("settings") or {}).get("served_as")]
                for r in data["results"]]
        if rows:
            print()
            print(table(["suite", "pass@1", "passed", "run", "kind", "served as"], rows))
        return EXIT_OK
    job_args = [f"specialist={args.specialist}"]
    if args.version:
        job_args.append(f"version={args.version}")
    if args.suite:
        job_args.append(f"suite={','.join(args.suite)}")
    if args.limit:
        job_args.append(f"limit={args.limit}")
    args.job, args.arg, args.wait = "benchmark", job_args, not args.no_wait
    return int(args.run_job(c, args))  # aitherctl's own `run JOB --wait`, handed in at registration


def cmd_compare(c: Any, args: argparse.Namespace) -> int:
    data = c.get(f"/v1/bench/compare/{args.a}/{args.b}?flips={args.flips}")
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"{data['a']} -> {data['b']}  ({data['test']})")
    for s in data["suites"]:
        if not s["comparable"]:
            print(f"{s['suite']:<15} {s['note']}")
            continue
        print(f"{s['suite']:<15} {s['a']:.3f} -> {s['b']:.3f} on {s['items']} items: "
              f"{s['regressions']} newly failed, {s['improvements']} newly passed, p={s['p_value']:.3g}")
        for flip in s["flipped"]:
            change = "fixed" if flip["now"] else f"broke ({flip.get('error') or 'failed'})"
            print(f"    {flip['id']:<24} {change}")
        if s["flipped_total"] > len(s["flipped"]):
            print(f"    ... {s['flipped_total'] - len(s['flipped'])} more (--flips N)")
    return EXIT_OK


def add_commands(sub: Any, add: Callable[[str, Any, str], argparse.ArgumentParser],
                 run_job: Callable[[Any, argparse.Namespace], int]) -> None:
    """`run_job`: aitherctl's `run` command (start a job, follow it with --wait), so this face
    module needs nothing from aitherd.ctl."""
    p = add("bench", cmd_bench, "benchmark an adapter: base -> live -> candidate and the gate verdict")
    p.set_defaults(run_job=run_job)
    p.add_argument("specialist", choices=["coder", "reasoner"])
    p.add_argument("version", nargs="?", help="default: the newest candidate without a verdict")
    p.add_argument("--suite", action="append", help="only this suite (repeatable): a quick run, no verdict")
    p.add_argument("--limit", type=int, help="this many items per suite: a quick run, no verdict")
    p.add_argument("--no-wait", action="store_true", help="start the run and return")
    p.add_argument("--report", action="store_true", help="print the stored results and verdict, run nothing")
    p = add("compare", cmd_compare, "compare two models item by item: scores, paired test, flipped items")
    p.add_argument("a", help="SPECIALIST@VERSION or SPECIALIST@base")
    p.add_argument("b", help="SPECIALIST@VERSION or SPECIALIST@base")
    p.add_argument("--flips", type=int, default=20, help="flipped items to list per suite")
