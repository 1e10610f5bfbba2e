"""aitherctl as people use it: options where they type them, readable tables, helpful refusals,
progress with a rate and an ETA, shell completion and a --help with examples."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support import command

from aitherd.ctl_format import Progress, summarize

MANY_COUNTS = {**{f"stored.source{i}": 10 + i for i in range(12)},
               **{f"rejected.reason{i}": i for i in range(1, 9)},
               **{f"curation.judge.r{i}": i for i in range(20)},
               "errors.session": 3, "already_present": 7, "coder_loss": 1.25}


def test_timeout_and_json_work_after_the_subcommand(make_daemon):
    d = make_daemon()
    d.plan({"export": {"steps": 400, "sleep": 0.05}})
    d.start()
    out = d.ctl("run", "export", "--wait", "--timeout", "1")
    assert out.returncode == 1 and "gave up waiting after 1s" in out.stderr, out.stderr
    assert d.ctl("cancel", "export", "--json").returncode == 0
    out = d.ctl("--timeout", "30", "run", "harvest_reasoner", "--wait", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["status"] == "ok"


def test_runs_show_a_short_summary_and_runs_show_every_count(make_daemon):
    d = make_daemon()
    d.plan({"harvest_coder": {"counts": MANY_COUNTS}})
    d.start()
    out = d.ctl("run", "harvest_coder", "--wait")
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert "stored=186 rejected=36 errors=3" in first and len(first) < 120, first
    assert "aitherctl runs show 1" in out.stdout
    table = d.ctl("runs").stdout
    assert max(len(line) for line in table.splitlines()) < 160, table
    assert "stored=186" in table and "more" in table
    shown = d.ctl("runs", "show", "1").stdout
    for key in MANY_COUNTS:
        assert key in shown, key
    assert json.loads(d.ctl("runs", "1", "--json").stdout)["counts"] == {"steps": 1, **MANY_COUNTS}


def test_an_unknown_job_lists_the_jobs_there_are(make_daemon):
    d = make_daemon().start()
    out = d.ctl("run", "nosuch")
    assert out.returncode == 2
    assert "no job named 'nosuch'" in out.stderr
    assert "jobs: harvest_coder, harvest_reasoner, export, star, train, curate, benchmark, deploy" in out.stderr


def test_jobs_label_manual_and_chained_jobs_apart(make_daemon):
    d = make_daemon().start()
    states = {line.split()[0]: line.split()[1] for line in d.ctl("jobs").stdout.splitlines()[1:]}
    assert states["curate"] == "manual"
    assert states["benchmark"] == "chained" and states["deploy"] == "chained"
    assert states["harvest_coder"] == "scheduled"


def test_wait_shows_a_rate_and_an_eta_while_a_long_run_goes(make_daemon):
    d = make_daemon()
    d.plan({"harvest_coder": {"steps": 40, "sleep": 0.1}})
    d.start()
    out = d.ctl("run", "harvest_coder", "--wait")
    assert out.returncode == 0, out.stderr
    paced = [line for line in out.stderr.splitlines() if "/s  ETA " in line]
    assert paced, out.stderr
    rate = float(paced[-1].split("/s")[0].split()[-1])
    assert 3 < rate < 20  # 10 steps a second, give or take the polling


def test_progress_rate_and_eta_from_samples():
    p = Progress()
    assert p.observe({"stage": "git", "done": 0, "total": 100}, now=0.0) == (None, None)
    rate, left = p.observe({"stage": "git", "done": 20, "total": 100}, now=2.0)
    assert rate == 10 and left == 8
    assert p.observe({"stage": "export", "done": 5, "total": 10}, now=3.0) == (None, None)  # new stage


def test_summary_keeps_headline_totals_and_says_what_it_left_out():
    text = summarize(MANY_COUNTS)
    assert text == "stored=186 rejected=36 errors=3 +2 more"  # already_present, coder_loss
    assert summarize(MANY_COUNTS, width=80) == "stored=186 rejected=36 errors=3 already_present=7 coder_loss=1.25"
    assert summarize({"steps": 5}) == "steps=5"
    assert summarize({}) == "-"


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completion_completes_commands_jobs_and_choices():
    script = subprocess.run([*command("aitherctl"), "completion", "bash"], capture_output=True,
                            text=True, check=True).stdout

    def complete(line: str) -> set[str]:
        probe = (script + f'\nCOMP_WORDS=({line}); [[ "{line}" == *" " ]] && COMP_WORDS+=("")\n'
                 'COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _aitherctl; echo "${COMPREPLY[*]}"\n')
        return set(subprocess.run(["bash", "-c", probe], capture_output=True, text=True,
                                  check=True).stdout.split())

    assert complete("aitherctl ru") == {"run", "runs"}
    assert complete("aitherctl run harv") == {"harvest_coder", "harvest_reasoner"}
    assert complete("aitherctl --timeout 5 cancel ex") == {"export"}
    assert complete("aitherctl runs --status f") == {"failed"}
    assert complete("aitherctl runs sh") == {"show"}
    assert complete("aitherctl train r") == {"reasoner"}


def test_help_reads_like_a_man_page():
    out = subprocess.run([*command("aitherctl"), "--help"], capture_output=True, text=True, check=True).stdout
    for section in ("examples:", "exit status:", "environment and files:", "AITHERD_SOCKET",
                    "aitherctl run harvest_coder --wait", "completion bash"):
        assert section in out, section
