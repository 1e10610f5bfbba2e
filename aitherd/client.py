"""A small client for the control API over the Unix socket (standard library only)."""

from __future__ import annotations

import http.client
import json
import os
import socket
from pathlib import Path
from typing import Any

from aitherd import errors


class ClientError(errors.ServiceError):
    """The request could not be made or was refused; the message is meant for a person."""

    def __init__(self, message: str, status: int | None = None,
                 body: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}


class DaemonUnavailable(ClientError):
    """No daemon answers on the socket, or the socket cannot be used."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("aitherd", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def socket_candidates(explicit: str | None = None) -> list[Path]:
    """Where a daemon's socket may be, most specific first."""
    found: list[Path] = []
    if explicit:
        return [Path(explicit)]
    if env := os.environ.get("AITHERD_SOCKET"):
        return [Path(env)]
    try:
        from aitherd.config import load

        found.append(load(find_repos=False).paths.socket)
    except Exception:
        pass
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        found.append(Path(xdg) / "aitherd" / "control.sock")
    found.append(Path("/run/aitherd/control.sock"))
    unique: list[Path] = []
    for p in found:
        if p not in unique:
            unique.append(p)
    return unique


def find_socket(explicit: str | None = None) -> Path:
    candidates = socket_candidates(explicit)
    for path in candidates:
        if path.exists():
            return path
    return candidates[0]


class Client:
    def __init__(self, socket_path: str | os.PathLike[str], timeout: float = 10.0) -> None:
        self.path = str(socket_path)
        self.timeout = timeout
        self._conn: _UnixConnection | None = None

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload else {}
        for attempt in (0, 1):
            conn = self._conn or _UnixConnection(self.path, self.timeout)
            self._conn = conn
            try:
                conn.request(method, path, body=payload, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except FileNotFoundError:
                self.close()
                raise DaemonUnavailable(
                    f"aitherd is not running: no control socket at {self.path} (start it with "
                    "`aitherd` or `systemctl start aitherd`; --socket names another path)") from None
            except ConnectionRefusedError:
                self.close()
                raise DaemonUnavailable(
                    f"aitherd is not running: nothing listens on {self.path} "
                    "(a stale socket from a crash; the next start replaces it)") from None
            except PermissionError:
                self.close()
                raise DaemonUnavailable(
                    f"permission denied on {self.path}: add your user to the socket's group "
                    f"(see `ls -l {self.path}`) or run as that user") from None
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # a kept-alive connection the server closed: retry once, fresh
                if attempt:
                    raise DaemonUnavailable(f"aitherd closed the connection on {self.path}") from None
            except TimeoutError:
                self.close()
                raise DaemonUnavailable(f"aitherd did not answer on {self.path} within "
                                        f"{self.timeout:g}s") from None
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise ClientError(f"the daemon sent a response that is not JSON (HTTP {resp.status})",
                              resp.status) from None
        if resp.status >= 400:
            raise ClientError(data.get("error", f"HTTP {resp.status}"), resp.status, data)
        return data

    def get(self, path: str) -> dict[str, Any]:
        return self.request("GET", path)

    def post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.request("POST", path, body)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
