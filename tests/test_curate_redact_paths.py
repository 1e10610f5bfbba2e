"""Every way a string is stored, served or logged passes the redaction: a candidate's every field
on its way into the store, a git hunk header, log lines (tracebacks too) and run rows."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import sys
from pathlib import Path

from sqlalchemy import text as sql
from support import git

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_curate_support import config

from aitherd.candidate import Candidate
from aitherd.curate import Curator
from aitherd.logs import configure_logging, get_logger
from aitherd.sources.gitmine import GitMiningConfig, mine
from aitherd.store.db import open_store
from aitherd.store.examples import insert_candidates

STRIPE = "sk_live_51Hq8ZtK2mWc4Ry7Pq3Nx9Lb"
URL_PW = "Sv3c#pw/88"


def _dump(engine) -> str:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return "\n".join(str(tuple(r)) for r in conn.execute(sql("SELECT * FROM example")))


def _settings(retries: int) -> str:
    head = "".join(f"# line {i}\n" for i in range(14))
    return (head + f'SETTINGS = {{"stripe_key": "{STRIPE}",\n    "currency": "eur",\n'
            '    "timeout": 30,\n    "region": "eu",\n    "mode": "live",\n'
            f'    "retries": {retries},\n    "backoff": 2,\n}}\n')


def test_a_key_in_a_git_hunk_header_never_reaches_the_store(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "dev@example.com")
    git(repo, "config", "user.name", "Dev")
    for retries, message in ((3, "feat: payment settings"), (5, "fix: retry payments five times")):
        (repo / "settings.py").write_text(_settings(retries))
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message)
    mined = [c for c in mine(str(repo), "main", {}, GitMiningConfig(context_lines=1), {})
             if isinstance(c, Candidate)]
    carried = [json.dumps([c.messages, c.provenance]) for c in mined]
    assert any(STRIPE in t for t in carried)  # the miner carries the key (file text, hunk context)
    # stored as the daemon would, with no curation step in front: the store redacts on its own
    engine = open_store(tmp_path / "raw.db")
    insert_candidates(engine, mined)
    dump = _dump(engine)
    assert STRIPE not in dump and "<REDACTED:stripe_key>" in dump
    # and through curation, which counts it
    curated = list(Curator(config(decontam={"enabled": False}), None).process(
        [c for c in mine(str(repo), "main", {}, GitMiningConfig(context_lines=1), {}) if isinstance(c, Candidate)]))
    assert all(STRIPE not in json.dumps(c.provenance) for c in curated)
    assert any(c.curation.get("redactions", {}).get("stripe_key") for c in curated)


def test_every_text_field_of_a_candidate_is_redacted_on_its_way_into_the_store(tmp_path: Path) -> None:
    secret = f"postgres://app:{URL_PW}@db.lan/app"
    planted = {
        "messages": [{"role": "user", "content": f"why does {secret} fail?", "name": secret},
                     {"role": "assistant", "content": "The host is unreachable from CI."}],
        "reasoning": secret, "answer": secret, "source": f"session:{secret}", "license": secret,
        "provenance": {"hunk": f"@@ -1 +1 @@ {secret}", "nested": [{"deep": secret}], secret: 1},
        "reason": secret, "quality_reasons": [secret], "curation": {"note": secret},
    }
    text_fields = {f.name for f in dataclasses.fields(Candidate)
                   if f.name not in ("specialist", "category", "status")
                   and any(t in str(f.type) for t in ("str", "list", "dict"))}
    assert text_fields == set(planted), "a new text field: plant a secret in it here"
    c = Candidate(specialist="coder", category="debugging", **planted)  # type: ignore[arg-type]
    engine = open_store(tmp_path / "s.db")
    assert insert_candidates(engine, [c]) == (1, 0)
    dump = _dump(engine)
    assert URL_PW not in dump and dump.count("<REDACTED:url_password>") >= 10
    assert c.curation["redactions"]["url_password"] >= 10  # counted where curation counts
    assert insert_candidates(engine, [c]) == (0, 1)  # redacting twice changes nothing


PASSWORD, BEARER = "Tr0ub4dor&3x", "8fJk2LmQp9Rt4VwXy7Za3Bc"


def _connect() -> None:  # a console traceback shows source lines: no secret literal in them
    raise ConnectionError(f"postgres://svc:{URL_PW}@10.1.1.4:5432/app refused")


def test_log_lines_and_tracebacks_carry_no_secret() -> None:
    for fmt in ("json", "console"):
        out = io.StringIO()
        configure_logging("info", fmt, stream=out)
        log = get_logger("t")
        log.warning("cannot connect", url=f"mysql://etl:{URL_PW}@db.lan/dw", extra={"argv": ["--password", PASSWORD]})
        logging.getLogger("uvicorn.error").warning("auth failed for %s", f"Authorization: Bearer {BEARER}")
        try:
            _connect()
        except ConnectionError:
            log.exception("job_failed")
        written = out.getvalue()
        for secret in (URL_PW, PASSWORD, BEARER):
            assert secret not in written, (fmt, written)
        assert "<REDACTED:url_password>" in written and "refused" in written
        if fmt == "json":
            assert all(json.loads(line) for line in written.splitlines())
    configure_logging("info", "json", stream=sys.stderr)


def test_run_errors_and_messages_are_stored_and_served_redacted(make_daemon) -> None:  # type: ignore[no-untyped-def]
    d = make_daemon()
    d.plan({"star": {"raise": f"cannot reach postgres://svc:{URL_PW}@db.lan:5432/app"},
            "export": {"echo_args": True}})
    d.start()
    out = d.ctl("run", "star", "--wait")
    assert out.returncode == 1 and URL_PW not in out.stdout and "<REDACTED:url_password>" in out.stdout
    d.ctl("run", "export", "--wait", "--arg", "token=ghp_R4nd0mT0k3nV4lu3Xy7Zq2Wp9Lm5Kj8Hg3Fd1S")
    runs = json.dumps(d.runs())
    assert URL_PW not in runs and "ghp_R4nd0m" not in runs
    assert URL_PW not in d.log_text()
