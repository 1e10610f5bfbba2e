"""Curation: every harvested candidate passes redact, judge, decontam and dedup before storage."""

from aitherd.curate.config import (
    BenchmarkPaths,
    CurationConfig,
    DecontamConfig,
    DedupConfig,
    JudgeConfig,
    LLMJudgeConfig,
    RedactConfig,
)
from aitherd.curate.decontam import DecontamError, DecontamIndex, screen
from aitherd.curate.job import curate_and_store
from aitherd.curate.pipeline import Curator, Stats, decontam_report, rejected

__all__ = [
    "BenchmarkPaths",
    "CurationConfig",
    "Curator",
    "DecontamConfig",
    "DecontamError",
    "DecontamIndex",
    "DedupConfig",
    "JudgeConfig",
    "LLMJudgeConfig",
    "RedactConfig",
    "Stats",
    "curate_and_store",
    "decontam_report",
    "rejected",
    "screen",
]
