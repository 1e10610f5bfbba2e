"""The effort router: which alias answers a request sent to `model: "auto"`.

`Router.decide(request)` returns a `Decision` (route, by what, effort, why), in this order:
1. a fill-in-the-middle request (FIM tokens or a `suffix`): the coder, whatever else it says;
2. effort asked for by the request (see `effort`): `route_for(effort, coding task)`, the task
   type from the learned model when it is used and sure, else from the heuristic;
3. the learned model (`classifier`), when it is in use and the probability of its route is at
   least `min_confidence`: the route of its predicted `specialist/category`;
4. the heuristic: `route_for(effort guess, coding task guess)`.
The decision goes to the client in `X-Aitherd-Route` (`Decision.header`) and into
`aitherd_router_decisions_total{route, by}`.

The learned model is a JSON file written by the `router_train` job; the relay process that
holds the Router (`relay`) looks for a new one every `reload_interval` and loads it in a thread
(requests never wait on it; numpy and scikit-learn are never imported). A file that fails to
load leaves the previous model, or the heuristic, in place, with the reason in status and the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aitherd.logs import get_logger
from aitherd.serve.classifier import LinearModel, ModelError
from aitherd.serve.config import RouterSection
from aitherd.serve.effort import heuristic, is_fim, prompt_text, requested_effort, route_for
from aitherd.serve.metrics import RelayMetrics

log = get_logger("aitherd.serve.router")
_UNSAFE = re.compile(r"[^\x20-\x7e]")


@dataclass(frozen=True)
class RouteRequest:
    path: str
    body: Mapping[str, Any]
    headers: Mapping[str, str]  # lower-case names


@dataclass(frozen=True)
class Decision:
    route: str
    by: str  # fim, request, learned, heuristic
    effort: int | None
    why: str

    def header(self) -> str:
        parts = [self.route, f"by={self.by}"]
        if self.effort is not None:
            parts.append(f"effort={self.effort}")
        if self.why:
            parts.append(f"why={_UNSAFE.sub('?', self.why.replace(';', ','))[:300]}")
        return "; ".join(parts)


def model_file(state_dir: Path, cfg: RouterSection) -> Path:
    path = Path(cfg.model_file).expanduser() if cfg.model_file else Path("router") / "model.json"
    return path if path.is_absolute() else state_dir / path


class Router:
    def __init__(self, cfg: Callable[[], RouterSection], state_dir: Path, metrics: RelayMetrics) -> None:
        self.cfg = cfg
        self.state_dir = state_dir
        self.metrics = metrics
        self.model: LinearModel | None = None
        self.model_error: str | None = None
        self._seen: tuple[str, int, int] | None = None
        self._task: asyncio.Task[None] | None = None
        self.load()

    @property
    def path(self) -> Path:
        return model_file(self.state_dir, self.cfg())

    # -- the model file --------------------------------------------------------------------------
    def _changed(self) -> tuple[str, int, int] | None:
        """The file's identity if it differs from the loaded one; None if unchanged."""
        path = self.path
        try:
            st = os.stat(path)
        except FileNotFoundError:
            if self.model is not None or self.model_error:
                log.info("router_model_gone", path=str(path))
            self.model, self.model_error, self._seen = None, None, None
            return None
        except OSError as err:
            self.model_error = f"{path}: {err.strerror or err}"
            return None
        ident = (str(path), st.st_mtime_ns, st.st_size)
        return None if ident == self._seen else ident

    def _install(self, ident: tuple[str, int, int], model: LinearModel | None, error: str | None) -> None:
        self._seen = ident
        if model is not None:
            self.model, self.model_error = model, None
            val = model.meta.get("validation") or {}
            log.info("router_model_loaded", path=ident[0], learner=model.meta.get("learner"), use=model.use,
                     validation={k: val.get(k) for k in ("examples", "route_accuracy", "heuristic_route_accuracy")})
        else:
            self.model_error = error
            self.metrics.router_model_errors.inc()
            log.error("router_model_unusable", error=error)

    def load(self) -> None:
        """Blocking: load the model file now if it changed (start, tests)."""
        ident = self._changed()
        if ident is not None:
            try:
                self._install(ident, LinearModel.load(Path(ident[0])), None)
            except ModelError as err:
                self._install(ident, None, str(err))

    async def refresh(self) -> None:
        ident = self._changed()
        if ident is None:
            return
        try:
            model = await asyncio.to_thread(LinearModel.load, Path(ident[0]))
        except ModelError as err:
            self._install(ident, None, str(err))
        else:
            self._install(ident, model, None)

    def start(self, also: Callable[[], None] | None = None) -> None:
        """Watch for a new model file (and run `also`, the key file's refresh) in the background."""
        async def loop() -> None:
            while True:
                await asyncio.sleep(self.cfg().reload_interval)
                try:
                    await self.refresh()
                    if also is not None:
                        also()
                except Exception as err:  # the watch must outlive a bad file
                    log.error("router_watch_failed", error=str(err))

        if self._task is None:
            self._task = asyncio.create_task(loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def learned(self) -> LinearModel | None:
        mode = self.cfg().classifier
        m = self.model
        if m is None or mode == "heuristic" or (mode == "auto" and not m.use):
            return None
        return m

    # -- deciding --------------------------------------------------------------------------------
    def decide(self, req: RouteRequest) -> Decision:
        """Raises effort.BadRequest for an effort the request states but cannot be read."""
        asked = requested_effort(req.body, req.headers)
        text = prompt_text(req.body)
        if is_fim(req.body, text):
            d = Decision("coder", "fim", asked.effort if asked else None, "fill-in-the-middle request")
            self.metrics.router_decisions.labels(route=d.route, by=d.by).inc()
            return d
        model = self.learned()
        pred = model.predict(text) if model is not None else None
        unsure = ""
        if pred is not None and pred.confidence < self.cfg().min_confidence:
            unsure = f"learned unsure ({pred.label} p={pred.confidence:.2f}), "
            pred = None
        if asked is not None:
            if pred is not None:
                code, how = pred.code, f"{pred.label} p={pred.confidence:.2f}"
            else:
                g = heuristic(text)
                code, how = g.code, unsure + "heuristic"
            kind = "a coding task" if code else "not a coding task"
            d = Decision(route_for(asked.effort, code), "request", asked.effort,
                         f"effort {asked.effort} from {asked.where}, {kind} ({how})")
        elif pred is not None:
            d = Decision(pred.route, "learned", None, f"{pred.label} p={pred.confidence:.2f}")
        else:
            g = heuristic(text)
            kind = "coding task" if g.code else "not code"
            d = Decision(route_for(g.effort, g.code), "heuristic", g.effort,
                         unsure + f"{kind}: " + (", ".join(g.reasons) or "no signal"))
        self.metrics.router_decisions.labels(route=d.route, by=d.by).inc()
        return d

    def describe(self) -> dict[str, Any]:
        cfg = self.cfg()
        m = self.model
        return {"enabled": cfg.enabled, "name": cfg.name, "classifier": cfg.classifier,
                "deciding": "learned" if self.learned() is not None else "heuristic",
                "model_file": str(self.path), "model_error": self.model_error,
                "model": None if m is None else {**m.meta, "labels": m.labels, "weights": len(m.row)}}
