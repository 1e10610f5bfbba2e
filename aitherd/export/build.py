"""Building an export's records from the store: sample to targets, format for a family, screen."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from aitherd.export.config import ExportConfig
from aitherd.export.families import Family, Fim
from aitherd.export.format import chat_record, fim_code, fim_record
from aitherd.export.sample import allocate, select, unit
from aitherd.export.write import length_histogram

# screen(texts) -> one entry per contaminated text: {"index", "benchmark", "item", "overlap"}
Screen = Callable[[list[str]], list[dict[str, Any]]]


def load_examples(engine: Engine, specialist: str) -> list[dict[str, Any]]:
    sql = text("SELECT content_hash, specialist, category, source, license, weight, quality, "
               "messages, reasoning, answer FROM example "
               "WHERE specialist = :s AND status = 'accepted'")
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sql, {"s": specialist}).mappings()]
    for r in rows:
        if isinstance(r["messages"], str):
            r["messages"] = json.loads(r["messages"])
    return rows


def build(examples: list[dict[str, Any]], specialist: str, cfg: ExportConfig, family: Family,
          fim: Fim, *, fim_tokens_from: str, screen: Screen | None = None,
          tokenizer: Any = None) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    spec_cfg = cfg.coder if specialist == "coder" else cfg.reasoner
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ex in examples:
        by_cat[ex["category"]].append(ex)
    plan = allocate(spec_cfg.size, spec_cfg.mix, {c: len(v) for c, v in by_cat.items()}, cfg.fill)
    chosen = [ex for cat in spec_cfg.mix
              for ex in select(by_cat.get(cat, []), plan.take[cat], f"{cfg.seed}:{cat}")]

    fim_ids: dict[str, str] = {}
    fim_meta: dict[str, Any] | None = None
    if specialist == "coder" and cfg.coder.fim_fraction > 0:
        want = round(cfg.coder.fim_fraction * len(chosen))
        eligible = sorted(((unit(cfg.seed, ex["content_hash"], "fim-pick"), ex) for ex in chosen),
                          key=lambda t: t[0])
        for _, ex in eligible:
            if len(fim_ids) >= want:
                break
            code = fim_code(ex)
            if code is not None:
                fim_ids[ex["content_hash"]] = code
        fim_meta = {"records": len(fim_ids), "target_share": cfg.coder.fim_fraction,
                    "share": len(fim_ids) / len(chosen) if chosen else 0.0,
                    "short": want - len(fim_ids), "prefix": fim.prefix, "suffix": fim.suffix,
                    "middle": fim.middle, "tokens_from": fim_tokens_from}

    records = []
    for ex in chosen:
        row = {"id": ex["content_hash"], "specialist": specialist, "category": ex["category"],
               "source": ex["source"], "license": ex.get("license"),
               "weight": float(ex.get("weight") or 1.0), "quality": ex.get("quality"),
               "_reasoning": ex.get("reasoning"), "_answer": ex.get("answer")}
        if ex["content_hash"] in fim_ids:
            messages, split = fim_record(fim_ids[ex["content_hash"]], ex, fim, cfg.seed)
            row.update(format="fim", messages=messages, fim_prefix=split.prefix,
                       fim_middle=split.middle, fim_suffix=split.suffix)
        else:
            plain = next((str(m.get("content") or "") for m in reversed(ex["messages"])
                          if m.get("role") == "assistant"), "")
            row.update(format="chat", messages=chat_record(ex, family), _answer_plain=plain)
        records.append(row)

    decontam = {"screened": screen is not None, "removed": 0, "hits": {},
                "summary": "Not screened: no decontamination index is configured."}
    if screen is not None:
        hits = screen(["\n".join(m["content"] for m in r["messages"]) for r in records])
        bad = {h["index"] for h in hits}
        per_bench: dict[str, int] = defaultdict(int)
        for h in hits:
            per_bench[h["benchmark"]] += 1
        records = [r for i, r in enumerate(records) if i not in bad]
        decontam = {"screened": True, "removed": len(bad), "hits": dict(per_bench),
                    "summary": f"Screened again at export against the configured benchmarks: "
                               f"{len(bad)} example(s) removed"
                               + (f" ({', '.join(f'{k}: {v}' for k, v in per_bench.items())})."
                                  if per_bench else ".")}

    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": []}
    for r in records:
        val = unit(cfg.seed, r["id"], "split") < cfg.validation_fraction
        splits["validation" if val else "train"].append(r)
    if not splits["validation"] and len(splits["train"]) > 1 and cfg.validation_fraction > 0:
        splits["validation"].append(splits["train"].pop())

    sources: dict[str, dict[str, Any]] = {}
    for r in records:
        info = sources.setdefault(r["source"], {"count": 0, "licenses": set()})
        info["count"] += 1
        if r.get("license"):
            info["licenses"].add(r["license"])
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[r["category"]] += 1
    meta = {
        "specialist": specialist, "family": family.name, "seed": cfg.seed, "fill": cfg.fill,
        "rows": len(records), "splits": {s: len(v) for s, v in splits.items()},
        "plan": {"targets": plan.targets, "take": plan.take, "shortfall": plan.shortfall,
                 "filled_from": plan.filled_from},
        "categories": dict(counts), "fim": fim_meta,
        "sources": {k: {"count": v["count"], "licenses": sorted(v["licenses"])}
                    for k, v in sources.items()},
        "licenses": sorted({r["license"] for r in records if r.get("license")}),
        "decontamination": decontam, "lengths": length_histogram(records, tokenizer),
    }
    return splits, meta
