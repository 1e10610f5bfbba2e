"""Opening the SQLite store: WAL, busy timeout, schema version recorded and checked."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, create_engine

from aitherd import errors
from aitherd.store import models  # noqa: F401  (registers the tables)
from aitherd.store.models import Meta

SCHEMA_VERSION = 3


def _v2_adapter_serving(conn: Any) -> None:
    """Serving: when an adapter last went live and why it left (rollback, failed verify); at
    most one live adapter per specialist. Idempotent: create_all already made the columns on a
    fresh database."""
    have = {row[1] for row in conn.execute(text("PRAGMA table_info(adapter)"))}
    if "deployed_at" not in have:
        conn.execute(text("ALTER TABLE adapter ADD COLUMN deployed_at DATETIME"))
    if "note" not in have:
        conn.execute(text("ALTER TABLE adapter ADD COLUMN note VARCHAR"))
    conn.execute(text("CREATE UNIQUE INDEX IF NOT EXISTS ux_adapter_one_live "
                      "ON adapter (specialist) WHERE state = 'live'"))


def _v3_run_outputs(conn: Any) -> None:
    """What a run made or decided as text (an adapter version, a gate verdict), apart from its
    counts, which are numbers only. Idempotent like v2."""
    have = {row[1] for row in conn.execute(text("PRAGMA table_info(run)"))}
    if "outputs" not in have:
        conn.execute(text("ALTER TABLE run ADD COLUMN outputs JSON NOT NULL DEFAULT '{}'"))


# Each migration takes the schema from version N-1 to N; index 0 is unused (v1 = create_all).
MIGRATIONS: dict[int, Callable[[Any], None]] = {2: _v2_adapter_serving, 3: _v3_run_outputs}


class StoreError(errors.StoreError):
    """The store cannot be opened or used as it is. `environmental`: the machine is at fault
    (read-only or full disk, no permission), not the database; a restart will not help."""

    def __init__(self, message: str, environmental: bool = False) -> None:
        super().__init__(message)
        self.environmental = environmental


# SQLite result codes (by name, extended codes included) that mean the disk or permissions.
_ENVIRONMENTAL = {
    "SQLITE_READONLY": "the database or its directory is read-only (a read-only mount, or files "
                       "owned by another user); point [daemon] state_dir at a writable directory",
    "SQLITE_FULL": "the disk is full; free some space, then start aitherd again",
    "SQLITE_CANTOPEN": "the file cannot be created or opened; check that the state directory "
                       "exists and the daemon's user may write there",
    "SQLITE_PERM": "permission denied; check the owner and mode of the state directory",
    "SQLITE_IOERR": "the disk reported an I/O error (full, read-only or failing)",
}


def store_error(path: Path, err: Exception) -> StoreError:
    """A database error as a StoreError that says what is wrong and what to do."""
    orig = getattr(err, "orig", None) or err
    name = str(getattr(orig, "sqlite_errorname", ""))
    for prefix, hint in _ENVIRONMENTAL.items():
        if name.startswith(prefix):
            return StoreError(f"{path}: cannot open the database: {orig} ({name}): {hint}", environmental=True)
    return StoreError(f"{path}: cannot open the database: {orig}")


def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA journal_mode = WAL")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.execute("PRAGMA foreign_keys = ON")
    cur.close()


def make_engine(path: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": 30, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    return engine


def open_store(path: Path, *, create: bool = True) -> Engine:
    """Open (and create or migrate) the store; raise StoreError with the reason if it cannot."""
    if not create and not path.exists():
        raise StoreError(f"{path}: no database here")
    engine = make_engine(path)
    try:
        with engine.begin() as conn:
            tables = set(inspect(conn).get_table_names())
            if "meta" in tables:
                row = conn.execute(text("SELECT value FROM meta WHERE key = 'schema_version'")).first()
                found = int(row[0]) if row else 0
            else:
                found = 0 if not tables - {"apscheduler_jobs"} else -1
        if found == -1:
            raise StoreError(f"{path}: has tables but no schema version; not an aitherd database")
        if found > SCHEMA_VERSION:
            raise StoreError(
                f"{path}: database schema v{found} is newer than this aitherd understands "
                f"(v{SCHEMA_VERSION}); upgrade aitherd or restore a backup"
            )
        SQLModel.metadata.create_all(engine)
        with engine.begin() as conn:
            for version in range(max(found, 1) + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](conn)
            conn.execute(
                text("INSERT INTO meta (key, value) VALUES ('schema_version', :v) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
                {"v": str(SCHEMA_VERSION)},
            )
    except DBAPIError as err:
        engine.dispose()
        raise store_error(path, err) from None
    except StoreError:
        engine.dispose()
        raise
    return engine


@contextmanager
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


def schema_version(engine: Engine) -> int:
    with session(engine) as s:
        row = s.get(Meta, "schema_version")
        return int(row.value) if row else 0
