"""`[serve]`: the vLLM child, the alias proxy, adapter verification and the GPU hand-off.

Every key is optional; serving is off until `enabled = true`. vLLM flags named here were checked
against vLLM's own sources: `--enable-lora`, `--max-lora-rank` (from the `[lora]` section, see
aitherd.lora: one of 1, 8, 16, 32, 64, 128, 256, 320, 512; vLLM's default 16 is too small for
r=32 adapters), `--max-loras` (adapters in one batch, default 1), `--max-cpu-loras` (must be >=
max-loras), `--enable-sleep-mode`; the runtime
LoRA endpoints exist only with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, the sleep endpoints only
with VLLM_SERVER_DEV_MODE=1.
"""

from __future__ import annotations

import ipaddress
import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aitherd import specialists
from aitherd.durations import Duration

ALIASES = (*specialists.NAMES, "orchestrator")

DEFAULT_PROBES = [
    "Write a Python function that returns the n-th Fibonacci number.",
    "A train leaves at 3 pm and travels 120 km at 80 km/h. When does it arrive? Think step by step.",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProxySection(_Section):
    """The OpenAI-compatible endpoint users call: `model: coder` reaches the live coder adapter."""

    enabled: bool = True
    address: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # How long a client is told to wait (Retry-After) while vLLM is down, starting or lent out.
    retry_after: Duration = 30.0
    # Upper bound for one upstream request (a long generation streams for minutes).
    request_timeout: Duration = 600.0
    # An alias with no live adapter answers from the base model (the response says which model).
    fallback_to_base: bool = True
    # Bearer-token auth: a file with one key per line (`#` comments); empty: no auth. The keys
    # never go in this file or in logs; the file is read again when it changes.
    api_keys_file: str = ""


class RouterSection(_Section):
    """`model: "auto"`: effort 7+ -> reasoner, a coding task -> coder, else orchestrator; effort
    from the request (X-Aitherd-Effort, metadata.effort, reasoning_effort) or a classifier."""

    enabled: bool = True
    # The model name clients send to be routed.
    name: str = "auto"
    # auto: the learned model when its file says it beat the heuristic on the validation split;
    # learned: whenever a model file loads; heuristic: never the learned model.
    classifier: Literal["auto", "learned", "heuristic"] = "auto"
    # Below this probability for its route the learned model defers to the heuristic.
    min_confidence: float = Field(default=0.5, ge=0, le=1)
    # Empty: STATE_DIR/router/model.json; relative paths are under the state directory.
    model_file: str = ""
    # How often the daemon looks for a new model file and key file.
    reload_interval: Duration = 10.0
    # router_train: logreg (scikit-learn, in the job worker) or naive_bayes (pure Python).
    learner: Literal["auto", "logreg", "naive_bayes"] = "auto"
    max_per_category: int = Field(default=5000, ge=1)
    hash_bits: int = Field(default=18, ge=10, le=24)
    max_features: int = Field(default=50_000, ge=100)
    regularization: float = Field(default=4.0, gt=0)  # logreg's C
    min_validation: int = Field(default=30, ge=1)
    # The learned model must route this share of a dozen everyday requests right to be used.
    min_canary_accuracy: float = Field(default=0.75, ge=0, le=1)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value or value in ALIASES:
            raise ValueError(f"the router's model name must be set and not one of {', '.join(ALIASES)}")
        return value


class VerifySection(_Section):
    """After each load or wake: the adapter must answer and, on a fixed probe with greedy
    decoding, answer differently from the base (vLLM silently ignores an adapter whose modules
    do not match the served model's)."""

    prompts: list[str] = Field(default_factory=lambda: list(DEFAULT_PROBES), min_length=1)
    max_tokens: int = Field(default=32, ge=1, le=4096)
    seed: int = 0
    timeout: Duration = 120.0


class GpuSection(_Section):
    """How the GPU is handed to training: `sleep` (vLLM sleep mode; needs --enable-sleep-mode and
    VLLM_SERVER_DEV_MODE=1, both added by aitherd), `stop` (stop vLLM, start it after), or `none`
    (training has its own GPU)."""

    policy: Literal["sleep", "stop", "none"] = "sleep"
    # 1: weights offloaded to CPU RAM (fast wake, needs RAM for the weights); 2: weights dropped.
    sleep_level: Literal[1, 2] = 1
    # Requests in flight get this long to finish before vLLM sleeps or stops.
    drain_timeout: Duration = 60.0


class ServeConfig(_Section):
    enabled: bool = False
    # The server command; the flags aitherd manages are appended (see `process.vllm_args`).
    command: str = "python -m vllm.entrypoints.openai.api_server"
    # Base model path or hub id; empty: [train] base_model (adapters are trained on it).
    model: str = ""
    # The base model's name in requests; empty: vLLM's default (the model path).
    served_model_name: str = ""
    host: str = "127.0.0.1"
    # The runtime LoRA and sleep endpoints have no authentication: a host other than loopback
    # must be asked for explicitly.
    allow_non_loopback: bool = False
    # 0: a free loopback port is picked at each start.
    port: int = Field(default=8001, ge=0, le=65535)
    # Batch slots: coder and reasoner live, one candidate being verified, one old version draining.
    max_loras: int = Field(default=4, ge=1)
    # vLLM keeps an unloaded adapter's slot until LRU eviction: room for more than max_loras.
    max_cpu_loras: int = Field(default=8, ge=1)
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    # Engine start of a 14B model takes minutes; vLLM opens its port only once it is ready.
    startup_timeout: Duration = 900.0
    startup_poll: Duration = 1.0
    health_interval: Duration = 10.0
    health_timeout: Duration = 5.0
    health_failures: int = Field(default=3, ge=1)
    # SIGTERM to the process group, this long, then SIGKILL to the group.
    stop_timeout: Duration = 10.0
    restart_backoff: Duration = 5.0
    restart_backoff_max: Duration = 300.0
    # Give up (no restart loop) after this many crashes within crash_window.
    max_crashes: int = Field(default=5, ge=1)
    crash_window: Duration = 1800.0
    # A run this long resets the backoff.
    stable_after: Duration = 600.0
    log_max_bytes: int = Field(default=50 * 1024 * 1024, ge=4096)
    log_backups: int = Field(default=3, ge=0)
    proxy: ProxySection = Field(default_factory=ProxySection)
    verify: VerifySection = Field(default_factory=VerifySection)
    gpu: GpuSection = Field(default_factory=GpuSection)
    router: RouterSection = Field(default_factory=RouterSection)

    @field_validator("command")
    @classmethod
    def _command(cls, value: str) -> str:
        try:
            parts = shlex.split(value)
        except ValueError as err:
            raise ValueError(f"cannot split the command: {err}") from None
        if not parts:
            raise ValueError("the command is empty")
        return value

    @model_validator(mode="after")
    def _checks(self) -> ServeConfig:
        if self.max_cpu_loras < self.max_loras:
            raise ValueError("max_cpu_loras must be at least max_loras (vLLM refuses otherwise)")
        if not self.allow_non_loopback and not is_loopback(self.host):
            raise ValueError(
                f"host {self.host!r} is not loopback: vLLM's runtime LoRA and sleep endpoints "
                "are unauthenticated; set allow_non_loopback = true to expose them anyway")
        return self

    def argv(self) -> list[str]:
        return shlex.split(self.command)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
