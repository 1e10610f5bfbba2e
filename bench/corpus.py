"""Corpus harvest throughput: a JSONL corpus through the source, curation and the store.

By default, the end-to-end figure (the harvest a `harvest_coder` run does: corpus source, curation,
a real SQLite store) for this checkout and, in the same run on the same corpus, for a baseline
commit (default be1a729, the curation before issue 22's speed work), each in its own process:
wall seconds, CPU seconds (its own and its worker processes'), MB/s, and whether both stored the
same examples (content hash, status, reason, quality, near-dup signature). Goal (issue 22): 67 MB
in under a minute. Without `--workers`, this checkout runs twice: with its default worker processes and with
`--workers 1` (all in one process). `--stages` adds each stage on its own (read + parse + code detector; each
curation step; the store insert) and the detector's precision and recall.

    PYTHONPATH=. python bench/corpus.py --make-corpus /tmp/mixed.jsonl --mb 67
    PYTHONPATH=. python bench/corpus.py --corpus /tmp/mixed.jsonl [--baseline REV | --no-baseline]
        [--workers N] [--stages] [--profile] [--instruction instruction --response response]

`--make-corpus` writes a mixed corpus from real text on this machine: functions and classes of the
installed Python packages and C headers (code), their docstring paragraphs, Markdown and licence
text (prose), with blank lines between some records.
"""

from __future__ import annotations

import argparse
import ast
import cProfile
import functools
import hashlib
import io
import json
import os
import pstats
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# The end-to-end child of a baseline run imports the baseline's aitherd (BENCH_AITHERD_ROOT).
sys.path.insert(0, os.environ.get("BENCH_AITHERD_ROOT") or str(Path(__file__).resolve().parents[1]))

from aitherd.candidate import Candidate
from aitherd.sources.codedetect import code_score
from aitherd.sources.corpus import CorpusSource, harvest_file

ROOT = Path(__file__).resolve().parents[1]
BASELINE = "be1a729"
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


