"""Writing an export: HF dataset on disk (Arrow for load_from_disk, Parquet for load_dataset),
a dataset card, a manifest of example ids, competition files; atomically, with a `latest` link.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from aitherd.export.config import CompetitionExport

SPLITS = ("train", "validation")
_LENGTH_BUCKETS = (256, 512, 1024, 2048, 4096, 8192)


def _schema() -> Any:
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("id", pa.string()), ("specialist", pa.string()), ("category", pa.string()),
        ("source", pa.string()), ("license", pa.string()), ("weight", pa.float64()),
        ("quality", pa.float64()), ("format", pa.string()), ("messages", pa.list_(message)),
        ("fim_prefix", pa.string()), ("fim_middle", pa.string()), ("fim_suffix", pa.string()),
    ])


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def length_histogram(rows: list[dict[str, Any]], tokenizer: Any | None) -> dict[str, Any]:
    texts = ["\n".join(m["content"] for m in r["messages"]) for r in rows]
    if tokenizer is not None:
        lengths = []
        for start in range(0, len(texts), 1024):  # chunks: Encodings hold offsets and more
            batch = tokenizer.encode_batch(texts[start:start + 1024], add_special_tokens=False)
            lengths += [len(e.ids) for e in batch]
        unit = "tokens"
    else:
        lengths = [len(t) // 4 for t in texts]
        unit = "estimated tokens (characters / 4; configure a tokenizer for exact counts)"
    hist: Counter[str] = Counter()
    for n in lengths:
        bucket = next((f"<= {b}" for b in _LENGTH_BUCKETS if n <= b), f"> {_LENGTH_BUCKETS[-1]}")
        hist[bucket] += 1
    ordered = [f"<= {b}" for b in _LENGTH_BUCKETS] + [f"> {_LENGTH_BUCKETS[-1]}"]
    srt = sorted(lengths)
    return {
        "unit": unit, "count": len(lengths),
        "mean": round(sum(lengths) / len(lengths), 1) if lengths else 0,
        "p50": srt[len(srt) // 2] if srt else 0, "p95": srt[int(len(srt) * 0.95)] if srt else 0,
        "max": srt[-1] if srt else 0,
        "histogram": {b: hist.get(b, 0) for b in ordered},
    }


def card_text(meta: dict[str, Any]) -> str:
    """README.md of an export: YAML header for the Hub loader, then what is in it."""
    licenses = sorted({lic for lic in meta["licenses"] if lic})
    lines = ["---", "license: other" if len(licenses) != 1 else f"license: {licenses[0].lower()}",
             "configs:", "- config_name: default", "  data_files:"]
    for split in SPLITS:
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    lines += ["---", "", f"# aitherd export {meta['export_id']}", "",
              f"Specialist **{meta['specialist']}**, base family **{meta['family']}**, "
              f"seed {meta['seed']}. {meta['rows']} examples "
              f"({meta['splits']['train']} train, {meta['splits']['validation']} validation).", "",
              "## Mix", "", "| category | target | exported | short by | filled |",
              "|---|---|---|---|---|"]
    for cat, target in meta["plan"]["targets"].items():
        lines.append(f"| {cat} | {target} | {meta['plan']['take'].get(cat, 0)} | "
                     f"{meta['plan']['shortfall'].get(cat, 0)} | {meta['plan']['filled_from'].get(cat, 0)} |")
    if meta["plan"]["shortfall"]:
        lines += ["", f"Short categories were filled by **{meta['fill']}**: " + (
            "the gap was spread over the categories that had more examples, in proportion to "
            "their shares." if meta["fill"] == "redistribute" else "the export is smaller.")]
    if meta.get("fim"):
        f = meta["fim"]
        lines += ["", "## Fill-in-the-middle", "",
                  f"{f['records']} records ({f['share']:.1%}, target {f['target_share']:.0%}) use "
                  f"the tokens `{f['prefix']}`, `{f['suffix']}`, `{f['middle']}` "
                  f"({f['tokens_from']})." + (f" Short by {f['short']}: too few examples "
                                              "with enough code." if f["short"] else "")]
    lines += ["", "## Sources and licenses", "", "| source | examples | licenses |", "|---|---|---|"]
    for source, info in sorted(meta["sources"].items()):
        lines.append(f"| {source} | {info['count']} | {', '.join(sorted(info['licenses'])) or 'unknown'} |")
    d = meta["decontamination"]
    lines += ["", "## Decontamination", "", d["summary"]]
    h = meta["lengths"]
    lines += ["", "## Lengths", "", f"In {h['unit']}: mean {h['mean']}, median {h['p50']}, "
              f"p95 {h['p95']}, max {h['max']}.", "", "| length | examples |", "|---|---|"]
    lines += [f"| {b} | {n} |" for b, n in h["histogram"].items()]
    return "\n".join(lines) + "\n"


def _competition_rows(rows: list[dict[str, Any]], cfg: CompetitionExport) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        msgs = r["messages"]
        question = next((m["content"] for m in reversed(msgs) if m["role"] == "user"), "")
        system = next((m["content"] for m in msgs if m["role"] == "system"), "")
        response = next((m["content"] for m in reversed(msgs) if m["role"] == "assistant"), "")
        plain = r.get("_answer_plain", response)
        values = {"id": r["id"], "question": question, "system": system,
                  "category": r["category"], "source": r["source"],
                  "reasoning": r.get("_reasoning") or "", "answer": r.get("_answer") or plain,
                  "response": response if cfg.include_reasoning else plain}
        values["prompt"] = cfg.prompt_template.format_map(values)
        out.append({col: values[field] for col, field in cfg.fields.items()})
    return out


def write_competition(path: Path, rows: list[dict[str, Any]], cfg: CompetitionExport) -> Path:
    data = _competition_rows(rows, cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    if cfg.format == "csv":
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(cfg.fields))
            writer.writeheader()
            writer.writerows(data)
    elif cfg.format == "jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for row in data:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(data), path)
    return path


def write_export(root: Path, export_id: str, splits: dict[str, list[dict[str, Any]]],
                 meta: dict[str, Any], competition: CompetitionExport | None,
                 specialist: str) -> tuple[Path, str]:
    """Write into a temp dir, fsync, rename into place, then point `latest` at it.
    A crash at any point leaves the previous `latest` whole."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetDict

    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):  # left by an export that was killed
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".tmp-{export_id}"
    schema = _schema()
    tables = {s: pa.Table.from_pylist([{k: r.get(k) for k in schema.names} for r in rows],
                                      schema=schema) for s, rows in splits.items()}
    DatasetDict({s: Dataset(t) for s, t in tables.items()}).save_to_disk(str(tmp))
    (tmp / "data").mkdir()
    for s, table in tables.items():
        pq.write_table(table, tmp / "data" / f"{s}-00000-of-00001.parquet")
    every = [r for rows in splits.values() for r in rows]
    (tmp / "ids.txt").write_text("".join(f"{r['id']}\n" for r in sorted(every, key=lambda r: r["id"])))
    (tmp / "README.md").write_text(card_text(meta))
    (tmp / "export.json").write_text(json.dumps(meta, indent=2, sort_keys=True, default=list))
    if competition is not None and competition.enabled and specialist in competition.specialists:
        write_competition(tmp / "competition" / f"{specialist}.{competition.format}", every,
                          competition)
    sha = hashlib.sha256()
    for s in SPLITS:
        sha.update((tmp / "data" / f"{s}-00000-of-00001.parquet").read_bytes())
    _fsync_tree(tmp)
    final = root / export_id
    os.rename(tmp, final)
    link_tmp = root / ".latest.tmp"
    link_tmp.unlink(missing_ok=True)
    os.symlink(export_id, link_tmp)
    os.replace(link_tmp, root / "latest")
    return final, sha.hexdigest()


def prune(root: Path, keep: int) -> list[str]:
    """Remove all but the `keep` newest exports; never the one `latest` points to."""
    latest = os.readlink(root / "latest") if (root / "latest").is_symlink() else None
    dirs = sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    removed = []
    for name in dirs[:-keep] if keep else dirs:
        if name != latest:
            shutil.rmtree(root / name, ignore_errors=True)
            removed.append(name)
    return removed
