"""systemd/install.sh, staged into a temporary root (--destdir): the venv, the user, /etc/aitherd
and a unit that `systemd-analyze verify` accepts; a rerun keeps the operator's files; a bad config
stops it; without --destdir it runs the commands a Debian machine needs (shown with --dry-run)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from support import have

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "systemd" / "install.sh"


def install(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # The staged venv gets aitherd only (--no-deps); its dependencies come from this test's venv.
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    return subprocess.run(["bash", str(SCRIPT), "--python", sys.executable,
                           "--pip-args", "--no-deps --no-build-isolation", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_staged_install_lays_out_a_service_that_verifies(tmp_path):
    root = tmp_path / "root"
    out = install("--destdir", str(root), "--prefix", "/srv/aitherd", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    venv = root / "srv" / "aitherd" / "venv"
    for tool in ("aitherd", "aitherctl"):
        assert os.access(venv / "bin" / tool, os.X_OK)
        assert os.readlink(root / "usr" / "local" / "bin" / tool) == f"/srv/aitherd/venv/bin/{tool}"
    shipped = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "from aitherd import benchmarks; print(len(benchmarks.load('mbpp_test')))"],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""}, cwd=tmp_path)
    assert shipped.stdout.strip() == "500", shipped.stderr  # the installed package carries its data
    assert (root / "srv" / "aitherd" / "README.md").read_text() == (ROOT / "README.md").read_text()
    assert (root / "etc" / "sysusers.d" / "aitherd.conf").read_text().startswith("# systemd-sysusers")
    etc = root / "etc" / "aitherd"
    assert mode(etc) == 0o750
    assert (etc / "aitherd.toml").read_text() == (ROOT / "etc" / "aitherd.toml").read_text()
    for name in ("aitherd.toml", "aitherd.env", "gitconfig"):
        assert mode(etc / name) == 0o640, name
    git = subprocess.run(["git", "config", "--file", str(etc / "gitconfig"), "--add", "safe.directory", "/srv/repo"])
    assert git.returncode == 0
    unit = (root / "etc" / "systemd" / "system" / "aitherd.service").read_text()
    assert "ExecStart=/srv/aitherd/venv/bin/aitherd --config /etc/aitherd/aitherd.toml" in unit
    assert "Documentation=file:/srv/aitherd/README.md" in unit and "/opt/aitherd" not in unit
    assert "EnvironmentFile=-/etc/aitherd/aitherd.env" in unit
    assert "Environment=GIT_CONFIG_GLOBAL=/etc/aitherd/gitconfig" in unit
    assert "config: " in out.stdout and ": ok" in out.stdout  # aitherd --check-config ran
    if not have("systemd-analyze"):
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing: .ci/run installs it")
        pytest.skip("systemd-analyze not installed")
    checked = tmp_path / "aitherd.service"
    checked.write_text(unit.replace("/srv/aitherd/", f"{root}/srv/aitherd/"))
    verify = subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no", str(checked)],
                            capture_output=True, text=True)
    assert verify.returncode == 0 and not verify.stderr.strip(), verify.stderr
    assert "aitherd.service:" not in out.stderr  # the script's own verify found nothing either


def test_a_rerun_keeps_the_operators_files_and_a_bad_config_stops_it(tmp_path):
    root = tmp_path / "root"
    assert install("--destdir", str(root), cwd=tmp_path).returncode == 0
    etc = root / "etc" / "aitherd"
    (etc / "aitherd.toml").write_text('[metrics]\nport = 9555\n')
    (etc / "aitherd.env").write_text("AITHERD_TEACHER_KEY=kept\n")
    again = install("--destdir", str(root), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "keeping the existing /etc/aitherd/aitherd.toml" in again.stdout
    assert (etc / "aitherd.toml").read_text() == '[metrics]\nport = 9555\n'
    assert (etc / "aitherd.env").read_text() == "AITHERD_TEACHER_KEY=kept\n"
    (etc / "aitherd.toml").write_text('[metrics]\nport = "nine"\n')
    bad = install("--destdir", str(root), cwd=tmp_path)
    assert bad.returncode != 0
    assert "metrics.port" in bad.stderr and "staged under" not in bad.stdout


def test_without_destdir_it_sets_up_user_config_unit_and_starts_it(tmp_path):
    out = subprocess.run(["bash", str(SCRIPT), "--dry-run", "--extras", "train", "--user", "alice"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    steps = [line.strip() for line in out.stdout.splitlines() if line.startswith("    ")]
    expected = ["-m venv /opt/aitherd/venv", f"-m pip install --quiet --disable-pip-version-check {ROOT}\\[train\\]",
                "systemd-sysusers /etc/sysusers.d/aitherd.conf", "usermod -a -G aitherd alice",
                "install -d -m 0750 -o root -g aitherd /etc/aitherd",
                f"install -m 0640 -o root -g aitherd {ROOT}/etc/aitherd.toml /etc/aitherd/aitherd.toml",
                "runuser -u aitherd -- /opt/aitherd/venv/bin/aitherd --check-config --config /etc/aitherd/aitherd.toml",
                "systemctl daemon-reload", "systemctl enable --now aitherd", "systemctl --no-pager status aitherd"]
    found = [next((i for i, s in enumerate(steps) if want in s), -1) for want in expected]
    assert -1 not in found and found == sorted(found), list(zip(expected, found, strict=True))


def test_bad_arguments_are_refused():
    for args, message in ((["--prefix", "opt/aitherd"], "--prefix must be an absolute path"),
                          (["--frobnicate"], "unknown option --frobnicate")):
        out = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True)
        assert out.returncode == 1 and message in out.stderr, out.stderr
    assert "--destdir DIR" in subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True).stdout
