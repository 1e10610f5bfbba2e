"""The `export` job: one export per specialist and configured base family.

Lengths are measured with the family's real tokenizer: the one configured in
`[export.family.NAME] tokenizer`, else, for the family training uses, the base model's own
(a local directory, or the Hugging Face cache of a hub id). The specialist's `max_length` comes
from `[train.<specialist>]`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aitherd import specialists
from aitherd.export.build import Screen, build, load_examples
from aitherd.export.families import FAMILIES, TokenizerError, load_tokenizer, resolve_fim
from aitherd.export.write import prune, write_export
from aitherd.runs import JobContext, Status
from aitherd.store import Export, session


def export_root(state_dir: Path, specialist: str, family: str) -> Path:
    return state_dir / "exports" / specialist / family


def new_export_id(specialist: str, family: str) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{specialist}-{family}"


@dataclass
class ExportRun:
    """What one export run did: its status and note, and each export it wrote."""

    status: Status
    message: str | None = None
    error: str | None = None
    # (specialist, base family) -> the export id written by this run
    exports: dict[tuple[str, str], str] = field(default_factory=dict)


def run_export(ctx: JobContext, screen: Screen | None = None) -> ExportRun:
    cfg = ctx.loaded.config.export
    written: dict[tuple[str, str], str] = {}
    state = ctx.loaded.paths.state_dir
    notes: list[str] = []
    exported = 0
    for specialist in specialists.NAMES:
        ctx.progress(f"loading {specialist} examples", force=True)
        examples = load_examples(ctx.engine, specialist)
        if not examples:
            notes.append(f"{specialist}: no accepted examples yet")
            continue
        for name in cfg.families:
            if ctx.should_stop():
                return ExportRun("interrupted", message="stopped between exports; the previous "
                                 "`latest` of each is intact: " + "; ".join(notes), exports=written)
            family, override = FAMILIES[name], cfg.family.get(name)
            train = getattr(ctx.loaded.config, "train", None)
            try:
                tokenizer, where = find_tokenizer(name, override, train)
                fim = resolve_fim(family, tokenizer, override)
            except TokenizerError as err:
                return ExportRun("failed", error=str(err), exports=written)
            source = (f"read from {where}" if tokenizer is not None
                      else "aitherd's table for this family (no tokenizer found)")
            max_length = getattr(getattr(train, specialist, None), "max_length", None)
            ctx.progress(f"building {specialist}/{name}", force=True)
            splits, meta = build(examples, specialist, cfg, family, fim, fim_tokens_from=source,
                                 screen=screen, tokenizer=tokenizer, max_length=max_length)
            meta["tokenizer"] = where
            export_id = new_export_id(specialist, name)
            meta["export_id"] = export_id
            ctx.progress(f"writing {specialist}/{name}", force=True)
            root = export_root(state, specialist, name)
            path, sha = write_export(root, export_id, splits, meta, cfg.competition, specialist)
            with session(ctx.engine) as s:
                s.add(Export(id=export_id, specialist=specialist, base_family=name,
                             path=str(path), sha256=sha, run_id=ctx.run_id,
                             counts={"rows": meta["rows"], "splits": meta["splits"],
                                     "categories": meta["categories"],
                                     "sources": {k: v["count"] for k, v in meta["sources"].items()},
                                     "shortfall": meta["plan"]["shortfall"],
                                     "fim": (meta["fim"] or {}).get("records", 0),
                                     "dropped": meta["fit"]["dropped"],
                                     "trimmed": meta["fit"]["trimmed"],
                                     "validation_overlap": meta["split"]["overlap_after"],
                                     "decontaminated": meta["decontamination"]["removed"]}))
                s.commit()
            written[(specialist, name)] = export_id
            pruned = prune(root, cfg.keep)
            exported += meta["rows"]
            ctx.count(f"exported.{specialist}", meta["rows"])
            for reason, n in meta["fit"]["dropped"].items():
                ctx.count(f"dropped.{specialist}.{reason}", n)
            for reason, n in meta["fit"]["trimmed"].items():
                ctx.count(f"trimmed.{specialist}.{reason}", n)
            short = meta["plan"]["shortfall"]
            note = f"{specialist}/{name}: {meta['rows']} rows as {export_id}"
            if meta["fit"]["dropped"]:
                note += f", {sum(meta['fit']['dropped'].values())} over max_length dropped"
            if short:
                gaps = ", ".join(f"{k} {v}" for k, v in short.items())
                filled = sum(meta["plan"]["filled_from"].values())
                note += f", short {sum(short.values())} ({gaps}), {filled} filled by {cfg.fill}"
            if pruned:
                note += f", pruned {len(pruned)}"
            notes.append(note)
    if not exported:
        return ExportRun("skipped", message="nothing to export: " + "; ".join(notes), exports=written)
    return ExportRun("ok", message="; ".join(notes), exports=written)


def find_tokenizer(family: str, override: Any, train: Any) -> tuple[Any, str | None]:
    """(tokenizer, where it came from) for a family: configured, else the training base
    model's when training uses this family; (None, None) when neither is on this machine."""
    if override is not None and override.tokenizer:
        return load_tokenizer(override.tokenizer), override.tokenizer
    base = getattr(train, "base_model", "") or ""
    if not base or getattr(train, "base_family", None) != family:
        return None, None
    local = Path(base).expanduser()
    if (local / "tokenizer.json").is_file():
        return load_tokenizer(str(local)), str(local)
    if local.is_absolute() or base.startswith((".", "~")):
        return None, None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None, None
    cached = try_to_load_from_cache(base, "tokenizer.json")
    if isinstance(cached, str):
        return load_tokenizer(cached), f"{base} (Hugging Face cache)"
    return None, None
