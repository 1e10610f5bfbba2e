"""Crash test on a real repository: kill -9 the daemon (and, separately, the worker) at random
moments of a coder harvest, let it resume, and compare the stored examples with a clean run.

    python bench/crash.py --repo /path/to/a/real/clone [--commits 1500] [--kills 20] [--target both]

A clean run harvests the repository once (git mining + code patterns, curation on) into its own
store. Then, for each of `--kills` trials, a fresh store is harvested and killed at a random
moment drawn across the clean run's duration:
- `daemon`: SIGKILL to the daemon; its worker gets SIGTERM from the kernel (PDEATHSIG) and stops
  at its next checkpoint; the daemon is started again, marks the run interrupted and resumes it;
- `worker`: SIGKILL to the job's worker; the daemon records the run interrupted and resumes it
  once (or, where it does not, the next run, triggered by hand as the schedule would, continues
  from the watermark).
Each trial passes when its final set of (content hash, status) equals the clean run's. The
script prints one line per trial and a summary, and exits 1 if any trial lost, added or changed
an example. Everything runs on this machine, on a Unix socket; nothing is sent anywhere else.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aitherd.client import Client, ClientError

BIN = Path(sys.executable).parent


def toml(repo: Path, state: Path, sock: Path, commits: int) -> str:
    return f"""
[daemon]
state_dir = "{state}"
socket = "{sock}"
shutdown_timeout = "20s"

[metrics]
port = 0

[watch]
enabled = false
cwd_repo = false

[[repos]]
path = "{repo}"
refs = ["HEAD"]

[sources.coder]
batch_size = 50

[sources.coder.git]
first_run_commits = {commits}

