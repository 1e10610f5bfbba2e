"""Prometheus metrics: one registry for the daemon, served on loopback TCP.

Names carry the `aitherd_` prefix and base units; labels stay low-cardinality (job, status,
specialist, kind, reason, source). Counters are fed by the runner from each run's result
(`observe_counts`); what the store, the state filesystem and the schedule hold is read at scrape
time (aitherd.scrape). The `job` label is aitherd's job name: scrape with `honor_labels: true`
(etc/prometheus/prometheus.yml), or Prometheus renames it `exported_job`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
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

from aitherd import __version__
from aitherd.jobs import FINAL_STATUSES, JOBS
from aitherd.scrape import StateCollector, last_successes, schedule_interval_s

_DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 43200, 86400)


# Metrics that later issues will export; the dashboard and alert rules already use them (their rows
# and rules stay empty until then). A name moves out of here when the daemon exports it: a test
# fails while a planned name is exported, or while the dashboard or rules use a name in neither.
PLANNED: dict[str, str] = {
    "aitherd_vllm_up": "issue 16 (serving): 1 while the managed vLLM answers /health",
    "aitherd_vllm_state": "issue 16 (serving): 1 for the server's state (running, asleep, stopped, starting)",
    "aitherd_vllm_restarts_total": "issue 16 (serving): restarts of the vLLM child",
    "aitherd_adapter_load_seconds_bucket": "issue 16 (serving): time to load an adapter into vLLM, by alias",
    "aitherd_adapter_live_info": "issue 16 (serving): the live version per alias",
    "aitherd_router_requests_total": "issue 18 (router): requests per route and status code",
    "aitherd_router_request_duration_seconds_bucket": "issue 18 (router): request latency per route",
}


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
        self.examples_stored = Counter("aitherd_examples_stored",
                                       "New examples stored (accepted or rejected), by job and source",
                                       ["job", "source"], registry=r)
        self.rejections = Counter("aitherd_curation_rejections",
                                  "Candidates curation rejected, by job and reason", ["job", "reason"],
                                  registry=r)
        self.redactions = Counter("aitherd_redactions", "Secrets redacted before storing, by job and kind",
                                  ["job", "kind"], registry=r)
        self.llm_requests = Counter("aitherd_llm_requests", "Requests to a teacher or augmentation endpoint",
                                    ["job", "source"], registry=r)
        self.llm_retries = Counter("aitherd_llm_retries", "Requests retried after a rate limit, server error "
                                   "or unreachable endpoint", ["job", "source"], registry=r)
        self.llm_tokens = Counter("aitherd_llm_tokens", "Tokens spent at a teacher or augmentation endpoint",
                                  ["job", "source"], registry=r)
        for job in JOBS:  # every series exists from the start, so increase() sees the first run
            for status in FINAL_STATUSES:
                self.job_runs.labels(job=job, status=status)
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
        # The STaR learning curve of the latest iteration, per problem source (and "all").
        star = {name: Gauge(f"aitherd_{name}", help_, ["source"], registry=r) for name, help_ in (
            ("star_problems_tried", "Problems a STaR iteration asked"),
            ("star_solve_rate", "Share of asked problems a sample solved before rationalization"),
            ("star_rationalized", "Problems solved only with the answer as a hint"),
            ("star_kept", "Correct, distinct rationales a STaR iteration kept"),
            ("star_accepted", "Kept STaR rationales curation accepted into the store"))}
        star["star_iteration"] = Gauge("aitherd_star_iteration", "Number of the latest STaR iteration",
                                       ["specialist"], registry=r)
        # Gauges a job may set through `ctx.gauge(NAME, value, **labels)`, by NAME.
        self.job_gauges: dict[str, Gauge] = {
            "train_loss": self.train["loss"], "train_learning_rate": self.train["learning_rate"],
            "train_tokens_per_second": self.train["tokens_per_s"], "train_eta_seconds": self.train["eta_s"],
            "train_step": self.train_step, "train_steps_planned": self.train_steps_total, **star,
        }
        self.scheduler_paused = Gauge("aitherd_scheduler_paused", "1 while the scheduler is paused",
                                      registry=r)
        self.api_requests = Counter("aitherd_api_requests", "Control API requests",
                                    ["method", "code"], registry=r)
        self._server: Any = None

    def set_job_gauge(self, name: str, value: Any, labels: dict[str, Any]) -> bool:
        """A job's gauge message; False (and nothing set) for an unknown name or bad labels."""
        gauge = self.job_gauges.get(name)
        if gauge is None or not isinstance(value, int | float) or isinstance(value, bool):
            return False
        try:
            gauge.labels(**{k: str(v) for k, v in labels.items()}).set(value)
        except ValueError:  # labels that do not match the gauge's
            return False
        return True

    def observe_counts(self, job: str, counts: dict[str, Any]) -> None:
        """Turn a finished run's counts into counters: `errors.SOURCE`, `stored.SOURCE`,
        `rejected.REASON`, `redacted.KIND`, and a generator's `requests.`, `retries.` and
        `tokens.SOURCE`, each a number."""
        prefixes = {"errors.": self.input_errors, "stored.": self.examples_stored,
                    "rejected.": self.rejections, "redacted.": self.redactions,
                    "requests.": self.llm_requests, "retries.": self.llm_retries, "tokens.": self.llm_tokens}
        for key, value in counts.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                continue
            head, dot, rest = key.partition(".")
            counter = prefixes.get(head + dot)
            if counter is not None and rest:
                counter.labels(job, rest).inc(value)

    def watch_state(self, engine: Any, state_dir: Path, db: Path, loaded: Callable[[], Any],
                    schedule: Callable[[], Any]) -> StateCollector:
        """Serve what the store, the state filesystem and the schedule hold, read at scrape time;
        the last success of each job starts from the store, so it survives a restart."""
        for job, when in last_successes(engine).items():
            self.job_last_success.labels(job=job).set(when)
        cache: dict[str, Any] = {}

        def facts() -> dict[str, float]:
            current, sched = loaded(), schedule()
            if current is None or (sched is not None and sched.paused):
                return {}
            cfg = current.config
            if cache.get("config") is not cfg:
                from aitherd.schedule import resolve_timezone

                tz = resolve_timezone(cfg.scheduler.timezone)
                cache["config"] = cfg
                cache["intervals"] = {name: schedule_interval_s(s.every, s.cron, tz)
                                      for name, s in cfg.jobs.items() if s.enabled}
            return {name: seconds for name, seconds in cache["intervals"].items()
                    if sched is None or not sched.job_paused(name)}

        collector = StateCollector(
            engine, state_dir, db, JOBS, facts,
            on_error=lambda part: self.errors.labels(component="metrics", reason=part).inc())
        self.registry.register(collector)
        from aitherd.evaluate.metrics import EvaluationCollector  # evaluate: pass rates, gate verdicts

        self.registry.register(EvaluationCollector(  # evaluate
            engine, on_error=lambda part: self.errors.labels(component="metrics", reason=part).inc()))
        collector.scan.current()  # start the first table scan now, not at the first scrape
        return collector

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
