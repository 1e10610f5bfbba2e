"""Adapters behind aliases: load a version under its own name, verify it, flip the alias, unload
the old version once its requests are done.

Verify means: the adapter answers, and on fixed probe prompts with greedy decoding its answer
differs from the base model's (vLLM serves an adapter whose target modules do not match the
model as the base, silently). A failed verify unloads the candidate, marks it rejected and leaves
the live alias as it was. The alias map lives here in memory (one dict assignment is the flip);
the store's Adapter rows say which version is live, so a restart loads the same ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from aitherd.errors import ServiceError
from aitherd.logs import get_logger
from aitherd.serve import store
from aitherd.serve.config import ALIASES, ServeConfig
from aitherd.serve.metrics import ServeMetrics
from aitherd.serve.process import Supervisor
from aitherd.serve.relay_host import InFlight
from aitherd.serve.upstream import Upstream, UpstreamError
from aitherd.store.models import Adapter

log = get_logger("aitherd.serve.adapters")


class ServeError(ServiceError):
    """An operation refused or failed; `http_status` is what the control API answers with."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.http_status = status
        self.extra = extra


class Adapters:
    def __init__(self, engine: Engine, supervisor: Supervisor, inflight: InFlight,
                 metrics: ServeMetrics, cfg: Callable[[], ServeConfig], base_name: str) -> None:
        self.engine = engine
        self.supervisor = supervisor
        self.inflight = inflight
        self.metrics = metrics
        self.cfg = cfg
        self.base_name = base_name
        self.lock = asyncio.Lock()  # one deploy, rollback or GPU hand-off at a time
        self.ready = asyncio.Event()  # set once the live adapters of this vLLM start are loaded
        self.live: dict[str, str] = {}  # alias -> served name
        self.versions: dict[str, str] = {}  # alias -> version
        self.loaded: dict[str, str] = {}  # served name -> adapter path, in this vLLM process
        self.problems: dict[str, str] = {}  # alias -> why its live version is not served
        self._base: tuple[int, list[str]] | None = None
        self._unloads: dict[str, asyncio.Task[None]] = {}

    # -- what the proxy asks --------------------------------------------------------------------
    def served(self, alias: str) -> str | None:
        name = self.live.get(alias)
        if name is not None:
            return name
        if alias == "orchestrator" or self.cfg().proxy.fallback_to_base:
            return self.base_name
        return None

    # -- vLLM calls -----------------------------------------------------------------------------
    def _up(self) -> Upstream:
        up = self.supervisor.upstream
        if self.supervisor.state != "up" or up is None:
            raise ServeError(409, f"vLLM is {self.supervisor.state}, not up")
        return up

    async def _load(self, row: Adapter) -> float:
        name = store.served_name(row.specialist, row.version)
        if name in self.loaded:
            return 0.0
        if not Path(row.path).is_dir():
            raise ServeError(404, f"{name}: adapter directory {row.path} is missing")
        t0 = time.monotonic()
        try:
            resp = await self._up().request("POST", "/v1/load_lora_adapter",
                                            {"lora_name": name, "lora_path": row.path},
                                            timeout=self.cfg().verify.timeout)
        except UpstreamError as err:
            self.metrics.adapter_loads.labels(specialist=row.specialist, outcome="error").inc()
            raise ServeError(502, f"{name}: loading failed: {err}") from None
        took = time.monotonic() - t0
        if resp.status == 400 and "already been loaded" in resp.text:
            pass  # loaded by an earlier attempt that was interrupted
        elif resp.status == 404 and "error" not in resp.text:
            raise ServeError(502, "vLLM has no /v1/load_lora_adapter: it needs "
                                  "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (aitherd sets it; check "
                                  "[serve] env and command)")
        elif resp.status != 200:
            self.metrics.adapter_loads.labels(specialist=row.specialist, outcome="refused").inc()
            raise ServeError(422, f"{name}: vLLM refused the adapter ({resp.status}): "
                                  f"{_error_text(resp.text)}")
        self.loaded[name] = row.path
        self.metrics.adapter_loads.labels(specialist=row.specialist, outcome="ok").inc()
        self.metrics.adapter_load_seconds.labels(specialist=row.specialist).observe(took)
        log.info("adapter_loaded", name=name, path=row.path, seconds=round(took, 3))
        return took

    async def _unload(self, name: str) -> None:
        self.loaded.pop(name, None)
        try:
            resp = await self._up().request("POST", "/v1/unload_lora_adapter",
                                            {"lora_name": name}, timeout=30)
        except (UpstreamError, ServeError) as err:
            log.warning("adapter_unload_failed", name=name, error=str(err))
            return
        if resp.status not in (200, 404):
            log.warning("adapter_unload_failed", name=name, status=resp.status, body=resp.text[:200])
        else:
            log.info("adapter_unloaded", name=name)

    def _unload_when_idle(self, name: str) -> None:
        async def later() -> None:
            try:
                await self.inflight.drained(name, self.cfg().proxy.request_timeout + 5)
                if name not in self.live.values():
                    await self._unload(name)
            finally:
                self._unloads.pop(name, None)

        self._cancel_unload(name)
        self._unloads[name] = asyncio.create_task(later())

    def _cancel_unload(self, name: str) -> None:
        task = self._unloads.pop(name, None)
        if task is not None:
            task.cancel()

    async def _probe(self, model: str, prompt: str) -> str:
        v = self.cfg().verify
        try:
            resp = await self._up().request("POST", "/v1/chat/completions", {
                "model": model, "messages": [{"role": "user", "content": prompt}],
                "max_tokens": v.max_tokens, "temperature": 0, "seed": v.seed, "stream": False,
            }, timeout=v.timeout)
        except UpstreamError as err:
            raise ServeError(502, f"{model} did not answer the probe: {err}") from None
        if resp.status != 200:
            raise ServeError(422, f"{model} did not answer the probe ({resp.status}): "
                                  f"{_error_text(resp.text)}")
        try:
            message = resp.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise ServeError(422, f"{model}: the probe answer is not a chat completion") from None
        text = "\n".join(str(message.get(k) or "") for k in ("reasoning_content", "reasoning",
                                                              "content"))
        if not text.strip():
            raise ServeError(422, f"{model} answered the probe with no text")
        return text

    async def _base_outputs(self) -> list[str]:
        gen = self.supervisor.generation
        if self._base is None or self._base[0] != gen:
            outs = [await self._probe(self.base_name, p) for p in self.cfg().verify.prompts]
            self._base = (gen, outs)
        return self._base[1]

    async def verify(self, name: str) -> str:
        """Raise ServeError unless `name` answers and differs from the base; a note if it does."""
        base = await self._base_outputs()
        for i, prompt in enumerate(self.cfg().verify.prompts):
            if await self._probe(name, prompt) != base[i]:
                return f"verified: answers and differs from the base on probe {i + 1}"
        raise ServeError(422, f"{name} answers exactly like the base model on every probe "
                              "(greedy): vLLM is not applying it; do its target modules match "
                              "the served model, and its rank fit --max-lora-rank?")

    # -- operations ------------------------------------------------------------------------------
    def _flip(self, alias: str, name: str | None, version: str | None) -> None:
        if name is None:
            self.live.pop(alias, None)
            self.versions.pop(alias, None)
        else:
            self.live[alias] = name  # the flip: one assignment, seen by the next request
            self.versions[alias] = version or ""
        self.metrics.set_live(alias, version if name is not None else "base")

    async def deploy(self, specialist: str, version: str, *, action: str = "deploy") -> dict[str, Any]:
        """Load, verify, flip, unload the old one when idle. Caller holds `self.lock`."""
        if specialist not in ALIASES:
            raise ServeError(400, f"no alias {specialist!r}; expected one of {', '.join(ALIASES)}")
        t0 = time.monotonic()
        row = await asyncio.to_thread(store.find, self.engine, specialist, version)
        if row is None:
            raise ServeError(404, f"no adapter {specialist} {version} in the store "
                                  "(`aitherctl adapters` lists them)")
        name = store.served_name(specialist, version)
        self._up()
        if not self.ready.is_set():
            raise ServeError(409, "vLLM is still loading the live adapters; try again shortly")
        if self.live.get(specialist) == name:
            return {"ok": True, "specialist": specialist, "version": version, "name": name,
                    "message": f"{name} is already live", "seconds": 0.0}
        self._cancel_unload(name)
        try:
            load_s = await self._load(row)
            t1 = time.monotonic()
            note = await self.verify(name)
        except ServeError as err:
            self.metrics.deploys.labels(specialist=specialist, action=action,
                                        outcome="verify_failed").inc()
            if err.http_status == 422:
                if name not in self.live.values():
                    await self._unload(name)
                if action == "deploy" and row.id is not None:
                    await asyncio.to_thread(store.set_state, self.engine, row.id, "rejected", str(err))
            log.warning("deploy_failed", name=name, action=action, error=str(err))
            raise ServeError(err.http_status, f"{action} of {name} failed, {specialist} stays on "
                                         f"{self.live.get(specialist, 'the base model')}: {err}",
                             specialist=specialist, version=version) from None
        verify_s = time.monotonic() - t1
        old_name, old_version = self.live.get(specialist), self.versions.get(specialist)
        demote = ("rejected", f"rolled back to {version}") if action == "rollback" else ("retired", None)
        assert row.id is not None
        await asyncio.to_thread(store.go_live, self.engine, row.id, demote_to=demote[0],
                                demote_note=demote[1])
        self._flip(specialist, name, version)
        self.problems.pop(specialist, None)
        if old_name is not None and old_name != name:
            self._unload_when_idle(old_name)
        took = time.monotonic() - t0
        self.metrics.deploys.labels(specialist=specialist, action=action, outcome="ok").inc()
        log.info("deployed", name=name, action=action, previous=old_name, seconds=round(took, 3))
        return {"ok": True, "specialist": specialist, "version": version, "name": name,
                "previous": old_version, "message": note, "seconds": round(took, 3),
                "load_s": round(load_s, 3), "verify_s": round(verify_s, 3),
                "unloading": old_name, "in_flight_on_previous": self.inflight.by_name.get(old_name or "", 0)}

    async def rollback(self, specialist: str) -> dict[str, Any]:
        """Back to the version that was live before this one. Caller holds `self.lock`."""
        prev = await asyncio.to_thread(store.previous_live, self.engine, specialist)
        if prev is None:
            raise ServeError(404, f"{specialist} has no earlier live version to roll back to")
        return await self.deploy(specialist, prev.version, action="rollback")

    async def restore(self) -> None:
        """After a vLLM start: load and verify what the store says is live."""
        self.ready.clear()
        self.loaded.clear()
        self._base = None
        try:
            rows = await asyncio.to_thread(store.live, self.engine)
            live_aliases = {r.specialist for r in rows}
            for alias in ALIASES:
                if alias not in live_aliases:
                    self._flip(alias, None, None)
            for row in rows:
                await self._bring_back(row, reload=True)
        finally:
            self.ready.set()

    async def reverify(self) -> list[str]:
        """After a wake: every live adapter must still be applied; reload one that is not."""
        self._base = None
        notes = []
        rows = await asyncio.to_thread(store.live, self.engine)
        for row in rows:
            notes.append(await self._bring_back(row, reload=False))
        return notes

    async def _bring_back(self, row: Adapter, *, reload: bool) -> str:
        name = store.served_name(row.specialist, row.version)
        for attempt in (0, 1):
            try:
                if reload or attempt:
                    if attempt:
                        await self._unload(name)
                    await self._load(row)
                note = await self.verify(name)
                self._flip(row.specialist, name, row.version)
                self.problems.pop(row.specialist, None)
                return f"{name} {note}"
            except ServeError as err:
                problem = str(err)
                log.warning("live_adapter_check_failed", name=name, attempt=attempt + 1, error=problem)
        self.problems[row.specialist] = problem
        self._flip(row.specialist, None, None)
        return f"{name} NOT served ({problem}); {row.specialist} falls back to the base model"

    def describe(self) -> dict[str, Any]:
        aliases = {}
        for alias in ALIASES:
            aliases[alias] = {"served": self.served(alias), "version": self.versions.get(alias),
                              "problem": self.problems.get(alias)}
        return {"aliases": aliases, "loaded": sorted(self.loaded), "base": self.base_name,
                "in_flight": dict(self.inflight.by_name), "ready": self.ready.is_set()}


def _error_text(body: str) -> str:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return body[:300]
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message"))[:300]
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:300]
    return body[:300]
