"""A machine that cannot host the daemon gets one clear line and exit 78; the daemon keeps its
socket reachable and its state files private."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import urllib.request
from pathlib import Path

import pytest
from support import command


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_namespaces = pytest.mark.skipif(
    not _namespaces_work(), reason="needs `unshare -rm` (user and mount namespaces) for a real "
    "read-only or full file system")


def _start_in_namespace(d, mount: str) -> subprocess.CompletedProcess[str]:
    """Start aitherd in a private mount namespace where `mount` has prepared its state dir."""
    d.state.mkdir(parents=True, exist_ok=True)
    script = f'{mount} && exec "$0" --config "$1"'
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, command("aitherd")[0], str(d.config_path)],
                          capture_output=True, text=True, timeout=60, env=d.env())


@needs_namespaces
def test_a_read_only_state_dir_is_a_clear_config_error_not_a_traceback(make_daemon):
    d = make_daemon()
    s = d.state
    out = _start_in_namespace(d, f"mount --bind {s} {s} && mount -o remount,bind,ro {s}")
    assert out.returncode == 78, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert "read-only" in out.stderr and "state_dir" in out.stderr and str(s) in out.stderr


@needs_namespaces
def test_a_full_disk_is_a_clear_config_error_not_a_traceback(make_daemon):
    d = make_daemon()
    out = _start_in_namespace(d, f"mount -t tmpfs -o size=128k tmpfs {d.state}")
    assert out.returncode == 78, out.stderr
    assert "Traceback" not in out.stderr + out.stdout
    assert "disk is full" in out.stderr and "KiB free" in out.stderr


def test_a_config_that_is_not_utf8_is_refused_at_start_and_on_reload(make_daemon, tmp_path):
    bad = tmp_path / "latin1.toml"
    bad.write_bytes('[log]\n# r\u00e9glages\nlevel = "info"\n'.encode("latin-1"))
    out = subprocess.run([*command("aitherd"), "--config", str(bad)], capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 78 and "Traceback" not in out.stderr
    assert f"{bad}: not UTF-8 text: byte 0xe9 at line 2" in out.stderr
    d = make_daemon().start()
    d.config_path.write_bytes(d.config_path.read_bytes() + "# d\u00e9j\u00e0\n".encode("latin-1"))
    out = d.ctl("reload")
    assert out.returncode == 1 and "keeps its current config" in out.stderr and "not UTF-8" in out.stderr
    assert d.api("GET", "/v1/status")["last_reload_error"].endswith("re-save it as UTF-8)")
    assert d.api("GET", "/v1/health")["status"] == "ok"


def test_a_deleted_control_socket_is_recreated_and_counted(make_daemon):
    d = make_daemon().start()
    first = os.stat(d.socket).st_ino
    d.socket.unlink()
    d.wait_for(lambda: d.socket.exists(), 15, "the socket to come back")
    assert os.stat(d.socket).st_ino != first
    assert stat.S_IMODE(os.stat(d.socket).st_mode) == 0o660
    assert d.api("GET", "/v1/health")["status"] == "ok"
    assert "control_socket_recreated" in d.log_text()
    metrics = urllib.request.urlopen(d.api("GET", "/v1/status")["metrics"]).read().decode()
    assert 'aitherd_errors_total{component="control_socket",reason="recreated"} 1.0' in metrics


def test_a_socket_path_taken_by_another_file_is_left_alone_then_reclaimed(make_daemon):
    d = make_daemon().start()
    d.socket.unlink()
    d.socket.write_text("someone else's file\n")
    d.wait_for(lambda: "control_socket_lost" in d.log_text(), 15, "the loss to be reported")
    assert d.socket.read_text() == "someone else's file\n"
    d.socket.unlink()
    d.wait_for(lambda: d.socket.is_socket(), 15, "the socket to come back")
    assert d.api("GET", "/v1/health")["status"] == "ok"
    assert d.stop() == 0
    assert not d.socket.exists()


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_files_are_private_even_under_a_lax_umask(make_daemon):
    d = make_daemon(umask=0o022)
    d.plan({"harvest_coder": {"steps": 200, "sleep": 0.05}})
    d.start()
    run_id = d.api("POST", "/v1/jobs/harvest_coder/run")["run_id"]
    d.wait_for(lambda: d.api("GET", f"/v1/runs/{run_id}")["progress"], what="progress")
    with sqlite3.connect(d.state / "aitherd.db") as db:
        (worker_pid,) = db.execute("SELECT pid FROM run WHERE id=?", (run_id,)).fetchone()
    umask = next(x for x in Path(f"/proc/{worker_pid}/status").read_text().splitlines()
                 if x.startswith("Umask:"))
    assert int(umask.split()[1], 8) & 0o027 == 0o027, umask  # what the worker writes (exports) too
    for name in ("aitherd.db", "aitherd.db-wal", "aitherd.db-shm", "aitherd.lock"):
        assert _mode(d.state / name) & 0o027 == 0, (name, oct(_mode(d.state / name)))
    assert _mode(d.state) & 0o027 == 0
    assert _mode(d.socket) == 0o660  # the socket's group still reaches the API


def test_state_files_left_world_readable_by_an_older_version_are_tightened(make_daemon):
    d = make_daemon().start()
    d.stop()
    for name in ("aitherd.db", "aitherd.lock"):
        os.chmod(d.state / name, 0o644)
    os.chmod(d.state, 0o755)
    (d.state / "exports").mkdir()
    os.chmod(d.state / "exports", 0o755)
    d.start()
    for path in (d.state / "aitherd.db", d.state / "aitherd.lock", d.state, d.state / "exports"):
        assert _mode(path) & 0o027 == 0, (path, oct(_mode(path)))
    assert "state_permissions_tightened" in d.log_text()
