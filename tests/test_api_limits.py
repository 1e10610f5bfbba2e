"""The control API under abuse: bad input is a 4xx with a message, big bodies are refused, slow
or too many clients cannot hold it, and a stuck store never stalls /v1/health."""

from __future__ import annotations

import fcntl
import os
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from support import http

BAD_BODIES = [
    (b"[1, 2]", "body must be a JSON object, got list"),
    (b'"x"', "body must be a JSON object, got str"),
    (b"{not json", "body is not JSON"),
    (b"\xff\xfe{}", "body is not JSON"),
    (b'{"args": [1]}', "args must be a JSON object"),
    (b'{"argz": {}}', "unknown key 'argz'"),
]

BAD_QUERIES = [
    "/v1/runs?limit=abc", "/v1/runs?limit=-5", "/v1/runs?limit=0", "/v1/runs?limit=100000",
    "/v1/runs?before=x", "/v1/runs?job=nope", "/v1/runs?status=done",
    "/v1/exports?limit=abc", "/v1/exports?limit=-5", "/v1/exports?specialist=painter",
    "/v1/examples?limit=abc", "/v1/examples?limit=-1", "/v1/examples?status=maybe",
    "/v1/examples?specialist=painter", "/v1/runs/abc",
]


def test_a_bad_run_body_is_a_400_that_says_why(make_daemon):
    d = make_daemon().start()
    wrong = []
    for body, expected in BAD_BODIES:
        status, data = http(d.socket, "POST", "/v1/jobs/export/run", body,
                            {"Content-Type": "application/json"})
        if status != 400 or expected not in data.get("error", ""):
            wrong.append((body, status, data))
    assert wrong == []
    assert d.runs() == []  # nothing was started


def test_every_bad_query_is_a_400_with_a_message(make_daemon):
    d = make_daemon().start()
    wrong = []
    for path in BAD_QUERIES:
        status, data = http(d.socket, "GET", path)
        if status != 400 or not data.get("error") or "internal error" in data["error"]:
            wrong.append((path, status, data))
    assert wrong == []


def test_limits_are_honoured_and_huge_ids_are_not_found(make_daemon):
    d = make_daemon().start()
    for job in ("harvest_reasoner", "export", "star"):
        assert http(d.socket, "POST", f"/v1/jobs/{job}/run")[0] == 202
    status, data = http(d.socket, "GET", "/v1/runs?limit=2")
    assert status == 200 and [r["job"] for r in data["runs"]] == ["star", "export"]
    status, data = http(d.socket, "GET", "/v1/runs/99999999999999999999999")
    assert status == 404 and "no run" in data["error"]
    metrics = urllib.request.urlopen(d.api("GET", "/v1/status")["metrics"]).read().decode()
    assert 'code="500"' not in metrics


