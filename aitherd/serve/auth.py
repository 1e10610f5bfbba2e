"""Optional bearer-token auth for the OpenAI-compatible endpoint: keys from a file, never from the TOML.

`[serve.proxy] api_keys_file` names a file with one key per line (blank lines and `#` comments
are skipped). Empty: no auth. A request must carry `Authorization: Bearer KEY` with one of the
keys, compared in constant time; `/health` stays open. The file is read at start and again when
its modification time or size changes (`refresh`, called every `[serve.router] reload_interval`),
so keys rotate without a restart. A configured file that cannot be read, or holds no key, shuts
the door (503, every request) rather than opening it; the reason goes to the log and status, a key
never does. A file others may read is used, with a warning in the log and status.
"""

from __future__ import annotations

import hmac
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aitherd.logs import get_logger

log = get_logger("aitherd.serve.auth")


@dataclass(frozen=True)
class Denied:
    status: int  # 401: no or wrong key; 503: the key file is unusable
    message: str


class KeyFile:
    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser() if path else None
        self.keys: tuple[bytes, ...] = ()
        self.error: str | None = None
        self.warning: str | None = None
        self._seen: tuple[int, int] | None = None
        self.refresh()

    @property
    def enabled(self) -> bool:
        return self.path is not None

    def refresh(self) -> None:
        """Read the file again if it changed; cheap (one stat) when it did not."""
        if self.path is None:
            return
        try:
            st = os.stat(self.path)
        except OSError as err:
            self._fail(f"cannot read the key file {self.path}: {err.strerror or err}")
            return
        if self._seen == (st.st_mtime_ns, st.st_size):
            return
        try:
            lines = self.path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            self._fail(f"cannot read the key file {self.path}: {getattr(err, 'strerror', None) or err}")
            return
        keys = tuple(ln.strip().encode() for ln in lines if ln.strip() and not ln.lstrip().startswith("#"))
        if not keys:
            self._fail(f"the key file {self.path} holds no key")
            return
        self._seen, self.keys, self.error = (st.st_mtime_ns, st.st_size), keys, None
        self.warning = (f"the key file {self.path} can be read by other users (mode "
                        f"{stat.S_IMODE(st.st_mode):o}): chmod 600 it" if st.st_mode & 0o004 else None)
        if self.warning:
            log.warning("api_keys_world_readable", path=str(self.path))
        log.info("api_keys_loaded", path=str(self.path), keys=len(keys))

    def _fail(self, message: str) -> None:
        if message != self.error:
            log.error("api_keys_unusable", error=message)
        self.keys, self.error, self._seen = (), message, None

    def check(self, headers: Mapping[str, str]) -> Denied | None:
        if self.path is None:
            return None
        if self.error is not None:
            return Denied(503, f"authentication is configured but unusable: {self.error}")
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Denied(401, "this endpoint needs an API key: send `Authorization: Bearer KEY`")
        given = token.strip().encode()
        ok = False
        for key in self.keys:  # every key compared, in constant time each
            ok |= hmac.compare_digest(given, key)
        return None if ok else Denied(401, "Incorrect API key provided.")

    def describe(self) -> dict[str, object]:
        if self.path is None:
            return {"enabled": False}
        return {"enabled": True, "file": str(self.path), "keys": len(self.keys), "error": self.error,
                "warning": self.warning}
