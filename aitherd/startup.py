"""What the daemon checks and sets before it serves: exit codes, the instance lock, file modes,
descriptor limits, and turning a machine that cannot host it (read-only or full disk, no
permission) into one clear line and exit 78 instead of a traceback and a restart loop.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import resource
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from aitherd import errors

EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus keeps it from looping
EXIT_FAILURE = 1

# Errors a restart cannot fix: the operator must change the machine or the config first.
ENVIRONMENT_ERRNOS = {
    errno.EROFS: "the file system is read-only; point [daemon] state_dir at a writable directory "
                 "(under systemd: StateDirectory= or ReadWritePaths=)",
    errno.ENOSPC: "the disk is full; free some space there, then start aitherd again",
    errno.EDQUOT: "the disk quota is exhausted; free some space there, then start aitherd again",
    errno.EFBIG: "a file size limit was reached (ulimit -f); raise it, then start aitherd again",
    errno.EACCES: "permission denied; give the user aitherd runs as access, or set [daemon] state_dir",
    errno.EPERM: "operation not permitted; give the user aitherd runs as access, or set [daemon] state_dir",
    errno.ENOTDIR: "a part of the path is not a directory; fix the path in the config",
    errno.EISDIR: "a directory is in the way of a file; fix the path in the config",
    errno.ELOOP: "too many symbolic links in the path; fix the path in the config",
    errno.ENAMETOOLONG: "the path is too long; set a shorter one in the config",
}

# State files are readable by the daemon's group at most (the socket's group reads the API).
STATE_UMASK = 0o027


class StartupError(errors.AitherdError):
    """The daemon cannot start; the message says why and what to do."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def environment_error(err: OSError, what: str) -> StartupError:
    """An OSError while preparing `what`, as a StartupError with a hint and the right exit code."""
    where = f" {err.filename}" if err.filename else ""
    reason = err.strerror or str(err)
    hint = ENVIRONMENT_ERRNOS.get(err.errno or 0)
    if hint is None:
        return StartupError(f"cannot {what}:{where}: {reason}")
    return StartupError(f"cannot {what}:{where}: {reason}: {hint}", EXIT_CONFIG)


def disk_note(path: Path) -> str:
    """What the file system under `path` says about itself when a write failed: read-only, or
    (nearly) full. Empty when neither."""
    try:
        st = os.statvfs(path)
    except OSError:
        return ""
    if st.f_flag & os.ST_RDONLY:
        return f"; the file system holding {path} is mounted read-only"
    free = st.f_bavail * st.f_frsize
    if free < 64 << 20:
        return f"; the file system holding {path} has only {free // 1024} KiB free"
    return ""


def restrict_umask() -> int:
    """Add STATE_UMASK to the inherited umask (systemd's UMask=0007 or a shell's 0022): the
    database, its -wal and -shm, exports and adapters are made 0640/0750 at most. Returns the old."""
    old = os.umask(STATE_UMASK)
    os.umask(old | STATE_UMASK)
    return old


def tighten(paths: list[Path]) -> tuple[list[str], list[str]]:
    """Take group-write and every 'other' bit off existing state files made by an older aitherd
    or a laxer umask. Best effort: returns (changed, left as they were because we may not)."""
    changed, refused = [], []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.lstat().st_mode)
        except OSError:
            continue
        if path.is_symlink() or not mode & STATE_UMASK:
            continue
        try:
            os.chmod(path, mode & ~STATE_UMASK)
        except OSError:  # owned by someone else (a shared, group-writable directory): their call
            refused.append(str(path))
            continue
        changed.append(str(path))
    return changed, refused


def raise_fd_limit(needed: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards `needed` (never above the hard limit). (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return soft, resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@contextlib.contextmanager
def instance_lock(path: Path) -> Iterator[IO[str]]:
    """One daemon per state directory: an flock the kernel releases even on SIGKILL."""
    try:
        fh = open(path, "a+")  # noqa: SIM115 - held for the daemon's lifetime
    except OSError as err:
        raise environment_error(err, "create the lock file in the state directory") from None
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise StartupError(
                f"another aitherd (pid {holder}) is already running with state directory "
                f"{path.parent}; stop it first or give this one another state_dir") from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"{os.getpid()}\n")
            fh.flush()
        except OSError as err:
            raise environment_error(err, f"write the lock file {path}") from None
        yield fh
    finally:
        with contextlib.suppress(OSError):  # a write that failed (ENOSPC) fails again on close
            fh.close()
