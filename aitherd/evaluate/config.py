"""The `[evaluate]` section: suites per specialist, the gate, the endpoint, the sandbox. Every key
has a default; light on purpose (pydantic only), since the daemon validates it at start."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aitherd.evaluate.sandbox import DEFAULT_UID_BASE
from aitherd.sections import section_of

PUBLIC_SUITES = ("humaneval", "mbpp", "mbpp_sanitized", "gsm8k")
KNOWN_SUITES = (*PUBLIC_SUITES, "heldout")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpecialistEval(_Section):
    suites: list[str]
    # Deploy when the mean pass@1 of the scored suites is at least this (and nothing regressed).
    threshold: float = Field(default=0.70, ge=0, le=1)
    # The held-out split is always benchmarked and must not regress; it counts in the score only
    # when this is on (its items change with every export, so its level is not comparable).
    heldout_in_score: bool = False

    @field_validator("suites")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in PUBLIC_SUITES]
        if unknown:
            raise ValueError(f"unknown suite {unknown[0]!r}; expected some of {', '.join(PUBLIC_SUITES)} "
                             "(the held-out split is always added: see heldout_max_items)")
        if not value:
            raise ValueError("name at least one suite")
        return value


class CoderEval(SpecialistEval):
    suites: list[str] = Field(default_factory=lambda: ["humaneval", "mbpp"])


class ReasonerEval(SpecialistEval):
    suites: list[str] = Field(default_factory=lambda: ["gsm8k"])


class EndpointSection(_Section):
    """An OpenAI-compatible server (the supervised vLLM) that serves the base model and loads
    candidate adapters at run time under hidden names. Empty base_url: the local generator."""

    base_url: str = ""  # e.g. http://127.0.0.1:8000/v1
    api_key_env: str = ""  # name of an environment variable holding the key, if one is needed
    base_model_name: str = ""  # what the server calls the base model; empty: [train] base_model
    # Load each adapter under `eval:SPECIALIST@VERSION` through /v1/load_lora_adapter and unload
    # it afterwards (vLLM needs VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). Off: the adapters are
    # already served under those names.
    load_adapters: bool = True
    concurrency: int = Field(default=32, ge=1)  # requests in flight (vLLM batches them)
    timeout_s: float = Field(default=900, gt=0)  # per request: long reasoning takes minutes
    max_retries: int = Field(default=5, ge=0)  # 429 and 5xx, honouring Retry-After


class SandboxSection(_Section):
    mode: Literal["fork", "exec"] = "fork"
    parallel: int = Field(default=0, ge=0)  # 0: one per CPU core
    python: str = ""  # interpreter for the programs; empty: the worker's own
    wall_s: float = Field(default=10.0, gt=0)
    cpu_s: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=2048, ge=64)
    file_mb: int = Field(default=16, ge=1)
    open_files: int = Field(default=64, ge=16)
    processes: int = Field(default=64, ge=1)
    output_kb: int = Field(default=1024, ge=1)
    tmpfs_mb: int = Field(default=64, ge=1)
    namespaces: bool = True
    landlock: bool = True
    seccomp: bool = True
    uid_base: int = Field(default=DEFAULT_UID_BASE, ge=1000)
    # Directories covered by an empty read-only tmpfs in the program's mount namespace; the
    # state directory and the worker's home are always added.
    hide: list[str] = Field(default_factory=list)
    # Layers that must be active or the benchmark fails: rlimits, namespaces, privileges,
    # landlock, seccomp. Empty: run with what the kernel allows and record it with each result.
    require: list[str] = Field(default_factory=list)


def _max_tokens() -> dict[str, int]:
    # R1-style models think before they answer: thousands of tokens, more for math.
    return {"humaneval": 4096, "mbpp": 4096, "mbpp_sanitized": 4096, "gsm8k": 8192, "heldout": 4096}


class EvaluateConfig(_Section):
    generator: Literal["auto", "endpoint", "local"] = "auto"  # auto: endpoint when base_url is set
    # Items per suite for a run (0: all), drawn with `seed`; the same draw for every model, so
    # the paired test compares the same items. `aitherctl bench --limit N` overrides it once.
    sample_size: int = Field(default=0, ge=0)
    seed: int = 1234
    alpha: float = Field(default=0.05, gt=0, lt=1)  # significance of a regression (exact McNemar)
    max_tokens: dict[str, int] = Field(default_factory=_max_tokens)
    heldout_max_items: int = Field(default=500, ge=0)  # 0: skip the held-out split
    local_batch_size: int = Field(default=8, ge=1)
    coder: CoderEval = Field(default_factory=CoderEval)
    reasoner: ReasonerEval = Field(default_factory=ReasonerEval)
    endpoint: EndpointSection = Field(default_factory=EndpointSection)
    sandbox: SandboxSection = Field(default_factory=SandboxSection)

    @field_validator("max_tokens")
    @classmethod
    def _tokens(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = [s for s in value if s not in KNOWN_SUITES]
        if unknown:
            raise ValueError(f"unknown suite {unknown[0]!r}; expected some of {', '.join(KNOWN_SUITES)}")
        if any(v < 1 for v in value.values()):
            raise ValueError("max_tokens must be at least 1")
        return {**_max_tokens(), **value}

    def specialist(self, name: str) -> SpecialistEval:
        if name not in ("coder", "reasoner"):
            raise ValueError(f"unknown specialist {name!r}; expected coder or reasoner")
        section: SpecialistEval = getattr(self, name)
        return section


def evaluate_config_of(config: object) -> EvaluateConfig:
    """The `[evaluate]` section of a daemon Config, or the defaults where it has none."""
    return section_of(config, "evaluate", EvaluateConfig)
