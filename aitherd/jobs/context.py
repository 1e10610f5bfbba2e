"""Kept for code written before aitherd.runs held the job context: import from aitherd.runs."""

from aitherd.runs import JobContext

__all__ = ["JobContext"]
