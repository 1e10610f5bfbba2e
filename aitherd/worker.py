"""Job worker: `python -m aitherd.worker` runs one job in its own process.

The daemon writes a JSON spec on stdin; the worker answers with JSON lines (progress, then one
result) on the stdout it was given, and logs to stderr. Anything else the job prints goes to
stderr too, so it can never corrupt the channel. SIGTERM asks the job to checkpoint and return.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from aitherd.children import die_with_parent
from aitherd.config import Loaded, Paths, RepoEntry, parse_config
from aitherd.errors import AitherdError, run_status
from aitherd.jobs import JOBS
from aitherd.logs import configure_logging, get_logger
from aitherd.runs import FINAL_STATUSES, JobContext, RunResult, numbers_only
from aitherd.store import open_store


def _resolve(job: str) -> Any:
    override = os.environ.get("AITHERD_JOB_MODULE")
    if override:
        module = importlib.import_module(override)
        func = getattr(module, f"run_{job}", None)
        if func is not None:
            return func
    module_name, _, func_name = JOBS[job].target.partition(":")
    return getattr(importlib.import_module(module_name), func_name)


def main() -> int:
    spec: dict[str, Any] = json.load(sys.stdin)
    die_with_parent(spec.get("parent_pid", os.getppid()))  # no orphan keeps working
    # Keep the protocol on a private copy of stdout; route stray prints to stderr.
    channel = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    cfg = parse_config(spec["config"], spec.get("config_source") or "<daemon>")
    loaded = Loaded(
        config=cfg,
        source=Path(spec["config_source"]) if spec.get("config_source") else None,
        paths=Paths(state_dir=Path(spec["state_dir"]), socket=Path(spec["socket"])),
        repos=tuple(RepoEntry(**r) for r in spec["repos"]),
    )
    configure_logging(cfg.log.level, cfg.log.format)
    log = get_logger("aitherd.worker").bind(job=spec["job"], run_id=spec["run_id"])
    engine = open_store(loaded.paths.db, create=False)
    ctx = JobContext(job=spec["job"], run_id=spec["run_id"], trigger=spec["trigger"],
                     loaded=loaded, engine=engine, log=log, _channel=channel,
                     args=dict(spec.get("args") or {}))
    from aitherd.serve.worker import install_arbiter  # serve: train asks the daemon for the GPU

    install_arbiter(ctx)  # serve
    signal.signal(signal.SIGTERM, lambda *_: ctx.request_stop())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's ^C goes to the daemon first

    try:
        result = _resolve(spec["job"])(ctx)
        if not isinstance(result, RunResult) or result.status not in FINAL_STATUSES:
            raise TypeError(f"job returned {result!r}, not a RunResult")
    except AitherdError as exc:  # said for a person: no traceback
        status, text = run_status(exc)
        log.warning("job_ended", status=status, error=text)
        result = (RunResult(status=status, message=text) if status != "failed"  # type: ignore[arg-type]
                  else RunResult(status="failed", error=text))
    except Exception as exc:
        log.error("job_failed", error=f"{type(exc).__name__}: {exc}",
                  traceback=traceback.format_exc())
        result = RunResult(status="failed", error=f"{type(exc).__name__}: {exc}")
    counts, dropped = numbers_only({**ctx.counts, **result.counts})
    if dropped:  # a job's bug, not the run's failure: said once, the numbers still arrive
        log.warning("job_count_not_a_number", keys=dropped)
    outputs = {str(k): str(v) for k, v in (result.outputs or {}).items()}
    ctx.send({"type": "result", "status": result.status, "counts": counts, "outputs": outputs,
              "message": result.message, "error": result.error})
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
