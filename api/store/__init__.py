"""The service's embedded store: SQLite (WAL) under ``data_root/state``.

``Store(settings)`` opens it and exposes one repository per concern: :attr:`Store.tenants` (tenants,
hashed API keys), :attr:`Store.logs`, :attr:`Store.jobs` (idempotent, leased, exactly-once
completion) and :attr:`Store.deliveries` (webhook outbox and attempts). Every tenant-facing query is
scoped by tenant id; another tenant's ids are :class:`NotFoundError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from api.store.db import Database
from api.store.jobs import DEFAULT_IDEMPOTENCY_TTL_S, Jobs, LeaseStatus, canonical_json
from api.store.logs import Logs, PathOutsideRoot, resolve_inside
from api.store.records import (
    ConflictError,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    JobRecord,
    JobState,
    LogRecord,
    NotFoundError,
    StoreError,
    Tenant,
)
from api.store.tenants import KEY_PREFIX, Tenants, load_pepper
from api.store.webhooks import Deliveries

__all__ = [
    "KEY_PREFIX",
    "ConflictError",
    "Deliveries",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryState",
    "JobRecord",
    "JobState",
    "Jobs",
    "LeaseStatus",
    "LogRecord",
    "Logs",
    "NotFoundError",
    "PathOutsideRoot",
    "Store",
    "StoreError",
    "Tenant",
    "Tenants",
    "canonical_json",
    "resolve_inside",
]


class Store:
    """The opened store.

    Parameters
    ----------
    state_dir : Path
        Folder of ``fusionlabel.sqlite3`` (and of the pepper file when ``pepper`` is None).
    pepper : str, optional
        Server secret for API-key digests.
    idempotency_ttl_s : float
        How long an ``Idempotency-Key`` is honoured [s] (:class:`Jobs`).
    clock : callable
        Wall-clock time of the job records [s since the epoch]; tests inject one.
    """

    def __init__(
        self,
        state_dir: Path,
        pepper: str | None = None,
        *,
        idempotency_ttl_s: float = DEFAULT_IDEMPOTENCY_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = Database(state_dir / "fusionlabel.sqlite3")
        self.tenants = Tenants(self.db, load_pepper(pepper, state_dir))
        self.logs = Logs(self.db)
        self.jobs = Jobs(self.db, idempotency_ttl_s=idempotency_ttl_s, clock=clock)
        self.deliveries = Deliveries(self.db)

    def close(self) -> None:
        """Close the database connections."""
        self.db.close()
