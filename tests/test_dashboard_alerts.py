"""The Grafana dashboard and the Prometheus alert rules name only metrics the daemon exports (or
ones listed as planned), are valid PromQL, and every alert has a promtool unit test."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from prometheus_client import generate_latest
from support import have

from aitherd.config import parse_config
from aitherd.metrics import PLANNED, Metrics
from aitherd.store.db import open_store

ROOT = Path(__file__).resolve().parents[1]
GRAFANA, PROMETHEUS = ROOT / "etc" / "grafana", ROOT / "etc" / "prometheus"
RULES, RULE_TESTS = PROMETHEUS / "aitherd.rules.yml", PROMETHEUS / "aitherd.rules.test.yml"
# Series Prometheus makes itself for every target; only the alert rules may use them.
PROMETHEUS_OWN = {"up"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
             "unless", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (Grafana variables allowed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\$\{?\w+\}?", "", e)
    e = re.sub(r"\{[^}]*\}", "", e)
    e = re.sub(r"\[[^\]]*\]", "", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+\w+", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", e):
        if not m.group(2) and m.group(1) not in _KEYWORDS:
            names.add(m.group(1))
    return names


def test_metric_names_are_found_in_promql():
    assert metric_names('sum by (job, le) (rate(a_bucket{x="y{z}"}[5m])) / on (i) group_left () b offset 2d') == \
        {"a_bucket", "b"}
    assert metric_names('histogram_quantile(0.9, x{instance=~"$instance"}) > bool 2 * y or vector(0)') == {"x", "y"}
    assert metric_names('count({__name__=~"aitherd_job_.+"}) unless time() - z[$__rate_interval]') == {"z"}


def exported_names(tmp_path: Path) -> set[str]:
    """Every metric name the daemon's registry serves, with a real store behind it."""
    (tmp_path / "state").mkdir()
    engine = open_store(tmp_path / "state" / "aitherd.db")
    metrics = Metrics()
    loaded = SimpleNamespace(config=parse_config({}))
    metrics.watch_state(engine, tmp_path / "state", tmp_path / "state" / "aitherd.db", lambda: loaded, lambda: None)
    names: set[str] = set()
    for line in generate_latest(metrics.registry).decode().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names.add(name)
            if kind in ("histogram", "summary"):
                names.update(f"{name}{s}" for s in ("_sum", "_count", "_bucket" if kind == "histogram" else "_sum"))
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    engine.dispose()
    return names


def panels(items: list[dict]) -> list[dict]:
    out = []
    for p in items:
        out.append(p)
        out.extend(panels(p.get("panels") or []))
    return out


def dashboard_exprs() -> dict[str, str]:
    board = json.loads((GRAFANA / "aitherd.json").read_text())
    exprs = {f"{p['title']} / {t['refId']}": t["expr"] for p in panels(board["panels"]) for t in p.get("targets", [])}
    for var in board["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((.*),\s*\w+\)", var["query"]["query"])
            assert m, var["query"]
            exprs[f"variable {var['name']}"] = m.group(1)
    return exprs


def rule_exprs() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {r.get("alert") or r["record"]: r["expr"] for g in groups for r in g["rules"]}


def test_dashboard_names_only_exported_or_planned_metrics(tmp_path):
    exported = exported_names(tmp_path)
    used = {name for expr in dashboard_exprs().values() for name in metric_names(expr)}
    assert used, "no metric found in the dashboard"
    assert used - exported - set(PLANNED) == set()
    assert {"aitherd_examples_stored_total", "aitherd_curation_rejections_total", "aitherd_redactions_total",
            "aitherd_export_rows", "aitherd_export_bytes", "aitherd_train_loss", "aitherd_job_runs_total"} <= used


def test_alert_rules_name_only_exported_or_planned_metrics(tmp_path):
    exported = exported_names(tmp_path)
    used = {name for expr in rule_exprs().values() for name in metric_names(expr)}
    assert used - exported - set(PLANNED) - PROMETHEUS_OWN == set()


def test_planned_metrics_are_not_exported_yet_and_all_used(tmp_path):
    exported = exported_names(tmp_path)
    assert set(PLANNED) & exported == set(), "exported now: remove from aitherd.metrics.PLANNED"
    used = {n for exprs in (dashboard_exprs(), rule_exprs()) for e in exprs.values() for n in metric_names(e)}
    assert set(PLANNED) - used == set(), "planned but used nowhere: drop from PLANNED"


def test_planned_rows_are_collapsed_and_say_so():
    board = json.loads((GRAFANA / "aitherd.json").read_text())
    for row in (p for p in board["panels"] if p["type"] == "row"):
        planned_inside = {n for p in row["panels"] for t in p["targets"] for n in metric_names(t["expr"])} & set(PLANNED)
        assert row["collapsed"] == bool(planned_inside) == ("planned" in row["title"]), row["title"]


def test_dashboard_json_is_what_its_builder_writes():
    out = subprocess.run([sys.executable, str(GRAFANA / "build_dashboard.py"), "--check"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    board = json.loads((GRAFANA / "aitherd.json").read_text())
    assert board["uid"] and board["templating"]["list"][0]["name"] == "DS_PROMETHEUS"
    ids = [p["id"] for p in panels(board["panels"])]
    assert len(ids) == len(set(ids))
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "aitherd.yaml").read_text())
    assert provider["apiVersion"] == 1 and provider["providers"][0]["type"] == "file"


def test_every_alert_has_a_firing_and_a_silent_unit_test():
    alerts = {name for name in rule_exprs()}
    cases = [c for t in yaml.safe_load(RULE_TESTS.read_text())["tests"] for c in t["alert_rule_test"]]
    assert alerts == {c["alertname"] for c in cases if c.get("exp_alerts")}
    assert alerts == {c["alertname"] for c in cases if not c.get("exp_alerts")}


def promtool() -> str:
    if not have("promtool"):
        if os.environ.get("CI"):
            pytest.fail("promtool is missing: .ci/run installs it")
        pytest.skip("promtool not installed (.ci/run installs it)")
    return "promtool"


def test_promtool_checks_and_unit_tests_the_rules():
    tool = promtool()
    for args in (["check", "rules", RULES.name], ["test", "rules", RULE_TESTS.name], ["check", "config", "prometheus.yml"]):
        out = subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"promtool {' '.join(args)}:\n{out.stdout}{out.stderr}"
        assert "SUCCESS" in out.stdout + out.stderr


def test_every_dashboard_expression_is_valid_promql(tmp_path):
    tool = promtool()
    values = {"__rate_interval": "5m", "__interval": "1m", "__range": "1d", "instance": ".*", "aitherd_job": ".*"}
    rules = []
    for i, expr in enumerate(dashboard_exprs().values()):
        rules.append({"record": f"dashboard:expr_{i}",
                      "expr": re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)})
    (tmp_path / "dash.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = subprocess.run([tool, "check", "rules", "dash.yml"], cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    # A broken expression is caught: the check is not vacuous.
    (tmp_path / "bad.yml").write_text(yaml.safe_dump({"groups": [{"name": "d", "rules": [
        {"record": "d:x", "expr": "sum by (job (aitherd_job_running)"}]}]}))
    assert subprocess.run([tool, "check", "rules", "bad.yml"], cwd=tmp_path, capture_output=True).returncode != 0
