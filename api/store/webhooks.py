"""Webhook deliveries (an outbox filled by job completions) and every attempt made to send them."""

from __future__ import annotations

import time

from api.store.db import Database
from api.store.records import Delivery, DeliveryAttempt, DeliveryState, NotFoundError

__all__ = ["Deliveries"]


class Deliveries:
    """Webhook outbox operations."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def take_due(self, limit: int, hold_s: float) -> list[Delivery]:
        """Pending deliveries whose time has come; each is held ``hold_s`` so no other sender takes it."""
        now = time.time()
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT * FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at LIMIT ?",
                (now, limit),
            ).fetchall()
            for row in rows:
                conn.execute(
                    "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?",
                    (now + hold_s, row["id"]),
                )
        return [Delivery.from_row(r) for r in rows]

    def next_due_in(self) -> float | None:
        """Seconds until the next pending delivery is due (0 when overdue), None when none is pending."""
        row = (
            self._db.connection()
            .execute("SELECT min(next_attempt_at) AS t FROM webhook_deliveries WHERE state = 'pending'")
            .fetchone()
        )
        return None if row["t"] is None else max(0.0, float(row["t"]) - time.time())

    def record(
        self,
        delivery: Delivery,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        retry_at: float | None,
    ) -> DeliveryState:
        """Record one attempt; delivered on a 2xx, else pending again at ``retry_at`` or failed for good."""
        now = time.time()
        attempt = delivery.attempts + 1
        ok = status_code is not None and 200 <= status_code < 300
        state = (
            DeliveryState.DELIVERED
            if ok
            else DeliveryState.PENDING
            if retry_at is not None
            else DeliveryState.FAILED
        )
        with self._db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO webhook_attempts"
                " (delivery_id, attempt, at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?)",
                (delivery.id, attempt, now, status_code, error, duration_ms),
            )
            conn.execute(
                "UPDATE webhook_deliveries SET attempts = ?, state = ?, next_attempt_at = ? WHERE id = ?",
                (attempt, state.value, retry_at if retry_at is not None else now, delivery.id),
            )
        return state

    def for_job(self, tenant_id: str, job_id: str) -> list[tuple[Delivery, list[DeliveryAttempt]]]:
        """Every delivery of a job with its attempts (tenant-scoped)."""
        conn = self._db.connection()
        if (
            conn.execute("SELECT 1 FROM jobs WHERE id = ? AND tenant_id = ?", (job_id, tenant_id)).fetchone()
            is None
        ):
            raise NotFoundError(f"job {job_id!r} not found")
        out = []
        for row in conn.execute(
            "SELECT * FROM webhook_deliveries WHERE job_id = ? AND tenant_id = ? ORDER BY created_at",
            (job_id, tenant_id),
        ).fetchall():
            attempts = [
                DeliveryAttempt(a["attempt"], a["at"], a["status_code"], a["error"], a["duration_ms"])
                for a in conn.execute(
                    "SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt", (row["id"],)
                ).fetchall()
            ]
            out.append((Delivery.from_row(row), attempts))
        return out
