"""Credential files (.env, keys, kubeconfigs, tfvars...) are never mined; they are counted as skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from items_util import outputs
from support import git

from aitherd.candidate import Candidate
from aitherd.sources import codegraph
from aitherd.sources.codegraph import CodeGraphConfig
from aitherd.sources.credfiles import CREDENTIAL_FILES, is_credential_file
from aitherd.sources.gitmine import GitMiningConfig, mine

CREDENTIALS = {
    "app/.env": "DB_PASSWORD=Zq8!wm2Xr5\nDEBUG=1\n",
    "deploy/id_ed25519": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n",
    "k8s/kubeconfig": "users:\n- name: ci\n  user:\n    token: eyJhbGciOiJSUzI1NiJ9.x.y\n",
    "infra/prod.tfvars": 'db_password = "Terra#Form99"\n',
    ".npmrc": "//registry.npmjs.org/:_authToken=npm_abc\n",
    "ops/.aws/credentials": "[default]\naws_secret_access_key = q8Jd2Kf9LmN3pQ7rS1tU5vW0xY4zA6bC8dE2fG1h\n",
}


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    for name, body in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(body)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "feat: app with its settings")
    return repo


def mined_paths(c: Candidate) -> list[str]:
    """The files an example was made from (one, or a commit's group)."""
    return list(c.provenance.get("paths") or [c.provenance["path"]])


def test_credential_files_are_skipped_by_git_mining_and_counted(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {**CREDENTIALS, "app/config.py": "import os\n\nDEBUG = os.environ.get('DEBUG') == '1'\n"})
    counts: dict = {}
    mined = [c for c in mine(str(repo), "main", {}, GitMiningConfig(), counts) if isinstance(c, Candidate)]
    paths = {p for c in mined for p in mined_paths(c)}
    assert paths == {"app/config.py"}, paths
    assert counts["skipped_files.credential_file"] == len(CREDENTIALS)


def test_the_credential_file_list_is_configurable(tmp_path: Path) -> None:
    repo = _repo(tmp_path, {"app/.env": CREDENTIALS["app/.env"], "app/.env.example": "DB_PASSWORD=\nDEBUG=0\n"})
    cfg = GitMiningConfig(credential_files=[*CREDENTIAL_FILES, "!.env.example"])
    counts: dict = {}
    paths = {p for c in mine(str(repo), "main", {}, cfg, counts) if isinstance(c, Candidate) for p in mined_paths(c)}
    assert paths == {"app/.env.example"} and counts["skipped_files.credential_file"] == 1
    cfg = GitMiningConfig(credential_files=[])
    paths = {p for c in mine(str(repo), "main", {}, cfg, {}) if isinstance(c, Candidate) for p in mined_paths(c)}
    assert paths == {"app/.env", "app/.env.example"}


def test_patterns_match_names_in_any_folder_and_paths_by_their_end() -> None:
    for path in (".env", "svc/.env.production", "docker/prod.env", "home/.kube/config", "a/b/id_rsa.pub",
                 "keys/server.key", "x/credentials.json", "wp-config.php"):
        assert is_credential_file(path), path
    for path in ("google/auth/credentials.py", "src/environment.py", "docs/env.md", "secrets.py",
                 "app/config/settings.yaml", "kube/configmap.yaml"):
        assert not is_credential_file(path), path


def test_code_patterns_skip_credential_files_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []

    def extractor(path: str, source: str) -> list[codegraph.Symbol]:
        read.append(path)
        return []

    monkeypatch.setitem(codegraph.EXTRACTORS, ".php", extractor)
    repo = _repo(tmp_path, {"wp-config.php": "<?php define('DB_PASSWORD', 'Wp!pass99');\n",
                            "index.php": "<?php echo 1;\n"})
    items = outputs(codegraph.harvest_repo(str(repo), CodeGraphConfig(), {}))
    assert read == ["index.php"] and "skip:credential_file" in items


@pytest.mark.parametrize(("path", "patterns", "want"), [
    ("config/secrets.json", CREDENTIAL_FILES, True),  # a file name pattern: in any folder
    ("secrets.json/README.md", CREDENTIAL_FILES, False),  # ... but not a folder of that name
    ("docs/.env.example", (".env.*", "!.env.example"), False),  # a later `!` keeps it
    ("ops/prod/.aws/credentials", CREDENTIAL_FILES, True),  # a pattern with `/`: the path's end
    ("ops/x.aws/credentials", (".aws/credentials",), False),
    ("keys/id_rsa.pub", ("id_rsa*", "!*.pub"), False),
    ("a/b/top.txt", ("/top.txt",), True),  # a leading `/` is dropped, as before
])
def test_name_patterns_never_match_a_folder_and_a_later_bang_keeps_a_file(path: str, patterns: tuple[str, ...],
                                                                    want: bool) -> None:
    assert is_credential_file(path, patterns) is want
