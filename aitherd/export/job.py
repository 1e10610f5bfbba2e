"""The `export` job: one export per specialist and configured base family."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from aitherd.export.build import Screen, build, load_examples
from aitherd.export.families import FAMILIES, TokenizerError, load_tokenizer, resolve_fim
from aitherd.export.write import prune, write_export
from aitherd.jobs import RunResult
from aitherd.jobs.context import JobContext
from aitherd.store import Export, session


def export_root(state_dir: Path, specialist: str, family: str) -> Path:
    return state_dir / "exports" / specialist / family


def new_export_id(specialist: str, family: str) -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{specialist}-{family}"


def run_export(ctx: JobContext, screen: Screen | None = None) -> RunResult:
    cfg = ctx.loaded.config.export
    state = ctx.loaded.paths.state_dir
    notes: list[str] = []
    exported = 0
    for specialist in ("coder", "reasoner"):
        ctx.progress(f"loading {specialist} examples", force=True)
        examples = load_examples(ctx.engine, specialist)
        if not examples:
            notes.append(f"{specialist}: no accepted examples yet")
            continue
        for name in cfg.families:
            if ctx.should_stop():
                return RunResult("interrupted", message="stopped between exports; the previous "
                                 "`latest` of each is intact: " + "; ".join(notes))
            family, override = FAMILIES[name], cfg.family.get(name)
            tokenizer = None
            try:
                if override is not None and override.tokenizer:
                    tokenizer = load_tokenizer(override.tokenizer)
                fim = resolve_fim(family, tokenizer, override)
            except TokenizerError as err:
                return RunResult("failed", error=str(err))
            source = ("the configured tokenizer" if tokenizer is not None
                      else "aitherd's table for this family (no tokenizer configured)")
            ctx.progress(f"building {specialist}/{name}", force=True)
            splits, meta = build(examples, specialist, cfg, family, fim, fim_tokens_from=source,
                                 screen=screen, tokenizer=tokenizer)
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
                                     "decontaminated": meta["decontamination"]["removed"]}))
                s.commit()
            pruned = prune(root, cfg.keep)
            exported += meta["rows"]
            ctx.count(f"exported.{specialist}", meta["rows"])
            short = meta["plan"]["shortfall"]
            note = f"{specialist}/{name}: {meta['rows']} rows as {export_id}"
            if short:
                gaps = ", ".join(f"{k} {v}" for k, v in short.items())
                note += f", short {sum(short.values())} ({gaps}) filled by {cfg.fill}"
            if pruned:
                note += f", pruned {len(pruned)}"
            notes.append(note)
    if not exported:
        return RunResult("skipped", message="nothing to export: " + "; ".join(notes))
    return RunResult("ok", message="; ".join(notes))
