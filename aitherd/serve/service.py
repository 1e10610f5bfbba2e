"""What the daemon holds: the vLLM supervisor, the adapters, the alias proxy, the router and the GPU lease.

`Serving(loaded, engine, metrics)`; `await start()` after the control API is up, `await stop()`
at shutdown (the whole vLLM process group is gone when it returns), `await reload(loaded)` on
SIGHUP (vLLM restarts only when its command line or environment changed). With `[serve]
enabled = false` it does nothing and says so in status. Light: no torch, no vllm.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from aitherd.config import Loaded
from aitherd.logs import get_logger
from aitherd.metrics import Metrics
from aitherd.serve import store
from aitherd.serve.adapters import Adapters, ServeError
from aitherd.serve.auth import Denied, KeyFile
from aitherd.serve.config import ALIASES, ServeConfig
from aitherd.serve.gpu import GpuHandoff
from aitherd.serve.launch import vllm_args
from aitherd.serve.metrics import ServeMetrics
from aitherd.serve.process import Supervisor
from aitherd.serve.proxy import InFlight, ProxyServer, Target, Unavailable, build_proxy
from aitherd.serve.router import Router, RouteRequest
from aitherd.serve.upstream import Upstream

log = get_logger("aitherd.serve")


def base_model(loaded: Loaded) -> str:
    cfg = loaded.config.serve
    return cfg.model or loaded.config.train.base_model


def log_path(loaded: Loaded) -> Path:
    return loaded.paths.state_dir / "logs" / "vllm.log"


class Serving:
    def __init__(self, loaded: Loaded, engine: Engine, metrics: Metrics) -> None:
        self.loaded = loaded
        self.engine = engine
        self.daemon_metrics = metrics
        self.metrics = ServeMetrics(metrics.registry)
        self.inflight = InFlight(self.metrics)
        self.accepting = True  # False while requests drain before a GPU hand-off
        self.proxy_error: str | None = None
        self.proxy: ProxyServer | None = None
        self.supervisor: Supervisor | None = None
        self._adapters: Adapters | None = None
        self.router: Router | None = None
        self.keys = KeyFile("")
        self.gpu = GpuHandoff(self)
        if not self.cfg.enabled:
            self.metrics.state.labels(state="disabled").set(1)

    @property
    def cfg(self) -> ServeConfig:
        return self.loaded.config.serve

    @property
    def adapters(self) -> Adapters:
        if self._adapters is None:
            raise ServeError(409, "serving is disabled: set [serve] enabled = true and reload")
        return self._adapters

    @property
    def base_name(self) -> str:
        return self.cfg.served_model_name or base_model(self.loaded)

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.cfg.enabled:
            return
        self.metrics.state.labels(state="disabled").set(0)
        self.supervisor = Supervisor(self.cfg, base_model(self.loaded), log_path(self.loaded),
                                     self.metrics, self._on_ready, lora=self.loaded.config.lora)
        self._adapters = Adapters(self.engine, self.supervisor, self.inflight, self.metrics,
                                  lambda: self.cfg, self.base_name)
        self.keys = KeyFile(self.cfg.proxy.api_keys_file)
        self.router = Router(lambda: self.cfg.router, self.loaded.paths.state_dir, self.metrics)
        self.router.start(also=self.keys.refresh)
        await self._start_proxy()
        self.supervisor.start()
        self.gpu.start_watch()
        log.info("serving_started", model=self.supervisor.model, log=str(self.supervisor.log.path))

    async def _start_proxy(self) -> None:
        p = self.cfg.proxy
        if not p.enabled:
            return
        self.proxy = ProxyServer(build_proxy(self, self.inflight, self.metrics), p.address, p.port)
        try:
            await self.proxy.start()
            self.proxy_error = None
        except OSError as err:  # the daemon keeps running; status says why there is no proxy
            self.proxy = None
            self.proxy_error = (f"cannot listen on {p.address}:{p.port}: {err.strerror or err}; "
                                "set [serve.proxy] port")
            self.daemon_metrics.errors.labels(component="serve", reason="proxy_bind").inc()
            log.error("proxy_failed", error=self.proxy_error)

    async def _on_ready(self) -> None:
        await self.adapters.restore()

    async def stop(self) -> None:
        await self.gpu.close()
        self.gpu.lease = None  # the server goes with it; a later start begins unlent
        self.accepting = True
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None
        if self.router is not None:
            await self.router.stop()
            self.router = None
        if self.supervisor is not None:
            await self.supervisor.stop()
            self.supervisor.close()
            self.supervisor = None
        self._adapters = None

    async def reload(self, loaded: Loaded) -> list[str]:
        """Apply a new config; vLLM restarts only if its command line or environment changed."""
        old, old_model, old_lora = self.cfg, base_model(self.loaded), self.loaded.config.lora
        new, new_model, new_lora = loaded.config.serve, base_model(loaded), loaded.config.lora
        self.loaded = loaded
        changes: list[str] = []
        if old.enabled != new.enabled:
            if new.enabled:
                await self.start()
                changes.append("serving started")
            else:
                await self.stop()
                self.metrics.state.labels(state="disabled").set(1)
                changes.append("serving stopped")
            return changes
        if not new.enabled or self.supervisor is None:
            return changes
        if old.proxy.api_keys_file != new.proxy.api_keys_file:
            self.keys = KeyFile(new.proxy.api_keys_file)
            if self.router is not None:
                await self.router.stop()
                self.router.start(also=self.keys.refresh)
            changes.append("API key file changed")
        if old.router != new.router and self.router is not None:
            await self.router.refresh()
            changes.append("router settings changed")
        if old.proxy != new.proxy and self.proxy is not None:
            await self.proxy.stop()
        if old.proxy != new.proxy:
            await self._start_proxy()
            changes.append("serving proxy restarted")
        self.supervisor.cfg, self.supervisor.lora = new, new_lora
        if (vllm_args(old, old_model, old.port, old_lora) != vllm_args(new, new_model, new.port, new_lora)
                or old.env != new.env):
            self.supervisor.model = new_model
            if self._adapters is not None:
                self._adapters.base_name = self.base_name
            if self.supervisor.wanted and self.gpu.lease is None:
                self.adapters.ready.clear()
                self.supervisor.restart()
                changes.append("vLLM restarted: its settings changed")
            else:
                changes.append("vLLM settings changed: they apply at its next start")
        return changes

    # -- the proxy's backend -----------------------------------------------------------------------
    @property
    def request_timeout(self) -> float:
        return self.cfg.proxy.request_timeout

    def unavailable(self) -> Unavailable | None:
        sup = self.supervisor
        retry = int(self.cfg.proxy.retry_after)
        if sup is None:
            return Unavailable("serving is disabled", retry)
        if self.gpu.lease is not None or not self.accepting:
            lease = self.gpu.lease
            who = f"run {lease.run_id} ({lease.purpose})" if lease else "a training run"
            return Unavailable(f"the model server has lent its GPU to {who}; it is back when "
                               "training ends", retry)
        if sup.state == "up":
            if self._adapters is not None and not self._adapters.ready.is_set():
                # an alias would name an adapter this vLLM process has not loaded yet: 404s
                return Unavailable("the model server is loading the live adapters", min(retry, 5))
            return None
        if sup.state == "failed":
            return Unavailable(f"the model server is down: {sup.gave_up}", retry)
        detail = f" ({sup.last_error})" if sup.last_error and sup.state == "backoff" else ""
        return Unavailable(f"the model server is {sup.state}{detail}", retry)

    def upstream(self) -> Upstream | None:
        return self.supervisor.upstream if self.supervisor is not None else None

    def authorize(self, headers: Mapping[str, str]) -> Denied | None:
        return self.keys.check(headers)

    def resolve(self, model: str | None, request: RouteRequest) -> Target | None:
        ad = self._adapters
        if ad is None:
            return None
        router = self.router
        if router is not None and self.cfg.router.enabled and model == self.cfg.router.name:
            decision = router.decide(request)  # effort.BadRequest: a 400
            route, why = decision.route, decision.header()
            name = ad.served(route)
            if name is None:  # nothing live and no fallback to the base: the orchestrator answers
                route, why = "orchestrator", f"{why}; {route} has no live adapter"
                name = ad.served(route) or self.base_name
            return Target(name, route, why, base=name == self.base_name)
        if model is None or model == self.base_name:
            return Target(self.base_name, "other", "other; by=model", base=True)
        if model in ALIASES:
            name = ad.served(model)
            if name is None:
                return None
            return Target(name, model, f"{model}; by=model", base=name == self.base_name)
        return Target(model, "other", "other; by=model")

    def alias_cards(self) -> list[dict[str, Any]]:
        ad = self._adapters
        if ad is None:
            return []
        cards: list[dict[str, Any]] = [{"id": alias, "object": "model", "owned_by": "aitherd", "root": ad.served(alias),
                  "parent": self.base_name} for alias in ALIASES if ad.served(alias)]
        if self.router is not None and self.cfg.router.enabled:
            cards.append({"id": self.cfg.router.name, "object": "model", "owned_by": "aitherd",
                          "root": None, "parent": self.base_name,
                          "routes": {alias: ad.served(alias) for alias in ALIASES}})
        return cards

    # -- operator actions -----------------------------------------------------------------------
    def _not_lent(self, what: str) -> None:
        if self.gpu.lease is not None:
            raise ServeError(409, f"cannot {what}: the GPU is lent to run {self.gpu.lease.run_id} "
                                  f"({self.gpu.lease.purpose}) until training ends")

    def _sup(self) -> Supervisor:
        if self.supervisor is None:
            raise ServeError(409, "serving is disabled: set [serve] enabled = true and reload")
        return self.supervisor

    async def server_start(self) -> dict[str, Any]:
        sup = self._sup()
        self._not_lent("start vLLM")
        sup.start()
        return sup.describe()

    async def server_stop(self) -> dict[str, Any]:
        sup = self._sup()
        self._not_lent("stop vLLM")
        async with self.adapters.lock:
            await sup.stop()
        return sup.describe()

    async def server_restart(self) -> dict[str, Any]:
        sup = self._sup()
        self._not_lent("restart vLLM")
        self.adapters.ready.clear()
        sup.restart()
        return sup.describe()

    async def deploy(self, specialist: str, version: str, *, force: bool = False) -> dict[str, Any]:
        ad = self.adapters
        async with ad.lock:
            self._not_lent("deploy")
            if not force:  # evaluate: the deploy gate, against the adapter live now
                await self._gate(specialist, version)
            return await ad.deploy(specialist, version)

    async def _gate(self, specialist: str, version: str) -> None:
        """evaluate: serve only a version whose benchmark verdict is "deploy" (force overrides)."""
        import asyncio

        from aitherd.evaluate.config import evaluate_config_of
        from aitherd.evaluate.gate import gate_verdict

        if specialist not in ("coder", "reasoner") or store.find(self.engine, specialist, version) is None:
            return  # no such alias or adapter: the deploy itself says so
        verdict = await asyncio.to_thread(gate_verdict, self.engine, specialist, version,
                                          evaluate_config_of(self.loaded.config))
        if not verdict.deploy:
            raise ServeError(409, f"the deploy gate refuses {specialist} {version} ({verdict.verdict}): "
                                  + "; ".join(verdict.reasons)
                                  + f" (`aitherctl bench {specialist} {version} --report`; --force deploys anyway)",
                             verdict=verdict.verdict)

    async def rollback(self, specialist: str) -> dict[str, Any]:
        ad = self.adapters
        async with ad.lock:
            self._not_lent("roll back")
            return await ad.rollback(specialist)

    def adapter_rows(self) -> list[dict[str, Any]]:
        """Blocking: every adapter in the store with its state and whether vLLM has it loaded."""
        loaded = set(self._adapters.loaded) if self._adapters else set()
        live = dict(self._adapters.live) if self._adapters else {}
        out = []
        for row in store.adapters(self.engine):
            name = store.served_name(row.specialist, row.version)
            out.append({"specialist": row.specialist, "version": row.version, "name": name,
                        "state": row.state, "scores": row.scores, "path": row.path,
                        "created_at": row.created_at.isoformat() if row.created_at else None,
                        "deployed_at": row.deployed_at.isoformat() if row.deployed_at else None,
                        "note": row.note, "loaded": name in loaded,
                        "serving": live.get(row.specialist) == name})
        return out

    def log_tail(self, lines: int) -> dict[str, Any]:
        """Blocking: the last lines of the vLLM log file."""
        path = log_path(self.loaded)
        if not path.exists():
            return {"path": str(path), "lines": []}
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 256 * lines))
            data = fh.read().decode("utf-8", "replace").splitlines()
        return {"path": str(path), "lines": data[-lines:]}

    def status(self) -> dict[str, Any]:
        if not self.cfg.enabled or self.supervisor is None:
            return {"enabled": False, "state": "disabled"}
        p = self.proxy
        return {
            "enabled": True, **self.supervisor.describe(),
            "proxy": {"url": f"http://{p.address}:{p.port}/v1" if p else None,
                      "error": self.proxy_error, "accepting": self.accepting},
            **self.adapters.describe(), "gpu": self.gpu.describe(),
            "router": self.router.describe() if self.router is not None else None,
            "auth": self.keys.describe(),
        }
