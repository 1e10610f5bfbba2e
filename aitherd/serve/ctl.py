"""aitherctl's serving commands: `serve status|start|stop|restart|logs`, `adapters`, `deploy
SPECIALIST VERSION`, `rollback SPECIALIST`, and the serving lines of `aitherctl status`.

`add_commands(sub, add)` registers them on aitherctl's parser (`add` is its helper that adds a
subcommand with --json); each command takes (client, args) and returns an exit code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from aitherd.client import Client, ClientError
from aitherd.ctl_format import print_json, table

_LONG = 900.0  # deploys and restarts wait on vLLM: longer than the client's default


def _long(c: Client) -> Client:
    return Client(c.path, timeout=_LONG)


def _server_line(st: dict[str, Any]) -> str:
    if not st.get("enabled"):
        return "serving: disabled ([serve] enabled = false)"
    parts = [f"vLLM {st['state']}"]
    if st.get("pid"):
        parts.append(f"pid {st['pid']}")
    if st.get("port"):
        parts.append(f"port {st['port']}")
    parts.append(f"restarts {st.get('restarts', 0)}")
    line = "serving: " + ", ".join(parts)
    proxy = st.get("proxy") or {}
    line += f"\n  proxy   {proxy.get('url') or proxy.get('error') or '(disabled)'}"
    for alias, info in (st.get("aliases") or {}).items():
        served = info.get("served") or "-"
        line += f"\n  {alias:12} -> {served}" + (f"  ({info['problem']})" if info.get("problem") else "")
    lent = (st.get("gpu") or {}).get("lent")
    if lent:
        line += f"\n  GPU lent to run {lent.get('run_id')} ({lent.get('purpose')}, policy {lent.get('policy')})"
    if st.get("gave_up"):
        line += f"\n  gave up: {st['gave_up']}"
    elif st.get("last_error"):
        line += f"\n  last error: {st['last_error']}"
    return line


def status_lines(c: Client) -> list[str]:
    """The serving part of `aitherctl status`; empty when the daemon has no serving API."""
    try:
        return [_server_line(c.get("/v1/serve"))]
    except ClientError as err:
        return [] if err.status == 404 else [f"serving: {err}"]


def cmd_serve(c: Client, args: argparse.Namespace) -> int:
    action = args.action
    if action == "logs":
        data = c.get(f"/v1/serve/logs?lines={args.lines}")
        if args.json:
            print_json(data)
        else:
            print(f"# {data['path']}")
            print("\n".join(data["lines"]) if data["lines"] else "(empty)")
        return 0
    data = c.get("/v1/serve") if action == "status" else _long(c).post(f"/v1/serve/{action}")
    if args.json:
        print_json(data)
    else:
        print(_server_line({"enabled": True, **data}) if action != "status" else _server_line(data))
    return 0


def cmd_adapters(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/adapters")
    if args.json:
        print_json(data)
        return 0
    rows = []
    for a in data["adapters"]:
        scores = " ".join(f"{k}={v}" for k, v in (a.get("scores") or {}).items()
                          if isinstance(v, int | float)) or "-"
        flag = "serving" if a["serving"] else ("loaded" if a["loaded"] else "")
        rows.append([a["specialist"], a["version"], a["state"], flag, scores,
                     (a.get("deployed_at") or "")[:19] or "-", (a.get("note") or "")[:60]])
    print(table(["specialist", "version", "state", "", "scores", "deployed", "note"], rows)
          if rows else "no adapters yet (the train job publishes them)")
    return 0


def cmd_deploy(c: Client, args: argparse.Namespace) -> int:
    body = {"version": args.version, **({"force": True} if args.force else {})}  # evaluate: --force
    data = _long(c).post(f"/v1/adapters/{args.specialist}/deploy", body)
    return _report(data, args)


def cmd_rollback(c: Client, args: argparse.Namespace) -> int:
    data = _long(c).post(f"/v1/adapters/{args.specialist}/rollback")
    return _report(data, args)


def _report(data: dict[str, Any], args: argparse.Namespace) -> int:
    if args.json:
        print_json(data)
        return 0
    prev = f" (was {data['previous']})" if data.get("previous") else ""
    print(f"{data['specialist']} -> {data['name']}{prev} in {data.get('seconds')}s: {data.get('message')}")
    if data.get("unloading"):
        print(f"  {data['unloading']} unloads once its requests in flight are done")
    return 0


def add_commands(sub: Any, add: Callable[[str, Any, str], argparse.ArgumentParser]) -> None:
    p = add("serve", cmd_serve, "the model server: serve [status|start|stop|restart|logs]")
    p.add_argument("action", nargs="?", default="status",
                   choices=["status", "start", "stop", "restart", "logs"])
    p.add_argument("--lines", type=int, default=50, help="with logs: how many lines")
    add("adapters", cmd_adapters, "adapter versions with state, scores and which one is live")
    p = add("deploy", cmd_deploy, "deploy SPECIALIST VERSION: load, verify, flip the alias")
    p.add_argument("specialist")
    p.add_argument("version")
    p.add_argument("--force", action="store_true",  # evaluate
                   help="deploy even though the benchmark gate has not passed this version")
    p = add("rollback", cmd_rollback, "rollback SPECIALIST: back to the previous live version")
    p.add_argument("specialist")
