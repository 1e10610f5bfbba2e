"""Serving metrics. `ServeMetrics`, in the daemon's registry: server state, restarts, adapter loads,
deploys, the live version per alias, requests in flight and GPU hand-offs. `RelayMetrics`, in the
relay process (`relay`): requests, latency, errors per route and adapter version, router
decisions; it runs in prometheus_client's multiprocess mode (values in mmap files under
`PROMETHEUS_MULTIPROC_DIR`), and `RelayCollector` puts them on the daemon's endpoint, read at each
scrape, so they survive a restart of the relay. Labels stay bounded: alias is one of coder,
reasoner, orchestrator or `other`; versions appear only for live ones."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric

_LOAD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


class ServeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.state = Gauge("aitherd_serve_state", "1 for the model server's current state "
                           "(disabled, stopped, starting, up, asleep, backoff, failed, stopping)",
                           ["state"], registry=r)
        self.restarts = Counter("aitherd_serve_restarts", "vLLM starts after the first one",
                                registry=r)
        self.crashes = Counter("aitherd_serve_crashes",
                               "vLLM exits and health-check failures nobody asked for", registry=r)
        self.gave_up = Gauge("aitherd_serve_gave_up", "1 after too many crashes in the window: "
                             "no restart until `aitherctl serve start`", registry=r)
        self.adapter_loads = Counter("aitherd_serve_adapter_loads", "Adapter loads into vLLM",
                                     ["specialist", "outcome"], registry=r)
        self.adapter_load_seconds = Histogram("aitherd_serve_adapter_load_seconds",
                                              "Time to load an adapter into vLLM", ["specialist"],
                                              buckets=_LOAD_BUCKETS, registry=r)
        self.deploys = Counter("aitherd_serve_deploys", "Deploys and rollbacks by outcome",
                               ["specialist", "action", "outcome"], registry=r)
        self.live = Gauge("aitherd_serve_live_version", "1 for the adapter version each alias "
                          "serves (version `base`: the base model)", ["alias", "version"], registry=r)
        self.in_flight = Gauge("aitherd_serve_proxy_in_flight", "Proxied requests in progress",
                               registry=r)
        self.handoffs = Counter("aitherd_serve_gpu_handoffs", "GPU hand-offs to training",
                                ["policy", "step", "outcome"], registry=r)
        self._live: dict[str, str] = {}

    def set_live(self, alias: str, version: str | None) -> None:
        old = self._live.get(alias)
        if old == version:
            return
        if old is not None:
            self.live.remove(alias, old)
        if version is not None:
            self.live.labels(alias=alias, version=version).set(1)
            self._live[alias] = version
        else:
            self._live.pop(alias, None)


class RelayMetrics:
    """The relay's own metrics (in its process); `labels()` children are cached per request path."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.proxy_requests = Counter("aitherd_serve_proxy_requests",
                                      "Requests through the alias proxy by alias and status code",
                                      ["alias", "code"], registry=r)
        # the router: label `route` is orchestrator, coder, reasoner (the alias that answered), `other`
        # (the base or a versioned name asked for by name) or `none` (refused before routing);
        # `version` is the adapter version that answered, `base`, or `other`
        self.requests = Counter("aitherd_router_requests", "Requests through the OpenAI-compatible "
                                "endpoint by route, adapter version and status code",
                                ["route", "version", "code"], registry=r)
        self.request_seconds = Histogram("aitherd_router_request_seconds", "Request time through the "
                                         "endpoint, to the last byte (streams included)",
                                         ["route", "version"], buckets=_REQUEST_BUCKETS, registry=r)
        self.errors = Counter("aitherd_router_errors", "Requests that failed by route, version and "
                              "kind (bad_request, unauthorized, unavailable, upstream, upstream_status)",
                              ["route", "version", "kind"], registry=r)
        self.router_decisions = Counter("aitherd_router_decisions", "`model: auto` decisions by route "
                                        "and what decided (fim, request, learned, heuristic)",
                                        ["route", "by"], registry=r)
        self.router_model_errors = Counter("aitherd_router_model_errors",
                                           "Router model files that could not be loaded", registry=r)
        self._cache: dict[tuple[str, ...], tuple[Counter, Histogram]] = {}

    def done(self, route: str, version: str, code: int, seconds: float, kind: str | None) -> None:
        key = (route, version, str(code))
        pair = self._cache.get(key)
        if pair is None:
            pair = self._cache[key] = (self.requests.labels(route=route, version=version, code=key[2]),
                                       self.request_seconds.labels(route=route, version=version))
        pair[0].inc()
        pair[1].observe(seconds)
        if kind is None and code >= 500:
            kind = "upstream_status"
        if kind is not None:
            self.errors.labels(route=route, version=version, kind=kind).inc()


class RelayCollector:
    """The relay process's metrics, merged from its multiprocess files at each scrape."""

    def __init__(self, path: str) -> None:
        self.path = path

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.multiprocess import MultiProcessCollector

        files = glob.glob(os.path.join(self.path, "*.db"))
        yield from MultiProcessCollector.merge(files, accumulate=True)
