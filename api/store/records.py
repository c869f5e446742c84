"""Rows of the store as frozen dataclasses, the job state machine and the store's own errors."""

from __future__ import annotations

import enum
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ConflictError",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryState",
    "JobRecord",
    "JobState",
    "LogRecord",
    "NotFoundError",
    "StoreError",
    "Tenant",
    "check_transition",
]


class StoreError(Exception):
    """Base class of the store's errors (mapped to HTTP statuses in :mod:`api.errors`)."""


class NotFoundError(StoreError):
    """No such resource for this tenant (another tenant's ids are reported the same way)."""


class ConflictError(StoreError):
    """The request conflicts with the resource's state (idempotency key reuse, illegal transition)."""


class JobState(enum.Enum):
    """Life cycle of a job (see :data:`TRANSITIONS`)."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True for states no worker will leave on its own."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # claimed by a worker, or cancelled before it started
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED}),
    # finished, failed, cancelled between stages, or re-queued when its lease lapsed (crash)
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.QUEUED}),
    JobState.SUCCEEDED: frozenset(),
    # retry
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELLED: frozenset({JobState.QUEUED}),
}
"""Allowed state changes; every UPDATE of ``jobs.state`` is guarded by its source states."""


def check_transition(current: JobState, target: JobState) -> None:
    """Raise :class:`ConflictError` unless ``current -> target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise ConflictError(f"job is {current.value}; it cannot become {target.value}")


def sources_of(target: JobState) -> tuple[str, ...]:
    """The states (values) from which ``target`` may be entered, for SQL ``IN`` guards."""
    return tuple(s.value for s, targets in TRANSITIONS.items() if target in targets)


class DeliveryState(enum.Enum):
    """State of one webhook delivery."""

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Tenant:
    """A customer: owns API keys, logs and jobs."""

    id: str
    name: str
    webhook_secret: str
    created_at: float


@dataclass(frozen=True, slots=True)
class LogRecord:
    """A registered or uploaded log."""

    id: str
    tenant_id: str
    name: str
    source: str
    path: str
    summary: dict[str, Any]
    created_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> LogRecord:
        """Build from a ``logs`` row."""
        return cls(
            row["id"],
            row["tenant_id"],
            row["name"],
            row["source"],
            row["path"],
            json.loads(row["summary"]),
            row["created_at"],
        )


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job and its progress."""

    id: str
    tenant_id: str
    kind: str
    state: JobState
    request: dict[str, Any]
    body_hash: str
    idempotency_key: str | None
    webhook_url: str | None
    progress: float
    stage: str | None
    attempts: int
    lease_owner: str | None
    lease_until: float | None
    cancel_requested: bool
    error: str | None
    created_at: float
    updated_at: float
    started_at: float | None
    finished_at: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        """Build from a ``jobs`` row."""
        return cls(
            id=row["id"],
            tenant_id=row["tenant_id"],
            kind=row["kind"],
            state=JobState(row["state"]),
            request=json.loads(row["request"]),
            body_hash=row["body_hash"],
            idempotency_key=row["idempotency_key"],
            webhook_url=row["webhook_url"],
            progress=float(row["progress"]),
            stage=row["stage"],
            attempts=int(row["attempts"]),
            lease_owner=row["lease_owner"],
            lease_until=row["lease_until"],
            cancel_requested=bool(row["cancel_requested"]),
            error=row["error"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


@dataclass(frozen=True, slots=True)
class DeliveryAttempt:
    """One HTTP attempt of a webhook delivery."""

    attempt: int
    at: float
    status_code: int | None
    error: str | None
    duration_ms: float


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery (an outbox row written in the job's completion transaction)."""

    id: str
    tenant_id: str
    job_id: str
    event: str
    url: str
    payload: str
    state: DeliveryState
    attempts: int
    next_attempt_at: float
    created_at: float

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Delivery:
        """Build from a ``webhook_deliveries`` row."""
        return cls(
            row["id"],
            row["tenant_id"],
            row["job_id"],
            row["event"],
            row["url"],
            row["payload"],
            DeliveryState(row["state"]),
            int(row["attempts"]),
            row["next_attempt_at"],
            row["created_at"],
        )
