"""Jobs: idempotent submission, leases for crash recovery, guarded state changes, one result per job.

Exactly-once completion: a worker holds a job through a *lease* ``(lease_owner, attempts)`` that it
renews while running. Every write a worker makes is guarded by that pair and ``state = 'running'``;
the result row, the state change and the webhook outbox row are written in one transaction. A worker
whose lease lapsed (its process died, or hung past the lease) and was re-queued cannot complete the job
any more: its guarded update matches no row and its result is dropped. ``job_results.job_id`` is the
primary key, so a second result can never be stored.
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

from api.store.db import Database
from api.store.records import ConflictError, JobRecord, JobState, NotFoundError, sources_of
from engine.errors import InvalidInputError

__all__ = ["DEFAULT_IDEMPOTENCY_TTL_S", "Jobs", "LeaseStatus", "canonical_json"]

DEFAULT_IDEMPOTENCY_TTL_S = 24 * 3600.0
"""An ``Idempotency-Key`` is honoured for this long after the job it created [s]."""


def canonical_json(value: Any) -> str:
    """Sorted-key, compact JSON (NaN refused): equal requests give equal strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class LeaseStatus(enum.Enum):
    """What a lease renewal found."""

    HELD = "held"
    """Keep going."""
    CANCEL = "cancel"
    """Cancellation was requested: stop at the next stage boundary."""
    LOST = "lost"
    """The job is no longer this worker's (re-queued after a lapse, or gone): stop, write nothing."""


_GUARD = "id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?"


def _event(job_id: str, kind: str, state: JobState, error: str | None, now: float) -> dict[str, Any]:
    return {
        "type": f"job.{state.value}",
        "created_at": now,
        "data": {"job_id": job_id, "kind": kind, "state": state.value, "error": error},
    }


