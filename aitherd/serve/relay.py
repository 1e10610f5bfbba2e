"""The OpenAI-compatible endpoint users call, in a process of its own: `model: coder` reaches the
live coder adapter, `model: auto` the route the effort router picks.

The daemon starts and supervises it (`relay_host`) as `python -m aitherd.serve.relay`, so requests
never share the daemon's event loop (its control API keeps its own latency under router load).
They speak JSON lines. Daemon -> relay on stdin: `start` (once: where to listen, log settings, the
first state), `state` (the alias table, the model server's address and why it is unavailable if
it is, the router settings, the key file; acknowledged by `ack` with its `gen`), `drain` (answered
by `drained` once no request is in flight for a name, or any). Relay -> daemon on stdout:
`listening` (the port) or `error`, `report` (requests in flight per served name, on change),
`status` (the router's and the key file's state, on change). EOF on stdin ends it; so does the
daemon's death (PR_SET_PDEATHSIG). Its metrics are prometheus_client multiprocess files that
the daemon's endpoint reads (`metrics.RelayCollector`).

Per request (raw asyncio Protocols and httptools, `h1`; uvloop where installed): the bearer key
(`auth`), the body's `model` mapped to the served name (an alias to its live version; `auto` to
the route `router` decides, said in `X-Aitherd-Route`), then the request is written on a
keep-alive connection to vLLM and the answer relayed: server-sent events chunk by chunk as they
arrive, from the callback that read them; a client that leaves closes the upstream request;
vLLM away -> 503 with Retry-After at once, never a hang. Each request is counted and timed to its
last byte by route and adapter version (`aitherd_router_*`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from aitherd.logs import configure_logging, get_logger
from aitherd.serve.h1 import ServerConn
from aitherd.serve.metrics import RelayMetrics
from aitherd.serve.relay_app import Relay

__all__ = ["Relay", "bind", "main", "serve"]

log = get_logger("aitherd.serve.relay")

REPORT_EVERY = 0.05
STATUS_EVERY = 0.25


def bind(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((address, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class _Lines(asyncio.Protocol):
    def __init__(self, on_line: Callable[[bytes], None], on_eof: Callable[[], None]) -> None:
        self.buf = b""
        self.on_line, self.on_eof = on_line, on_eof

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                self.on_line(line)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_eof()


async def serve(start: dict[str, Any], stdin: Any, stdout: Any) -> int:
    loop = asyncio.get_running_loop()
    out, _ = await loop.connect_write_pipe(asyncio.Protocol, stdout)

    def send(msg: dict[str, Any]) -> None:
        if not out.is_closing():
            out.write(json.dumps(msg).encode() + b"\n")

    relay = Relay(RelayMetrics(), send)
    relay.apply(start["state"])
    try:
        sock = bind(start["address"], int(start["port"]))
    except OSError as err:
        send({"type": "error", "message": f"cannot listen on {start['address']}:{start['port']}: "
                                          f"{err.strerror or err}"})
        return 2
    server = await loop.create_server(lambda: ServerConn(relay.handle), sock=sock, backlog=2048)
    stop = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    def on_line(line: bytes) -> None:
        try:
            m = json.loads(line)
            kind = m.get("type")
            if kind == "state":
                relay.apply(m)
            elif kind == "drain":
                task = loop.create_task(relay.drain(m))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            elif kind == "stop":
                stop.set()
        except Exception as err:  # a bad message must not end the relay
            log.error("relay_bad_message", error=str(err))

    await loop.connect_read_pipe(lambda: _Lines(on_line, stop.set), stdin)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    send({"type": "listening", "port": int(sock.getsockname()[1]), "pid": os.getpid(),
          "loop": type(loop).__module__.split(".")[0]})
    log.info("relay_listening", address=start["address"], port=int(sock.getsockname()[1]))

    async def reports() -> None:
        seen = ""
        ticks = 0
        while True:
            await asyncio.sleep(REPORT_EVERY)
            ticks += 1
            if relay.changed:
                relay.changed = False
                send({"type": "report", "in_flight": relay.by_name, "total": relay.total})
            if ticks % round(STATUS_EVERY / REPORT_EVERY) == 1:
                status = json.dumps(relay.describe())
                if status != seen:
                    seen = status
                    out.write(b'{"type": "status", "status": ' + status.encode() + b"}\n")

    reporter = loop.create_task(reports())
    await stop.wait()
    server.close()
    deadline = time.monotonic() + float(start.get("grace", 5))
    while relay.total and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    reporter.cancel()
    if relay.router is not None:
        await relay.router.stop()
    with contextlib.suppress(Exception):
        out.close()
    return 0


def main() -> int:
    from aitherd.children import die_with_parent

    die_with_parent(int(os.environ.get("AITHERD_PARENT_PID", "0")) or None)
    stdin = os.fdopen(0, "rb", buffering=0)
    first = b""
    while not first.endswith(b"\n"):  # one line, read without buffering past it
        c = stdin.read(1)
        if not c:
            return 1
        first += c
    start = json.loads(first)
    configure_logging(start.get("log_level", "info"), start.get("log_format", "auto"), sys.stderr)
    stdout = os.fdopen(1, "wb", buffering=0)
    if start.get("uvloop", True):
        try:
            import uvloop

            return uvloop.run(serve(start, stdin, stdout))
        except ImportError:
            pass
    return asyncio.run(serve(start, stdin, stdout))


if __name__ == "__main__":
    sys.exit(main())
