"""Trainer callbacks: progress as JSON lines; a clean stop (checkpoint, then exit) on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class ProgressCallback(TrainerCallback):
    """Appends one JSON line per log event to the run's progress file (rank 0 only):
    step, total steps, loss, learning rate, tokens/s and ETA; plus begin/save/end events."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._t0 = 0.0
        self._step0 = 0
        self._tokens0 = 0

    def _emit(self, state: TrainerState, event: str, **fields: Any) -> None:
        if not state.is_world_process_zero:
            return
        record = {"event": event, "time": time.time(), "step": state.global_step,
                  "total": state.max_steps, **fields}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")

    def on_train_begin(self, args: TrainingArguments, state: TrainerState,
                       control: TrainerControl, **kwargs: Any) -> None:
        self._t0 = time.monotonic()
        self._step0 = state.global_step
        self._tokens0 = state.num_input_tokens_seen
        self._emit(state, "begin", resumed_step=state.global_step)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
               logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "loss" not in logs:  # eval or end-of-training summaries: recorded by the trainer
            return
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        steps = state.global_step - self._step0
        tokens = state.num_input_tokens_seen - self._tokens0
        eta = (state.max_steps - state.global_step) * elapsed / steps if steps else None
        self._emit(state, "log", loss=logs.get("loss"), learning_rate=logs.get("learning_rate"),
                   grad_norm=logs.get("grad_norm"), epoch=logs.get("epoch"),
                   tokens_per_s=tokens / elapsed if tokens else None,
                   step_s=elapsed / steps if steps else None, eta_s=eta)

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                **kwargs: Any) -> None:
        self._emit(state, "checkpoint",
                   path=os.path.join(args.output_dir or "", f"checkpoint-{state.global_step}"))


class StopOnSignal(TrainerCallback):
    """SIGTERM (or SIGINT) sets a flag; at the end of the current step the trainer saves a
    checkpoint and stops. A second signal is left to its default action."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.requested = True
        signal.signal(signum, signal.SIG_DFL)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl,
                    **kwargs: Any) -> None:
        if self._agreed(args):
            control.should_save = True
            control.should_training_stop = True

    def _agreed(self, args: TrainingArguments) -> bool:
        """Several ranks stop at the same step, or the ones still training would hang waiting
        for the others: any rank's request counts for all."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return self.requested
        flag = torch.tensor([1 if self.requested else 0], device=args.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())
