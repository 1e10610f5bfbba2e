"""The store: SQLModel tables on SQLite."""

from aitherd.store.db import SCHEMA_VERSION, StoreError, open_store, session, store_error
from aitherd.store.models import (
    Adapter,
    BenchmarkResult,
    Example,
    Export,
    Meta,
    Run,
    Watermark,
    utcnow,
)

__all__ = [
    "SCHEMA_VERSION",
    "Adapter",
    "BenchmarkResult",
    "Example",
    "Export",
    "Meta",
    "Run",
    "StoreError",
    "Watermark",
    "open_store",
    "session",
    "store_error",
    "utcnow",
]
