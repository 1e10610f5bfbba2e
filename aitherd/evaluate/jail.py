"""The child side of the sandbox: `python -I -S jail.py SETTINGS` in a fresh temp dir.

Standard library only, and never imported by aitherd itself: it runs as its own script, in its own
session, started by aitherd.evaluate.sandbox. Before the generated program (`prog.py` in the
working directory) runs, it locks the process down, in this order:

1. rlimits, soft = hard: address space, CPU seconds, file size, open files, core dumps, and the
   process count when the program runs under a uid of its own (root only).
2. namespaces: a new network namespace (no interfaces but a downed loopback: no network, not
   even 127.0.0.1) and a new mount namespace in which every mount is read-only, the working
   directory is a small private tmpfs, /proc and the `hide` paths (the state directory, the
   worker's home) are covered by empty read-only tmpfs. As root directly; otherwise inside a new
   user namespace mapping only our own uid, where the kernel allows one.
3. privileges: as root, setgroups([]) and setresuid/setresgid to the slot's unprivileged uid
   (which also clears every capability); in a user namespace, capset() to nothing.
4. no_new_privs, then Landlock where the kernel has it (writes only under the working directory,
   no TCP, no signals out of the sandbox: this holds even where namespaces are refused), then a
   seccomp filter: no sockets, no new processes (fork, vfork, clone without
   CLONE_THREAD; clone3 answers ENOSYS so threads fall back to clone), no execve, no signals to
   other processes (kill, tkill, tgkill, sigqueue, pidfd), no setsid/setpgid (so the process
   group the parent kills holds every thread), no ptrace, unshare, setns, mount or chroot.

Every step that is asked for and fails is reported; a step listed in `require` that fails
stops the run (exit 125) before the program starts. The first stderr line is a record of what
is active: `\\x1eaitherd-jail active=A,B|missing=C (why);D (why)`; the parent reads and strips it.
SETTINGS is `key=value` pairs joined by `|` (see `encode_settings` in sandbox.py): json and re
would cost 20 ms of start-up per program, more than the rest of the jail together.
"""

from __future__ import annotations

import ctypes
import os
import resource
import struct
import sys
from typing import Any

JAIL_EXIT = 125
MARK = b"\x1eaitherd-jail "

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWNET, CLONE_THREAD = 0x00020000, 0x10000000, 0x40000000, 0x00010000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 0x4000, 1 << 18
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY = -100, 0x8000, 0x1
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 1, 38, 22, 2
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM, ENOSYS = 1, 38
# A `require` name -> the prefix of the record entry that shows it active.
LAYERS: dict[str, str | tuple[str, ...]] = {
    "rlimits": "rlimits:", "namespaces": "netns", "privileges": ("uid:", "no-caps"), "landlock": "landlock:",
    "seccomp": "seccomp"}
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446  # every arch

# Syscall numbers checked against the kernel headers (x86_64 asm/unistd_64.h, generic unistd.h).
ARCHES: dict[str, dict[str, Any]] = {
    "x86_64": {"audit": 0xC000003E, "mount_setattr": 442, "clone": 56, "clone3": 435, "deny": {
        "socket": 41, "fork": 57, "vfork": 58, "execve": 59, "execveat": 322, "kill": 62,
        "tkill": 200, "tgkill": 234, "rt_sigqueueinfo": 129, "rt_tgsigqueueinfo": 297,
        "pidfd_send_signal": 424, "setsid": 112, "setpgid": 109, "ptrace": 101,
        "process_vm_writev": 311, "unshare": 272, "setns": 308, "mount": 165, "umount2": 166,
        "pivot_root": 155, "chroot": 161, "mount_setattr": 442, "move_mount": 429, "open_tree": 428,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "bpf": 321, "perf_event_open": 298,
        "keyctl": 250, "add_key": 248, "request_key": 249, "userfaultfd": 323, "io_uring_setup": 425}},
    "aarch64": {"audit": 0xC00000B7, "mount_setattr": 442, "clone": 220, "clone3": 435, "deny": {
        "socket": 198, "execve": 221, "execveat": 281, "kill": 129, "tkill": 130, "tgkill": 131,
        "rt_sigqueueinfo": 138, "rt_tgsigqueueinfo": 240, "pidfd_send_signal": 424, "setsid": 157,
        "setpgid": 154, "ptrace": 117, "process_vm_writev": 271, "unshare": 97, "setns": 268,
        "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "mount_setattr": 442,
        "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "bpf": 280, "perf_event_open": 241, "keyctl": 219, "add_key": 217, "request_key": 218,
        "userfaultfd": 282, "io_uring_setup": 425}},
}

libc = ctypes.CDLL(None, use_errno=True)


class Refused(Exception):
    """A step failed; the message says which and why."""


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise Refused(f"{what}: {os.strerror(err)}")


def set_limits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name.upper()}"), (value, value))


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    _check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(),
                      ctypes.c_ulong(flags), data and data.encode()), f"mount {target}")


