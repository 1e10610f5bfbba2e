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
    """A pattern with a `/`, matched against the path's end (searched)."""
    return rf"(?:^|/){fnmatch.translate(pattern.lstrip('/'))}"  # translate gives `(?s:...)\Z`


Matcher = tuple[re.Pattern[str], re.Pattern[str]]  # file-name patterns (matched), path patterns (searched)


@functools.lru_cache(maxsize=16)
def _compiled(patterns: tuple[str, ...]) -> tuple[Matcher, Matcher]:
    # A pattern without `/` is matched against the file name alone, anchored: one alternation tried
    # at one position, not at every `/` of the path with a look-ahead for the last one (that was
    # 80 us a path over 70 patterns; a first run on polars asks about 20,000 paths).
    def one(ps: list[str]) -> Matcher:
        names = [fnmatch.translate(p.lstrip("/")) for p in ps if "/" not in p.lstrip("/")]
        paths = [_glob(p) for p in ps if "/" in p.lstrip("/")]
        return (re.compile("|".join(names) or r"(?!)"), re.compile("|".join(paths) or r"(?!)"))

    return (one([p for p in patterns if p and not p.startswith("!")]),
            one([p[1:] for p in patterns if p.startswith("!")]))


def _matches(path: str, matcher: Matcher) -> bool:
    names, paths = matcher
    return names.match(path[path.rfind("/") + 1:]) is not None or paths.search(path) is not None


def is_credential_file(path: str, patterns: Sequence[str] = CREDENTIAL_FILES) -> bool:
    """True when `path` (relative, `/`-separated) names a credential file."""
    skip, keep = _compiled(tuple(patterns))
    return _matches(path, skip) and not _matches(path, keep)
