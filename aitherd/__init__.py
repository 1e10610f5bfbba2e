"""aitherd: a data-flywheel daemon that turns a team's own work into LoRA specialists."""

__version__ = "0.1.0"

__all__ = ["__version__"]
