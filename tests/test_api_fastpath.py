"""The control socket's fast path: /v1/health and a fresh /v1/status answered without the ASGI
stack give the same answers as the normal path, keep HTTP/1.1 order and timeouts on a kept-alive
connection, never serve a status older than a finished run, and health answers while every
status request waits."""

from __future__ import annotations

import json
import os
import socket
import threading
import urllib.request
from types import SimpleNamespace

import pytest
from support import http
from test_api_limits import _stall_store

from aitherd.api.control import SchedulerState
from aitherd.api.fastpath import FastPath, StatusCache, frame, health_answer, parse

PLAIN = b"GET /v1/health HTTP/1.1\r\nHost: aitherd\r\nAccept-Encoding: identity\r\n\r\n"


class Conn:
    """One kept-alive raw connection: send bytes, read whole responses in order."""

    def __init__(self, path) -> None:
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(str(path))
        self.s.settimeout(30)
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.s.sendall(data)

    def get(self, path: str, extra: str = "") -> None:
        self.send(f"GET {path} HTTP/1.1\r\nHost: aitherd\r\n{extra}\r\n".encode())

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError(f"closed; had {self.buf!r}")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        while len(self.buf) < length:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed mid-body")
            self.buf += chunk
        body, self.buf = self.buf[:length], self.buf[length:]
        return int(lines[0].split()[1]), headers, body

    def closed(self) -> bool:
        return self.buf == b"" and self.s.recv(1) == b""

    def close(self) -> None:
        self.s.close()


def _fast_answers(d) -> float:
    """aitherd_api_requests_total{method="GET",code="200"} as the metrics endpoint shows it."""
    url = d.api("GET", "/v1/status")["metrics"]
    for line in urllib.request.urlopen(url).read().decode().splitlines():
        if line.startswith('aitherd_api_requests_total{code="200",method="GET"}'):
            return float(line.split()[-1])
    return 0.0


# -- the request test and the cache, on their own -------------------------------------------------

