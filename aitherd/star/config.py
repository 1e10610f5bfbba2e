"""`[star]`: the Saturday STaR iteration (problems, sampling, budgets, where rationales come from).

Light on purpose (pydantic only): the daemon validates it at start. Every key has a default; the
job runs when it has a generator: `[star.endpoint] base_url`, else the daemon's alias proxy when
`[serve]` is enabled, else `generator = "local"` (transformers in the worker, on [train] base_model).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from aitherd.durations import Duration
from aitherd.sections import section_of


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StarEndpoint(_Section):
    """An OpenAI-compatible endpoint serving the reasoner (the alias proxy, or vLLM directly)."""

    base_url: str = ""  # empty: the alias proxy of [serve.proxy] when [serve] is enabled
    model: str = "reasoner"  # the alias users call; its live adapter is what STaR samples
    api_key_env: str = ""  # an environment variable holding a bearer key ([serve.proxy] api_keys_file)
    concurrency: int = Field(default=32, ge=1)  # requests in flight (vLLM batches them)
    timeout_s: float = Field(default=900, gt=0)
    max_retries: int = Field(default=3, ge=0)


class StarSources(_Section):
    """Where problems with checkable answers come from."""

    gsm8k_train: bool = True  # the shipped GSM8K train split (never the test split)
    gsm8k_train_path: str = ""  # a local copy instead of the shipped one (.jsonl[.gz])
    store_reasoner: bool = True  # accepted reasoner math examples with a checkable answer
    # Accepted coder test_generation examples whose tests pass on their own code in the sandbox:
    # the model writes the tests again, checked by running them against that code.
    store_tests: bool = False
    # JSONL of code problems: {"id", "prompt", "tests": [assert lines] | str, "setup"?, "imports"?,
    # "entry_point"?, "solution"? (a reference program: the hint for rationalization)}.
    code_problems: str = ""
    # JSONL of math problems: {"id", "problem" | "prompt", "answer", "category"?}.
    math_problems: str = ""


class StarConfig(_Section):
    enabled: bool = True
    generator: Literal["auto", "endpoint", "local"] = "auto"
    endpoint: StarEndpoint = Field(default_factory=StarEndpoint)
    sources: StarSources = Field(default_factory=StarSources)
    samples: int = Field(default=4, ge=1)  # k rationales per problem
    temperature: float = Field(default=0.7, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=4096, ge=16)
    seed: int = 0
    # Problems asked per iteration (0: every open one), in an order drawn per iteration.
    problems_per_run: int = Field(default=1000, ge=0)
    chunk: int = Field(default=64, ge=1)  # problems generated together (chunk x samples in flight)
    max_per_problem: int = Field(default=4, ge=1)  # distinct correct rationales kept per problem and iteration
    # A problem with this many distinct accepted STaR rationales from earlier iterations is not asked again.
    enough_rationales: int = Field(default=4, ge=1)
    # Problems no sample solved are asked again with the answer as a hint (STaR's rationalization).
    rationalize: bool = True
    rationalize_samples: int = Field(default=1, ge=1)
    # A problem failed (nothing kept) in this many iterations is set aside; 0: keep asking it.
    skip_after_failures: int = Field(default=0, ge=0)
    # Budgets per run: completion tokens (0: none), checked between chunks, and wall time.
    token_budget: int = Field(default=0, ge=0)
    time_budget: Duration = 6 * 3600.0
    local_batch_size: int = Field(default=8, ge=1)


def star_config_of(config: object) -> StarConfig:
    """The `[star]` section of a daemon Config, or the defaults where it has none."""
    return section_of(config, "star", StarConfig)
