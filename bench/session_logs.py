"""Session-log parsing throughput and memory as the input grows.

    python bench/session_logs.py [--mb 20]

Writes Claude Code session logs of MB and 10 x MB (real shape: user turns, assistant turns with
thinking, tool_use and tool_result noise, edits), parses each in a fresh process, and prints
MB/s (target: at least 20 MB/s) and peak RSS for both sizes (target: flat, i.e. streaming).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from aitherd.sources.sessions import harvest_jsonl
path = Path(sys.argv[1])
t0 = time.perf_counter()
n = sum(1 for _, c in harvest_jsonl(path, "claude", None) if not isinstance(c, str))
dt = time.perf_counter() - t0
print(json.dumps({"seconds": dt, "turns": n, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="aitherd-bench-logs-"))
    print(f"{'input':>10}  {'MB/s':>7}  {'turns':>8}  {'peak RSS':>9}   (targets: >= 20 MB/s, flat RSS)")
    for mb in (args.mb, args.mb * 10):
        path = tmp / f"s{mb:g}.jsonl"
        size = write_log(path, mb)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout)
        print(f"{size / 1e6:>8.0f}MB  {size / 1e6 / r['seconds']:>7.1f}  {r['turns']:>8}  {r['rss_mb']:>7.0f}MB")
        path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
