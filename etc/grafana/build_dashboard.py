"""Writes etc/grafana/aitherd.json, the Grafana dashboard for aitherd, from the panel list below.

    python etc/grafana/build_dashboard.py          # rewrite aitherd.json
    python etc/grafana/build_dashboard.py --check  # exit 1 if aitherd.json differs from this file

Edit the panels here, not the JSON: a test checks the two agree and that every metric an
expression names is one the daemon exports (or is listed in aitherd.metrics.PLANNED). The layout
follows vLLM's example dashboards: a datasource variable `DS_PROMETHEUS`, one row per concern,
timeseries panels with descriptions and legends. Rows for metrics later issues bring (vLLM, the
router) are collapsed and titled "planned" until those metrics exist.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "aitherd.json"
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
I = 'instance=~"$instance"'  # noqa: E741 - every selector carries it
J = f'{I}, job=~"$aitherd_job"'


class Grid:
    """Places panels left to right on Grafana's 24-column grid, rows full width."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1
        self.panels: list[dict[str, Any]] = []
        self.open_row: dict[str, Any] | None = None

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def row(self, title: str, *, planned: bool = False) -> None:
        self._newline()
        panel = {"type": "row", "id": self._id(), "title": title, "collapsed": planned, "panels": [],
                 "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y}}
        self.panels.append(panel)
        self.open_row = panel if planned else None
        self.y += 1

    def _newline(self) -> None:
        if self.x:
            self.y += self.row_h
            self.x = self.row_h = 0

    def add(self, panel: dict[str, Any], w: int, h: int) -> None:
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        (self.open_row["panels"] if self.open_row is not None else self.panels).append(panel)
        self.x += w
        self.row_h = max(self.row_h, h)


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    return {"datasource": DS, "editorMode": "code", "expr": expr, "legendFormat": legend or "__auto",
            "range": not instant, "instant": instant, "refId": ref}


def timeseries(title: str, description: str, queries: list[tuple[str, str]], unit: str = "short", *,
               bars: bool = False, stack: bool = False, interval: str = "",
               thresholds: list[tuple[str, float | None]] | None = None) -> dict[str, Any]:
    steps = [{"color": c, "value": v} for c, v in (thresholds or [("green", None)])]
    panel = {
        "type": "timeseries", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {
            "unit": unit, "color": {"mode": "palette-classic"},
            "custom": {"drawStyle": "bars" if bars else "line", "fillOpacity": 60 if bars else 10,
                       "lineWidth": 1, "showPoints": "never", "spanNulls": True,
                       "stacking": {"group": "A", "mode": "normal" if stack else "none"},
                       "thresholdsStyle": {"mode": "line" if thresholds else "off"}},
            "thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "showLegend": True,
                               "calcs": ["lastNotNull"]},
                    "tooltip": {"mode": "multi", "sort": "desc"}},
        "targets": [target(e, legend, chr(65 + i)) for i, (e, legend) in enumerate(queries)],
    }
    if interval:
        panel["interval"] = interval
    return panel


def stat(title: str, description: str, expr: str, legend: str = "", unit: str = "short",
         thresholds: list[tuple[str, float | None]] | None = None,
         mappings: dict[str, str] | None = None, text_mode: str = "auto") -> dict[str, Any]:
    steps = [{"color": c, "value": v} for c, v in (thresholds or [("green", None)])]
    maps = [{"type": "value", "options": {k: {"text": v, "index": i} for i, (k, v) in enumerate(mappings.items())}}
            ] if mappings else []
    return {
        "type": "stat", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "mappings": maps, "color": {"mode": "thresholds"},
                                     "thresholds": {"mode": "absolute", "steps": steps}}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "value", "graphMode": "none", "textMode": text_mode, "justifyMode": "auto",
                    "orientation": "auto"},
        "targets": [target(expr, legend, instant=True)],
    }


def bargauge(title: str, description: str, expr: str, legend: str, unit: str = "short",
             lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, "color": {"mode": "continuous-BlPu"},
                                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]}}
    if lo is not None:
        defaults["min"] = lo
    if hi is not None:
        defaults["max"] = hi
    return {"type": "bargauge", "title": title, "description": description, "datasource": DS,
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
            "targets": [target(expr, legend, instant=True)]}


