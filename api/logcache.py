"""Opened logs by id (an LRU), so repeated UI calls against one log do not re-read its manifest."""

from __future__ import annotations

import threading
from collections import OrderedDict

from api.store import Store
from engine import Log, open_log

__all__ = ["LogCache"]


class LogCache:
    """Tenant-scoped access to registered logs, keeping the last ``size`` opened.

    Parameters
    ----------
    store : Store
        Where registrations live (the tenant check happens there on every call).
    size : int
        Logs kept open.
    """

    def __init__(self, store: Store, size: int) -> None:
        self._store = store
        self._size = size
        self._logs: OrderedDict[str, Log] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant_id: str, log_id: str) -> Log:
        """The opened log ``log_id`` of ``tenant_id`` (NotFoundError for unknown or other tenants' ids)."""
        record = self._store.logs.get(tenant_id, log_id)
        with self._lock:
            log = self._logs.get(log_id)
            if log is not None:
                self._logs.move_to_end(log_id)
                return log
        log = open_log(record.path)
        with self._lock:
            self._logs[log_id] = log
            while len(self._logs) > self._size:
                self._logs.popitem(last=False)
        return log

    def forget(self, log_id: str) -> None:
        """Drop a log from the cache (after its registration is deleted)."""
        with self._lock:
            self._logs.pop(log_id, None)
