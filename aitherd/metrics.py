"""Prometheus metrics: one registry for the daemon, served on loopback TCP.

Names carry the `aitherd_` prefix and base units; labels stay low-cardinality (job, status,
specialist, kind, reason).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from aitherd import __version__

_DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400)


class _StoreCollector(Collector):
    """Example counts read from the store at scrape time, so they are never stale."""

    def __init__(self, query: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self._query = query

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "aitherd_examples", "Examples in the store by specialist and status",
            labels=["specialist", "status"])
        try:
            for specialist, status, n in self._query():
                family.add_metric([specialist, status], n)
        except Exception:
            pass
        yield family


class Metrics:
    def __init__(self) -> None:
        disable_created_metrics()  # no *_created series: promtool-clean, smaller scrapes
        self.registry = CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        Info("aitherd_build", "aitherd version", registry=r).info({"version": __version__})
        self.job_runs = Counter("aitherd_job_runs", "Job runs by job and final status",
                                ["job", "status"], registry=r)
        self.job_duration = Histogram("aitherd_job_run_duration_seconds", "Job run duration",
                                      ["job"], buckets=_DURATION_BUCKETS, registry=r)
        self.job_last_success = Gauge("aitherd_job_last_success_timestamp_seconds",
                                      "Unix time of the job's last successful run",
                                      ["job"], registry=r)
        self.job_running = Gauge("aitherd_job_running", "1 while the job runs", ["job"],
                                 registry=r)
        self.watch_events = Counter("aitherd_watch_events", "Relevant file-system events seen",
                                    ["kind"], registry=r)
        self.watch_triggers = Counter("aitherd_watch_triggers",
                                      "Harvests started early by a watcher", ["job"], registry=r)
        self.errors = Counter("aitherd_errors", "Errors handled without stopping the daemon",
                              ["component", "reason"], registry=r)
        self.input_errors = Counter("aitherd_input_errors",
                                    "Bad input a job skipped and recorded (malformed lines, "
                                    "corrupt repos, failing sources)", ["job", "source"], registry=r)
        self.train = {
            "loss": Gauge("aitherd_train_loss", "Training loss of the latest logged step",
                          ["specialist"], registry=r),
            "learning_rate": Gauge("aitherd_train_learning_rate", "Learning rate of the latest step",
                                   ["specialist"], registry=r),
            "tokens_per_s": Gauge("aitherd_train_tokens_per_second", "Training throughput",
                                  ["specialist"], registry=r),
            "eta_s": Gauge("aitherd_train_eta_seconds", "Estimated time left in the training run",
                           ["specialist"], registry=r),
        }
        self.train_step = Gauge("aitherd_train_step", "Optimizer steps done in the training run",
                                ["specialist"], registry=r)
        self.train_steps_total = Gauge("aitherd_train_steps_planned",
                                       "Optimizer steps the training run will take",
                                       ["specialist"], registry=r)
        self.scheduler_paused = Gauge("aitherd_scheduler_paused", "1 while the scheduler is paused",
                                      registry=r)
        self.api_requests = Counter("aitherd_api_requests", "Control API requests",
                                    ["method", "code"], registry=r)
        self._server: Any = None

    def observe_train(self, progress: dict[str, Any]) -> None:
        """Turn the train job's progress (stage 'train SPECIALIST', counts) into gauges."""
        stage = str(progress.get("stage") or "")
        counts = progress.get("counts") or {}
        for specialist in ("coder", "reasoner"):
            for key, gauge in self.train.items():
                value = counts.get(f"{specialist}_{key}")
                if isinstance(value, int | float):
                    gauge.labels(specialist=specialist).set(value)
        if stage.startswith("train ") and stage[6:] in ("coder", "reasoner"):
            specialist = stage[6:]
            if isinstance(progress.get("done"), int):
                self.train_step.labels(specialist=specialist).set(progress["done"])
            if isinstance(progress.get("total"), int):
                self.train_steps_total.labels(specialist=specialist).set(progress["total"])

    def watch_store(self, query: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self.registry.register(_StoreCollector(query))

    def serve(self, address: str, port: int) -> tuple[str, int]:
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        self._server = server
        host, bound_port = server.server_address[:2]
        return str(host), int(bound_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