def panels() -> list[dict[str, Any]]:
    g = Grid()
    g.row("Daemon")
    g.add(stat("Version", "aitherd version of each scraped daemon.", f"max by (version) (aitherd_build_info{{{I}}})",
               "{{version}}", text_mode="name"), 4, 4)
    g.add(stat("Uptime", "Time since the daemon process started.",
               f"time() - max(process_start_time_seconds{{{I}}})", unit="s"), 4, 4)
    g.add(stat("Scheduler", "Paused with `aitherctl pause`; watchers and manual runs still work.",
               f"max(aitherd_scheduler_paused{{{I}}})", mappings={"0": "running", "1": "paused"},
               thresholds=[("green", None), ("orange", 1)]), 4, 4)
    g.add(stat("Jobs running", "Jobs with a worker running now.", f"sum(aitherd_job_running{{{I}}})"), 4, 4)
    g.add(stat("Jobs failing", "Jobs whose latest runs failed (a streak of failures since the last ok run).",
               f"count(aitherd_job_consecutive_failures{{{I}}} > 0) or vector(0)",
               thresholds=[("green", None), ("red", 1)]), 4, 4)
    g.add(stat("State disk free", "Free share of the filesystem holding the state directory (database, exports, "
               "adapters).", f"min(aitherd_state_filesystem_avail_bytes{{{I}}} / "
               f"aitherd_state_filesystem_size_bytes{{{I}}})", unit="percentunit",
               thresholds=[("red", None), ("orange", 0.1), ("green", 0.25)]), 4, 4)

    g.row("Jobs")
    g.add(timeseries("Runs per job and status", "Finished runs per hour; interrupted runs include those found "
                     "unfinished after a restart.",
                     [(f"sum by (job, status) (increase(aitherd_job_runs_total{{{J}}}[1h]))", "{{job}} {{status}}")],
                     bars=True, stack=True, interval="1h"), 12, 8)
    g.add(timeseries("Run duration", "Mean run duration per job over the past hour, and the 90th percentile over "
                     "6 hours (histogram buckets up to 24 h).",
                     [(f"sum by (job) (increase(aitherd_job_run_duration_seconds_sum{{{J}}}[1h])) / sum by (job) "
                       f"(increase(aitherd_job_run_duration_seconds_count{{{J}}}[1h]))", "{{job}} mean"),
                      (f"histogram_quantile(0.9, sum by (job, le) "
                       f"(increase(aitherd_job_run_duration_seconds_bucket{{{J}}}[6h])))", "{{job}} p90")],
                     unit="s"), 12, 8)
    g.add(timeseries("Since last success, in schedule intervals", "Time since each scheduled job last succeeded, "
                     "divided by its interval; AitherdHarvestOverdue fires above 2 for harvests.",
                     [(f"(time() - aitherd_job_last_success_timestamp_seconds{{{J}}}) / "
                       f"aitherd_job_interval_seconds{{{J}}}", "{{job}}")],
                     thresholds=[("green", None), ("red", 2)]), 8, 8)
    g.add(timeseries("Failures in a row", "Failed runs since the job's last ok run, from the store; "
                     "AitherdJobFailing fires at 3.",
                     [(f"aitherd_job_consecutive_failures{{{J}}}", "{{job}}")],
                     thresholds=[("green", None), ("red", 3)]), 8, 8)
    g.add(timeseries("Running", "1 while the job's worker runs.", [(f"aitherd_job_running{{{J}}}", "{{job}}")]),
          8, 8)
    g.add(timeseries("Bad input skipped", "Malformed lines, corrupt repositories and failing sources a job "
                     "skipped and recorded, per hour.",
                     [(f"sum by (job, source) (increase(aitherd_input_errors_total{{{J}}}[1h]))",
                       "{{job}} {{source}}")], bars=True, stack=True, interval="1h"), 8, 8)
    g.add(timeseries("Watchers", "File-system events seen and harvests they started early, per hour.",
                     [(f"sum by (kind) (increase(aitherd_watch_events_total{{{I}}}[1h]))", "events {{kind}}"),
                      (f"sum by (job) (increase(aitherd_watch_triggers_total{{{J}}}[1h]))", "started {{job}}")],
                     interval="1h"), 8, 8)
    g.add(timeseries("Errors handled", "Errors the daemon handled without stopping, per hour, and control API "
                     "requests per second.",
                     [(f"sum by (component, reason) (increase(aitherd_errors_total{{{I}}}[1h]))",
                       "{{component}} {{reason}}"),
                      (f"sum by (code) (rate(aitherd_api_requests_total{{{I}}}[$__rate_interval]))", "API {{code}}")]),
          8, 8)

    g.row("Examples")
    g.add(timeseries("Examples by specialist and status", "Examples in the store (rejected ones are kept for "
                     "audit).", [(f"sum by (specialist, status) (aitherd_examples{{{I}}})",
                                  "{{specialist}} {{status}}")]), 8, 8)
    g.add(timeseries("Accepted examples by category", "Accepted examples per specialist and category.",
                     [(f'sum by (specialist, category) (aitherd_examples{{{I}, status="accepted"}})',
                       "{{specialist}} {{category}}")], stack=True), 8, 8)
    g.add(timeseries("Accepted examples by source", "Accepted examples per specialist and source (the store is "
                     "scanned every 5 minutes at most).",
                     [(f'sum by (specialist, source) (aitherd_examples_by_source{{{I}, status="accepted"}})',
                       "{{specialist}} {{source}}")], stack=True), 8, 8)
    g.add(timeseries("New examples per source", "Examples stored per hour by each source (accepted and "
                     "rejected; re-harvested duplicates are not stored again).",
                     [(f"sum by (source) (increase(aitherd_examples_stored_total{{{J}}}[1h]))", "{{source}}")],
                     bars=True, stack=True, interval="1h"), 12, 8)
    g.add(timeseries("Store size", "Bytes of the SQLite store (database and WAL).",
                     [(f"aitherd_store_bytes{{{I}}}", "{{instance}}")], unit="bytes"), 12, 8)

    g.row("Curation")
    g.add(timeseries("Rejections per reason", "Candidates curation rejected per hour (duplicate, contaminated, "
                     "low_quality, secret, too_long...).",
                     [(f"sum by (reason) (increase(aitherd_curation_rejections_total{{{J}}}[1h]))", "{{reason}}")],
                     bars=True, stack=True, interval="1h"), 8, 8)
    g.add(timeseries("Rejected examples kept, by reason", "Rejected examples in the store per specialist and "
                     "reason (`aitherctl examples --rejected --reason R`).",
                     [(f"sum by (specialist, reason) (aitherd_examples_rejected{{{I}}})",
                       "{{specialist}} {{reason}}")]), 8, 8)
    g.add(timeseries("Redactions per kind", "Secrets replaced by typed placeholders before storing, per hour.",
                     [(f"sum by (kind) (increase(aitherd_redactions_total{{{J}}}[1h]))", "{{kind}}")],
                     bars=True, stack=True, interval="1h"), 8, 8)

    g.row("Exports")
    g.add(bargauge("Latest export rows", "Rows (train and validation) of the latest export per specialist and "
                   "base family.", f"aitherd_export_rows{{{I}}}", "{{specialist}} {{family}}"), 6, 8)
    g.add(bargauge("Latest export size", "Bytes on disk of the latest export.", f"aitherd_export_bytes{{{I}}}",
                   "{{specialist}} {{family}}", unit="bytes"), 6, 8)
    g.add(bargauge("Mix: share per category", "Share of each category in the latest export.",
                   f"aitherd_export_category_share{{{I}}}", "{{specialist}} {{family}} {{category}}",
                   unit="percentunit", lo=0, hi=1), 6, 8)
    g.add(bargauge("Mix: share minus target", "Share of each category minus the share the export planned "
                   "(its [export] mix); below 0 means the store is short of that category.",
                   f"(aitherd_export_category_share{{{I}}} or aitherd_export_target_share{{{I}}} * 0) - on "
                   f"(instance, specialist, family, category) aitherd_export_target_share{{{I}}}",
                   "{{specialist}} {{family}} {{category}}", unit="percentunit", lo=-0.5, hi=0.5), 6, 8)
    g.add(timeseries("Export rows over time", "Rows of the latest export, per specialist and family.",
                     [(f"aitherd_export_rows{{{I}}}", "{{specialist}} {{family}}")]), 12, 8)
    g.add(timeseries("Export age", "Time since the latest export was written (nightly by default).",
                     [(f"time() - aitherd_export_timestamp_seconds{{{I}}}", "{{specialist}} {{family}}")],
                     unit="s", thresholds=[("green", None), ("orange", 2 * 86400)]), 12, 8)

    g.row("Training")
    g.add(timeseries("Training loss", "Loss of the latest logged step per specialist.",
                     [(f"aitherd_train_loss{{{I}}}", "{{specialist}}")]), 8, 8)
    g.add(timeseries("Training progress", "Optimizer steps done over steps planned.",
                     [(f"aitherd_train_step{{{I}}} / aitherd_train_steps_planned{{{I}}}", "{{specialist}}")],
                     unit="percentunit"), 8, 8)
    g.add(timeseries("Training throughput", "Tokens per second, and the estimated time left.",
                     [(f"aitherd_train_tokens_per_second{{{I}}}", "{{specialist}} tokens/s"),
                      (f"aitherd_train_eta_seconds{{{I}}}", "{{specialist}} ETA s")]), 8, 8)
    g.add(timeseries("Learning rate", "Learning rate of the latest logged step.",
                     [(f"aitherd_train_learning_rate{{{I}}}", "{{specialist}}")]), 12, 6)
    g.add(stat("Last training success", "Time since the train job last succeeded (weekly by default).",
               f'time() - max(aitherd_job_last_success_timestamp_seconds{{{I}, job="train"}})', unit="s",
               thresholds=[("green", None), ("orange", 8 * 86400)]), 12, 6)

    g.row("Adapters and deploy gate")
    g.add(timeseries("Pass rate per suite and version", "pass@1 of each adapter version on each suite.",
                     [(f"aitherd_adapter_pass_rate{{{I}}}", "{{specialist}} {{suite}} {{version}}")],
                     unit="percentunit"), 12, 8)
    g.add(timeseries("Deploy gate verdicts", "Gate verdicts per day.",
                     [(f"sum by (specialist, verdict) (increase(aitherd_deploy_verdicts_total{{{I}}}[1d]))",
                       "{{specialist}} {{verdict}}")], bars=True, interval="1d"), 12, 8)

    g.row("vLLM serving (planned, issue 16: empty until serving lands)", planned=True)
    g.add(stat("vLLM", "Whether the managed vLLM answers /health.", f"max(aitherd_vllm_up{{{I}}})",
               mappings={"0": "down", "1": "up"}, thresholds=[("red", None), ("green", 1)]), 6, 6)
    g.add(timeseries("vLLM state", "running, asleep (GPU lent to training), stopped or starting.",
                     [(f"max by (state) (aitherd_vllm_state{{{I}}})", "{{state}}")]), 6, 6)
    g.add(timeseries("vLLM restarts", "Restarts of the vLLM child per hour.",
                     [(f"increase(aitherd_vllm_restarts_total{{{I}}}[1h])", "restarts")], bars=True,
                     interval="1h"), 6, 6)
    g.add(timeseries("Adapter load time", "90th percentile time to load an adapter, per alias.",
                     [(f"histogram_quantile(0.9, sum by (alias, le) "
                       f"(rate(aitherd_adapter_load_seconds_bucket{{{I}}}[1h])))", "{{alias}}")], unit="s"), 6, 6)
    g.add(stat("Live version per alias", "The adapter version each alias serves.",
               f"max by (alias, version) (aitherd_adapter_live_info{{{I}}})", "{{alias}}: {{version}}",
               text_mode="name"), 24, 4)

    g.row("Router (planned, issue 18: empty until the router lands)", planned=True)
    g.add(timeseries("Router requests", "Requests per second per route and status code.",
                     [(f"sum by (route, code) (rate(aitherd_router_requests_total{{{I}}}[$__rate_interval]))",
                       "{{route}} {{code}}")]), 12, 8)
    g.add(timeseries("Router latency", "Median and 95th percentile request latency per route.",
                     [(f"histogram_quantile(0.5, sum by (route, le) "
                       f"(rate(aitherd_router_request_duration_seconds_bucket{{{I}}}[$__rate_interval])))",
                       "{{route}} p50"),
                      (f"histogram_quantile(0.95, sum by (route, le) "
                       f"(rate(aitherd_router_request_duration_seconds_bucket{{{I}}}[$__rate_interval])))",
                       "{{route}} p95")], unit="s"), 12, 8)
    return g.panels


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "definition": query, "query": {"query": query, "refId": "StandardVariableQuery"},
            "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*", "sort": 1,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "hide": 0, "options": [],
            "regex": "", "skipUrlSync": False}


def dashboard() -> dict[str, Any]:
    return {
        "title": "aitherd", "uid": "aitherd-overview",
        "description": "aitherd data flywheel: jobs, examples, curation, exports, training; serving, evaluation "
                       "and routing rows fill in as those land.",
        "tags": ["aitherd"], "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
        "time": {"from": "now-7d", "to": "now"}, "refresh": "1m", "timezone": "", "weekStart": "",
        "timepicker": {}, "fiscalYearStartMonth": 0, "liveNow": False, "links": [],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [
            {"name": "DS_PROMETHEUS", "label": "datasource", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
             "regex": "", "skipUrlSync": False},
            variable("instance", "instance", "label_values(aitherd_build_info, instance)"),
            variable("aitherd_job", "job", 'label_values(aitherd_job_runs_total{instance=~"$instance"}, job)'),
        ]},
        "panels": panels(),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if aitherd.json is not what this file builds")
    args = ap.parse_args()
    text = render()
    if args.check:
        same = OUT.exists() and OUT.read_text() == text
        print(f"{OUT}: {'up to date' if same else 'differs; run python etc/grafana/build_dashboard.py'}")
        return 0 if same else 1
    OUT.write_text(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
