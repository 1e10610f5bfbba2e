"""Building an export's records from the store: sample chat examples to the mix, add FIM records
on top, screen, fit to max_length, split by group.

The category mix applies to chat records. FIM records come on top: `fim_fraction` x the number
of exported chat records that carry source code, cut from code-bearing examples of the store
(examples not already exported as chat first, for variety).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from aitherd.export.config import ExportConfig
from aitherd.export.families import Family, Fim
from aitherd.export.fim import choose_span, fim_source
from aitherd.export.format import chat_record, fim_fields, plain_answer
from aitherd.export.render import fit, histogram
from aitherd.export.sample import allocate, select, weighted_order
from aitherd.export.split import group_keys, split

# screen(texts) -> one entry per contaminated text: {"index", "benchmark", "item", "overlap"}
Screen = Callable[[list[str]], list[dict[str, Any]]]

# Sources whose examples are no longer exported: "state the final answer" rewrites of reasoning
# items (they taught extraction from a worked solution in the prompt, not answering directly).
RETIRED_SOURCES = ("derived:final_answer",)


def load_examples(engine: Engine, specialist: str) -> list[dict[str, Any]]:
    sql = text("SELECT content_hash, specialist, category, source, license, weight, quality, "
               "messages, reasoning, answer, provenance FROM example "
               "WHERE specialist = :s AND status = 'accepted'")
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sql, {"s": specialist}).mappings()]
    for r in rows:
        for key in ("messages", "provenance"):
            if isinstance(r[key], str):
                r[key] = json.loads(r[key])
        r["provenance"] = r["provenance"] or {}
    return rows


def _base_row(ex: dict[str, Any], specialist: str) -> dict[str, Any]:
    return {"specialist": specialist, "category": ex["category"], "source": ex["source"],
            "license": ex.get("license"), "weight": float(ex.get("weight") or 1.0),
            "quality": ex.get("quality"), "_reasoning": ex.get("reasoning"),
            "_answer": ex.get("answer"), "_groups": group_keys(ex), "prompt": None,
            "completion": None, "fim_prefix": None, "fim_middle": None, "fim_suffix": None,
            "fim_kind": None}


def _fim_records(examples: list[dict[str, Any]], chosen: list[dict[str, Any]], fraction: float,
                 fim: Fim, seed: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    sources = {ex["content_hash"]: s for ex in examples if (s := fim_source(ex)) is not None}
    chosen_ids = {ex["content_hash"] for ex in chosen}
    code_chat = sum(ex["content_hash"] in sources for ex in chosen)
    want = round(fraction * code_chat)
    fresh = [ex for ex in examples if ex["content_hash"] in sources and ex["content_hash"] not in chosen_ids]
    again = [ex for ex in examples if ex["content_hash"] in sources and ex["content_hash"] in chosen_ids]
    out: list[dict[str, Any]] = []
    unusable = 0
    for pool in (fresh, again):
        for ex in weighted_order(pool, f"{seed}:fim"):
            if len(out) >= want:
                break
            code, language = sources[ex["content_hash"]]
            cut = choose_span(code, language, ex["content_hash"], seed)
            if cut is None:
                unusable += 1
                continue
            row = {**_base_row(ex, "coder"), "id": f"{ex['content_hash']}:fim", **fim_fields(cut, fim),
                   "_language": language, "_reused": ex["content_hash"] in chosen_ids}
            out.append(row)
    meta = {"records": len(out), "target_share": fraction, "code_bearing_chat": code_chat,
            "target": want, "short": max(0, want - len(out)), "eligible": len(sources),
            "reused_chat_examples": sum(r["_reused"] for r in out), "no_usable_span": unusable,
            "kinds": dict(Counter(r["fim_kind"] for r in out)),
            "languages": dict(Counter(r["_language"] for r in out)),
            "prefix": fim.prefix, "suffix": fim.suffix, "middle": fim.middle}
    return out, meta


def build(examples: list[dict[str, Any]], specialist: str, cfg: ExportConfig, family: Family,
          fim: Fim, *, fim_tokens_from: str, screen: Screen | None = None,
          tokenizer: Any = None, max_length: int | None = None,
          ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    spec_cfg = cfg.coder if specialist == "coder" else cfg.reasoner
    retired = Counter(ex["source"] for ex in examples if ex["source"] in RETIRED_SOURCES)
    examples = [ex for ex in examples if ex["source"] not in RETIRED_SOURCES]
    by_cat: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for ex in examples:
        by_cat[ex["category"]].append(ex)
    plan = allocate(spec_cfg.size, spec_cfg.mix, {c: len(v) for c, v in by_cat.items()}, cfg.fill)
    chosen = [ex for cat in spec_cfg.mix
              for ex in select(by_cat.get(cat, []), plan.take[cat], f"{cfg.seed}:{cat}")]

    records = [{**_base_row(ex, specialist), "id": ex["content_hash"], "format": "chat",
                "messages": chat_record(ex, family), "_answer_plain": plain_answer(ex)}
               for ex in chosen]
    fim_meta: dict[str, Any] | None = None
    if specialist == "coder" and cfg.coder.fim_fraction > 0:
        fim_rows, fim_meta = _fim_records(examples, chosen, cfg.coder.fim_fraction, fim, cfg.seed)
        fim_meta["tokens_from"] = fim_tokens_from
        records += fim_rows

    decontam = {"screened": screen is not None, "removed": 0, "hits": {},
                "summary": "Not screened: no decontamination index is configured."}
    if screen is not None:
        hits = screen([_screen_text(r) for r in records])
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

    records, fitted = fit(records, family, tokenizer, max_length or 1 << 30, fim)
    if fim_meta is not None:
        fim_meta["records"] = sum(r["format"] == "fim" for r in records)
    splits, split_info = split(records, cfg.validation_fraction, cfg.seed)

    sources: dict[str, dict[str, Any]] = {}
    for r in records:
        info = sources.setdefault(r["source"], {"count": 0, "licenses": set()})
        info["count"] += 1
        if r.get("license"):
            info["licenses"].add(r["license"])
    chat_counts: Counter[str] = Counter(r["category"] for r in records if r["format"] == "chat")
    meta = {
        "specialist": specialist, "family": family.name, "seed": cfg.seed, "fill": cfg.fill,
        "rows": len(records), "splits": {s: len(v) for s, v in splits.items()},
        "formats": dict(Counter(r["format"] for r in records)),
        "plan": {"targets": plan.targets, "take": plan.take, "shortfall": plan.shortfall,
                 "filled_from": plan.filled_from},
        "categories": dict(chat_counts), "fim": fim_meta, "retired": dict(retired),
        "sources": {k: {"count": v["count"], "licenses": sorted(v["licenses"])}
                    for k, v in sources.items()},
        "licenses": sorted({r["license"] for r in records if r.get("license")}),
        "decontamination": decontam, "split": split_info,
        "fit": fitted.as_dict(), "lengths": histogram(fitted.lengths, fitted.exact),
    }
    return splits, meta


def _screen_text(r: dict[str, Any]) -> str:
    if r["format"] == "fim":
        return f"{r['fim_prefix']}{r['fim_middle']}{r['fim_suffix']}"
    return "\n".join(m["content"] for m in r["messages"])
