"""The control socket: bound 0660 at start, and put back if someone deletes it while we run.

A deleted socket file leaves the daemon healthy but unreachable (`rm -rf /run/aitherd/*`, a
tmpfiles clean-up, a careless script). `SocketKeeper.check` notices (one lstat, every few
seconds and on reload), binds a fresh socket at the same path, and hands it to the server.
A path now taken by something else (another file, a live socket) is left alone and reported.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

from aitherd.logs import get_logger
from aitherd.startup import StartupError, environment_error

log = get_logger("aitherd.control_socket")

SUN_PATH_MAX = 107
CHECK_INTERVAL = 2.0  # seconds between checks that the socket file is still ours


def bind_control_socket(path: Path) -> socket.socket:
    """Bind the control socket with mode 0660, replacing a stale one left by a crash."""
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise StartupError(f"socket path {path} is longer than {SUN_PATH_MAX} bytes; "
                           "set [daemon] socket to a shorter path")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as err:
        raise environment_error(err, f"create the socket directory {path.parent}") from None
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise StartupError(f"{path} exists and is not a socket; remove it or set [daemon] socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1)
        try:
            probe.connect(str(path))
        except OSError:
            log.warning("stale_socket_replaced", path=str(path))
            path.unlink()
        else:
            raise StartupError(f"another process is answering on {path}; is another aitherd "
                               "running with a different state directory?")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)
    try:
        sock.bind(str(path))
    except OSError as err:
        sock.close()
        raise environment_error(err, f"bind the control socket {path}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o660)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class SocketKeeper:
    """Knows which file at `path` is our socket; recreates it when it goes missing."""

    def __init__(self, path: Path, serve: Callable[[socket.socket], Awaitable[None]],
                 recreated: Callable[[], None]) -> None:
        self.path = path
        self._serve = serve
        self._recreated = recreated
        self._ours = _identity(path)
        self._reported: str | None = None

    def owns_path(self) -> bool:
        return self._ours is not None and _identity(self.path) == self._ours

    async def check(self) -> bool:
        """Recreate the socket if its file is gone or stale; True when it did."""
        if self.owns_path():
            return False
        try:
            sock = bind_control_socket(self.path)
        except StartupError as err:  # the path is someone else's now: say so once, keep trying
            if str(err) != self._reported:
                self._reported = str(err)
                log.error("control_socket_lost", path=str(self.path), error=str(err))
            return False
        try:
            await self._serve(sock)
        except OSError as err:
            sock.close()
            log.error("control_socket_lost", path=str(self.path), error=str(err))
            return False
        self._ours = _identity(self.path)
        self._reported = None
        self._recreated()
        log.warning("control_socket_recreated", path=str(self.path),
                    reason="the socket file was deleted or replaced while the daemon ran")
        return True

    def remove(self) -> None:
        """At stop: remove the socket file if it is still ours (never someone else's)."""
        if self.owns_path():
            self.path.unlink(missing_ok=True)
