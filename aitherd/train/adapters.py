"""Publishing a trained adapter: STATE_DIR/adapters/<specialist>/<version>/, atomically, with its
lineage in `aitherd_adapter.json`, recorded as an Adapter row in state `candidate`."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from aitherd.store.models import Adapter, utcnow

LINEAGE_FILE = "aitherd_adapter.json"
UNPUBLISHED = ("training_args.bin", "*.pkl", "*.pickle")
_VERSION_RE = re.compile(r"^v(\d{4,})$")


def adapters_root(state_dir: Path, specialist: str) -> Path:
    return state_dir / "adapters" / specialist


def _rows(engine: Engine, specialist: str) -> list[Adapter]:
    with Session(engine) as s:
        return list(s.exec(select(Adapter).where(Adapter.specialist == specialist)).all())


def next_version(engine: Engine, state_dir: Path, specialist: str) -> str:
    """v0001, v0002, ...: one past the highest in the store or on disk."""
    names = [r.version for r in _rows(engine, specialist)]
    root = adapters_root(state_dir, specialist)
    if root.is_dir():
        names += [p.name for p in root.iterdir()]
    numbers = [int(m.group(1)) for n in names if (m := _VERSION_RE.match(n))]
    return f"v{max(numbers, default=0) + 1:04d}"


def parent_adapter(engine: Engine, specialist: str) -> Adapter | None:
    """The adapter this one follows: the newest of the specialist, whatever its state."""
    rows = [r for r in _rows(engine, specialist) if _VERSION_RE.match(r.version)]
    return max(rows, key=lambda r: int(r.version[1:]), default=None)


def live_adapter(engine: Engine, specialist: str) -> Adapter | None:
    """The specialist's adapter in state `live`, if one is (the newest if several are)."""
    rows = [r for r in _rows(engine, specialist) if r.state == "live" and _VERSION_RE.match(r.version)]
    return max(rows, key=lambda r: int(r.version[1:]), default=None)


def find_trained(engine: Engine, specialist: str, export_id: str,
                 spec_sha256: str) -> Adapter | None:
    """An adapter already trained from this export with this exact spec, if any."""
    for row in _rows(engine, specialist):
        if row.export_id != export_id:
            continue
        try:
            meta = json.loads((Path(row.path) / LINEAGE_FILE).read_text())
        except (OSError, ValueError):
            continue
        if meta.get("lineage", {}).get("spec_sha256") == spec_sha256:
            return row
    return None


def publish(engine: Engine, state_dir: Path, specialist: str, source: Path,
            meta: dict[str, Any], run_id: int | None) -> Adapter:
    """Copy `source` (the trainer's final/) into a temp dir, add the lineage file, rename into
    place, then insert the Adapter row; on any failure nothing is left behind."""
    root = adapters_root(state_dir, specialist)
    root.mkdir(parents=True, exist_ok=True)
    version = next_version(engine, state_dir, specialist)
    parent = parent_adapter(engine, specialist)
    tmp = root / f".tmp-{version}-{os.getpid()}"
    dest = root / version
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        # training_args.bin is a pickle of the trainer's arguments: loading it runs code, and
        # a published adapter has no use for it (the values are in the lineage file).
        shutil.copytree(source, tmp, ignore=shutil.ignore_patterns(*UNPUBLISHED))
        meta = {**meta, "specialist": specialist, "version": version,
                "created_at": utcnow().isoformat(), "run_id": run_id}
        meta["lineage"] = {**meta.get("lineage", {}),
                           "parent_version": parent.version if parent else None}
        _write_synced(tmp / LINEAGE_FILE, json.dumps(meta, indent=2, default=str))
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        with Session(engine, expire_on_commit=False) as s:
            row = Adapter(specialist=specialist, version=version, path=str(dest),
                          export_id=meta.get("lineage", {}).get("export_id"), run_id=run_id,
                          state="candidate")
            s.add(row)
            s.commit()
            return row
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