def _readonly_tree() -> None:
    attr = struct.pack("QQQQ", MOUNT_ATTR_RDONLY, 0, 0, 0)
    nr = ARCHES.get(os.uname().machine, {}).get("mount_setattr", 442)
    _check(libc.syscall(ctypes.c_long(nr), ctypes.c_int(AT_FDCWD), b"/", ctypes.c_uint(AT_RECURSIVE),
                        attr, ctypes.c_size_t(len(attr))), "mount_setattr / read-only")


def parse_settings(text: str) -> dict:
    """`limits=as:1,cpu:2|namespaces=1|landlock=1|seccomp=1|uid=7|tmpfs_mb=64|hide=/a:/b|require=seccomp`"""
    out: dict = {"limits": {}, "namespaces": True, "seccomp": True, "landlock": True, "uid": None, "tmpfs_mb": 64,
                 "hide": [], "require": []}
    for part in text.split("|"):
        key, _, value = part.partition("=")
        if key == "limits" and value:
            out["limits"] = {k: int(v) for k, v in (kv.split(":") for kv in value.split(","))}
        elif key in ("namespaces", "seccomp", "landlock"):
            out[key] = value == "1"
        elif key in ("uid", "tmpfs_mb") and value:
            out[key] = int(value)
        elif key == "hide" and value:
            out["hide"] = value.split(":")
        elif key == "require" and value:
            out["require"] = value.split(",")
    return out


def namespaces(settings: dict, workdir: str, uid: int, gid: int) -> list[str]:
    """Network and mount namespaces (inside a user namespace when not root). Returns what is on."""
    root = os.geteuid() == 0
    flags = CLONE_NEWNET | CLONE_NEWNS | (0 if root else CLONE_NEWUSER)
    _check(libc.unshare(flags), "unshare")
    on = ["netns", "mntns"] if root else ["userns", "netns", "mntns"]
    if not root:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    _readonly_tree()
    on.append("ro-root")
    slot = settings["uid"]
    owner = f",uid={slot},gid={slot}" if root and slot is not None else ""
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={settings['tmpfs_mb']}m,mode=0700{owner}")
    os.chdir(workdir)
    on.append("tmpfs-workdir")
    # Never cover what the program needs: the standard library, the working directory.
    needed = (os.path.dirname(os.__file__), workdir)
    hidden = [path for path in ["/proc", *settings["hide"]]
              if os.path.isdir(path) and not any(n.startswith(path.rstrip("/") + "/") for n in needed)]
    for path in hidden:
        _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0555")
    on.append("hidden:" + "+".join(hidden))
    return on


def drop_privileges(settings: dict) -> list[str]:
    slot = settings["uid"]
    if os.geteuid() == 0 and slot is not None:
        os.setgroups([])
        os.setresgid(slot, slot, slot)
        os.setresuid(slot, slot, slot)
        return [f"uid:{slot}"]
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    _check(libc.capset(header, bytes(24)), "capset")
    return ["no-caps"]


def seccomp_filter(arch: dict) -> bytes:
    """A classic BPF program for seccomp: deny the listed syscalls, threads-only clone."""
    def stmt(code: int, k: int) -> bytes:
        return struct.pack("HBBI", code, 0, 0, k & 0xFFFFFFFF)

    def jump(op: int, k: int, jt: int, jf: int) -> bytes:
        return struct.pack("HBBI", op, jt, jf, k)

    ld_w, ret, jeq, jge, jset = 0x20, 0x06, 0x15, 0x35, 0x45  # BPF_LD|W|ABS, BPF_RET|K, BPF_JMP|...
    deny = sorted(set(arch["deny"].values()))
    prog = [stmt(ld_w, 4), jump(jeq, arch["audit"], 1, 0), stmt(ret, SECCOMP_RET_ERRNO | EPERM),
            stmt(ld_w, 0)]
    if arch["audit"] == 0xC000003E:  # x32 syscalls share the arch: refuse them all
        prog += [jump(jge, 0x40000000, 0, 1), stmt(ret, SECCOMP_RET_ERRNO | EPERM)]
    # One comparison per denied number, each jumping to the EPERM return at the very end; between
    # them: clone3 -> ENOSYS (2), clone -> allowed only with CLONE_THREAD (3), allow (1).
    tail = 6
    for i, nr in enumerate(deny):
        prog.append(jump(jeq, nr, len(deny) - i - 1 + tail, 0))
    prog += [jump(jeq, arch["clone3"], 0, 1), stmt(ret, SECCOMP_RET_ERRNO | ENOSYS),
             jump(jeq, arch["clone"], 0, 2), stmt(ld_w, 16),  # args[0], low word (little-endian)
             jump(jset, CLONE_THREAD, 0, 1),
             stmt(ret, SECCOMP_RET_ALLOW), stmt(ret, SECCOMP_RET_ERRNO | EPERM)]
    return b"".join(prog)


