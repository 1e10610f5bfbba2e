"""Configuration: TOML on disk, validated into typed models; every key is optional.

Errors name the file, the key and what was expected, and are raised before any state is touched.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from aitherd import errors
from aitherd.curate.config import CurationConfig
from aitherd.durations import Duration, format_duration, parse_duration  # noqa: F401 - re-exported
from aitherd.evaluate.config import EvaluateConfig  # evaluate: the [evaluate] section
from aitherd.export.config import ExportConfig
from aitherd.lora import LoraSection, migrate_legacy
from aitherd.serve.config import ServeConfig  # serve
from aitherd.sources.coder_config import CoderSources
from aitherd.sources.reasoner_config import ReasonerSources
from aitherd.star.config import StarConfig  # star: the [star] section
from aitherd.timing import cron_trigger, resolve_timezone
from aitherd.train.config import TrainConfig

SCHEDULED_JOBS = ("harvest_coder", "harvest_reasoner", "export", "star", "train")



class ConfigError(errors.ConfigError):
    """The configuration cannot be used; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DaemonSection(_Section):
    state_dir: str = ""
    socket: str = ""
    shutdown_timeout: Duration = 20.0
    watchdog: bool = True
    # Python interpreter for job workers (a venv with the heavy extras); empty: the daemon's own.
    worker_python: str = ""
    # Control API limits: open connections (more get 503 and are closed), the time a request's
    # headers and body have to arrive (then 408), requests handled at once (the rest queue).
    max_connections: int = Field(default=1024, ge=1, le=65536)
    request_timeout: Duration = 10.0
    concurrent_requests: int = Field(default=4, ge=1, le=1024)


class LogSection(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class MetricsSection(_Section):
    enabled: bool = True
    address: str = "127.0.0.1"
    port: int = Field(default=9478, ge=0, le=65535)


class SchedulerSection(_Section):
    timezone: str = ""
    misfire_grace: Duration = 6 * 3600.0

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value:
            resolve_timezone(value)
        return value


class JobSchedule(_Section):
    """When a job runs: exactly one of `every` (an interval) or `cron` (five crontab fields)."""

    enabled: bool = True
    every: Duration | None = None
    cron: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> JobSchedule:
        if self.every is not None and self.cron is not None:
            raise ValueError("set either 'every' or 'cron', not both")
        if self.every is not None and self.every < 60:
            raise ValueError("'every' must be at least 1m")
        return self

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str | None) -> str | None:
        if value is not None:
            cron_trigger(value, UTC)  # checks the fields; the zone does not change their validity
        return value

    def spec(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron}"
        return f"every {format_duration(self.every or 0)}"


def _default_schedules() -> dict[str, JobSchedule]:
    return {
        "harvest_coder": JobSchedule(every=8 * 3600),
        "harvest_reasoner": JobSchedule(every=12 * 3600),
        # 00:30 keeps the nightly export clear of the 02:00-03:00 DST transitions.
        "export": JobSchedule(cron="30 0 * * *"),
        "star": JobSchedule(cron="0 22 * * sat"),
        "train": JobSchedule(cron="0 6 * * sun"),
    }


class RepoEntry(_Section):
    path: str
    refs: list[str] = Field(default_factory=lambda: ["HEAD"])


class LogDirEntry(_Section):
    path: str
    kind: Literal["openai", "claude", "codex", "aider", "continue", "chronicle", "mcts"] = "openai"
    pattern: str = "*"

    @property
    def job(self) -> str:
        return "harvest_reasoner" if self.kind in ("chronicle", "mcts") else "harvest_coder"


class WatchSection(_Section):
    enabled: bool = True
    debounce: Duration = 30.0
    # With no [[repos]] configured, watch the git repository aitherd was started in.
    cwd_repo: bool = True


class SourcesSection(_Section):
    coder: CoderSources = Field(default_factory=CoderSources)
    reasoner: ReasonerSources = Field(default_factory=ReasonerSources)


