"""Finding what to train on: the newest export of a specialist for the base family."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from aitherd.store.models import Export


@dataclass(frozen=True)
class ExportRef:
    id: str
    path: Path
    sha256: str | None = None


def latest_export(engine: Engine, state_dir: Path, specialist: str,
                  base_family: str) -> ExportRef | None:
    """The newest Export row whose directory still exists, else the `latest` symlink."""
    with Session(engine) as s:
        rows = s.exec(
            select(Export)
            .where(Export.specialist == specialist, Export.base_family == base_family)
            .order_by(col(Export.created_at).desc())
        ).all()
    for row in rows:
        if Path(row.path).is_dir():
            return ExportRef(row.id, Path(row.path), row.sha256)
    link = state_dir / "exports" / specialist / base_family / "latest"
    if link.is_dir():
        target = link.resolve()
        return ExportRef(target.name, target)
    return None
