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


class StandIn:
    """A running stand-in OpenAI-compatible server; `script(...)` sets what it answers."""

    def __init__(self, tmp: Path) -> None:
        import subprocess

        self.script_path = tmp / "standin.json"
        self.script({})
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "standin_openai.py"), str(self.script_path)],
            stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    def script(self, script: dict) -> None:
        import json

        self.script_path.write_text(json.dumps(script))

    def requests(self) -> list[dict]:
        import json

        log = Path(f"{self.script_path}.log")
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[StandIn]:
    server = StandIn(tmp_path)
    yield server
    server.close()