class Config(_Section):
    daemon: DaemonSection = Field(default_factory=DaemonSection)
    log: LogSection = Field(default_factory=LogSection)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection)
    jobs: dict[str, JobSchedule] = Field(default_factory=dict)
    watch: WatchSection = Field(default_factory=WatchSection)
    repos: list[RepoEntry] = Field(default_factory=list)
    logs: list[LogDirEntry] = Field(default_factory=list)
    export: ExportConfig = Field(default_factory=ExportConfig)
    sources: SourcesSection = Field(default_factory=SourcesSection)
    train: TrainConfig = Field(default_factory=TrainConfig)
    lora: LoraSection = Field(default_factory=LoraSection)  # read by train, serve and evaluate
    curation: CurationConfig = Field(default_factory=CurationConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)  # serve
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)  # evaluate: suites, gate, sandbox
    star: StarConfig = Field(default_factory=StarConfig)  # star: the Saturday STaR iteration

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data: Any) -> Any:
        """[train.lora] and [serve] max_lora_rank move to [lora] (see aitherd.lora)."""
        return migrate_legacy(data)[0] if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _fill_jobs(self) -> Config:
        unknown = sorted(set(self.jobs) - set(SCHEDULED_JOBS))
        if unknown:
            raise ValueError(
                f"unknown job {unknown[0]!r} under [jobs]; expected one of {', '.join(SCHEDULED_JOBS)}"
            )
        merged = _default_schedules()
        for name, sched in self.jobs.items():
            if sched.every is None and sched.cron is None:
                sched = sched.model_copy(update={"every": merged[name].every, "cron": merged[name].cron})
            merged[name] = sched
        self.jobs = merged
        return self


@dataclass(frozen=True)
class Paths:
    """Where the daemon keeps things, resolved once from config and environment."""

    state_dir: Path
    socket: Path

    @property
    def db(self) -> Path:
        return self.state_dir / "aitherd.db"

    @property
    def lock(self) -> Path:
        return self.state_dir / "aitherd.lock"


@dataclass(frozen=True)
class Loaded:
    config: Config
    source: Path | None
    paths: Paths
    repos: tuple[RepoEntry, ...]
    notes: tuple[str, ...] = ()  # deprecated keys the file still uses, said once at start and reload


def default_config_path() -> Path | None:
    """$AITHERD_CONFIG, then the user's config, then /etc; None means built-in defaults."""
    env = os.environ.get("AITHERD_CONFIG")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    for candidate in (Path(xdg) / "aitherd" / "aitherd.toml", Path("/etc/aitherd/aitherd.toml")):
        if candidate.is_file():
            return candidate
    return None


def _first_dir(env_value: str | None) -> Path | None:
    # systemd passes several directories separated by ':' when the unit names several.
    if not env_value:
        return None
    return Path(env_value.split(":")[0])


def resolve_paths(cfg: Config) -> Paths:
    if cfg.daemon.state_dir:
        state = Path(cfg.daemon.state_dir).expanduser()
    else:
        state = _first_dir(os.environ.get("STATE_DIRECTORY")) or (
            Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "aitherd"
        )
    if cfg.daemon.socket:
        sock = Path(cfg.daemon.socket).expanduser()
    elif runtime := _first_dir(os.environ.get("RUNTIME_DIRECTORY")):
        sock = runtime / "control.sock"
    elif xdg_runtime := os.environ.get("XDG_RUNTIME_DIR"):
        sock = Path(xdg_runtime) / "aitherd" / "control.sock"
    else:
        sock = state / "control.sock"
    return Paths(state_dir=state.absolute(), socket=sock.absolute())


def git_toplevel(directory: Path) -> Path | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(out.stdout.strip()) if out.returncode == 0 and out.stdout.strip() else None


# Sections read by each job run (the worker gets the config as it is then): a reload changes
# them from the next run on. Schedules, watchers and restart-only sections are reported apart.
RUN_SECTIONS = ("train", "lora", "export", "sources", "curation", "star")


