"""aitherd's errors: one base, a few kinds, and the run status each kind means.

Every error aitherd raises on purpose derives from `AitherdError` and says what and where for a
person (no traceback needed). The worker maps a job's exception to its run's status with
`run_status`: `NotConfigured` -> skipped, `Interrupted` -> interrupted, any other -> failed; an
exception that is not an AitherdError is a bug, logged with its traceback.
"""

from __future__ import annotations


class AitherdError(Exception):
    """Base of every error aitherd raises on purpose."""

    status = "failed"


class ConfigError(AitherdError):
    """The configuration is invalid or names something that is not there."""


class StoreError(AitherdError):
    """The store (SQLite file, state directory) cannot be used."""


class InputError(AitherdError):
    """Input data (a file, a dataset, a tokenizer, benchmark data) cannot be used."""


class ServiceError(AitherdError):
    """An outside service (an LLM endpoint, the model server, a child process) failed."""


class NotConfigured(AitherdError):
    """A job has nothing to do with this configuration: its run is recorded as skipped."""

    status = "skipped"


class Interrupted(AitherdError):
    """A job stopped at a checkpoint because it was asked to."""

    status = "interrupted"


def run_status(exc: BaseException) -> tuple[str, str]:
    """(run status, message) for an exception that ended a job."""
    if isinstance(exc, NotConfigured):
        return "skipped", f"not configured: {exc}"
    if isinstance(exc, AitherdError):
        return exc.status, str(exc)
    return "failed", f"{type(exc).__name__}: {exc}"