def _post_raw(sock_path, head: bytes, body_parts) -> bytes:
    """Send a request as raw bytes (stopping if the server hangs up) and read its answer."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(sock_path))
    s.settimeout(10)
    try:
        s.sendall(head)
        for part in body_parts:
            s.sendall(part)
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused before the whole body was sent, as it should be
    reply = b""
    try:
        while chunk := s.recv(65536):
            reply += chunk
    except ConnectionResetError:
        pass
    s.close()
    return reply


def test_a_body_over_one_megabyte_is_refused_with_413(make_daemon):
    d = make_daemon().start()
    # A declared 100 MB body is refused before any of it is read.
    reply = _post_raw(d.socket, b"POST /v1/jobs/export/run HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n", [b"{"])
    assert reply.startswith(b"HTTP/1.1 413") and b"over the 1048576-byte limit" in reply
    # Chunked, with no length to refuse it by: cut off as it streams in.
    chunk = b"10000\r\n" + b"a" * 65536 + b"\r\n"
    reply = _post_raw(d.socket, b"POST /v1/jobs/export/run HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n", [chunk] * 40)
    assert reply.startswith(b"HTTP/1.1 413")
    assert d.runs() == []
    # A body under the cap still works.
    status, _ = http(d.socket, "POST", "/v1/jobs/train/run", b'{"args": {"specialist": "coder"}}')
    assert status == 202


def _trickle(sock_path, stop: threading.Event, out: list[bytes]) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(str(sock_path))
    s.settimeout(0.2)
    data = b""
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n")
    while not stop.is_set():
        try:
            s.sendall(b"X")  # one byte of a header that never ends
        except OSError:  # the server hung up: what it said is still in our buffer
            break
        try:
            chunk = s.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    s.settimeout(2)
    try:
        while chunk := s.recv(4096):
            data += chunk
    except OSError:
        pass
    out.append(data)
    s.close()


def test_slow_clients_are_cut_off_and_cannot_hold_the_api(make_daemon):
    d = make_daemon({"daemon": {"request_timeout": "1s"}}).start()
    stop = threading.Event()
    results: list[bytes] = []
    threads = [threading.Thread(target=_trickle, args=(d.socket, stop, results)) for _ in range(20)]
    for t in threads:
        t.start()
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(str(d.socket))  # connects and never says a word
    silent.settimeout(10)
    assert d.api("GET", "/v1/health")["status"] == "ok"
    for t in threads:
        t.join(timeout=10)
    stop.set()
    assert len(results) == 20
    assert all(r.startswith(b"HTTP/1.1 408") for r in results), results[:2]
    assert silent.recv(4096).startswith(b"HTTP/1.1 408")
    silent.close()
    metrics = urllib.request.urlopen(d.api("GET", "/v1/status")["metrics"]).read().decode()
    assert 'aitherd_errors_total{component="api",reason="request_timeout"} 21.0' in metrics


def test_connections_past_the_cap_get_503_and_are_closed(make_daemon):
    d = make_daemon({"daemon": {"max_connections": 8}}).start()
    held = []
    for _ in range(8):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(d.socket))
        held.append(s)
    extra = socket.socket(socket.AF_UNIX)
    extra.connect(str(d.socket))
    extra.settimeout(5)
    reply = extra.recv(4096)
    assert reply.startswith(b"HTTP/1.1 503") and b"too many connections" in reply
    assert extra.recv(4096) == b""  # and closed
    extra.close()
    for s in held:
        s.close()
    d.wait_for(lambda: _health(d), 5, "health once the connections are gone")


def _health(d) -> bool:
    try:
        return d.api("GET", "/v1/health")["status"] == "ok"
    except Exception:
        return False


def test_the_daemon_raises_its_descriptor_limit_to_fit_its_connections(make_daemon):
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2048:
        pytest.skip(f"the hard descriptor limit here is {hard}")

    def low_soft_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    d = make_daemon({"daemon": {"max_connections": 1024}})
    d.preexec = low_soft_limit
    d.start()
    limits = Path(f"/proc/{d.proc.pid}/limits").read_text()
    line = next(x for x in limits.splitlines() if x.startswith("Max open files"))
    assert int(line.split()[3]) >= 1024 + 256, line


def _stall_store(db) -> int:
    """Hold SQLite's WAL locks (bytes 120-127 of the -shm file) from this process, as a crashed
    or hung SQLite process recovering the WAL would: every read of the store waits (up to its
    30 s busy timeout) until the descriptor returned is closed."""
    fd = os.open(f"{db}-shm", os.O_RDWR)
    deadline = time.monotonic() + 10
    while True:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 8, 120, os.SEEK_SET)
            return fd
        except OSError:  # a read in progress holds one of them: try again
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_a_stuck_store_never_stalls_health_and_queued_requests_finish(make_daemon):
    d = make_daemon().start()
    answers: list[int] = []

    def get(path: str) -> None:
        answers.append(http(d.socket, "GET", path, timeout=60)[0])

    fd = _stall_store(d.state / "aitherd.db")
    waiting = [threading.Thread(target=get, args=(p,)) for p in ["/v1/status"] * 6 + ["/v1/runs"] * 2]
    try:
        for t in waiting:
            t.start()
        time.sleep(0.5)
        # With the store's queries on the event loop this waited out SQLite's busy timeout.
        for _ in range(5):
            status, data = http(d.socket, "GET", "/v1/health", timeout=5)
            assert status == 200 and data["status"] == "ok"
        assert answers == []  # the others are still waiting for the store
    finally:
        os.close(fd)
    for t in waiting:
        t.join(timeout=60)
    assert answers == [200] * 8


def test_requests_past_the_concurrency_limit_wait_their_turn_but_health_does_not(make_daemon):
    d = make_daemon({"daemon": {"concurrent_requests": 2}}).start()
    answers: list[int] = []

    def get(path: str) -> None:
        answers.append(http(d.socket, "GET", path, timeout=60)[0])

    fd = _stall_store(d.state / "aitherd.db")
    try:
        busy = [threading.Thread(target=get, args=("/v1/runs",)) for _ in range(2)]
        for t in busy:
            t.start()
        time.sleep(2)  # both slots now wait on the store
        queued = threading.Thread(target=get, args=("/v1/jobs/nope",))  # needs no store at all
        queued.start()
        queued.join(timeout=1.5)
        assert queued.is_alive() and answers == []  # it waits for a slot
        assert http(d.socket, "GET", "/v1/health", timeout=5)[0] == 200  # health skips the queue
    finally:
        os.close(fd)
    for t in [*busy, queued]:
        t.join(timeout=60)
    assert sorted(answers) == [200, 200, 404]


def test_five_hundred_status_clients_are_all_answered(make_daemon):
    """Not a latency check (bench/daemon.py measures that): every one of many concurrent
    clients gets a full answer, none a 5xx, and the daemon keeps its descriptors."""
    d = make_daemon().start()
    before = len(os.listdir(f"/proc/{d.proc.pid}/fd"))
    codes: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(3):
            status, data = http(d.socket, "GET", "/v1/status", timeout=60)
            with lock:
                codes.append(status if data.get("jobs") else -status)

    threads = [threading.Thread(target=client) for _ in range(500)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert codes == [200] * 1500
    d.wait_for(lambda: len(os.listdir(f"/proc/{d.proc.pid}/fd")) <= before + 5, 15,
               "connections to close")
