"""The tables: model-neutral examples, watermarks, runs, exports, adapters, benchmark results."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Every timestamp in the store is timezone-aware UTC."""
    return datetime.now(UTC)


def _json(default: Any = dict) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


class Meta(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class Example(SQLModel, table=True):
    """One candidate training example, neutral to any base model's chat format."""

    __table_args__ = (Index("ix_example_spec_status_cat", "specialist", "status", "category"),)

    id: int | None = Field(default=None, primary_key=True)
    specialist: str  # coder | reasoner
    category: str  # coder: instruction|editing|debugging|review|test_generation; reasoner: ...
    status: str = "accepted"  # accepted | rejected
    reason: str | None = None  # why rejected: duplicate, contaminated, low_quality, secret, ...
    messages: list[dict[str, Any]] = _json(list)
    reasoning: str | None = None  # chain of thought, kept apart from the final answer
    answer: str | None = None  # a checkable answer where there is one
    source: str = Field(index=True)  # git, codegraph, session, corpus, hf:NAME, chronicle, ...
    provenance: dict[str, Any] = _json()
    license: str | None = None
    weight: float = 1.0
    quality: float | None = None
    quality_reasons: list[str] = _json(list)
    # What curation found: e.g. {"contaminated": {"benchmark", "item", "overlap"}}, redactions.
    curation: dict[str, Any] = _json()
    content_hash: str = Field(unique=True, index=True)
    near_dup_signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    run_id: int | None = Field(default=None, index=True)
    created_at: datetime = Field(default_factory=utcnow)


class Watermark(SQLModel, table=True):
    """How far a source has read: last commit per repo and ref, file + inode + offset, ..."""

    __table_args__ = (UniqueConstraint("source", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str
    key: str
    value: dict[str, Any] = _json()
    updated_at: datetime = Field(default_factory=utcnow)


class Run(SQLModel, table=True):
    """One execution of a job, whatever triggered it."""

    __table_args__ = (Index("ix_run_job_started", "job", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str
    trigger: str  # schedule | catch-up | manual | watch | chain
    status: str = "running"  # running | ok | skipped | failed | interrupted
    started_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    duration_s: float | None = None
    counts: dict[str, Any] = _json()  # numbers only
    message: str | None = None
    error: str | None = None
    progress: dict[str, Any] = _json()
    outputs: dict[str, str] = _json()  # what the run made or decided: {"adapter.coder": "v0003"}
    pid: int | None = None
    parent_run_id: int | None = None


class Export(SQLModel, table=True):
    id: str = Field(primary_key=True)
    specialist: str
    base_family: str
    path: str
    created_at: datetime = Field(default_factory=utcnow)
    counts: dict[str, Any] = _json()
    sha256: str | None = None
    run_id: int | None = None


class Adapter(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("specialist", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    specialist: str
    version: str
    path: str
    export_id: str | None = None
    run_id: int | None = None
    scores: dict[str, Any] = _json()
    state: str = "candidate"  # candidate | live | retired | rejected
    created_at: datetime = Field(default_factory=utcnow)
    deployed_at: datetime | None = None  # when it last became live (rollback goes to the newest)
    note: str | None = None  # why it was rejected or retired (failed verify, rolled back)


class BenchmarkResult(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    adapter_id: int | None = Field(default=None, index=True)
    benchmark: str
    passed: int = 0
    total: int = 0
    pass_rate: float = 0.0
    details: dict[str, Any] = _json()
    run_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