@pytest.mark.parametrize("data,expected", [
    (PLAIN, (b"/v1/health", False)),
    (b"GET /v1/status HTTP/1.1\r\nhost: x\r\n\r\n", (b"/v1/status", False)),
    (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", (b"/v1/status", True)),
    (b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n", (b"/v1/status", False)),
])
def test_a_plain_get_of_health_or_status_is_taken(data, expected):
    assert parse(data) == expected


@pytest.mark.parametrize("data", [
    b"GET /v1/health HTTP/1.0\r\nHost: x\r\n\r\n",  # HTTP/1.0: the normal path knows its rules
    b"GET /v1/health?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /v1/health HTTP/1.1\r\n\r\n",  # no Host: h11 answers 400
    b"GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}",
    b"GET /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET /v1/health HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n",
    b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\n\r\n",
    b"GET /v1/health HTTP/1.1\r\nHost: x\r\n",  # not all here yet
    PLAIN + PLAIN,  # pipelined: the normal path keeps the order
    b"GET /v1/health HTTP/1.1\r\nHost x\r\n\r\n",  # a malformed header: h11 answers 400
    b"GET /v1/health HTTP/1.1\r\nBad Name: x\r\nHost: x\r\n\r\n",
])
def test_anything_else_is_left_to_the_normal_path(data):
    assert parse(data) is None


def test_the_status_cache_serves_one_generation_for_at_most_its_ttl():
    now = [100.0]
    cache = StatusCache(ttl=0.5, clock=lambda: now[0])
    assert cache.fresh(3) is None  # nothing rendered yet
    cache.store(3, b"A", rendered_at=100.0)
    assert cache.fresh(3) == b"A"
    assert cache.fresh(4) is None  # a run started or finished since: never served
    now[0] = 100.49
    assert cache.fresh(3) == b"A"
    now[0] = 100.5
    assert cache.fresh(3) is None  # too old
    cache.store(3, b"B", rendered_at=100.5)
    cache.store(3, b"older", rendered_at=100.2)  # a slower render that started earlier
    assert cache.fresh(3) == b"B"
    cache.store(4, b"C", rendered_at=100.5)
    assert cache.fresh(4) == b"C" and cache.fresh(3) is None


def test_health_says_degraded_with_503_when_the_scheduler_is_not_running():
    counted: list[tuple[str, str]] = []

    def control(running: bool) -> SimpleNamespace:
        return SimpleNamespace(generation=0, scheduler_state=lambda: SchedulerState(running, False, "UTC"))

    fast = FastPath(control(False), StatusCache(), lambda m, c: counted.append((m, c)), render=None)  # type: ignore[arg-type]
    assert fast.health() == (503, b'{"status":"degraded"}')
    assert health_answer(control(True)) == (200, b'{"status":"ok"}')  # type: ignore[arg-type]
    assert counted == [("GET", "503")]
    head = frame(503, b"{}", [(b"server", b"x")], close=True).split(b"\r\n")
    assert head[0] == b"HTTP/1.1 503 Service Unavailable" and b"connection: close" in head


# -- through a running daemon ----------------------------------------------------------------------

def test_fast_answers_equal_the_normal_paths_and_are_counted(make_daemon):
    d = make_daemon().start()
    c = Conn(d.socket)
    try:
        c.get("/v1/health")
        fast_health = c.response()
        c.get("/v1/health?via=asgi")  # a query string: the normal path answers
        assert c.response()[::2] == fast_health[::2] == (200, b'{"status":"ok"}')
        before = _fast_answers(d)
        c.get("/v1/status")  # renders and caches
        code, _, body = c.response()
        c.get("/v1/status")  # the cached body, from the fast path
        code2, headers2, body2 = c.response()
        c.get("/v1/status?x=1")  # the ASGI route, same cache
        code3, _, body3 = c.response()
        assert code == code2 == code3 == 200 and headers2["content-type"] == "application/json"
        status = json.loads(body2)
        assert status["jobs"] and status["scheduler"]["running"] is True
        for other in (json.loads(body), json.loads(body3)):
            assert {k: v for k, v in other.items() if k != "uptime_s"} == \
                   {k: v for k, v in status.items() if k != "uptime_s"}
        assert _fast_answers(d) >= before + 3  # every answer counted, wherever it was made
    finally:
        c.close()


def test_one_kept_alive_connection_mixes_fast_and_normal_requests_in_order(make_daemon):
    d = make_daemon().start()
    c = Conn(d.socket)
    try:
        c.get("/v1/status")
        assert c.response()[0] == 200
        c.send(b"POST /v1/jobs/export/run HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        assert c.response()[0] == 202
        c.get("/v1/health")
        assert c.response()[0] == 200
        c.get("/v1/jobs/nope")
        assert c.response()[0] == 404
        # Pipelined in one write: the normal path answers both, in order.
        c.send(b"GET /v1/runs HTTP/1.1\r\nHost: x\r\n\r\n" + PLAIN)
        first, second = c.response(), c.response()
        assert json.loads(first[2])["runs"] and second[2] == b'{"status":"ok"}'
        c.get("/v1/status", "Connection: close\r\n")
        assert c.response()[0] == 200 and c.closed()
    finally:
        c.close()


def test_status_never_shows_a_run_older_than_the_last_finish(make_daemon):
    """The cached body belongs to one generation: once a run has finished, the next /v1/status
    shows it (no waiting out the cache's half second)."""
    d = make_daemon()
    d.plan({"export": {"steps": 2, "sleep": 0.2}})
    d.start()
    assert http(d.socket, "GET", "/v1/status")[1]["counts"]["runs"] == {}  # cached now
    assert http(d.socket, "POST", "/v1/jobs/export/run")[0] == 202
    d.wait_for(lambda: any(r["status"] == "ok" for r in d.runs(job="export")), 20, "the run to finish")
    # /v1/runs reads the store; the daemon moves its generation as it records the finish.
    d.wait_for(lambda: http(d.socket, "GET", "/v1/jobs/export")[1]["running"] is None, 20, "the finish")
    c = Conn(d.socket)
    try:
        for _ in range(3):  # the first may render; the next come from the cache: all show the run
            c.get("/v1/status")
            status = json.loads(c.response()[2])
            export = next(j for j in status["jobs"] if j["name"] == "export")
            assert export["running"] is None and export["last_run"]["status"] == "ok"
            assert status["counts"]["runs"]["ok"] == 1  # (export may have chained the next job)
    finally:
        c.close()


def test_health_answers_while_every_status_request_waits_on_the_store(make_daemon):
    d = make_daemon().start()
    answers: list[int] = []
    lock = threading.Lock()

    def status() -> None:
        code = http(d.socket, "GET", "/v1/status", timeout=60)[0]
        with lock:
            answers.append(code)

    fd = _stall_store(d.state / "aitherd.db")  # nothing rendered yet: every status waits
    waiting = [threading.Thread(target=status) for _ in range(100)]
    queued = Conn(d.socket)
    c = Conn(d.socket)  # a health checker's kept-alive connection
    try:
        for t in waiting:
            t.start()
        queued.get("/v1/status")
        queued.get("/v1/health")  # sent before its status is answered: kept, answered after it
        for _ in range(5):
            c.get("/v1/health")
            assert c.response()[::2] == (200, b'{"status":"ok"}')
            assert http(d.socket, "GET", "/v1/health", timeout=10)[0] == 200  # a new connection too
        assert answers == []  # the status requests are all still waiting
    finally:
        os.close(fd)
    for t in waiting:
        t.join(timeout=60)
    assert answers == [200] * 100
    first, second = queued.response(), queued.response()
    assert json.loads(first[2])["jobs"] and second[2] == b'{"status":"ok"}'
    c.close()
    queued.close()


def test_a_connection_answered_fast_still_gets_the_request_timeout(make_daemon):
    d = make_daemon({"daemon": {"request_timeout": "1s"}}).start()
    c = Conn(d.socket)
    try:
        for _ in range(3):
            c.get("/v1/health")
            assert c.response()[0] == 200
        c.send(b"GET /v1/runs HTTP/1.1\r\nHo")  # and then nothing more
        code, _, body = c.response()
        assert code == 408 and b"did not arrive within 1s" in body
        assert c.closed()
    finally:
        c.close()


def test_the_old_path_gives_the_same_answers(make_daemon):
    """AITHERD_API_FAST_PATH=0 (bench/daemon.py's baseline) answers through the ASGI app only."""
    d = make_daemon(env={"AITHERD_API_FAST_PATH": "0"}).start()
    c = Conn(d.socket)
    try:
        c.get("/v1/health")
        assert c.response()[::2] == (200, b'{"status":"ok"}')
        for _ in range(2):
            c.get("/v1/status")
            code, _, body = c.response()
            assert code == 200 and json.loads(body)["scheduler"]["running"] is True
    finally:
        c.close()
