"""What a job is, seen from the domain code that does the work: its context (config, store,
progress reporting, stop flag) and its result. Low-level on purpose: sources, curation, export
and training import this module, never the job registry (aitherd.jobs) or the daemon.

Messages to the daemon are JSON lines of three typed shapes, forwarded without knowing which job
sent them: `progress` (stage, done, total, counts so far: integers), `gauge` (a named value with
labels, for the daemon's metrics) and `result` (status, counts, outputs, message, error).

Counts are numbers only (what was stored, dropped, retried; a step, a loss, a score): the daemon
sums them into metrics and tables. What a run made or decided, as text (an adapter version, a
gate verdict), is an output: `outputs` maps a name (`adapter.coder`, `verdict.reasoner`) to it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from sqlalchemy import Engine

from aitherd.config import Loaded

Status = Literal["ok", "skipped", "failed", "interrupted"]
FINAL_STATUSES: tuple[Status, ...] = ("ok", "skipped", "failed", "interrupted")
Number = int | float


@dataclass
class RunResult:
    status: Status = "ok"
    counts: dict[str, Number] = field(default_factory=dict)
    message: str | None = None
    error: str | None = None
    # What the run made or decided, by name: `adapter.coder` -> "v0003", `verdict.coder` -> "deploy".
    outputs: dict[str, str] = field(default_factory=dict)


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def numbers_only(counts: dict[str, Any]) -> tuple[dict[str, Number], list[str]]:
    """(the counts that are numbers, the keys that were not): a count that is text, None or a
    structure is a producer's bug; the worker drops it and says which key."""
    kept = {k: v for k, v in counts.items() if is_number(v)}
    return kept, sorted(k for k in counts if k not in kept)


@dataclass
class JobContext:
    job: str
    run_id: int
    trigger: str
    loaded: Loaded
    engine: Engine
    log: Any
    _channel: IO[str] | None = None
    # A plain flag, not a threading.Event: it is set from a signal handler, and a handler that
    # takes a lock can deadlock against the code it interrupted.
    _stop: bool = False
    counts: dict[str, Any] = field(default_factory=dict)
    args: dict[str, Any] = field(default_factory=dict)  # from `aitherctl run JOB --arg k=v`
    _last_progress: float = 0.0
    daemon_gone: bool = False  # the channel to the daemon broke: nobody will read a result

    def should_stop(self) -> bool:
        """True once the daemon asked this run to stop: checkpoint and return soon."""
        return self._stop

    def request_stop(self) -> None:
        self._stop = True

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def progress(self, stage: str, done: int | None = None, total: int | None = None,
                 *, force: bool = False) -> None:
        """Report progress to the daemon (throttled to a few messages a second)."""
        now = time.monotonic()
        if not force and now - self._last_progress < 0.2:
            return
        self._last_progress = now
        self.send({"type": "progress", "stage": stage, "done": done, "total": total,
                   "counts": self.counts})

    def gauge(self, name: str, value: float, **labels: str) -> None:
        """Set one of the daemon's job gauges (metrics.JOB_GAUGES names them), e.g.
        `ctx.gauge("train_loss", 1.9, specialist="coder")`. Sent at once, not throttled."""
        self.send({"type": "gauge", "name": name, "value": value, "labels": labels})

    def send(self, message: dict[str, Any]) -> None:
        """Write one message to the daemon. A broken channel means the daemon is gone: the run
        stops at its next checkpoint instead of harvesting on beside the daemon's resumed run."""
        if self._channel is None:
            return
        try:
            self._channel.write(json.dumps(message, default=str) + "\n")
            self._channel.flush()
        except (BrokenPipeError, ConnectionError, ValueError, OSError):
            self._channel = None
            self._stop = True
            self.daemon_gone = True