def install_seccomp() -> list[str]:
    arch = ARCHES.get(os.uname().machine)
    if arch is None:
        raise Refused(f"no syscall table for {os.uname().machine}")
    code = seccomp_filter(arch)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("HxxxxxxP", len(code) // 8, ctypes.addressof(buf))
    _check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0), "seccomp")
    return ["seccomp"]


def landlock(workdir: str) -> list[str]:
    """Landlock (Linux 5.13+, no privileges needed): writes only under the working directory
    (and to /dev/null); from ABI 4 no TCP bind or connect; from ABI 6 no signals to processes
    outside the sandbox and no abstract unix sockets. Needs no_new_privs, set before this."""
    abi = libc.syscall(ctypes.c_long(LANDLOCK_CREATE_RULESET), None, ctypes.c_size_t(0),
                       ctypes.c_uint32(1))  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        raise Refused(os.strerror(ctypes.get_errno()))
    writes = sum(1 << b for b in (1, 4, 5, 6, 7, 8, 9, 10, 11, 12))  # write, remove, make_*
    writes |= (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)
    net = 0b11 if abi >= 4 else 0  # bind_tcp, connect_tcp
    scoped = 0b11 if abi >= 6 else 0  # abstract unix sockets, signals
    attr = struct.pack("QQQ", writes, net, scoped)[:8 if abi < 4 else 16 if abi < 6 else 24]
    ruleset = libc.syscall(ctypes.c_long(LANDLOCK_CREATE_RULESET), attr, ctypes.c_size_t(len(attr)),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise Refused(f"create ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        for path, allowed in ((workdir, writes), ("/dev/null", 1 << 1)):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = struct.pack("=Qi", allowed, fd)
                _check(libc.syscall(ctypes.c_long(LANDLOCK_ADD_RULE), ctypes.c_int(ruleset),
                                    ctypes.c_int(1), rule, ctypes.c_uint32(0)), f"landlock rule {path}")
            finally:
                os.close(fd)
        _check(libc.syscall(ctypes.c_long(LANDLOCK_RESTRICT_SELF), ctypes.c_int(ruleset),
                            ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return [f"landlock:abi{abi}(fs" + (",tcp" if net else "") + (",scope" if scoped else "") + ")"]


def _report(active: list[str], missing: list[str]) -> None:
    line = "active=" + ",".join(active) + "|missing=" + ";".join(missing)
    os.write(2, MARK + line.replace("\n", " ").encode() + b"\n")


def lock_down(settings: dict, workdir: str) -> None:
    """Steps 1-4 in order, then the record line on stderr; exits 125 when a required step fails."""
    active: list[str] = ["session", "env", "tmpdir"]
    missing: list[str] = []
    uid, gid = os.getuid(), os.getgid()

    def attempt(name: str, step: object) -> None:
        try:
            active.extend(step())  # type: ignore[operator]
        except (Refused, OSError) as err:
            missing.append(f"{name} ({err})")
            if name in settings["require"]:
                _report(active, missing)
                os._exit(JAIL_EXIT)

    limits = dict(settings["limits"])
    if not (os.geteuid() == 0 and settings["uid"] is not None):
        limits.pop("nproc", None)  # counted per real uid: only meaningful under a uid of its own
    def rlimits() -> list[str]:
        set_limits(limits)
        return ["rlimits:" + "+".join(sorted(limits))]

    attempt("rlimits", rlimits)
    if settings["namespaces"]:
        attempt("namespaces", lambda: namespaces(settings, workdir, uid, gid))
    parent = os.getppid()
    attempt("privileges", lambda: drop_privileges(settings))
    # After the uid change (which clears it): SIGKILL when the parent (worker or zygote) dies.
    _check(libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "pdeathsig")
    if os.getppid() != parent:
        os._exit(JAIL_EXIT)
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    if settings["landlock"]:
        attempt("landlock", lambda: landlock(os.getcwd()))
    if settings["seccomp"]:
        attempt("seccomp", install_seccomp)
    unmet = [name for name in settings["require"] if not any(a.startswith(LAYERS[name]) for a in active)]
    if unmet:
        missing += [f"{name} (required, not active)" for name in unmet if not any(m.startswith(name) for m in missing)]
        _report(active, missing)
        os._exit(JAIL_EXIT)
    _report(active, missing)


def run_program(source: str, workdir: str) -> None:
    """The program as __main__; its exceptions and SystemExit reach the interpreter as usual."""
    sys.argv = ["prog.py"]
    sys.path[0] = workdir
    code = compile(source, "prog.py", "exec")
    exec(code, {"__name__": "__main__", "__file__": os.path.join(workdir, "prog.py"),
                "__builtins__": __builtins__})


def read_program() -> str:
    with open("prog.py", encoding="utf-8") as fh:
        return fh.read()


def main() -> None:
    """One program, in this process (the `exec` mode: a fresh interpreter per program)."""
    settings = parse_settings(sys.argv[1] if len(sys.argv) > 1 else "")
    workdir = os.getcwd()
    source = read_program()
    lock_down(settings, workdir)
    run_program(source, workdir)


if __name__ == "__main__":
    main()
