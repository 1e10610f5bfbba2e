"""The worker side of serving: jobs ask the daemon, which owns vLLM, over the control socket.

`DaemonArbiter` is the `GpuArbiter` the train job uses (installed by the worker when serving is
on): acquire asks the daemon to free the GPU by the configured policy and returns its note for
the run record; release hands it back and returns how vLLM came back. `run_deploy` is the
`deploy` job: the versions named in its arguments, else per specialist the newest candidate that
passed the benchmark gate, each through the daemon's deploy (load, verify, flip, unload); it
returns a `DeployRun` that `aitherd.jobs.stages` turns into the run's result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from aitherd.client import Client, ClientError
from aitherd.runs import JobContext, Status
from aitherd.serve import store
from aitherd.train.gpu import set_gpu_arbiter


class DaemonArbiter:
    kind = "daemon"

    def __init__(self, socket_path: Any, run_id: int | None, timeout: float) -> None:
        self.socket_path = socket_path
        self.run_id = run_id
        self.timeout = timeout

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        client = Client(self.socket_path, timeout=self.timeout)
        try:
            return client.post(path, body)
        finally:
            client.close()

    def acquire(self, purpose: str) -> str:
        try:
            data = self._post("/v1/serve/gpu/acquire",
                              {"run_id": self.run_id, "pid": os.getpid(), "purpose": purpose})
        except ClientError as err:
            raise RuntimeError(f"the daemon could not free the GPU for {purpose}: {err}") from None
        return str(data.get("note"))

    def release(self) -> str:
        try:
            data = self._post("/v1/serve/gpu/release", {"run_id": self.run_id})
        except ClientError as err:
            return f"GPU hand-back failed: {err} (the daemon hands it back when this run ends)"
        return str(data.get("note"))


def install_arbiter(ctx: JobContext) -> None:
    """In the worker: route the train job's GPU requests to the daemon when serving is on."""
    cfg = ctx.loaded.config.serve
    if cfg.enabled:
        wait = cfg.startup_timeout + cfg.gpu.drain_timeout + 120
        set_gpu_arbiter(DaemonArbiter(ctx.loaded.paths.socket, ctx.run_id, wait))


@dataclass
class DeployRun:
    """What one deploy run did: its status and note, and the versions it made live."""

    status: Status
    message: str | None = None
    error: str | None = None
    live: dict[str, str] = field(default_factory=dict)  # specialist -> the version now live


def run_deploy(ctx: JobContext) -> DeployRun:
    cfg = ctx.loaded.config.serve
    if not cfg.enabled:
        ctx.log.info("job_not_configured", detail="[serve] enabled = false")
        return DeployRun("skipped", message="not configured: [serve] enabled = false")
    spec, version = ctx.args.get("specialist"), ctx.args.get("version")
    if spec and version:
        targets = [(str(spec), str(version))]
    elif spec or version:
        return DeployRun("failed", error="deploy takes both specialist=NAME and version=VERSION")
    else:
        targets = [(r.specialist, r.version) for r in store.deployable(ctx.engine)]
    if not targets:
        return DeployRun("skipped", message="no candidate adapter has passed the benchmark gate")
    client = Client(ctx.loaded.paths.socket, timeout=cfg.verify.timeout * 4 + 60)
    done: list[str] = []
    failed: list[str] = []
    live: dict[str, str] = {}
    try:
        for specialist, ver in targets:
            ctx.progress(f"deploy {specialist} {ver}", len(done) + len(failed), len(targets), force=True)
            try:
                out = client.post(f"/v1/adapters/{specialist}/deploy", {"version": ver})
                done.append(f"{out['name']} live ({out.get('message')}, {out.get('seconds')}s)")
                live[specialist] = ver
                ctx.count("deployed")
            except ClientError as err:
                failed.append(f"{specialist} {ver}: {err}")
                ctx.count("failed")
    finally:
        client.close()
    message = "; ".join(done + failed)
    if failed:
        return DeployRun("failed", message=message, error="; ".join(failed), live=live)
    return DeployRun("ok", message=message, live=live)
