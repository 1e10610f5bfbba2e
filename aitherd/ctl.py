"""aitherctl: the command-line face of the control API (tables for people, --json for scripts)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from aitherd import __version__, specialists
from aitherd.client import Client, ClientError, DaemonUnavailable, find_socket
from aitherd.ctl_completion import bash_script
from aitherd.ctl_format import (
    EXIT_OK,
    EXIT_RUN_FAILED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    Progress,
    ago,
    all_counts,
    print_json,
    span,
    summarize_run,
    table,
)
from aitherd.ctl_reports import cmd_corpus, cmd_decontam, cmd_examples, cmd_exports, export_diff
from aitherd.evaluate import ctl as evaluate_ctl  # evaluate
from aitherd.serve import ctl as serve_ctl  # serve
from aitherd.star import ctl as star_ctl  # star

_FAILED = ("failed", "interrupted")
# Without a terminal, --wait prints a progress line when the stage changes and this often.
PROGRESS_EVERY = 2.0



def _job_state(j: dict[str, Any], chained: set[str]) -> str:
    if j.get("running"):
        return "running"
    if j.get("paused"):
        return "paused"
    if j["scheduled"]:
        return "scheduled" if j["enabled"] else "disabled"
    return "chained" if j["name"] in chained else "manual"  # curate runs only when asked


def _jobs_table(jobs: list[dict[str, Any]]) -> str:
    chained = {nxt for j in jobs for nxt in j.get("then") or []}
    rows = []
    for j in jobs:
        last = j.get("last_run") or {}
        rows.append([j["name"], _job_state(j, chained), j.get("schedule") or "-",
                     ago(j.get("next_run")) if j.get("next_run") else "-",
                     f"{last.get('status')} ({ago(last.get('started_at'))})" if last else "never"])
    return table(["job", "state", "schedule", "next run", "last run"], rows)


def cmd_status(c: Client, args: argparse.Namespace) -> int:
    st = c.get("/v1/status")
    if args.json:
        print_json(st)
        return EXIT_OK
    sched = st["scheduler"]
    print(f"aitherd {st['version']}  pid {st['pid']}  up {span(st['uptime_s'])}  "
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
        print_json(data)
    else:
        print(_jobs_table(data["jobs"]))
    return EXIT_OK


def _runs_table(runs: list[dict[str, Any]]) -> str:
    return table(["id", "job", "trigger", "status", "started", "took", "counts", "note"], [
        [r["id"], r["job"], r["trigger"], r["status"], ago(r["started_at"]),
         span(r["duration_s"]) if r.get("duration_s") is not None else "-",
         summarize_run(r), " ".join((r.get("error") or r.get("message") or "").split())[:60]]
        for r in runs])


def _show_run(run: dict[str, Any]) -> None:
    for key in ("id", "job", "trigger", "status", "started_at", "ended_at", "duration_s",
                "parent_run_id", "message", "error"):
        print(f"{key:14} {run.get(key) if run.get(key) is not None else '-'}")
    if run.get("status") == "running" and run.get("progress"):
        print(f"{'progress':14} {Progress().line(run)}")
    counts = all_counts(run.get("counts"))
    print(f"{'counts':14} " + ("-" if not counts else f"{len(counts)}"))
    for line in counts:
        print(f"  {line}")
    outputs = all_counts(run.get("outputs"))  # text values: an adapter made, a verdict
    if outputs:
        print(f"{'outputs':14} {len(outputs)}")
        for line in outputs:
            print(f"  {line}")


def cmd_runs(c: Client, args: argparse.Namespace) -> int:
    words = list(args.what)
    if words and words[0] == "show":
        words.pop(0)
        if not words:
            print("aitherctl: usage: aitherctl runs show ID", file=sys.stderr)
            return EXIT_USAGE
    if len(words) > 1 or (words and not words[0].isdigit()):
        print(f"aitherctl: runs takes one run id, got {' '.join(args.what)!r}", file=sys.stderr)
        return EXIT_USAGE
    if words:
        run = c.get(f"/v1/runs/{int(words[0])}")
        if args.json:
            print_json(run)
        else:
            _show_run(run)
        return EXIT_OK
    query = [f"limit={args.limit}"]
    if args.job:
        query.append(f"job={args.job}")
    if args.status:
        query.append(f"status={args.status}")
    data = c.get("/v1/runs?" + "&".join(query))
    if args.json:
        print_json(data)
    else:
        print(_runs_table(data["runs"]) if data["runs"] else "no runs yet")
    return EXIT_OK


def _wait(c: Client, run_id: int, as_json: bool, timeout: float | None) -> int:
    tty = sys.stderr.isatty() and not as_json
    meter = Progress()
    last_stage: str | None = None
    last_print = 0.0
    deadline = (time.monotonic() + timeout) if timeout else None
    while True:
        run = c.get(f"/v1/runs/{run_id}")
        if run["status"] != "running":
            break
        if deadline is not None and time.monotonic() > deadline:
            print(f"\naitherctl: gave up waiting after {timeout:g}s; run {run_id} is still running "
                  f"(`aitherctl runs show {run_id}` follows it)", file=sys.stderr)
            return EXIT_RUN_FAILED
        line = meter.line(run)
        stage = (run.get("progress") or {}).get("stage")
        if tty:
            sys.stderr.write("\r\033[K" + line)
            sys.stderr.flush()
        elif not as_json and (stage != last_stage or time.monotonic() - last_print >= PROGRESS_EVERY):
            last_stage, last_print = stage, time.monotonic()
            print(line, file=sys.stderr)
        time.sleep(0.2)
    if tty:
        sys.stderr.write("\r\033[K")
    if as_json:
        print_json(run)
    else:
        took = span(run["duration_s"]) if run.get("duration_s") is not None else "?"
        print(f"run {run['id']} {run['job']}: {run['status']} in {took}  {summarize_run(run)}")
        if run.get("message"):
            print(f"  {run['message']}")
        if run.get("error"):
            print(f"  error: {run['error']}")
        if len(run.get("counts") or {}) > 1:
            print(f"  all counts: aitherctl runs show {run['id']}")
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
        print_json(started)
    else:
        print(f"started {started['job']} as run {started['run_id']}")
    return EXIT_OK


def _pause(c: Client, args: argparse.Namespace, pause: bool) -> int:
    verb = "pause" if pause else "resume"
    path = f"/v1/jobs/{args.job}/{verb}" if args.job else f"/v1/scheduler/{verb}"
    data = c.post(path)
    if args.json:
        print_json(data)
    else:
        what = args.job or "scheduler"
        print(f"{what}: {'paused' if data['paused'] else 'running'}")
    return EXIT_OK


def cmd_cancel(c: Client, args: argparse.Namespace) -> int:
    data = c.post(f"/v1/jobs/{args.job}/cancel")
    if args.json:
        print_json(data)
    else:
        print(f"cancelling {data['job']} run {data['run_id']}: it stops at its next checkpoint")
    return EXIT_OK


def cmd_completion(_c: Client | None, args: argparse.Namespace) -> int:
    print(bash_script(build_parser()), end="")
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
            print_json(job)
        elif running:
            run = c.get(f"/v1/runs/{running['run_id']}")
            print(Progress().line(run, width=40))
        else:
            last = job.get("last_run")
            print("train is not running; last run: " + (
                f"{last['id']} {last['status']} {ago(last['started_at'])}" if last else "never"))
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
        print_json(data)
    else:
        print("reloaded" + (": " + "; ".join(data["changes"]) if data["changes"] else ", no changes"))
        if data["restart_needed"]:
            print("restart needed for: " + ", ".join(data["restart_needed"]))
    return EXIT_OK


def cmd_export(c: Client, args: argparse.Namespace) -> int:
    if args.action is None:
        args.job = "export"
        return cmd_run(c, args)
    return export_diff(c, args)


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


_DESCRIPTION = """\
Control a running aitherd over its Unix socket: see what it does, run and cancel jobs, pause the
scheduler, reload the config, and read runs, examples, exports and the corpus. Tables are for
people; --json prints what the control API returned, for scripts."""

_EPILOG = """\
examples:
  aitherctl status                          daemon, jobs with next and last run, counts
  aitherctl run harvest_coder --wait        run now, follow progress (rate, ETA), exit 1 if it fails
  aitherctl run export --wait --timeout 600 give up waiting after 10 minutes (the run goes on)
  aitherctl runs --job harvest_coder        recent runs with a count summary
  aitherctl runs show 42                    one run with every count
  aitherctl train coder --wait              train one specialist now
  aitherctl pause train                     pause one job's schedule (or the whole scheduler)
  aitherctl examples --rejected --reason secret
  aitherctl exports --specialist coder      then: aitherctl export diff OLD_ID NEW_ID
  source <(aitherctl completion bash)       tab completion in this shell

