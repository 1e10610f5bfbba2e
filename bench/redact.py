"""Secret redaction figures, aitherd beside detect-secrets, on three corpora in one run.

1. The held-out mix (tests/fixtures/secrets_heldout.txt: 106 marked secrets in 66 realistic
   documents -- .env, YAML, INI, compose, XML, prose, auth headers, hex keys, URL passwords,
   provider tokens -- and clean confusables): recall, and lines redacted that hold no secret.
2. A generated corpus (generated code, GSM8K train text, git diffs; 1% of documents carry a
   planted secret of each development kind in turn): planted secrets removed, clean documents
   changed, MB/s.
3. Real code (default: transformers, sympy, numpy and pandas from site-packages; `--corpus DIR`
   for any other): every redacted line is counted as a false positive per MB (published library
   source holds no live secret, with rare exceptions the listing shows), MB/s.

detect-secrets 1.5 (every plugin, default settings, line by line) is the baseline; on real
code it runs on the first `--ds-mb` MB only (it is slow), and says so.

    python bench/redact.py [--corpus DIR ...] [--max-mb 120] [--docs 20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

import secret_cases  # noqa: E402
from decontam import gen_code  # noqa: E402
from test_curate_redact import SECRETS  # noqa: E402

from aitherd.curate import RedactConfig  # noqa: E402
from aitherd.curate.redact import Redactor  # noqa: E402

SUFFIXES = {".py", ".pyi", ".md", ".rst", ".txt", ".cfg", ".toml", ".ini", ".yaml", ".yml", ".json", ".sh"}
DEFAULT_CORPUS = ("transformers", "sympy", "numpy", "pandas")


def diff(rng: random.Random) -> str:
    h = f"{rng.getrandbits(160):040x}"
    return (f"commit {h}\nAuthor: Dev {rng.randint(1, 99)} <dev@example.com>\n\n    Fix retry loop\n\n"
            f"diff --git a/app/net.py b/app/net.py\n--- a/app/net.py\n+++ b/app/net.py\n"
            f"@@ -10,7 +10,8 @@\n-    delay = {rng.randint(1, 9)}\n+    delay = min(delay * 2, 30)\n"
            f"+    log.info('retrying %s in %ss', url, delay)\n")


def read_corpus(dirs: list[Path], max_mb: float) -> list[tuple[str, str]]:
    out, size = [], 0
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.suffix not in SUFFIXES or not p.is_file():
                continue
            try:
                text = p.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            out.append((str(p.relative_to(d.parent)), text))
            size += len(text.encode())
            if size >= max_mb * 1e6:
                return out
    return out


def timed(find, texts: list[str]) -> tuple[list, float, float]:  # type: ignore[no-untyped-def]
    w0, c0 = time.perf_counter(), time.process_time()
    spans = [find(t) for t in texts]
    return spans, time.perf_counter() - w0, time.process_time() - c0


def changed_lines(text: str, spans, emails: bool | None = None) -> list[str]:  # type: ignore[no-untyped-def]
    """The lines holding a span (only email spans, only others, or all)."""
    keep = [s for s in spans if emails is None or (len(s) > 2 and s[2] == "email") == emails]
    starts = {text.rfind("\n", 0, s[0]) + 1 for s in keep}
    return [text[i:text.find("\n", i) if text.find("\n", i) >= 0 else len(text)] for i in sorted(starts)]


def row(label: str, ours: str, ds: str, note: str = "") -> None:
    print(f"  {label:34}{ours:>14}{ds:>17}   {note}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, action="append", help="a folder of real source (repeatable)")
    ap.add_argument("--max-mb", type=float, default=120.0, help="read at most this much real source")
    ap.add_argument("--ds-mb", type=float, default=4.0, help="real source given to detect-secrets")
    ap.add_argument("--docs", type=int, default=20000)
    ap.add_argument("--show", type=int, default=12, help="redacted real-code lines to list")
    a = ap.parse_args()
    ours = Redactor(RedactConfig()).find
    try:
        ds = secret_cases.detect_secrets_finder()
    except ImportError:
        ds = None
    print(f"{'':36}{'aitherd':>14}{'detect-secrets':>17}")

    # 1. held-out mix
    docs = secret_cases.load()
    mine, base = secret_cases.score(docs, ours), (secret_cases.score(docs, ds) if ds else None)
    print(f"held-out mix: {mine['total']} secrets in {len(docs)} documents ({secret_cases.HELDOUT.name})")
    row("recall", f"{mine['recall']:.3f}", f"{base['recall']:.3f}" if base else "-",
        f"({mine['caught']} / {base['caught'] if base else '-'} of {mine['total']})")
    row("lines redacted with no secret", str(len(mine["false_positive_lines"])),
        str(len(base["false_positive_lines"])) if base else "-")
    for kind, (c, t) in mine["by_kind"].items():
        b = base["by_kind"][kind][0] if base else "-"
        row(f"  {kind}", f"{c}/{t}", f"{b}/{t}")
    for title, secret in mine["missed"]:
        print(f"    missed by aitherd: {title}: {secret[:40]}")

    # 2. generated corpus with planted secrets
    from aitherd import benchmarks

    train = benchmarks.load("gsm8k_train")
    rng = random.Random(0)
    gen, planted, kinds = [], [], list(SECRETS)
    for i in range(a.docs):
        d = [gen_code(rng), train[i % len(train)]["question"] + "\n" + train[i % len(train)]["answer"], diff(rng)][i % 3]
        if i % 100 == 0:
            secret, tmpl = SECRETS[kinds[(i // 100) % len(kinds)]]
            d += "\n" + tmpl.format(s=secret) + "\n"
            planted.append((i, secret))
        gen.append(d)
    gmb = sum(len(d.encode()) for d in gen) / 1e6
    spans, wall, cpu = timed(ours, gen)
    redactor = Redactor(RedactConfig())
    removed = sum(secret not in redactor.redact(gen[i])[0] for i, secret in planted) / len(planted)
    clean = sum(bool(spans[i]) for i in range(len(gen)) if i % 100) / (len(gen) - len(planted))
    print(f"generated: {len(gen)} docs, {gmb:.1f} MB (generated code, gsm8k train, git diffs), "
          f"{len(planted)} planted secrets of {len(kinds)} kinds")
    ds_gen = gen[: max(1, len(gen) // 20)]
    ds_spans, ds_wall, _ = timed(ds, ds_gen) if ds else ([], 0.0, 0.0)
    ds_mb = sum(len(d.encode()) for d in ds_gen) / 1e6
    ds_removed = (sum(bool(ds_spans[i]) for i, _ in planted if i < len(ds_gen))
                  / max(1, sum(i < len(ds_gen) for i, _ in planted)))
    row("planted secrets removed", f"{removed:.3f}", f"{ds_removed:.3f}" if ds else "-",
        f"(detect-secrets: first {len(ds_gen)} docs)")
    row("clean docs changed", f"{clean:.5f}", f"{sum(bool(s) for s in ds_spans) / len(ds_gen):.5f}" if ds else "-",
        "(emails @example.com are kept)")
    row("MB/s, wall (CPU)", f"{gmb / wall:.1f} ({gmb / cpu:.1f})", f"{ds_mb / ds_wall:.2f}" if ds else "-")

    # 3. real code
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    dirs = a.corpus or [site / n for n in DEFAULT_CORPUS if (site / n).is_dir()]
    files = read_corpus(dirs, a.max_mb)
    texts = [t for _, t in files]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    spans, wall, cpu = timed(ours, texts)
    lines = [(files[i][0], ln) for i, s in enumerate(spans) if s for ln in changed_lines(texts[i], s, False)]
    mails = [(files[i][0], ln) for i, s in enumerate(spans) if s for ln in changed_lines(texts[i], s, True)]
    names = [str(d.relative_to(site)) if d.is_relative_to(site) else str(d) for d in dirs]
    print(f"real code: {'site-packages: ' if any(d.is_relative_to(site) for d in dirs) else ''}"
          f"{', '.join(names)}: {len(files)} files, {mb:.1f} MB")
    ds_texts, size = [], 0.0
    for t in texts[:: max(1, int(mb / a.ds_mb))] if a.ds_mb > 0 else []:  # --ds-mb 0: not run on real code
        ds_texts.append(t)
        size += len(t.encode()) / 1e6
        if size >= a.ds_mb:
            break
    ds = ds if ds_texts else None
    if ds:
        ds_spans, ds_wall, _ = timed(ds, ds_texts)
        ds_lines = sum(len(changed_lines(t, s)) for t, s in zip(ds_texts, ds_spans, strict=True) if s)
    row("lines redacted per MB, secrets", f"{len(lines) / mb:.2f}", f"{ds_lines / size:.2f}" if ds else "-",
        f"({len(lines)} lines; detect-secrets on {size:.1f} MB spread over the corpus)")
    row("lines redacted per MB, emails", f"{len(mails) / mb:.2f}", "-",
        f"({len(mails)} lines: authors' addresses; `emails = false` keeps them)")
    row("MB/s, wall (CPU)", f"{mb / wall:.1f} ({mb / cpu:.1f})", f"{size / ds_wall:.2f}" if ds else "-")
    for path, line in (lines + mails)[: a.show]:
        print(f"    {path}: {line.strip()[:110]}")


if __name__ == "__main__":
    main()
