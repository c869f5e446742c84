"""The service's cross-call cache of world-frame sweeps (engine.service.sweep_cache)."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

from engine import open_log
from engine.service.sweep_cache import SweepCache


class _Loader:
    """Counts loads; each returns a fresh (N, 3) float32 array of ``n`` points."""

    def __init__(self, n: int = 100) -> None:
        self.calls = 0
        self.n = n

    def __call__(self) -> np.ndarray:
        self.calls += 1
        return np.full((self.n, 3), float(self.calls), np.float32)


def test_second_call_is_served_from_the_cache_read_only(sample_dir: Path) -> None:
    log = open_log(sample_dir)
    cache, load = SweepCache(1 << 20), _Loader()
    first = cache.get(log, "pandar64", 3, load)
    again = cache.get(log, "pandar64", 3, load)
    assert again is first and load.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    with pytest.raises(ValueError, match="read-only"):
        again[0, 0] = 0.0  # callers get shared arrays: they must not write into them
    assert cache.get(log, "pandar64", 4, load) is not first and load.calls == 2


def test_least_recently_used_goes_first_beyond_the_budget(sample_dir: Path) -> None:
    log = open_log(sample_dir)
    load = _Loader(100)  # 1,200 bytes per array
    cache = SweepCache(2 * 1200)
    cache.get(log, "l", 0, load)
    cache.get(log, "l", 1, load)
    cache.get(log, "l", 0, load)  # 0 is now the most recent
    cache.get(log, "l", 2, load)  # evicts 1
    assert cache.nbytes == 2400 and load.calls == 3
    cache.get(log, "l", 0, load)
    assert load.calls == 3
    cache.get(log, "l", 1, load)
    assert load.calls == 4
    assert SweepCache(0).get(log, "l", 0, load).shape == (100, 3)  # budget 0: loads, keeps nothing


def test_entries_belong_to_one_opened_log(sample_dir: Path) -> None:
    cache, load = SweepCache(1 << 20), _Loader()
    log = open_log(sample_dir)
    cache.get(log, "pandar64", 0, load)
    other = open_log(sample_dir)  # opened again (e.g. after the service's log cache dropped it)
    cache.get(other, "pandar64", 0, load)
    assert load.calls == 2
    del log
    gc.collect()
    cache.get(open_log(sample_dir), "pandar64", 1, load)  # a new log: the dead one's entries go
    assert cache.nbytes == 2 * 1200
