"""aitherctl's read-only reports on the corpus: exports and their diffs, examples, the corpus
against its targets, decontamination hits."""

from __future__ import annotations

import argparse
import sys

from aitherd.client import Client
from aitherd.ctl_format import EXIT_OK, EXIT_USAGE, ago, print_json, summarize, table


def cmd_exports(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/exports" + (f"?specialist={args.specialist}" if args.specialist else ""))
    if args.json:
        print_json(data)
        return EXIT_OK
    rows = [[e["id"], e["specialist"], e["base_family"], e["counts"].get("rows"),
             summarize(e["counts"].get("categories"), width=60), ago(e["created_at"]),
             "latest" if e["latest"] else ("" if e["present"] else "pruned")]
            for e in data["exports"]]
    print(table(["id", "specialist", "family", "rows", "categories", "created", ""], rows)
          if rows else "no exports yet")
    return EXIT_OK


def export_diff(c: Client, args: argparse.Namespace) -> int:
    if len(args.ids) != 2:
        print("aitherctl: usage: aitherctl export diff A B", file=sys.stderr)
        return EXIT_USAGE
    d = c.get(f"/v1/exports/{args.ids[0]}/diff/{args.ids[1]}")
    if args.json:
        print_json(d)
        return EXIT_OK
    print(f"{d['a']} -> {d['b']}")
    print(f"rows {d['rows'][0]} -> {d['rows'][1]}: {d['added']} added, {d['removed']} removed, "
          f"{d['kept']} kept")
    for key in ("categories", "sources"):
        for name, (x, y) in d[key].items():
            print(f"  {key[:-1] if key == 'sources' else 'category'} {name}: {x} -> {y} ({y - x:+d})")
    if not d["same_specialist"] or not d["same_family"]:
        print("note: the two exports are of different specialists or families")
    return EXIT_OK


def cmd_examples(c: Client, args: argparse.Namespace) -> int:
    query = [f"limit={args.limit}"]
    if args.rejected:
        query.append("status=rejected")
    for key in ("reason", "specialist", "category", "source"):
        if getattr(args, key):
            query.append(f"{key}={getattr(args, key)}")
    data = c.get("/v1/examples?" + "&".join(query))
    if args.json:
        print_json(data)
        return EXIT_OK
    rows = [[e["id"], e["specialist"], e["category"], e["source"],
             e["status"] + (f" ({e['reason']})" if e["reason"] else ""),
             " ".join(e["preview"].split())[:60]] for e in data["examples"]]
    print(table(["id", "specialist", "category", "source", "status", "preview"], rows)
          if rows else "no examples match")
    return EXIT_OK


def cmd_corpus(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/corpus")
    if args.json:
        print_json(data)
        return EXIT_OK
    for spec, info in data.items():
        print(f"{spec} (target {info['size']})")
        rows = []
        for cat, n in info["categories"].items():
            pct = f"{100 * n['accepted'] / n['target']:.0f}%" if n["target"] else "-"
            rows.append([cat, n["accepted"], n["target"], pct, n.get("rejected", 0)])
        print(table(["category", "accepted", "target", "of target", "rejected"], rows))
        for source, cats in sorted(info["sources"].items()):
            print(f"  {source}: " + ", ".join(f"{k} {v}" for k, v in sorted(cats.items())))
        print()
    return EXIT_OK


def cmd_decontam(c: Client, args: argparse.Namespace) -> int:
    data = c.get("/v1/decontam")
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"rule: {data['rule']}")
    print(f"accepted examples in the store: {data['accepted']}")
    if not data["benchmarks"]:
        print("no contaminated examples found")
    for name, b in sorted(data["benchmarks"].items()):
        top = ", ".join(f"{item} ({n})" for item, n in b["top_items"][:5])
        print(f"{name}: {b['examples']} removed, {b['distinct_items']} distinct test items; top: {top}")
        print("  by source: " + ", ".join(f"{k} {v}" for k, v in sorted(b["sources"].items())))
    return EXIT_OK