def config_changes(old: Config, new: Config) -> list[str]:
    """'section.key: old -> new' for each changed value of the run-time sections."""
    def leaves(value: Any, prefix: str) -> dict[str, Any]:
        if isinstance(value, dict) and value:
            return {k: v for key, sub in value.items() for k, v in leaves(sub, f"{prefix}.{key}").items()}
        return {prefix: value}

    out = []
    for section in RUN_SECTIONS:
        a = leaves(getattr(old, section).model_dump(mode="json"), section)
        b = leaves(getattr(new, section).model_dump(mode="json"), section)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{key}: {str(a.get(key))[:60]} -> {str(b.get(key))[:60]} (from the next run)")
    return out


def _format_validation_error(path: str, err: ValidationError) -> str:
    lines = []
    for item in err.errors():
        key = ""
        for part in item["loc"]:
            if isinstance(part, int):
                key += f"[{part}]"
            elif not str(part).startswith("function-"):
                key += f".{part}" if key else str(part)
        key = key or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        given = item.get("input")
        if item["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling against etc/aitherd.toml)"
        else:
            msg = msg.replace("Input should be ", "expected ").replace("Field required", "required")
            if item["type"] != "missing" and not isinstance(given, dict | list) and "got" not in msg:
                msg += f", got {given!r}"
        lines.append(f"{path}: {key}: {msg}")
    return "invalid configuration\n  " + "\n  ".join(lines)


def deprecations(data: dict[str, Any], source: str = "<defaults>") -> tuple[str, ...]:
    """One note per deprecated key `data` still uses (they are migrated, not refused)."""
    try:
        notes = migrate_legacy(data)[1]
    except ValueError:
        return ()  # parse_config reports it
    return tuple(f"{source}: {note}" for note in notes)


def parse_config(data: dict[str, Any], source: str = "<defaults>") -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


def _read_toml(source: Path) -> dict[str, Any]:
    """The file's TOML; every way it can be unusable becomes a ConfigError naming the file."""
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except PermissionError:
        raise ConfigError(f"{source}: config file is not readable (permission denied)") from None
    except OSError as err:
        raise ConfigError(f"{source}: cannot read the config file: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        raise ConfigError(f"{source}: not UTF-8 text: byte 0x{raw[err.start]:02x} at line {line} "
                          "(TOML files must be UTF-8; re-save it as UTF-8)") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source}: not valid TOML: {err}") from None


def load(path: Path | None = None, *, cwd: Path | None = None, find_repos: bool = True) -> Loaded:
    """Read, validate and resolve the configuration. Raises ConfigError; touches nothing."""
    source = path if path is not None else default_config_path()
    data: dict[str, Any] = {}
    if source is not None:
        data = _read_toml(Path(source))
    where = str(source) if source else "<defaults>"
    cfg = parse_config(data, where)
    if source is not None:  # benchmark paths are relative to the config file
        bench = cfg.curation.decontam.benchmarks
        for name in ("gsm8k", "mbpp"):
            value = getattr(bench, name)
            if value is not None and not Path(value).expanduser().is_absolute():
                setattr(bench, name, (Path(source).parent / Path(value).expanduser()).resolve())
        if bench.humaneval not in (None, "package") and not Path(bench.humaneval).is_absolute():
            bench.humaneval = str((Path(source).parent / bench.humaneval).resolve())
    repos = tuple(
        RepoEntry(path=str(Path(r.path).expanduser().absolute()), refs=r.refs) for r in cfg.repos
    )
    if not repos and cfg.watch.cwd_repo and find_repos:
        top = git_toplevel(cwd or Path.cwd())
        if top is not None:
            repos = (RepoEntry(path=str(top)),)
    return Loaded(config=cfg, source=source, paths=resolve_paths(cfg), repos=repos,
                  notes=deprecations(data, where))
