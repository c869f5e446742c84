"""World-frame lidar sweeps kept across service calls, per opened log, within a byte budget.

An annotation UI calls ``/v1/interpolate`` with a snap again and again on the same log while a labeler drags a
keyframe; each call needs the same sweeps moved into the world frame. They are kept here, least recently
used first out once ``budget_bytes`` is exceeded. Entries belong to a :class:`~engine.Log`
object (weakly referenced): a log opened again, or dropped by the service's log cache, starts afresh, so a
changed file on disk is never served from here. Thread-safe (the service runs calls in a thread pool).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from engine.log import Log

__all__ = ["SweepCache", "sweep_cache"]

F32 = npt.NDArray[np.float32]


class SweepCache:
    """LRU of read-only world-frame point arrays keyed by (log, lidar id, sweep index).

    Parameters
    ----------
    budget_bytes : int
        Most bytes of points kept (0 keeps nothing).
    """

    def __init__(self, budget_bytes: int) -> None:
        self._lock = threading.Lock()
        self._tokens: weakref.WeakKeyDictionary[Log, int] = weakref.WeakKeyDictionary()
        self._next = itertools.count()
        self._items: OrderedDict[tuple[int, str, int], F32] = OrderedDict()
        self._bytes = 0
        self.budget_bytes = int(budget_bytes)
        self.hits = 0
        self.misses = 0

    def get(self, log: Log, lidar_id: str, index: int, load: Callable[[], F32]) -> F32:
        """The cached points of sweep ``index``, or ``load()`` (kept read-only when it fits the budget)."""
        with self._lock:
            token = self._tokens.get(log)
            if token is None:
                token = self._tokens[log] = next(self._next)
                self._drop_orphans()
            key = (token, lidar_id, int(index))
            points = self._items.get(key)
            if points is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return points
            self.misses += 1
        points = load()  # outside the lock: other calls go on meanwhile
        points.flags.writeable = False
        with self._lock:
            if key not in self._items and points.nbytes <= self.budget_bytes:
                self._items[key] = points
                self._bytes += points.nbytes
                while self._bytes > self.budget_bytes:
                    _, old = self._items.popitem(last=False)
                    self._bytes -= old.nbytes
        return points

    def _drop_orphans(self) -> None:
        """Forget entries of logs that no longer exist (called under the lock when a log first appears)."""
        alive = set(self._tokens.values())
        for key in [k for k in self._items if k[0] not in alive]:
            self._bytes -= self._items.pop(key).nbytes

    @property
    def nbytes(self) -> int:
        """Bytes of points held now."""
        return self._bytes


#: The service's cache (``api.settings.Settings.sweep_cache_mb`` sets its budget).
sweep_cache = SweepCache(256 << 20)