class Jobs:
    """Job operations on the store.

    Parameters
    ----------
    db : Database
        The store's database.
    idempotency_ttl_s : float
        How long an ``Idempotency-Key`` is honoured after the job it created [s]; later, the key is
        released (see :meth:`purge_expired_keys`) and a request reusing it creates a new job.
    clock : callable
        Wall-clock time [s since the epoch] of every timestamp the jobs record (tests inject one).
    """

    def __init__(
        self,
        db: Database,
        *,
        idempotency_ttl_s: float = DEFAULT_IDEMPOTENCY_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not idempotency_ttl_s > 0:
            raise InvalidInputError(f"idempotency_ttl_s must be > 0, got {idempotency_ttl_s!r}")
        self._db = db
        self.idempotency_ttl_s = float(idempotency_ttl_s)
        self._clock = clock

    # -- tenant-facing -------------------------------------------------------------------------------

    def submit(
        self,
        tenant_id: str,
        kind: str,
        request: dict[str, Any],
        idempotency_key: str | None,
        webhook_url: str | None,
    ) -> tuple[JobRecord, bool]:
        """Commit a new QUEUED job, or return the job an earlier request with the same key created.

        Returns
        -------
        (JobRecord, bool)
            The job and whether it was created now.

        Raises
        ------
        ConflictError
            The key was used before (within ``idempotency_ttl_s``) with a different body.
        """
        body = canonical_json(request)
        digest = hashlib.sha256(f"{kind}\n{webhook_url}\n{body}".encode()).hexdigest()
        now = self._clock()
        with self._db.write() as conn:
            if idempotency_key is not None:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE tenant_id = ? AND idempotency_key = ?",
                    (tenant_id, idempotency_key),
                ).fetchone()
                if row is not None and row["created_at"] <= now - self.idempotency_ttl_s:
                    conn.execute("UPDATE jobs SET idempotency_key = NULL WHERE id = ?", (row["id"],))
                    row = None  # expired: the key now names the job created below
                if row is not None:
                    if row["body_hash"] != digest:
                        raise ConflictError(
                            f"Idempotency-Key {idempotency_key!r} was used for job {row['id']} "
                            "with another body"
                        )
                    return JobRecord.from_row(row), False
            job_id = f"job_{uuid.uuid4().hex}"
            conn.execute(
                "INSERT INTO jobs (id, tenant_id, kind, state, request, body_hash, idempotency_key,"
                " webhook_url, created_at, updated_at) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                (job_id, tenant_id, kind, body, digest, idempotency_key, webhook_url, now, now),
            )
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return JobRecord.from_row(row), True

    def get(self, tenant_id: str, job_id: str) -> JobRecord:
        """The job ``job_id`` of ``tenant_id`` (another tenant's job is not found)."""
        row = (
            self._db.connection()
            .execute("SELECT * FROM jobs WHERE id = ? AND tenant_id = ?", (job_id, tenant_id))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"job {job_id!r} not found")
        return JobRecord.from_row(row)

    def list(self, tenant_id: str, state: JobState | None, limit: int, offset: int) -> list[JobRecord]:
        """The tenant's jobs, newest first, optionally of one state."""
        sql = "SELECT * FROM jobs WHERE tenant_id = ?"
        args: list[Any] = [tenant_id]
        if state is not None:
            sql += " AND state = ?"
            args.append(state.value)
        sql += " ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
        rows = self._db.connection().execute(sql, (*args, limit, offset)).fetchall()
        return [JobRecord.from_row(r) for r in rows]

    def cancel(self, tenant_id: str, job_id: str) -> JobRecord:
        """Cancel a queued job now, or ask the worker of a running one to stop at its next stage."""
        now = self._clock()
        with self._db.write() as conn:
            job = self._tenant_job(conn, tenant_id, job_id)
            if job.state is JobState.QUEUED:
                self._finish(conn, job, JobState.CANCELLED, None, now)
            elif job.state is JobState.RUNNING:
                conn.execute(
                    "UPDATE jobs SET cancel_requested = 1, updated_at = ? WHERE id = ?", (now, job_id)
                )
            else:
                raise ConflictError(f"job is {job.state.value}; only queued or running jobs can be cancelled")
        return self.get(tenant_id, job_id)

    def retry(self, tenant_id: str, job_id: str) -> JobRecord:
        """Queue a failed or cancelled job again (attempts start over)."""
        now = self._clock()
        with self._db.write() as conn:
            job = self._tenant_job(conn, tenant_id, job_id)
            if job.state not in (JobState.FAILED, JobState.CANCELLED):
                raise ConflictError(f"job is {job.state.value}; only failed or cancelled jobs can be retried")
            conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, progress = 0, stage = NULL, error = NULL,"
                " cancel_requested = 0, finished_at = NULL, updated_at = ? WHERE id = ?",
                (now, job_id),
            )
        return self.get(tenant_id, job_id)

    def result(self, tenant_id: str, job_id: str) -> str:
        """The stored result JSON of a succeeded job."""
        job = self.get(tenant_id, job_id)
        if job.state is not JobState.SUCCEEDED:
            raise ConflictError(f"job is {job.state.value}; results exist only for succeeded jobs")
        row = (
            self._db.connection()
            .execute("SELECT result FROM job_results WHERE job_id = ?", (job_id,))
            .fetchone()
        )
        if row is None:  # pragma: no cover - written in the same transaction as the state
            raise NotFoundError(f"job {job_id!r} has no result")
        return str(row["result"])

    def purge_expired_keys(self) -> int:
        """Release every ``Idempotency-Key`` older than ``idempotency_ttl_s`` (the jobs stay).

        Returns
        -------
        int
            Keys released.
        """
        with self._db.write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET idempotency_key = NULL"
                " WHERE idempotency_key IS NOT NULL AND created_at <= ?",
                (self._clock() - self.idempotency_ttl_s,),
            )
        return int(cur.rowcount)

    # -- worker-facing -------------------------------------------------------------------------------

    def claim(self, owner: str, lease_s: float) -> JobRecord | None:
        """Take the oldest QUEUED job: RUNNING, ``attempts + 1``, leased to ``owner`` plus a fresh token."""
        now = self._clock()
        owner = f"{owner}/{uuid.uuid4().hex[:12]}"
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = ?,"
                " lease_until = ?, started_at = COALESCE(started_at, ?), updated_at = ?, progress = 0,"
                " stage = NULL WHERE id = ? AND state = 'queued'",
                (owner, now + lease_s, now, now, row["id"]),
            )
            job = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return JobRecord.from_row(job)

    def renew(
        self, job: JobRecord, lease_s: float, progress: float | None = None, stage: str | None = None
    ) -> LeaseStatus:
        """Extend the lease (and record progress); says whether to go on, cancel, or stop."""
        now = self._clock()
        with self._db.write() as conn:
            sets = "lease_until = ?, updated_at = ?"
            args: list[float | str | None] = [now + lease_s, now]
            if progress is not None:
                sets += ", progress = ?, stage = ?"
                args += [min(max(progress, 0.0), 1.0), stage]
            cur = conn.execute(
                f"UPDATE jobs SET {sets} WHERE {_GUARD}", (*args, job.id, job.lease_owner, job.attempts)
            )
            if cur.rowcount == 0:
                return LeaseStatus.LOST
            row = conn.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job.id,)).fetchone()
        return LeaseStatus.CANCEL if row["cancel_requested"] else LeaseStatus.HELD

    def complete(self, job: JobRecord, result_json: str) -> bool:
        """Store the result and mark SUCCEEDED in one transaction; False (and no write) without the lease."""
        now = self._clock()
        with self._db.write() as conn:
            if not self._holds(conn, job):
                return False
            conn.execute(
                "INSERT INTO job_results (job_id, attempt, result, created_at) VALUES (?, ?, ?, ?)",
                (job.id, job.attempts, result_json, now),
            )
            self._finish(conn, job, JobState.SUCCEEDED, None, now)
        return True

    def fail(self, job: JobRecord, error: str, *, retry: bool = False) -> bool:
        """Mark FAILED (or QUEUED again when ``retry``); False without the lease."""
        now = self._clock()
        with self._db.write() as conn:
            if not self._holds(conn, job):
                return False
            if retry:
                conn.execute(
                    "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL, error = ?,"
                    " updated_at = ? WHERE id = ?",
                    (error, now, job.id),
                )
            else:
                self._finish(conn, job, JobState.FAILED, error, now)
        return True

    def cancelled(self, job: JobRecord) -> bool:
        """Acknowledge a requested cancellation (RUNNING -> CANCELLED); False without the lease."""
        now = self._clock()
        with self._db.write() as conn:
            if not self._holds(conn, job):
                return False
            self._finish(conn, job, JobState.CANCELLED, None, now)
        return True

    def requeue_lapsed(self, max_attempts: int) -> tuple[int, int]:
        """Re-queue RUNNING jobs whose lease lapsed (their worker died); fail those out of attempts.

        Returns
        -------
        (int, int)
            Jobs re-queued and jobs failed.
        """
        now = self._clock()
        requeued = failed = 0
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs WHERE state = 'running' AND lease_until < ?", (now,)
            ).fetchall()
            for row in rows:
                job = JobRecord.from_row(row)
                if job.cancel_requested:
                    self._finish(conn, job, JobState.CANCELLED, None, now)
                elif job.attempts >= max_attempts:
                    self._finish(
                        conn, job, JobState.FAILED, f"worker lost {job.attempts} times; giving up", now
                    )
                    failed += 1
                else:
                    conn.execute(
                        "UPDATE jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL,"
                        " updated_at = ? WHERE id = ? AND state = 'running'",
                        (now, job.id),
                    )
                    requeued += 1
        return requeued, failed

    # -- helpers -------------------------------------------------------------------------------------

    @staticmethod
    def _tenant_job(conn: sqlite3.Connection, tenant_id: str, job_id: str) -> JobRecord:
        row = conn.execute(
            "SELECT * FROM jobs WHERE id = ? AND tenant_id = ?", (job_id, tenant_id)
        ).fetchone()
        if row is None:
            raise NotFoundError(f"job {job_id!r} not found")
        return JobRecord.from_row(row)

    @staticmethod
    def _holds(conn: sqlite3.Connection, job: JobRecord) -> bool:
        row = conn.execute(
            f"SELECT 1 FROM jobs WHERE {_GUARD}", (job.id, job.lease_owner, job.attempts)
        ).fetchone()
        return row is not None

    @staticmethod
    def _finish(
        conn: sqlite3.Connection, job: JobRecord, state: JobState, error: str | None, now: float
    ) -> None:
        """Enter a terminal state and queue the webhook (same transaction as the caller's other writes)."""
        cur = conn.execute(
            "UPDATE jobs SET state = ?, error = ?, finished_at = ?, updated_at = ?, lease_owner = NULL,"
            f" lease_until = NULL, progress = CASE WHEN ? THEN 1 ELSE progress END"
            f" WHERE id = ? AND state IN ({','.join('?' * len(sources_of(state)))})",
            (state.value, error, now, now, state is JobState.SUCCEEDED, job.id, *sources_of(state)),
        )
        if cur.rowcount != 1:
            raise ConflictError(f"job {job.id} is not in a state that can become {state.value}")
        if job.webhook_url:
            delivery_id = f"msg_{uuid.uuid4().hex}"
            payload = canonical_json(_event(job.id, job.kind, state, error, now))
            conn.execute(
                "INSERT INTO webhook_deliveries (id, tenant_id, job_id, event, url, payload, state, attempts,"
                " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
                (
                    delivery_id,
                    job.tenant_id,
                    job.id,
                    f"job.{state.value}",
                    job.webhook_url,
                    payload,
                    now,
                    now,
                ),
            )
