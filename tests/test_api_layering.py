"""The control API's layering: handlers never import the daemon or write SQL, and the config
never imports the scheduler (the two import circles this code used to have)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "aitherd"


def imports(path: Path) -> set[str]:
    """Every module and `module.name` a file imports, at any depth (functions, TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_the_api_reaches_the_daemon_only_through_its_protocol():
    for path in sorted((PKG / "api").glob("*.py")):
        assert not {m for m in imports(path) if m.startswith("aitherd.daemon")}, path.name


def test_the_api_writes_no_sql_of_its_own():
    sql = {"sqlmodel.select", "sqlalchemy.select", "sqlalchemy.text", "sqlalchemy.func",
           "aitherd.store.session", "aitherd.store.db.session"}
    for path in sorted((PKG / "api").glob("*.py")):
        assert not imports(path) & sql, (path.name, imports(path) & sql)


def test_config_and_timing_do_not_import_the_scheduler():
    for name in ("config.py", "timing.py"):
        assert not {m for m in imports(PKG / name) if m.startswith("aitherd.schedule")}, name
