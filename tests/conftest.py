from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import Daemon


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[object]:
    made: list[Daemon] = []

    def factory(config: dict | None = None, **kw: object) -> Daemon:
        d = Daemon(tmp_path / f"d{len(made)}", config, **kw)  # type: ignore[arg-type]
        made.append(d)
        return d

    yield factory
    for d in made:
        d.close()
