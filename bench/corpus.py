"""Corpus harvest throughput: a JSONL corpus through the source, curation and the store.

Prints MB/s for each stage on its own (read + parse + code detector; each curation step;
the store insert) and end to end (the harvest a `harvest_coder` run does, real SQLite file),
beside the figures issue 22 reported (0.7-0.85 MB/s through curation, detector 4.8 MB/s) and
the goal (67 MB in under a minute: 1.12 MB/s).

    PYTHONPATH=. python bench/corpus.py --corpus FILE [--instruction instruction --response response]
    PYTHONPATH=. python bench/corpus.py --make-corpus /tmp/mixed.jsonl --mb 67   # then --corpus it

`--make-corpus` writes a mixed corpus from real text on this machine: functions and classes of the
installed Python packages and C headers (code), their docstring paragraphs, Markdown and licence
text (prose), with blank lines between some records.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import functools
import io
import json
import pstats
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aitherd.candidate import Candidate
from aitherd.sources.codedetect import code_score
from aitherd.sources.corpus import CorpusSource, harvest_file

ISSUE = {"through curation": "0.7-0.85", "detector alone": "4.8"}
# The detector before issue 22 (precision 0.67 on the labelled sample), timed in the same run.
_OLD_FENCE = re.compile(r"```[\w+-]*\n.+?```", re.DOTALL)
_OLD_LINE = re.compile(r"^\s{2,}\S|[;{}]\s*$|^\s*(def|class|return|import|from|if|for|while|fn|let|const|var|"
                       r"public|private|func|#include)\b|=>|->|::|==|!=|\w+\(.*\)\s*[;{:]?\s*$")


def old_code_score(text: str) -> float:
    if not text.strip():
        return 0.0
    if _OLD_FENCE.search(text):
        return 1.0
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) >= 2:
        try:
            if any(not isinstance(n, ast.Expr) for n in ast.parse(text).body):
                return 1.0
        except (SyntaxError, ValueError):
            pass
    return sum(bool(_OLD_LINE.search(ln)) for ln in lines) / len(lines) if lines else 0.0
GOAL_MBS = 67 / 60


def _site_packages() -> Path:
    return Path(next(p for p in sys.path if p.endswith("site-packages")))


def _python_units(root: Path, rng: random.Random) -> Iterator[tuple[str, str, str]]:
    files = sorted(root.rglob("*.py"))
    rng.shuffle(files)
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        lines = text.splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.end_lineno:
                src = "\n".join(lines[node.lineno - 1:node.end_lineno])
                if 3 <= src.count("\n") <= 80:
                    yield "code", f"Write `{node.name}` from {f.name}.", src
                doc = ast.get_docstring(node)
                for para in (doc or "").split("\n\n"):
                    if len(para) > 120 and ">>>" not in para and "::" not in para and "    " not in para:
                        yield "prose", f"What does `{node.name}` do?", para


def _other_units(root: Path, rng: random.Random) -> Iterator[tuple[str, str, str]]:
    headers = sorted(root.rglob("*.h"))
    rng.shuffle(headers)
    docs = sorted([*root.rglob("*.md"), *root.rglob("LICENSE*"), *root.rglob("*.rst")])
    for h, d in zip(headers, docs * (len(headers) // max(len(docs), 1) + 1), strict=False):
        try:
            htext = h.read_text(encoding="utf-8", errors="replace")
            dtext = d.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for chunk in htext.split("\n\n"):
            if chunk.count("\n") >= 3 and ("{" in chunk or ";" in chunk):
                yield "code", f"Explain the declarations in {h.name}.", chunk
                break
        paras = [p for p in dtext.split("\n\n") if len(p) > 200 and "```" not in p]
        if paras:
            yield "prose", f"Summarise {d.name}.", rng.choice(paras)


def make_corpus(out: Path, mb: float, seed: int = 0) -> None:
    rng = random.Random(seed)
    root = _site_packages()
    units: list[tuple[str, str, str]] = []
    for i, u in enumerate(_python_units(root, rng)):
        units.append(u)
        if i > 400_000:
            break
    units += list(_other_units(root, rng))
    rng.shuffle(units)
    target, size, i = int(mb * 1e6), 0, 0
    with out.open("w", encoding="utf-8") as fh:
        while size < target:
            kind, q, a = units[i % len(units)]
            line = json.dumps({"instruction": q if i < len(units) else f"{q} (variant {i // len(units)})",
                               "response": a, "kind": kind}) + "\n"
            if i % 50 == 0:
                line += "\n"  # blank lines in between, as real corpora have
            fh.write(line)
            size += len(line.encode())
            i += 1
    print(f"wrote {out}: {size / 1e6:.1f} MB, {i} records from {root}")


SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "code_detector_sample.jsonl"


def precision_recall(labelled: list[tuple[str, bool]], score: Callable[[str], float]) -> str:
    hits = [(score(text) >= 0.5, is_code) for text, is_code in labelled]
    tp = sum(p and c for p, c in hits)
    predicted, actual = sum(p for p, _ in hits), sum(c for _, c in hits)
    return f"precision {tp / max(predicted, 1):.3f} recall {tp / max(actual, 1):.3f}"


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, help="a JSONL corpus (one record a line)")
    ap.add_argument("--instruction", default="instruction")
    ap.add_argument("--response", default="response")
    ap.add_argument("--make-corpus", type=Path)
    ap.add_argument("--mb", type=float, default=67)
    ap.add_argument("--profile", action="store_true", help="print the top functions of the end-to-end run")
    a = ap.parse_args()
    if a.make_corpus:
        make_corpus(a.make_corpus, a.mb)
        return
    if not a.corpus:
        ap.error("--corpus FILE is required (or --make-corpus to write one)")

    from aitherd.config import Loaded, Paths, parse_config
    from aitherd.curate import CurationConfig, Curator
    from aitherd.logs import get_logger
    from aitherd.runs import JobContext
    from aitherd.sources.harvest import FnSource, Harvest
    from aitherd.store import open_store
    from aitherd.store.examples import insert_candidates

    mb = a.corpus.stat().st_size / 1e6
    src = CorpusSource(path=str(a.corpus), instruction=a.instruction, response=a.response, settle=0)
    print(f"corpus: {a.corpus} ({mb:.1f} MB)")

    items: list = []
    t_source = _time(lambda: items.extend(harvest_file(src, None)))
    cands = [i for i in items if isinstance(i, Candidate)]
    skipped = sum(type(i).__name__ == "Skip" for i in items)
    bad = sum(type(i).__name__ == "BadInput" for i in items)
    kept_mb = sum(len(c.text().encode()) for c in cands) / 1e6
    answers = []
    for line in a.corpus.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rec = json.loads(line)
            if isinstance(rec.get(a.response), str):
                answers.append(rec[a.response])
    answers_mb = sum(len(x.encode()) for x in answers) / 1e6
    sample = [(r["text"], r["code"]) for r in map(json.loads, SAMPLE.read_text().splitlines())]
    print(f"labelled sample ({len(sample)} answers, {SAMPLE.name}): {precision_recall(sample, code_score)}; "
          f"previous detector: {precision_recall(sample, old_code_score)}")
    kinds: dict[str, bool] = {}
    for line in a.corpus.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line) if line.strip() else {}
        if rec.get("kind") in ("code", "prose") and isinstance(rec.get(a.response), str):
            kinds.setdefault(rec[a.response], rec["kind"] == "code")
    if kinds:
        print(f"corpus labels ({len(kinds)} distinct answers, code from source files, prose from docstrings and "
              f"docs): {precision_recall(list(kinds.items()), code_score)}; previous detector: "
              f"{precision_recall(list(kinds.items()), old_code_score)}")
    t_detect = _time(lambda: [code_score(x) for x in answers])
    t_old = _time(lambda: [old_code_score(x) for x in answers])
    print(f"records: {len(cands)} code, {skipped} skipped as not code, {bad} bad")
    print(f"source (read, parse, detect)  {mb / t_source:7.2f} MB/s")
    print(f"detector alone (all answers)  {answers_mb / t_detect:7.2f} MB/s   previous detector, same run: "
          f"{answers_mb / t_old:.2f} MB/s   (issue 22: {ISSUE['detector alone']} MB/s)")

    cfg = CurationConfig()
    curator = Curator(cfg, None)
    timings: dict[str, float] = {}

    def run_step(step: Callable[[list[Candidate]], object], batch: list[Candidate]) -> None:
        for i in range(0, len(batch), 256):
            step(batch[i:i + 256])

    for step in curator.steps:  # each on fresh copies of the source's candidates
        batch = [Candidate(c.specialist, c.category, [dict(m) for m in c.messages], c.source,
                           dict(c.provenance)) for c in cands]
        timings[step.name] = _time(functools.partial(run_step, step, batch))
        print(f"curation step {step.name:<15} {kept_mb / timings[step.name]:7.2f} MB/s of kept text "
              f"({timings[step.name]:.1f} s)")
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_store(Path(tmp) / "s.db")
        t_insert = _time(lambda: [insert_candidates(engine, cands[i:i + 500]) for i in range(0, len(cands), 500)])
        print(f"store insert                  {kept_mb / t_insert:7.2f} MB/s of kept text ({t_insert:.1f} s)")

        state = Path(tmp) / "state"
        state.mkdir()
        loaded = Loaded(parse_config({}), None, Paths(state, state / "c.sock"), ())
        ctx = JobContext(job="harvest_coder", run_id=1, trigger="manual", loaded=loaded,
                         engine=open_store(state / "aitherd.db"), log=get_logger("bench"))
        full = Curator(cfg, ctx.engine)
        h = Harvest(ctx, full.process, 500, full.save_signatures)
        prof = cProfile.Profile() if a.profile else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        h.run(FnSource("corpus", str(a.corpus), lambda mark: harvest_file(src, mark)))
        if prof:
            prof.disable()
        t_all = time.perf_counter() - t0
    print(f"end to end (harvest_coder)    {mb / t_all:7.2f} MB/s, {t_all:.1f} s for {mb:.1f} MB   "
          f"(issue 22: {ISSUE['through curation']} MB/s; goal 67 MB < 60 s = {GOAL_MBS:.2f} MB/s)")
    print(f"  stored {ctx.counts.get('stored.corpus', 0)}, counts: "
          + ", ".join(f"{k}={v}" for k, v in sorted(ctx.counts.items()) if not k.startswith("stored")))
    if prof:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(25)
        print(out.getvalue())


if __name__ == "__main__":
    main()
