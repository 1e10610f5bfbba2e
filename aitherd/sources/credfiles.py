"""Credential files: paths whose content is secrets (.env, keys, tokens, kubeconfigs, tfvars).

Sources skip them before reading a line, and count them as skipped (`credential_file`):
redaction would leave such a file as a list of placeholders, an example that teaches nothing.
Patterns are shell globs, gitignore style: one without a `/` matches the file name in any
folder, one with a `/` matches the end of the path, and a leading `!` keeps a path that an
earlier pattern matched (`!.env.example`). Light module: no dependency beyond the stdlib.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Sequence

CREDENTIAL_FILES: tuple[str, ...] = (
    # environment files (dotenv, direnv, docker env files)
    ".env", ".env.*", "*.env", ".envrc",
    # private keys, key stores, certificates bundled with their key
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.p8", "*.ppk", "*.ovpn",
    "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    # client credentials of tools
    ".npmrc", ".yarnrc.yml", ".pypirc", ".netrc", "_netrc", ".pgpass", ".my.cnf", ".git-credentials",
    ".gitcookies", ".dockercfg", ".docker/config.json", ".htpasswd", ".s3cfg", ".boto", ".vault-token",
    ".aws/credentials", ".aws/config", "gcloud/credentials.db", "application_default_credentials.json",
    "credentials", "credentials.json", "credentials.yml", "credentials.yaml", "credentials.toml",
    "credentials.xml", "credentials.ini", "credentials.csv", "credentials.txt",
    "secrets.json", "secrets.yml", "secrets.yaml", "secrets.toml", "secrets.ini", "secrets.env",
    "*service-account*.json", "*service_account*.json", "wp-config.php",
    # cluster and infrastructure state
    "kubeconfig", "*.kubeconfig", ".kube/config", "*.tfvars", "*.tfvars.json", "*.tfstate", "*.tfstate.backup",
    # shell and client histories (commands typed with passwords)
    ".bash_history", ".zsh_history", ".psql_history", ".mysql_history", ".python_history",
)


def _glob(pattern: str) -> str:
    body = fnmatch.translate(pattern.lstrip("/"))  # `(?s:...)\Z`
    return rf"(?:^|/){body}" if "/" in pattern else rf"(?:^|/)(?!.*/){body}"


@functools.lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    def one(ps: list[str]) -> re.Pattern[str]:
        return re.compile("|".join(_glob(p) for p in ps) or r"(?!)")

    return (one([p for p in patterns if p and not p.startswith("!")]),
            one([p[1:] for p in patterns if p.startswith("!")]))


def is_credential_file(path: str, patterns: Sequence[str] = CREDENTIAL_FILES) -> bool:
    """True when `path` (relative, `/`-separated) names a credential file."""
    skip, keep = _compiled(tuple(patterns))
    return skip.search(path) is not None and keep.search(path) is None
