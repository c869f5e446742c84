"""Schemas of logs, jobs, results and webhook deliveries."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import AnyHttpUrl, ConfigDict, Field

from api.schemas.common import LogId, Name, Public, Strict

__all__ = [
    "AttemptPublic",
    "DeliveryPublic",
    "JobList",
    "JobPublic",
    "JobStateName",
    "LogCreate",
    "LogList",
    "LogPublic",
    "PrelabelCreate",
    "PrelabelOptionsCreate",
    "PrelabelResultPublic",
    "StagePublic",
]


class LogCreate(Strict):
    """Register a log already on the server, by its path under the data root's logs folder."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"path": "pandaset/002", "name": "seq002"}]})

    path: str = Field(min_length=1, max_length=1024, description="relative to the logs folder; no '..'")
    name: Name | None = Field(None, description="display name; the log's own name by default")


class LogPublic(Public):
    """A registered log."""

    id: str
    name: str
    source: str = Field(description="'path' or 'upload'")
    summary: dict[str, Any]
    created_at: datetime


class LogList(Public):
    """A page of logs, newest first."""

    items: list[LogPublic]
    limit: int
    offset: int


class PrelabelOptionsCreate(Strict):
    """Options of the pre-labeling pipeline."""

    lidar_id: Name | None = Field(None, description="lidar to propose on; the only one when omitted")
    max_sweeps: int | None = Field(None, ge=1, le=1_000_000, description="only the first sweeps (previews)")
    min_score: float = Field(0.05, ge=0.0, le=1.0, allow_inf_nan=False)
    min_track_length: int = Field(2, ge=1, le=100_000)


class PrelabelCreate(Strict):
    """Pre-label a registered log (202 + a job; use an Idempotency-Key header to submit safely)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "log_id": "log_0123456789abcdef0123456789abcdef",
                    "options": {"max_sweeps": 20},
                    "webhook_url": "https://example.com/hooks/fusionlabel",
                }
            ]
        }
    )

    log_id: LogId
    options: PrelabelOptionsCreate = PrelabelOptionsCreate()
    webhook_url: AnyHttpUrl | None = Field(None, description="POSTed a signed event when the job ends")


class JobStateName(enum.StrEnum):
    """Job states: queued -> running -> succeeded | failed | cancelled (failed/cancelled can be retried)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobPublic(Public):
    """A job."""

    id: str
    kind: str
    state: JobStateName
    progress: float = Field(description="fraction done, 0 to 1")
    stage: str | None
    attempts: int = Field(description="runs started (a crash re-queues a job and it starts again)")
    cancel_requested: bool
    error: str | None
    idempotency_key: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    results_url: str | None = Field(description="where the results are, once succeeded")


class JobList(Public):
    """A page of jobs, newest first."""

    items: list[JobPublic]
    limit: int
    offset: int


class StagePublic(Public):
    """What one pipeline stage did."""

    name: str
    status: str
    count: int
    seconds: float
    detail: str


class PrelabelResultPublic(Public):
    """Results of a pre-labeling job."""

    annotations: dict[str, Any] = Field(description="native fusionlabel-annotations JSON (tracks, links)")
    stages: list[StagePublic]
    findings: list[dict[str, Any]]
    metadata: dict[str, Any]


class AttemptPublic(Public):
    """One delivery attempt."""

    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float


class DeliveryPublic(Public):
    """A webhook delivery and its attempts."""

    id: str
    event: str
    url: str
    state: str
    attempts: list[AttemptPublic]
