"""Export: accepted examples -> training-ready datasets per specialist and base family."""

from aitherd.export.config import ExportConfig
from aitherd.export.families import FAMILIES, Family, Fim, TokenizerError

__all__ = ["FAMILIES", "ExportConfig", "Family", "Fim", "TokenizerError"]
