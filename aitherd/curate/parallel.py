"""Running the curation steps that look at one candidate at a time in worker processes.

The leading steps of the list that set `parallel` (redaction, the heuristic judge) mark each
candidate from its own fields alone; `Workers.start` sends a batch's candidates to forked worker
processes in chunks, runs those steps there, and `finish` brings back the marked candidates in
their order, each step's counts (added to the step's own), and what the later steps `prepare` from a
candidate's text (dedup's near-dup signature). The later steps then run here, in order, exactly
as they would have: the results are the same as running every step in this process.

The workers are forked once, when the first big batch comes, with the steps as they are then;
they are stopped by `close()`, when the Curator is collected, or at exit, and die with the
harvest's process. Should one die (a stop request to the job's process group, the OOM killer),
the batch runs here whole and so does the rest of the run.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import weakref
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from aitherd.candidate import Candidate
from aitherd.children import die_with_parent
from aitherd.curate.steps import Step, StepStats

_STEPS: list[Step] = []  # in a worker: its copy of the steps, as they were at the fork


def _init(steps: list[Step], parent: int) -> None:
    """A worker's start: SIGTERM ends it (a stop request to the job's process group ends the
    workers, and the harvest finishes the batch in hand itself); it dies with the harvest."""
    global _STEPS
    _STEPS = steps
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent, signal.SIGKILL)


def _work(job: tuple[int, list[Candidate]]) -> tuple[list[Candidate], list[StepStats], list[list[Any]]]:
    """In a worker: the first `n` steps over a chunk, then the later steps' `prepare`."""
    n, chunk = job
    ran = _STEPS[:n]
    for step in ran:
        step.stats = StepStats()
        step(chunk)
    prepared = [[step.prepare(c) for c in chunk] for step in _STEPS[n:] if step.prepares]
    return chunk, [step.stats for step in ran], prepared


class Workers:
    """A pool of `n` forked processes that runs the leading `parallel` steps of `steps`."""

    min_batch = 64  # smaller batches run in this process: forking and pickling would cost more

    def __init__(self, n: int, steps: Sequence[Step]) -> None:
        self.n, self.steps = n, list(steps)
        self.lead = 0
        while self.lead < len(self.steps) and self.steps[self.lead].parallel:
            self.lead += 1
        self._pool: Any = None

    def _start(self) -> Any:
        if self._pool is None:
            gc.freeze()  # the workers share the parent's objects; keep the collector off their pages
            try:
                self._pool = ProcessPoolExecutor(self.n, multiprocessing.get_context("fork"), _init,
                                                 (self.steps, os.getpid()))
                self._pool.submit(int).result()  # the workers are forked now, while frozen
            finally:
                gc.unfreeze()
            weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
        return self._pool

    def start(self, batch: list[Candidate]) -> Any:
        """Send the leading parallel steps over `batch` to the workers; returns a handle for
        `finish`, or None when the batch runs all here (small, or no parallel step, or the
        workers are gone)."""
        if self.n < 2 or self.lead == 0 or len(batch) < self.min_batch:
            return None
        size = -(-len(batch) // (self.n * 2))
        try:
            pool = self._start()
            return [pool.submit(_work, (self.lead, batch[i:i + size])) for i in range(0, len(batch), size)]
        except (BrokenProcessPool, RuntimeError, OSError):
            self._gone()
            return None

    def finish(self, batch: list[Candidate], handle: Any) -> list[Step]:
        """Wait for the workers' part of `batch` (started with `start`), put the marked candidates
        in its place, in order, and return the steps still to run here. Should a worker die (a
        stop request, the OOM killer), every step runs here on the batch as it was."""
        if handle is None:
            return self.steps
        try:
            results = [future.result() for future in handle]
        except BrokenProcessPool:
            self._gone()
            return self.steps
        out: list[Candidate] = []
        preparers = [s for s in self.steps[self.lead:] if s.prepares]
        for chunk, stats, prepared in results:
            for step, counted in zip(self.steps[:self.lead], stats, strict=True):
                step.stats.merge(counted)
                step.worked(chunk)
            for step, values in zip(preparers, prepared, strict=True):
                step.prepared(chunk, values)
            out += chunk
        batch[:] = out
        return self.steps[self.lead:]

    def _gone(self) -> None:
        """The workers are gone: the rest of this Curator's batches run in this process."""
        self.n = 1
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
