"""aitherctl: the command-line face of the control API (tables for people, --json for scripts)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from aitherd import __version__
from aitherd.client import Client, ClientError, DaemonUnavailable, find_socket
from aitherd.serve import ctl as serve_ctl  # serve

EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
_FAILED = ("failed", "interrupted")


def _ago(ts: str | None) -> str:
    if not ts:
        return "-"
    when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    secs = (datetime.now(UTC) - when).total_seconds()
    return _span(abs(secs)) + (" ago" if secs >= 0 else " from now")


def _span(secs: float) -> str:
    if secs < 60:
        return f"{secs:.0f}s" if secs >= 10 else f"{secs:.1f}s"
    if secs < 3600:
        return f"{secs / 60:.0f}m"
    if secs < 86400:
        return f"{secs / 3600:.1f}h"
    return f"{secs / 86400:.1f}d"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) if c is not None else "-" for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines)


def _counts(counts: dict[str, Any] | None) -> str:
    return " ".join(f"{k}={v}" for k, v in (counts or {}).items()) or "-"


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def _jobs_table(jobs: list[dict[str, Any]]) -> str:
    rows = []
    for j in jobs:
        last = j.get("last_run") or {}
        state = ("running" if j.get("running") else "paused" if j.get("paused")
                 else "disabled" if j["scheduled"] and not j["enabled"] else
                 "chained" if not j["scheduled"] else "scheduled")
        rows.append([j["name"], state, j.get("schedule") or "-",
                     _ago(j.get("next_run")) if j.get("next_run") else "-",
                     f"{last.get('status')} ({_ago(last.get('started_at'))})" if last else "never"])
    return _table(["job", "state", "schedule", "next run", "last run"], rows)


def cmd_status(c: Client, args: argparse.Namespace) -> int:
    st = c.get("/v1/status")
    if args.json:
        _print_json(st)
        return EXIT_OK
    sched = st["scheduler"]
    print(f"aitherd {st['version']}  pid {st['pid']}  up {_span(st['uptime_s'])}  "
          f"scheduler {'paused' if sched['paused'] else 'running'} ({sched['timezone']})")
    print(f"state   {st['state_dir']}\nsocket  {st['socket']}\nconfig  {st['config'] or '(defaults)'}")
    print(f"metrics {st['metrics'] or '(disabled)'}\n")
    print(_jobs_table(st["jobs"]))
    ex = st["counts"]["examples"]
    print("\nexamples: " + (", ".join(
        f"{spec} " + " ".join(f"{k}={v}" for k, v in sorted(by.items())) for spec, by in sorted(ex.items()))
        or "none yet"))
    if st["watchers"]:
        print("watching: " + "; ".join(
            f"{w['kind']} {w['path']}" + (f" (error: {w['error']})" if w.get("error") else "")
            for w in st["watchers"]))
    if st.get("last_reload_error"):
        print(f"\nlast reload failed: {st['last_reload_error']}")
    print("\n" + "\n".join(serve_ctl.status_lines(c)))  # serve
    return EXIT_OK


def cmd_jobs(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/jobs")
    if args.json:
        _print_json(data)
    else:
        print(_jobs_table(data["jobs"]))
    return EXIT_OK


def _runs_table(runs: list[dict[str, Any]]) -> str:
    return _table(["id", "job", "trigger", "status", "started", "took", "counts", "note"], [
        [r["id"], r["job"], r["trigger"], r["status"], _ago(r["started_at"]),
         _span(r["duration_s"]) if r.get("duration_s") is not None else "-",
         _counts(r.get("counts")), (r.get("error") or r.get("message") or "")[:60]]
        for r in runs])


def cmd_runs(c: Client, args: argparse.Namespace) -> int:
    if args.id is not None:
        run = c.get(f"/v1/runs/{args.id}")
        if args.json:
            _print_json(run)
        else:
            for key in ("id", "job", "trigger", "status", "started_at", "ended_at", "duration_s",
                        "parent_run_id", "message", "error"):
                print(f"{key:14} {run.get(key) if run.get(key) is not None else '-'}")
            print(f"{'counts':14} {_counts(run.get('counts'))}")
        return EXIT_OK
    query = [f"limit={args.limit}"]
    if args.job:
        query.append(f"job={args.job}")
    if args.status:
        query.append(f"status={args.status}")
    data = c.get("/v1/runs?" + "&".join(query))
    if args.json:
        _print_json(data)
    else:
        print(_runs_table(data["runs"]) if data["runs"] else "no runs yet")
    return EXIT_OK


def _progress_line(run: dict[str, Any], width: int = 24) -> str:
    p = run.get("progress") or {}
    stage, done, total = p.get("stage") or "starting", p.get("done"), p.get("total")
    elapsed = run.get("elapsed_s") or 0.0
    if done is not None and total:
        filled = int(width * min(done / total, 1.0))
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    elif done is not None:
        bar = f"{done} done"
    else:
        bar = ""
    return f"{run['job']} run {run['id']}: {stage} {bar} {_span(elapsed)}"


def _wait(c: Client, run_id: int, as_json: bool, timeout: float | None) -> int:
    tty = sys.stderr.isatty() and not as_json
    last_line: str | None = None
    deadline = (time.monotonic() + timeout) if timeout else None
    while True:
        run = c.get(f"/v1/runs/{run_id}")
        if run["status"] != "running":
            break
        if deadline is not None and time.monotonic() > deadline:
            print(f"\naitherctl: gave up waiting after {timeout:g}s; run {run_id} is still running",
                  file=sys.stderr)
            return EXIT_RUN_FAILED
        line = _progress_line(run)
        if tty:
            sys.stderr.write("\r\033[K" + line)
            sys.stderr.flush()
        elif not as_json and (run.get("progress") or {}).get("stage") != last_line:
            last_line = (run.get("progress") or {}).get("stage")
            print(line, file=sys.stderr)
        time.sleep(0.2)
    if tty:
        sys.stderr.write("\r\033[K")
    if as_json:
        _print_json(run)
    else:
        took = _span(run["duration_s"]) if run.get("duration_s") is not None else "?"
        print(f"run {run['id']} {run['job']}: {run['status']} in {took}  {_counts(run.get('counts'))}")
        if run.get("message"):
            print(f"  {run['message']}")
        if run.get("error"):
            print(f"  error: {run['error']}")
    return EXIT_RUN_FAILED if run["status"] in _FAILED else EXIT_OK


def _job_args(pairs: list[str] | None) -> dict[str, Any] | None:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ClientError(f"--arg takes KEY=VALUE, got {pair!r}", 400)
        out[key] = value
    return {"args": out} if out else None


def cmd_run(c: Client, args: argparse.Namespace) -> int:
    try:
        started = c.post(f"/v1/jobs/{args.job}/run", _job_args(getattr(args, "arg", None)))
    except ClientError as err:
        if err.status == 409 and args.wait and err.body.get("run_id"):
            print(f"aitherctl: {err}; waiting for run {err.body['run_id']}", file=sys.stderr)
            return _wait(c, int(err.body["run_id"]), args.json, args.timeout)
        raise
    if args.wait:
        return _wait(c, started["run_id"], args.json, args.timeout)
    if args.json:
        _print_json(started)
    else:
        print(f"started {started['job']} as run {started['run_id']}")
    return EXIT_OK


def _pause(c: Client, args: argparse.Namespace, pause: bool) -> int:
    verb = "pause" if pause else "resume"
    path = f"/v1/jobs/{args.job}/{verb}" if args.job else f"/v1/scheduler/{verb}"
    data = c.post(path)
    if args.json:
        _print_json(data)
    else:
        what = args.job or "scheduler"
        print(f"{what}: {'paused' if data['paused'] else 'running'}")
    return EXIT_OK


def cmd_cancel(c: Client, args: argparse.Namespace) -> int:
    data = c.post(f"/v1/jobs/{args.job}/cancel")
    if args.json:
        _print_json(data)
    else:
        print(f"cancelling {data['job']} run {data['run_id']}: it stops at its next checkpoint")
    return EXIT_OK


def cmd_train(c: Client, args: argparse.Namespace) -> int:
    """`train SPECIALIST`, `train status`, `train cancel`."""
    if args.what == "cancel":
        args.job = "train"
        return cmd_cancel(c, args)
    if args.what == "status":
        job = c.get("/v1/jobs/train")
        running = job.get("running")
        if args.json:
            _print_json(job)
        elif running:
            run = c.get(f"/v1/runs/{running['run_id']}")
            print(_progress_line(run, width=40))
        else:
            last = job.get("last_run")
            print("train is not running; last run: " + (
                f"{last['id']} {last['status']} {_ago(last['started_at'])}" if last else "never"))
        return EXIT_OK
    args.job = "train"
    args.arg = ([f"specialist={args.what}"] if args.what != "all" else []) + (
        ["force=1"] if args.force else [])
    return cmd_run(c, args)


def cmd_reload(c: Client, args: argparse.Namespace) -> int:
    try:
        data = c.post("/v1/reload")
    except ClientError as err:
        if err.status == 400:
            print(f"aitherctl: reload refused, the daemon keeps its current config:\n{err}",
                  file=sys.stderr)
            return EXIT_RUN_FAILED
        raise
    if args.json:
        _print_json(data)
    else:
        print("reloaded" + (": " + "; ".join(data["changes"]) if data["changes"] else ", no changes"))
        if data["restart_needed"]:
            print("restart needed for: " + ", ".join(data["restart_needed"]))
    return EXIT_OK


def cmd_exports(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/exports" + (f"?specialist={args.specialist}" if args.specialist else ""))
    if args.json:
        _print_json(data)
        return EXIT_OK
    rows = [[e["id"], e["specialist"], e["base_family"], e["counts"].get("rows"),
             _counts(e["counts"].get("categories")), _ago(e["created_at"]),
             "latest" if e["latest"] else ("" if e["present"] else "pruned")]
            for e in data["exports"]]
    print(_table(["id", "specialist", "family", "rows", "categories", "created", ""], rows)
          if rows else "no exports yet")
    return EXIT_OK


def cmd_export(c: Client, args: argparse.Namespace) -> int:
    if args.action is None:
        args.job = "export"
        return cmd_run(c, args)
    if len(args.ids) != 2:
        print("aitherctl: usage: aitherctl export diff A B", file=sys.stderr)
        return EXIT_USAGE
    d = c.get(f"/v1/exports/{args.ids[0]}/diff/{args.ids[1]}")
    if args.json:
        _print_json(d)
        return EXIT_OK
    print(f"{d['a']} -> {d['b']}")
    print(f"rows {d['rows'][0]} -> {d['rows'][1]}: {d['added']} added, {d['removed']} removed, "
          f"{d['kept']} kept")
    for key in ("categories", "sources"):
        for name, (x, y) in d[key].items():
            print(f"  {key[:-1] if key == 'sources' else 'category'} {name}: {x} -> {y} ({y - x:+d})")
    if not d["same_specialist"] or not d["same_family"]:
        print("note: the two exports are of different specialists or families")
    return EXIT_OK


def cmd_examples(c: Client, args: argparse.Namespace) -> int:
    query = [f"limit={args.limit}"]
    if args.rejected:
        query.append("status=rejected")
    for key in ("reason", "specialist", "category", "source"):
        if getattr(args, key):
            query.append(f"{key}={getattr(args, key)}")
    data = c.get("/v1/examples?" + "&".join(query))
    if args.json:
        _print_json(data)
        return EXIT_OK
    rows = [[e["id"], e["specialist"], e["category"], e["source"],
             e["status"] + (f" ({e['reason']})" if e["reason"] else ""),
             " ".join(e["preview"].split())[:60]] for e in data["examples"]]
    print(_table(["id", "specialist", "category", "source", "status", "preview"], rows)
          if rows else "no examples match")
    return EXIT_OK


def cmd_corpus(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/corpus")
    if args.json:
        _print_json(data)
        return EXIT_OK
    for spec, info in data.items():
        print(f"{spec} (target {info['size']})")
        rows = []
        for cat, n in info["categories"].items():
            pct = f"{100 * n['accepted'] / n['target']:.0f}%" if n["target"] else "-"
            rows.append([cat, n["accepted"], n["target"], pct, n.get("rejected", 0)])
        print(_table(["category", "accepted", "target", "of target", "rejected"], rows))
        for source, cats in sorted(info["sources"].items()):
            print(f"  {source}: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())))
        print()
    return EXIT_OK


def cmd_decontam(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/decontam")
    if args.json:
        _print_json(data)
        return EXIT_OK
    print(f"rule: {data['rule']}")
    print(f"accepted examples in the store: {data['accepted']}")
    if not data["benchmarks"]:
        print("no contaminated examples found")
    for name, b in sorted(data["benchmarks"].items()):
        top = ", ".join(f"{item} ({n})" for item, n in b["top_items"][:5])
        print(f"{name}: {b['examples']} removed, {b['distinct_items']} distinct test items; top: {top}")
        print("  by source: " + ", ".join(f"{k} {v}" for k, v in sorted(b["sources"].items())))
    return EXIT_OK


def cmd_curate(c: Client, args: argparse.Namespace) -> int:
    if not args.recheck:
        print("aitherctl: curate needs --recheck (re-evaluate stored examples)", file=sys.stderr)
        return EXIT_USAGE
    args.job, args.arg = "curate", []
    return cmd_run(c, args)


def cmd_health(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/health")
    print(json.dumps(data) if args.json else data["status"])
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aitherctl", description="Control a running aitherd.")
    parser.add_argument("--socket", help="control socket (default: from $AITHERD_SOCKET, the "
                        "config, $XDG_RUNTIME_DIR/aitherd/control.sock or /run/aitherd/control.sock)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="with run --wait: give up after this many seconds")
    parser.add_argument("--version", action="version", version=f"aitherctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(func=func)
        return p

    add("status", cmd_status, "daemon, jobs, counts and watchers")
    add("jobs", cmd_jobs, "jobs with schedule, next and last run")
    p = add("run", cmd_run, "run a job now")
    p.add_argument("job")
    p.add_argument("--wait", action="store_true", help="wait for the run, showing progress")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE", help="an argument for the job")
    p = add("cancel", cmd_cancel, "stop a running job at its next checkpoint")
    p.add_argument("job")
    p = add("train", cmd_train, "train SPECIALIST|all [--wait], train status, train cancel")
    p.add_argument("what", choices=["coder", "reasoner", "all", "status", "cancel"])
    p.add_argument("--wait", action="store_true")
    p.add_argument("--force", action="store_true", help="train even if this export was trained")
    p = add("runs", cmd_runs, "recent runs, or one run by id")
    p.add_argument("id", nargs="?", type=int)
    p.add_argument("--job")
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=20)
    p = add("pause", lambda c, a: _pause(c, a, True), "pause the scheduler, or one job")
    p.add_argument("job", nargs="?")
    p = add("resume", lambda c, a: _pause(c, a, False), "resume the scheduler, or one job")
    p.add_argument("job", nargs="?")
    add("reload", cmd_reload, "re-read the config file (same as SIGHUP)")
    p = add("exports", cmd_exports, "exports on disk, newest first")
    p.add_argument("--specialist", choices=["coder", "reasoner"])
    p = add("export", cmd_export, "run the export now, or `export diff A B`")
    p.add_argument("action", nargs="?", choices=["diff"])
    p.add_argument("ids", nargs="*")
    p.add_argument("--wait", action="store_true", help="wait for the export run")
    add("health", cmd_health, "is the daemon healthy")
    p = add("examples", cmd_examples, "stored examples; --rejected [--reason R] for the audit trail")
    p.add_argument("--rejected", action="store_true")
    p.add_argument("--reason")
    p.add_argument("--specialist", choices=["coder", "reasoner"])
    p.add_argument("--category")
    p.add_argument("--source")
    p.add_argument("--limit", type=int, default=20)
    add("corpus", cmd_corpus, "accepted examples per category and source against the targets")
    p = add("decontam", cmd_decontam, "decontamination hits per benchmark (--report)")
    p.add_argument("--report", action="store_true", help="the per-benchmark report (default)")
    p = add("curate", cmd_curate, "curate --recheck: re-evaluate stored examples after a change")
    p.add_argument("--recheck", action="store_true")
    p.add_argument("--wait", action="store_true")
    serve_ctl.add_commands(sub, add)  # serve: serve, adapters, deploy, rollback
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = Client(find_socket(args.socket))
    try:
        return int(args.func(client, args))
    except DaemonUnavailable as err:
        print(f"aitherctl: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ClientError as err:
        print(f"aitherctl: {err}", file=sys.stderr)
        return EXIT_USAGE if err.status in (400, 404, 405) else EXIT_RUN_FAILED
    except KeyboardInterrupt:
        print("", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `aitherctl runs | head`: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