def end_to_end(corpus: Path, instruction: str, response: str, workers: int | None,
               profile: bool) -> dict[str, object]:
    """One harvest of `corpus` as `harvest_coder` runs it, into a fresh store; works with the
    aitherd of this checkout and of the baseline (which has no `workers` setting)."""
    from sqlalchemy import text

    from aitherd.config import Loaded, Paths, parse_config
    from aitherd.curate import CurationConfig, Curator
    from aitherd.logs import get_logger
    from aitherd.runs import JobContext
    from aitherd.sources.harvest import FnSource, Harvest
    from aitherd.store import open_store

    src = CorpusSource(path=str(corpus), instruction=instruction, response=response, settle=0)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        loaded = Loaded(parse_config({}), None, Paths(state, state / "c.sock"), ())
        ctx = JobContext(job="harvest_coder", run_id=1, trigger="manual", loaded=loaded,
                         engine=open_store(state / "aitherd.db"), log=get_logger("bench"))
        cfg = CurationConfig(**({"workers": workers} if workers is not None else {}))
        prof = cProfile.Profile() if profile else None
        t0, c0 = time.perf_counter(), time.process_time()
        full = Curator(cfg, ctx.engine)
        h = Harvest(ctx, full.process, 500, full.save_signatures)
        if prof:
            prof.enable()
        h.run(FnSource("corpus", str(corpus), lambda mark: harvest_file(src, mark)))
        if prof:
            prof.disable()
        wall = time.perf_counter() - t0
        if hasattr(full, "close"):
            full.close()  # its worker processes: their CPU time is counted once they are gone
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        with ctx.engine.connect() as conn:
            rows = conn.execute(text("SELECT content_hash, status, reason, quality, near_dup_signature "
                                     "FROM example ORDER BY content_hash")).all()
    digest = hashlib.sha256()
    for r in rows:
        digest.update(repr((r[0], r[1], r[2], r[3], hashlib.sha1(r[4] or b"").hexdigest())).encode())
    out: dict[str, object] = {"wall": wall, "cpu": time.process_time() - c0, "cpu_workers": kids.ru_utime + kids.ru_stime,
                              "counts": ctx.counts, "stored": len(rows), "digest": digest.hexdigest()}
    if prof:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def _child(a: argparse.Namespace, root: Path | None) -> dict[str, object]:
    """`end_to_end` in a process of its own, importing aitherd from `root` (None: this checkout)."""
    env = {**os.environ, "BENCH_AITHERD_ROOT": str(root or ROOT), "PYTHONPATH": str(root or ROOT)}
    cmd = [sys.executable, __file__, "--corpus", str(a.corpus), "--instruction", a.instruction,
           "--response", a.response, "--end-to-end-json"]
    if root is None and a.workers is not None:
        cmd += ["--workers", str(a.workers)]
    if a.profile:
        cmd.append("--profile")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"end-to-end run failed ({root or 'this checkout'}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _baseline_tree(rev: str, into: Path) -> Path | None:
    """The baseline's aitherd package, extracted from git (None when this is no git checkout)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "aitherd"], capture_output=True, check=False)
    if archive.returncode:
        print(f"baseline {rev}: not available ({archive.stderr.decode(errors='replace').strip()[:200]})")
        return None
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _report(name: str, r: dict[str, object], mb: float) -> None:
    wall, cpu = float(r["wall"]), float(r["cpu"]) + float(r["cpu_workers"])  # type: ignore[arg-type]
    counts = r["counts"]
    assert isinstance(counts, dict)
    print(f"  {name:<22}{wall:8.1f} s{cpu:9.1f} s{mb / wall:9.2f}{mb / cpu:10.2f}   stored {r['stored']} "
          f"(accepted {counts.get('accepted', 0)}, rejected "
          f"{sum(v for k, v in counts.items() if k.startswith('rejected.'))}); {r['digest'][:12]}")


def compare(a: argparse.Namespace) -> None:
    mb = a.corpus.stat().st_size / 1e6
    load = os.getloadavg()[0]
    print(f"end to end (harvest_coder: corpus source, curation, store) on {a.corpus} ({mb:.1f} MB); "
          f"{os.cpu_count()} CPUs, load {load:.1f}")
    print(f"  {'':<22}{'wall':>10}{'CPU':>11}{'MB/s':>9}{'MB/CPU-s':>10}")
    ours = _child(a, None)
    _report(f"this checkout{f', workers={a.workers}' if a.workers is not None else ''}", ours, mb)
    if a.workers is None:  # the default uses worker processes: one process alone, for comparison
        single = _child(argparse.Namespace(**{**vars(a), "workers": 1}), None)
        _report("this checkout, workers=1", single, mb)
    base = None
    if not a.no_baseline:
        with tempfile.TemporaryDirectory() as tmp:
            root = _baseline_tree(a.baseline, Path(tmp))
            if root is not None:
                base = _child(a, root)
                _report(f"baseline {a.baseline}", base, mb)
    if base is None:
        print("  baseline (README, 2 shared cores at load 7-9): 160 s for 67 MB, 0.42 MB/s; issue 22: 0.7-0.85 MB/s")
    else:
        same = ours["digest"] == base["digest"] and ours["counts"] == base["counts"] and (
            a.workers is not None or (single["digest"], single["counts"]) == (base["digest"], base["counts"]))
        print(f"  same stored examples and counts as the baseline: {'yes' if same else 'NO'}")
        print(f"  speed-up: {float(base['wall']) / float(ours['wall']):.2f}x wall, "  # type: ignore[arg-type]
              f"{(float(base['cpu']) + float(base['cpu_workers'])) / (float(ours['cpu']) + float(ours['cpu_workers'])):.2f}x CPU")  # type: ignore[arg-type]
    print(f"  goal: 67 MB in under 60 s ({GOAL_MBS:.2f} MB/s)")
    for name, r in (("this checkout", ours), ("baseline", base)):
        if r is not None and r.get("profile"):
            print(f"--- profile, {name} ---\n{r['profile']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, help="a JSONL corpus (one record a line)")
    ap.add_argument("--instruction", default="instruction")
    ap.add_argument("--response", default="response")
    ap.add_argument("--make-corpus", type=Path)
    ap.add_argument("--mb", type=float, default=67)
    ap.add_argument("--baseline", default=BASELINE, help="the git revision to compare with (default %(default)s)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--workers", type=int, help="[curation] workers for this checkout (default: the default)")
    ap.add_argument("--stages", action="store_true", help="also time each stage alone, and the detector")
    ap.add_argument("--profile", action="store_true", help="print the top functions of the end-to-end runs")
    ap.add_argument("--end-to-end-json", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.make_corpus:
        make_corpus(a.make_corpus, a.mb)
        return
    if not a.corpus:
        ap.error("--corpus FILE is required (or --make-corpus to write one)")
    if a.end_to_end_json:
        print(json.dumps(end_to_end(a.corpus, a.instruction, a.response, a.workers, a.profile)))
        return
    if a.stages:
        stages(a)
    compare(a)


def stages(a: argparse.Namespace) -> None:
    from aitherd.curate import CurationConfig, Curator
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

    curator = Curator(CurationConfig(), None)
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


if __name__ == "__main__":
    main()