exit status:
  0  done   1  the run or request failed   2  bad usage or request (unknown job, bad value)
  3  no daemon answers on the socket, or the socket cannot be used (the message says which)

environment and files:
  AITHERD_SOCKET   the control socket; else the config's [daemon] socket,
                   $XDG_RUNTIME_DIR/aitherd/control.sock, then /run/aitherd/control.sock
  AITHERD_CONFIG   the config file read to find the socket

Every command takes --json, --socket and --timeout, before or after its name.
See the README's "aitherctl and the control API" for the HTTP endpoints behind each command."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aitherctl", description=_DESCRIPTION, epilog=_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    # The same options after the subcommand (`run X --wait --timeout 5`); SUPPRESS keeps a
    # value given before the subcommand when it is not repeated after it.
    common = argparse.ArgumentParser(add_help=False)
    for p, default in ((parser, None), (common, argparse.SUPPRESS)):
        p.add_argument("--socket", default=default, help="control socket (default: $AITHERD_SOCKET, the "
                       "config, $XDG_RUNTIME_DIR/aitherd/control.sock or /run/aitherd/control.sock)")
        p.add_argument("--timeout", type=float, default=default, metavar="SECONDS",
                       help="with --wait: give up waiting after this many seconds (the run goes on)")
        p.add_argument("--json", action="store_true", default=False if default is None else default,
                       help="print JSON")
    parser.add_argument("--version", action="version", version=f"aitherctl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Any, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_, parents=[common])
        p.set_defaults(func=func)
        return p

    add("status", cmd_status, "daemon, jobs, counts and watchers")
    add("jobs", cmd_jobs, "jobs with state, schedule, next and last run")
    p = add("run", cmd_run, "run a job now")
    p.add_argument("job")
    p.add_argument("--wait", action="store_true", help="wait for the run, showing progress")
    p.add_argument("--arg", action="append", metavar="KEY=VALUE", help="an argument for the job")
    p = add("cancel", cmd_cancel, "stop a running job at its next checkpoint")
    p.add_argument("job")
    p = add("train", cmd_train, "train SPECIALIST|all [--wait], train status, train cancel")
    p.add_argument("what", choices=[*specialists.NAMES, "all", "status", "cancel"])
    p.add_argument("--wait", action="store_true")
    p.add_argument("--force", action="store_true", help="train even if this export was trained")
    p = add("runs", cmd_runs, "recent runs with a count summary; `runs show ID` for one run")
    p.add_argument("what", nargs="*", metavar="[show] ID")
    p.add_argument("--job")
    p.add_argument("--status", choices=["running", "ok", "skipped", "failed", "interrupted"])
    p.add_argument("--limit", type=int, default=20)
    p = add("pause", lambda c, a: _pause(c, a, True), "pause the scheduler, or one job")
    p.add_argument("job", nargs="?")
    p = add("resume", lambda c, a: _pause(c, a, False), "resume the scheduler, or one job")
    p.add_argument("job", nargs="?")
    add("reload", cmd_reload, "re-read the config file (same as SIGHUP)")
    p = add("exports", cmd_exports, "exports on disk, newest first")
    p.add_argument("--specialist", choices=specialists.NAMES)
    p = add("export", cmd_export, "run the export now, or `export diff A B`")
    p.add_argument("action", nargs="?", choices=["diff"])
    p.add_argument("ids", nargs="*")
    p.add_argument("--wait", action="store_true", help="wait for the export run")
    add("health", cmd_health, "is the daemon healthy")
    p = add("examples", cmd_examples, "stored examples; --rejected [--reason R] for the audit trail")
    p.add_argument("--rejected", action="store_true")
    p.add_argument("--reason")
    p.add_argument("--specialist", choices=specialists.NAMES)
    p.add_argument("--category")
    p.add_argument("--source")
    p.add_argument("--limit", type=int, default=20)
    add("corpus", cmd_corpus, "accepted examples per category and source against the targets")
    p = add("decontam", cmd_decontam, "decontamination hits per benchmark (--report)")
    p.add_argument("--report", action="store_true", help="the per-benchmark report (default)")
    p = add("curate", cmd_curate, "curate --recheck: re-evaluate stored examples after a change")
    p.add_argument("--recheck", action="store_true")
    p.add_argument("--wait", action="store_true")
    p = add("completion", cmd_completion, "print a shell completion script: source <(aitherctl completion bash)")
    p.add_argument("shell", choices=["bash"])
    serve_ctl.add_commands(sub, add)  # serve: serve, adapters, deploy, rollback
    evaluate_ctl.add_commands(sub, add, run_job=cmd_run)  # evaluate: bench, compare
    star_ctl.add_commands(sub, add)  # star: the learning curve
    return parser


def _refusal(err: ClientError) -> str:
    """The daemon's message, with what it offers instead (the jobs there are, a run id)."""
    text = f"aitherctl: {err}"
    if err.body.get("jobs"):
        text += "\njobs: " + ", ".join(err.body["jobs"])
    return text


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "completion":
        return cmd_completion(None, args)
    client = Client(find_socket(args.socket))
    try:
        return int(args.func(client, args))
    except DaemonUnavailable as err:
        print(f"aitherctl: {err}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except ClientError as err:
        print(_refusal(err), file=sys.stderr)
        return EXIT_USAGE if err.status in (400, 404, 405, 413) else EXIT_RUN_FAILED
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
