"""Logging: structlog, JSON lines when not on a terminal (systemd's journal), console otherwise.

Standard-library loggers (uvicorn, APScheduler, watchdog) go through the same renderer, and
every value of every event, tracebacks included, passes the secret redaction first
(`aitherd.curate.redact`): a password in an error message or a URL is never written.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, Any

import structlog
import structlog.tracebacks

from aitherd.curate.redact import redact_text, scrub

_NOISY = ("apscheduler", "uvicorn", "uvicorn.error", "uvicorn.access", "watchdog")


def redact_event(_logger: Any, _method: str, event_dict: Any) -> Any:
    """A structlog processor: every string of the event redacted; after a renderer, the line."""
    if isinstance(event_dict, str):
        return redact_text(event_dict)
    return scrub(event_dict)


def configure_logging(level: str = "info", fmt: str = "auto", stream: IO[str] | None = None) -> None:
    stream = stream or sys.stderr
    on_tty = hasattr(stream, "isatty") and stream.isatty()
    use_json = fmt == "json" or (fmt == "auto" and not on_tty)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if use_json:
        renderer = structlog.processors.JSONRenderer()
        final: list[Any] = [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
            redact_event,
            renderer,
        ]
    else:  # the console renderer formats tracebacks itself: redact its output too
        final = [redact_event, structlog.dev.ConsoleRenderer(colors=on_tty), redact_event]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *final],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    set_level(level)


def set_level(level: str) -> None:
    numeric = getattr(logging, level.upper(), logging.INFO)
    logging.getLogger().setLevel(numeric)
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
