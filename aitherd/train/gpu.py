"""GPU arbitration: before training, ask the model server to free the GPU; after, give it back.

The serving side implements `GpuArbiter` (`aitherd.serve.worker.DaemonArbiter`, which asks the
daemon over its control socket; the worker installs it when `[serve]` is enabled); otherwise
`NoopArbiter` stands in and says so, and the run record carries that note.
"""

from __future__ import annotations

from typing import Protocol


class GpuArbiter(Protocol):
    def acquire(self, purpose: str) -> str:
        """Free the GPU for `purpose` (e.g. sleep or stop the model server); return a note for
        the run record. Raise to refuse: training then does not start."""
        ...

    def release(self) -> str:
        """Hand the GPU back (wake or restart the server); return a note. Called even when
        training failed."""
        ...


class NoopArbiter:
    """No model server to arbitrate with (serving is off): nothing is freed, nothing handed back."""

    kind = "noop"

    def acquire(self, purpose: str) -> str:
        return "GPU arbitration is a no-op: serving is off ([serve] enabled = false)"

    def release(self) -> str:
        return "GPU arbitration is a no-op: nothing to hand back"


_arbiter: GpuArbiter | None = None


def set_gpu_arbiter(arbiter: GpuArbiter | None) -> None:
    """The serving stage registers its arbiter here (in the worker process)."""
    global _arbiter
    _arbiter = arbiter


def gpu_arbiter() -> GpuArbiter:
    return _arbiter if _arbiter is not None else NoopArbiter()
