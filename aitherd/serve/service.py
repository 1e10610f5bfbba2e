"""What the daemon holds: the vLLM supervisor, the adapters, the relay process (the alias proxy and
the router, `relay_host`) and the GPU lease.

`Serving(loaded, engine, metrics)`; `await start()` after the control API is up, `await stop()`
at shutdown (the whole vLLM process group is gone when it returns), `await reload(loaded)` on
SIGHUP (vLLM restarts only when its command line or environment changed). With `[serve]
enabled = false` it does nothing and says so in status. Light: no torch, no vllm.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from aitherd.config import Loaded
from aitherd.logs import get_logger
from aitherd.metrics import Metrics
from aitherd.serve import store
from aitherd.serve.adapters import Adapters, ServeError
from aitherd.serve.config import ALIASES, ServeConfig
from aitherd.serve.gpu import GpuHandoff
from aitherd.serve.launch import vllm_args
from aitherd.serve.metrics import RelayCollector, ServeMetrics
from aitherd.serve.process import Supervisor
from aitherd.serve.relay_host import InFlight, RelayError, RelayHost, Unavailable
from aitherd.serve.router import model_file
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
        # the relay process writes its metrics here; the daemon's endpoint reads them at each scrape
        self.relay_metrics_dir = loaded.paths.socket.parent / "relay-metrics"
        shutil.rmtree(self.relay_metrics_dir, ignore_errors=True)
        metrics.registry.register(RelayCollector(str(self.relay_metrics_dir)))  # type: ignore[arg-type]
        self.inflight = InFlight(self.metrics.in_flight)
        self.accepting = True  # False while requests drain before a GPU hand-off
        self.proxy_error: str | None = None
        self.proxy: RelayHost | None = None
        self.supervisor: Supervisor | None = None
        self._adapters: Adapters | None = None
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
        await self._start_proxy()
        self.supervisor.start()
        self.gpu.start_watch()
        log.info("serving_started", model=self.supervisor.model, log=str(self.supervisor.log.path))

    async def _start_proxy(self) -> None:
        p = self.cfg.proxy
        if not p.enabled:
            return
        self.relay_metrics_dir.mkdir(parents=True, exist_ok=True)
        log_cfg = self.loaded.config.log
        self.proxy = RelayHost(p.address, p.port, self.relay_state, self.inflight, str(self.relay_metrics_dir),
                               self._relay_exited, log_level=log_cfg.level, log_format=log_cfg.format)
        try:
            await self.proxy.start()
            self.proxy_error = None
        except RelayError as err:  # the daemon keeps running; status says why there is no proxy
            self.proxy = None
            self.proxy_error = f"{err}; set [serve.proxy] port"
            self.daemon_metrics.errors.labels(component="serve", reason="proxy_bind").inc()
            log.error("proxy_failed", error=self.proxy_error)

    def _relay_exited(self) -> None:
        self.daemon_metrics.errors.labels(component="serve", reason="relay_exit").inc()

    async def sync_relay(self) -> None:
        """Hand the relay the current state and wait until it has it (after an operator action)."""
        if self.proxy is not None:
            await self.proxy.sync()

    async def _on_ready(self) -> None:
        await self.adapters.restore()
        await self.sync_relay()

    async def stop(self) -> None:
        await self.gpu.close()
        self.gpu.lease = None  # the server goes with it; a later start begins unlent
        self.accepting = True
        if self.proxy is not None:
            await self.proxy.stop()
            self.proxy = None
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
            changes.append("API key file changed")
        if old.router != new.router:
            changes.append("router settings changed")
        listen = (old.proxy.enabled, old.proxy.address, old.proxy.port)
        if listen != (new.proxy.enabled, new.proxy.address, new.proxy.port):
            if self.proxy is not None:
                await self.proxy.stop()
                self.proxy = None
            await self._start_proxy()
            changes.append("serving proxy restarted")
        else:
            await self.sync_relay()  # keys, router and timeouts reach the running relay
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

    # -- what the relay is told ---------------------------------------------------------------------
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

    def relay_state(self) -> dict[str, Any]:
        """Everything the relay needs to answer a request (see `relay.State`); plain JSON."""
        up, gone, ad = self.upstream(), self.unavailable(), self._adapters
        return {"upstream": [up.host, up.port] if up is not None else None,
                "unavailable": None if gone is None else {"message": gone.message, "retry_after": gone.retry_after},
                "served": {alias: ad.served(alias) for alias in ALIASES} if ad is not None else {},
                "base": self.base_name, "router": self.cfg.router.model_dump(mode="json"),
                "api_keys_file": self.cfg.proxy.api_keys_file,
                "request_timeout": self.cfg.proxy.request_timeout, "cards": self.alias_cards(),
                "state_dir": str(self.loaded.paths.state_dir)}

    def alias_cards(self) -> list[dict[str, Any]]:
        ad = self._adapters
        if ad is None:
            return []
        cards: list[dict[str, Any]] = [{"id": alias, "object": "model", "owned_by": "aitherd", "root": ad.served(alias),
                  "parent": self.base_name} for alias in ALIASES if ad.served(alias)]
        if self.cfg.router.enabled:
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
        await self.sync_relay()
        return sup.describe()

    async def server_stop(self) -> dict[str, Any]:
        sup = self._sup()
        self._not_lent("stop vLLM")
        async with self.adapters.lock:
            await sup.stop()
        await self.sync_relay()
        return sup.describe()

    async def server_restart(self) -> dict[str, Any]:
        sup = self._sup()
        self._not_lent("restart vLLM")
        self.adapters.ready.clear()
        sup.restart()
        await self.sync_relay()
        return sup.describe()

    async def deploy(self, specialist: str, version: str, *, force: bool = False) -> dict[str, Any]:
        ad = self.adapters
        async with ad.lock:
            self._not_lent("deploy")
            if not force:  # evaluate: the deploy gate, against the adapter live now
                await self._gate(specialist, version)
            out = await ad.deploy(specialist, version)
        await self.sync_relay()
        return out

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
            out = await ad.rollback(specialist)
        await self.sync_relay()
        return out

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
        relay = p.status if p is not None else {}
        keys = self.cfg.proxy.api_keys_file
        return {
            "enabled": True, **self.supervisor.describe(),
            "proxy": {"url": f"http://{p.address}:{p.port}/v1" if p else None,
                      "error": self.proxy_error, "accepting": self.accepting,
                      "relay": p.describe() if p is not None else None},
            **self.adapters.describe(), "gpu": self.gpu.describe(),
            "router": relay.get("router") or ({"enabled": self.cfg.router.enabled, "name": self.cfg.router.name,
                                                "model_file": str(model_file(self.loaded.paths.state_dir,
                                                                             self.cfg.router))}
                                               if p is None else None),
            "auth": relay.get("auth") or {"enabled": bool(keys), **({"file": keys} if keys else {})},
        }
