"""The specialists aitherd trains, in one place: their categories, export targets and training
defaults. Candidates, export, training, metrics, the control API and aitherctl read this table;
serving and routing name adapters by it. Adding a specialist is one entry here (plus its sources).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Specialist:
    name: str
    description: str
    categories: tuple[str, ...]
    export_size: int  # examples in the nightly corpus
    mix: MappingProxyType[str, float]  # target share per category (adds up to 1)
    epochs: float  # LoRA training defaults (the spec: coder 1 epoch at 8192, reasoner 2 at 4096)
    max_length: int
    extra: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))


def _mix(**shares: float) -> MappingProxyType[str, float]:
    assert abs(sum(shares.values()) - 1.0) < 1e-9, shares
    return MappingProxyType(shares)


CODER = Specialist(
    name="coder", description="code generation, editing, debugging, review and test generation",
    categories=("instruction", "editing", "debugging", "review", "test_generation"),
    export_size=30_000,
    mix=_mix(instruction=0.40, editing=0.25, debugging=0.20, review=0.10, test_generation=0.05),
    epochs=1.0, max_length=8192)

REASONER = Specialist(
    name="reasoner", description="math, logic, planning and multi-step reasoning",
    categories=("math", "logic", "planning", "code", "non_reasoning"),
    export_size=20_000,
    # non_reasoning: plain answers without chain of thought, so the model learns when not to think.
    mix=_mix(math=0.35, logic=0.15, planning=0.20, code=0.20, non_reasoning=0.10),
    epochs=2.0, max_length=4096)

SPECIALISTS: MappingProxyType[str, Specialist] = MappingProxyType({s.name: s for s in (CODER, REASONER)})
NAMES: tuple[str, ...] = tuple(SPECIALISTS)


def get(name: str) -> Specialist:
    try:
        return SPECIALISTS[name]
    except KeyError:
        raise KeyError(f"unknown specialist {name!r} (known: {', '.join(NAMES)})") from None
