"""Config validation, the store's schema checks, and the systemd unit."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from support import command, have

from aitherd.config import ConfigError, format_duration, load, parse_duration
from aitherd.store import SCHEMA_VERSION, StoreError, open_store

ROOT = Path(__file__).resolve().parents[1]


def test_every_key_of_the_shipped_config_is_valid_and_matches_the_defaults():
    shipped = load(ROOT / "etc" / "aitherd.toml", cwd=ROOT)
    defaults = load(Path(os.devnull), cwd=ROOT)
    assert shipped.config == defaults.config


@pytest.mark.parametrize(("text", "expected"), [
    ('[daemon]\nshutdown_timeout = "soon"', "daemon.shutdown_timeout: expected a duration"),
    ("[metrics]\nport = 70000", "metrics.port: expected less than or equal to 65535"),
    ("[metrics]\nprot = 1", "metrics.prot: unknown key"),
    ('[log]\nlevel = "loud"', "log.level: expected 'debug', 'info', 'warning' or 'error'"),
    ('[jobs.harvest_coder]\nevery = "8h"\ncron = "0 * * * *"', "set either 'every' or 'cron'"),
    ('[jobs.export]\ncron = "0 25 * * *"', "jobs.export.cron"),
    ('[jobs.nightly]\ncron = "0 1 * * *"', "unknown job 'nightly'"),
    ('[scheduler]\ntimezone = "Mars/Olympus"', "scheduler.timezone: unknown time zone"),
    ('[[repos]]\nrefs = ["main"]', "repos[0].path: required"),
    ("[daemon\n", "not valid TOML"),
])
def test_config_errors_name_the_file_key_and_expectation(tmp_path, text, expected):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load(path, cwd=tmp_path)
    assert str(path) in str(err.value) and expected in str(err.value)


def test_bad_config_exits_78_without_touching_state(tmp_path):
    state = tmp_path / "state"
    path = tmp_path / "bad.toml"
    path.write_text(f'[daemon]\nstate_dir = "{state}"\n[metrics]\nport = "x"\n')
    out = subprocess.run([*command("aitherd"), "--config", str(path)], capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 78
    assert "metrics.port" in out.stderr and str(path) in out.stderr
    assert not state.exists()


def test_zero_config_paths_follow_systemd_then_xdg(tmp_path, monkeypatch):
    for var in ("STATE_DIRECTORY", "RUNTIME_DIRECTORY", "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
                "AITHERD_CONFIG", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    loaded = load(None, cwd=repo / ".")
    assert loaded.source is None
    assert loaded.paths.state_dir == tmp_path / ".local" / "state" / "aitherd"
    assert [r.path for r in loaded.repos] == [str(repo)]
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert load(None, cwd=tmp_path).paths.socket == tmp_path / "run" / "aitherd" / "control.sock"
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/aitherd:/var/lib/other")
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/run/aitherd")
    paths = load(None, cwd=tmp_path).paths
    assert paths.state_dir == Path("/var/lib/aitherd")
    assert paths.socket == Path("/run/aitherd/control.sock")
    assert load(None, cwd=tmp_path).repos == ()  # not in a git repository


def test_durations_round_trip():
    assert parse_duration("1h30m") == 5400 and parse_duration(45) == 45
    assert format_duration(28800) == "8h" and format_duration(5400) == "1h30m"
    for bad in ("", "8", "h", "1x", "-5s", True):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_store_records_and_checks_its_schema_version(tmp_path):
    db = tmp_path / "a.db"
    open_store(db).dispose()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
        assert int(version) == SCHEMA_VERSION
        conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StoreError, match="newer than this aitherd"):
        open_store(db)


def test_corrupt_database_is_a_clear_startup_error(make_daemon):
    d = make_daemon()
    d.state.mkdir(parents=True)
    (d.state / "aitherd.db").write_bytes(b"this is not a database" * 100)
    d.start(wait=False)
    assert d.proc.wait(timeout=30) == 1
    assert "cannot open the database" in d.log_text()
    assert not d.socket.exists()


def test_systemd_unit_verifies(tmp_path):
    if not have("systemd-analyze"):
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs it")
        pytest.skip("systemd-analyze not installed")
    unit = (ROOT / "systemd" / "aitherd.service").read_text()
    aitherd = shutil.which("aitherd") or command("aitherd")[0]
    # verify wants ExecStart to exist: point it at this install, keep everything else.
    unit = unit.replace("/opt/aitherd/venv/bin/aitherd", aitherd)
    path = tmp_path / "aitherd.service"
    path.write_text(unit)
    out = subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
                          str(path)], capture_output=True, text=True)
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), out.stderr
    for key in ("Type=notify", "WatchdogSec=", "StateDirectory=aitherd", "RuntimeDirectory=aitherd",
                "ProtectSystem=strict", "ProtectHome=read-only", "NoNewPrivileges=yes",
                "PrivateTmp=yes", "Restart=on-failure", "RestartPreventExitStatus=78", "LimitNOFILE="):
        assert key in unit
    # --threshold is the exposure x 10: fail above 3.0.
    sec = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=30",
                          str(path)], capture_output=True, text=True)
    assert sec.returncode == 0, sec.stdout[-2000:]