[curation.decontam]
enabled = false
"""


class Trial:
    """One daemon on its own state dir and socket."""

    def __init__(self, root: Path, repo: Path, commits: int) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.state = root / "state"
        self.sock = Path(tempfile.gettempdir()) / f"aitherd-crash-{os.getpid()}-{root.name}.sock"
        self.config = root / "aitherd.toml"
        self.config.write_text(toml(repo, self.state, self.sock, commits))
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "AITHERD_CONFIG")}
        with open(self.root / "daemon.log", "ab") as log:
            self.proc = subprocess.Popen([str(BIN / "aitherd"), "--config", str(self.config)],
                                         stdout=log, stderr=subprocess.STDOUT, env=env)
        self.wait(lambda: self.api("GET", "/v1/health") is not None, 30, "the daemon to answer")

    def api(self, method: str, path: str) -> dict[str, Any] | None:
        c = Client(self.sock, timeout=5)
        try:
            return c.request(method, path)
        except ClientError:
            return None
        finally:
            c.close()

    def wait(self, cond: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := cond():
                return value
            time.sleep(0.05)
        raise SystemExit(f"{self.root.name}: timed out waiting for {what}; see {self.root}/daemon.log")

    def run_harvest(self) -> int:
        out = self.api("POST", "/v1/jobs/harvest_coder/run")
        if not out or not out.get("run_id"):
            raise SystemExit(f"{self.root.name}: could not start the harvest: {out}")
        return int(out["run_id"])

    def finished(self, run_id: int) -> dict[str, Any] | None:
        run = self.api("GET", f"/v1/runs/{run_id}")
        return run if run and run.get("status") != "running" else None

    def latest_harvest_done(self, after: int) -> dict[str, Any] | None:
        runs = (self.api("GET", "/v1/runs?job=harvest_coder&limit=20") or {}).get("runs", [])
        done = [r for r in runs if r["id"] > after and r["status"] in ("ok", "failed")]
        return done[0] if done else None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.sock.unlink(missing_ok=True)

    def examples(self) -> set[tuple[str, str]]:
        with sqlite3.connect(self.state / "aitherd.db") as conn:
            return {(h, s) for h, s in conn.execute("SELECT content_hash, status FROM example")}


def clean_run(root: Path, repo: Path, commits: int) -> tuple[set[tuple[str, str]], float]:
    t = Trial(root / "clean", repo, commits)
    t.start()
    began = time.monotonic()
    run_id = t.run_harvest()
    run = t.wait(lambda: t.finished(run_id), 3600, "the clean harvest")
    took = time.monotonic() - began
    t.stop()
    if run["status"] != "ok":
        raise SystemExit(f"the clean run ended {run['status']}: {run.get('error') or run.get('message')}")
    return t.examples(), took


def kill_trial(root: Path, name: str, repo: Path, commits: int, at: float, target: str) -> tuple[set[tuple[str, str]], str]:
    t = Trial(root / name, repo, commits)
    t.start()
    run_id = t.run_harvest()
    time.sleep(at)
    run = t.api("GET", f"/v1/runs/{run_id}") or {}
    if run.get("status") != "running":
        t.stop()
        return t.examples(), "finished before the kill"
    if target == "daemon":
        assert t.proc is not None
        t.proc.kill()
        t.proc.wait()
        time.sleep(0.5)
        t.start()  # recovers the interrupted run and resumes it
        done = t.wait(lambda: t.latest_harvest_done(run_id), 3600, "the resumed harvest")
        how = f"daemon killed, resumed as run {done['id']} ({done['trigger']})"
    else:
        with sqlite3.connect(t.state / "aitherd.db") as conn:
            pid = conn.execute("SELECT pid FROM run WHERE id = ?", (run_id,)).fetchone()[0]
        if not pid:
            t.stop()
            return t.examples(), "no worker pid"
        os.kill(int(pid), signal.SIGKILL)
        killed = t.wait(lambda: t.finished(run_id), 60, "the killed run to be recorded")
        # The daemon resumes a run whose worker was killed (trigger 'resume'); if it did not,
        # start the next run by hand, as the schedule would.
        time.sleep(1.0)
        if t.latest_harvest_done(run_id) is None and not (t.api("GET", "/v1/jobs/harvest_coder") or {}).get("running"):
            t.run_harvest()
        done = t.wait(lambda: t.latest_harvest_done(run_id), 3600, "the run after the kill")
        how = f"worker killed (run {killed['status']}), then run {done['id']} ({done['trigger']}) {done['status']}"
    t.stop()
    return t.examples(), how


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, type=Path, help="a real git repository (a clone of a public project)")
    ap.add_argument("--commits", type=int, default=1500, help="commits mined on the first run")
    ap.add_argument("--kills", type=int, default=20, help="trials per target")
    ap.add_argument("--target", choices=("daemon", "worker", "both"), default="both")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the state dirs")
    args = ap.parse_args()
    repo = args.repo.resolve()
    n_commits = subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"],
                               capture_output=True, text=True, check=True).stdout.strip()
    root = Path(tempfile.mkdtemp(prefix="aitherd-crash-"))
    rng = random.Random(args.seed)
    print(f"corpus: {repo} (real repository, {n_commits} commits; first run mines {args.commits})")
    clean, took = clean_run(root, repo, args.commits)
    print(f"clean run: {len(clean)} examples ({sum(s == 'accepted' for _, s in clean)} accepted) in {took:.1f} s")
    targets = ["daemon", "worker"] if args.target == "both" else [args.target]
    failures = 0
    for target in targets:
        for i in range(args.kills):
            for attempt in range(5):  # a draw that lands after the run ended is drawn again
                at = rng.uniform(0.05, 0.9) * took
                got, how = kill_trial(root, f"{target}{i}-{attempt}", repo, args.commits, at, target)
                if how != "finished before the kill":
                    break
            lost, extra = clean - got, got - clean
            ok = not lost and not extra
            failures += not ok
            print(f"{target} kill {i + 1:2d} at {at:6.2f} s: {'same as clean' if ok else 'DIFFERENT'}"
                  f" ({len(got)} examples; lost {len(lost)}, extra {len(extra)}; {how})")
    trials = len(targets) * args.kills
    print(f"summary: {trials - failures}/{trials} trials stored exactly the clean run's examples")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"state kept under {root}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
