"""One section of the daemon's Config, read by stage code without importing the Config.

Stage code (train, evaluate, star, the shared `[lora]`) is handed the daemon's Config, a plain
dict of it, or an object without the section at all (a config from before the section existed,
a test's stand-in). `section_of` returns the section as the stage's own model in every case: the
model itself when it already is one, a validated copy otherwise, the defaults when it is absent.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

S = TypeVar("S", bound=BaseModel)


def section_of(config: object, name: str, model: type[S]) -> S:
    """The `[name]` section of `config` as a `model`, or the model's defaults where it has none."""
    section = getattr(config, name, None)
    if section is None:
        return model()
    if isinstance(section, model):
        return section
    data = section if isinstance(section, dict) else section.model_dump()
    return model.model_validate(data)
