"""Writing an export: HF dataset on disk (Arrow for load_from_disk, Parquet for load_dataset),
a dataset card, a manifest of example ids, competition files; atomically, with a `latest` link.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from aitherd.export.config import CompetitionExport

SPLITS = ("train", "validation")


def _schema() -> Any:
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    return pa.schema([
        ("id", pa.string()), ("specialist", pa.string()), ("category", pa.string()),
        ("source", pa.string()), ("license", pa.string()), ("weight", pa.float64()),
        ("quality", pa.float64()), ("format", pa.string()), ("messages", pa.list_(message)),
        ("prompt", pa.string()), ("completion", pa.string()),
        ("fim_prefix", pa.string()), ("fim_middle", pa.string()), ("fim_suffix", pa.string()),
        ("fim_kind", pa.string()),
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


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def card_text(meta: dict[str, Any]) -> str:
    """README.md of an export: YAML header for the Hub loader, then what is in it."""
    licenses = sorted({lic for lic in meta["licenses"] if lic})
    lines = ["---", "license: other" if len(licenses) != 1 else f"license: {licenses[0].lower()}",
             "configs:", "- config_name: default", "  data_files:"]
    for split in SPLITS:
        lines += [f"  - split: {split}", f"    path: data/{split}-*"]
    formats = meta.get("formats", {})
    lines += ["---", "", f"# aitherd export {meta['export_id']}", "",
              f"Specialist **{meta['specialist']}**, base family **{meta['family']}**, "
              f"seed {meta['seed']}. {meta['rows']} records ({meta['splits']['train']} train, "
              f"{meta['splits']['validation']} validation): {formats.get('chat', 0)} chat"
              + (f", {formats.get('fim', 0)} fill-in-the-middle" if meta.get("fim") else "") + ".", ""]
    lines += _format_section(meta)
    lines += ["## Mix", "", "The category targets apply to the chat records"
              + (" (fill-in-the-middle records come on top, see below)." if meta.get("fim") else "."), "",
              "| category | target | selected | exported | short by | filled |", "|---|---|---|---|---|---|"]
    plan = meta["plan"]
    for cat, target in plan["targets"].items():
        lines.append(f"| {cat} | {target} | {plan['take'].get(cat, 0)} | {meta['categories'].get(cat, 0)} | "
                     f"{plan['shortfall'].get(cat, 0)} | {plan['filled_from'].get(cat, 0)} |")
    if plan["shortfall"]:
        gap, filled = sum(plan["shortfall"].values()), sum(plan["filled_from"].values())
        if meta["fill"] != "redistribute":
            how = f"the export is smaller by {gap} (fill = none)."
        elif filled == 0:
            how = (f"nothing could be filled: no other category had spare examples, so the "
                   f"export is smaller by {gap}.")
        elif filled < gap:
            how = (f"{filled} of the {gap} were filled from categories with spare examples, in "
                   f"proportion to their shares; the export is smaller by {gap - filled}.")
        else:
            how = ("the gap was filled from categories with spare examples, in proportion to "
                   "their shares.")
        lines += ["", f"Short categories (fill = {meta['fill']}): {how}"]
    if meta.get("retired"):
        lines += ["", "Not exported (retired sources): " + ", ".join(
            f"{k} {v}" for k, v in sorted(meta["retired"].items())) + "."]
    if meta.get("fim"):
        f = meta["fim"]
        lines += ["", "## Fill-in-the-middle", "",
                  f"{f['records']} records, on top of the chat records: target {f['target_share']:.0%} "
                  f"of the {f['code_bearing_chat']} exported chat records that carry source code "
                  f"({f['target']}). Cut from {f['eligible']} code-bearing examples of the store "
                  f"(source code of a language known from provenance; never prose, data files, "
                  f"diffs or review answers), examples not exported as chat first "
                  f"({f['reused_chat_examples']} reuse a chat example's code). Middles are spans "
                  f"at syntax boundaries: " + ", ".join(f"{k} {v}" for k, v in sorted(f["kinds"].items()))
                  + ". Languages: " + (", ".join(f"{k} {v}" for k, v in sorted(f["languages"].items()))
                                       or "none") + ".",
                  "", f"Tokens `{f['prefix']}`, `{f['suffix']}`, `{f['middle']}` ({f['tokens_from']})."
                  + (f" Short by {f['short']}: too few examples with usable code." if f["short"] else "")]
    lines += ["", "## Sources and licenses", "", "| source | records | licenses |", "|---|---|---|"]
    for source, info in sorted(meta["sources"].items()):
        lines.append(f"| {source} | {info['count']} | {', '.join(sorted(info['licenses'])) or 'unknown'} |")
    d = meta["decontamination"]
    lines += ["", "## Decontamination", "", d["summary"]]
    lines += _split_section(meta["split"])
    lines += _length_section(meta)
    return "\n".join(lines) + "\n"


def _format_section(meta: dict[str, Any]) -> list[str]:
    lines = ["## Record formats", "", "Each row has a `format` column.", "",
             "- `chat`: `messages` (system, user, assistant turns) for the family's chat template. "
             "The last assistant turn opens the way the family's template opens an answer at "
             "generation time: the reasoning inside the think markup, or an empty think block "
             "when there is none (coder answers included; families without think markup: the "
             "answer as is). Loss on the final assistant turn and its end token only."]
    if meta.get("fim"):
        f = meta["fim"]
        lines.append(f"- `fim`: raw text, no chat template, as an editor sends it to a completions "
                     f"endpoint: `prompt` = `{f['prefix']}PREFIX{f['suffix']}SUFFIX{f['middle']}`, "
                     f"`completion` = the middle (`fim_prefix`, `fim_middle`, `fim_suffix`, `fim_kind` "
                     f"keep the parts). Trained as BOS (where the tokenizer adds one) + prompt + "
                     f"middle + end-of-sequence, loss on the middle and the end token only; "
                     f"`messages` is empty. TRL users: `ds.filter(lambda r: r['format'] == 'fim')"
                     f".select_columns(['prompt', 'completion'])` is a prompt-completion dataset.")
    return [*lines, ""]


def _split_section(s: dict[str, Any]) -> list[str]:
    return ["", "## Validation split", "",
            f"Split by group, never by example: one git commit (a review with its fix), one source "
            f"file of code patterns, one session log, one reasoning problem, one dataset row go to "
            f"the same side. {s['groups']} groups, {s['validation_groups']} in validation.", "",
            f"Verbatim check: {s['answers_checked']} validation answers of at least {s['min_words']} "
            f"words were looked for in the training text (prompts included, whitespace and case "
            f"normalised). Found before the check: {s['overlap_before']}; "
            f"{s['moved_groups']} group(s) ({s['moved_records']} records) moved to train; "
            f"overlap after: **{s['overlap_after']}**."]


def _length_section(meta: dict[str, Any]) -> list[str]:
    h, fitted = meta["lengths"], meta["fit"]
    lines = ["", "## Lengths", "", f"In {h['unit']}: mean {h['mean']}, median {h['p50']}, "
             f"p95 {h['p95']}, max {h['max']}."]
    if fitted["exact"]:
        dropped, trimmed = fitted["dropped"], fitted["trimmed"]
        lines += ["", f"Fitted to the specialist's max_length of {fitted['max_length']} tokens, "
                  "never by cutting an answer: "
                  + (", ".join(f"{v} dropped ({k})" for k, v in sorted(dropped.items())) or "none dropped")
                  + "; " + (", ".join(f"{v} trimmed ({k})" for k, v in sorted(trimmed.items()))
                            or "none trimmed") + "."]
    else:
        lines += ["", "No tokenizer was found, so nothing was dropped here: the trainer measures "
                  f"each record with the real tokenizer, drops what is over max_length "
                  f"({fitted['max_length'] if fitted['max_length'] < 1 << 30 else 'not set'}) and "
                  "counts it in its run."]
    lines += ["", "| length | records |", "|---|---|"]
    return lines + [f"| {b} | {n} |" for b, n in h["histogram"].items()]


def _competition_rows(rows: list[dict[str, Any]], cfg: CompetitionExport) -> list[dict[str, Any]]:
    out = []
    for r in rows:
        if r.get("format") == "fim":  # raw completion records have no question and answer
            continue
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
    _fsync_dir(root)  # the rename itself is durable only once the parent directory is synced
    link_tmp = root / ".latest.tmp"
    link_tmp.unlink(missing_ok=True)
    os.symlink(export_id, link_tmp)
    os.replace(link_tmp, root / "latest")
    _fsync_dir(root)
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
