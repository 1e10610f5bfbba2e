"""Choosing the rows of an export: targets per category, weighted and seeded selection.

Selection is reproducible and independent of row order: each example gets a key from
sha256(seed, content hash); within a category the rows with the smallest exponential keys
-ln(u)/w win, which is weighted sampling without replacement (Efraimidis-Spirakis), w being
source weight (teacher 1.3) times quality.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def unit(seed: int | str, key: str, salt: str = "") -> float:
    """A deterministic number in (0, 1) from a seed and a key."""
    digest = hashlib.sha256(f"{seed}\0{salt}\0{key}".encode()).digest()
    return (int.from_bytes(digest[:8], "big") + 0.5) / 2**64


def largest_remainder(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Integer targets that add up to `total`, each within one of total x share."""
    raw = {k: total * v for k, v in shares.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    rest = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[:rest]:
        out[k] += 1
    return out


@dataclass
class Plan:
    targets: dict[str, int]
    take: dict[str, int]
    shortfall: dict[str, int] = field(default_factory=dict)
    filled_from: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.take.values())


def allocate(size: int, mix: dict[str, float], available: dict[str, int], fill: str) -> Plan:
    targets = largest_remainder(size, mix)
    take = {c: min(n, available.get(c, 0)) for c, n in targets.items()}
    shortfall = {c: targets[c] - take[c] for c in targets if targets[c] > take[c]}
    plan = Plan(targets=targets, take=take, shortfall=shortfall)
    gap = sum(shortfall.values())
    while fill == "redistribute" and gap > 0:
        room = {c: available.get(c, 0) - take[c] for c in targets
                if available.get(c, 0) > take[c] and mix.get(c, 0) > 0}
        if not room:
            break
        weights = {c: mix[c] for c in room}
        total_w = sum(weights.values())
        extra = largest_remainder(gap, {c: w / total_w for c, w in weights.items()})
        moved = 0
        for c, n in extra.items():
            n = min(n, room[c])
            take[c] += n
            plan.filled_from[c] = plan.filled_from.get(c, 0) + n
            moved += n
        if moved == 0:
            break
        gap -= moved
    return plan


def weighted_order(rows: Sequence[dict[str, Any]], seed: int | str) -> list[dict[str, Any]]:
    """All rows, smallest weighted key first (see module doc)."""
    def key(row: dict[str, Any]) -> float:
        w = max(float(row.get("weight") or 1.0), 1e-6)
        q = row.get("quality")
        w *= max(float(q), 0.05) if q is not None else 1.0
        return -math.log(unit(seed, row["content_hash"])) / w

    return sorted(rows, key=key)


def select(rows: Sequence[dict[str, Any]], n: int, seed: int | str) -> list[dict[str, Any]]:
    """The n rows with the smallest weighted keys (see module doc), in content-hash order."""
    chosen = list(rows) if n >= len(rows) else weighted_order(rows, seed)[:n]
    return sorted(chosen, key=lambda r: r["content_hash"])
