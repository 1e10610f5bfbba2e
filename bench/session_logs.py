"""Session-log parsing throughput and memory, on synthetic Claude Code logs or on real logs.

    python bench/session_logs.py [--mb 20] [--against REV] [--corpus DIR]

Without --corpus it writes Claude Code session logs of MB and 10 x MB (real shape: user turns,
assistant turns with thinking, tool_use and tool_result noise, edits) and
parses each in a fresh process. With --corpus it parses every session log under DIR (Claude
Code and Codex CLI *.jsonl, OpenAI messages *.jsonl, .aider.chat.history.md, Continue *.json;
the kind is told from the content) in one process. It prints MB/s (target: at least 100 MB/s)
and peak RSS (target: flat, i.e. streaming). MB/s is per second of the parser's CPU time (the
machine is shared: wall time varies with the load); the wall-clock figure is printed too.
--against REV runs the parser of that git revision on the same input, side by side (e.g.
--against d6721d0, the parser before issue 12).
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 100.0  # MB/s


def write_log(path: Path, mb: float) -> int:
    turn = 0
    size = 0
    with open(path, "w") as fh:
        while size < mb * 1_000_000:
            turn += 1
            rows = [
                {"type": "user", "uuid": f"u{turn}", "parentUuid": None, "isSidechain": False,
                 "message": {"role": "user", "content": f"Fix the failing test number {turn} in parser.py"}},
                {"type": "assistant", "uuid": f"a{turn}", "parentUuid": f"u{turn}", "isSidechain": False,
                 "message": {"role": "assistant", "content": [
                     {"type": "thinking", "thinking": "Let me look at the parser. " * 20, "signature": "x" * 200},
                     {"type": "tool_use", "id": f"t{turn}", "name": "Read", "input": {"file_path": "parser.py"}}]}},
                {"type": "user", "uuid": f"r{turn}", "parentUuid": f"a{turn}", "isSidechain": False,
                 "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"t{turn}",
                                                          "content": "def parse(s):\n    return s[0]\n" * 40}]}},
                {"type": "assistant", "uuid": f"e{turn}", "parentUuid": f"r{turn}", "isSidechain": False,
                 "message": {"role": "assistant", "content": [
                     {"type": "tool_use", "id": f"x{turn}", "name": "Edit", "input": {
                         "file_path": "parser.py", "old_string": "return s[0]", "new_string": f"return s[0] if s else {turn}"}},
                     {"type": "text", "text": f"Fixed case {turn}:\n```python\ndef parse(s):\n    return s[0] if s else None\n```"}]}},
            ]
            for r in rows:
                line = json.dumps(r) + "\n"
                fh.write(line)
                size += len(line)
    return size


def kind_of(path: Path) -> str | None:
    """The log kind of a file, from its name and first record."""
    if path.name.endswith(".md"):
        with open(path, "rb") as fh:
            return "aider" if b"# aider chat started at" in fh.read(1 << 16) else None
    if path.suffix == ".json":
        return "continue"
    if path.suffix != ".jsonl":
        return None
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                first = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(first, dict):
                return None
            if "payload" in first:
                return "codex"
            return "openai" if "messages" in first else "claude"
    return None


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from aitherd.candidate import Candidate
from aitherd.sources import sessions
files = json.loads(sys.argv[1])
t0, c0 = time.perf_counter(), time.process_time()
turns = bad = failed = 0
for kind, p in files:
    p = Path(p)
    if kind in ("claude", "codex"):
        items = sessions.harvest_jsonl(p, kind, None, settle=0)
    elif kind == "aider":
        items = sessions.harvest_aider(p, None, settle=0)
    elif kind == "openai":
        items = sessions.harvest_openai(p, None)
    elif hasattr(sessions, "harvest_continue"):
        items = sessions.harvest_continue(p, None, settle=0)
    else:
        continue
    try:
        for item in items:
            if isinstance(item, Candidate):
                turns += 1
            elif type(item).__name__ == "BadInput":
                bad += 1
    except Exception:
        failed += 1
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"seconds": cpu, "wall": wall, "turns": turns, "bad": bad, "failed": failed,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def parse(tree: Path, files: list[tuple[str, str]]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(files)], cwd=tree, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def checkout(rev: str, into: Path) -> Path:
    """The aitherd package as it is at `rev`, to import instead of this tree's."""
    blob = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "aitherd"], capture_output=True,
                          check=True).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20)
    ap.add_argument("--against", metavar="REV", help="also run the parser of this git revision")
    ap.add_argument("--corpus", type=Path, help="a folder of real session logs to parse instead")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aitherd-bench-logs-"))
    atexit.register(shutil.rmtree, tmp, True)  # however the run ends
    trees = [("this tree", ROOT)]
    if args.against:
        trees.append((args.against, checkout(args.against, tmp / "rev")))
    runs: list[tuple[str, list[tuple[str, str]], int]] = []
    if args.corpus:
        files = [(k, str(p)) for p in sorted(args.corpus.rglob("*")) if p.is_file() and (k := kind_of(p))]
        kinds = sorted({k for k, _ in files})
        size = sum(Path(p).stat().st_size for _, p in files)
        print(f"corpus: {args.corpus} ({len(files)} files: {', '.join(kinds) or 'none'}; {size / 1e6:.1f} MB)")
        runs.append(("corpus", files, size))
    else:
        print("corpus: synthetic Claude Code logs (user turns; thinking, tool_use and tool_result noise; edits)")
        for mb in (args.mb, args.mb * 10):
            path = tmp / f"s{mb:g}.jsonl"
            runs.append((f"{mb:g} MB", [("claude", str(path))], write_log(path, mb)))
    head = "".join(f"  {name + ' MB/s':>16}" for name, _ in trees)
    print(f"{'input':>10}{head}  {'(wall)':>7}  {'turns':>8}  {'bad':>5}  {'peak RSS':>9}"
          f"   (target: >= {TARGET:g} MB/s, flat RSS)")
    for label, files, size in runs:
        results = [parse(tree, files) for _, tree in trees]
        rates = "".join(f"  {size / 1e6 / r['seconds']:>16.1f}" for r in results)
        r = results[0]
        note = f"   {r['failed']} files failed" if r["failed"] else ""
        print(f"{label:>10}{rates}  {size / 1e6 / r['wall']:>7.1f}  {r['turns']:>8}  {r['bad']:>5}"
              f"  {r['rss_mb']:>7.0f}MB{note}")
        for name, res in zip(trees[1:], results[1:], strict=True):
            if res["failed"]:
                print(f"{'':>10}  ({name[0]}: {res['failed']} files failed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
