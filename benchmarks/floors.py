"""Memory floors for the projection benchmark: kernels that move exactly the projection's bytes.

A projection of N float32 rows must read 12 B per point and write, per camera, ``u, v, depth``
float32 and ``valid`` bool (13 B per point and camera). These kernels do only that (no math), with
the same access pattern and threading as :mod:`kernels.cpu` (blocks of rows, unsigned indices so
LLVM vectorises the interleaved loads/stores), so their time is the floor a projection call can
reach on this machine, measured under the same conditions: cache-resident repeated calls (the
inputs of a 250k-point call fit the L3 cache), and outputs allocated fresh per call as the public API
does (first-touch page faults included) or preallocated.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

__all__ = ["cache_bandwidth", "copy_rows_floor", "write_cameras_floor"]

_BLOCK = 1024
_U = np.uint64


@numba.njit(parallel=True)
def _copy_rows(flat: Any, uv: Any, depth: Any, valid: Any) -> None:  # pragma: no cover - compiled
    n = depth.shape[0]
    u0, u1, u2, u3 = _U(0), _U(1), _U(2), _U(3)
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        s = b * _BLOCK
        m = min(n, s + _BLOCK) - s
        rows = flat[3 * s : 3 * (s + m)]
        out = uv[2 * s : 2 * (s + m)]
        dv = depth[s : s + m]
        okv = valid[s : s + m]
        for i in range(u0, _U(m)):
            k = u3 * i
            out[u2 * i] = rows[k]
            out[u2 * i + u1] = rows[k + u1]
            dv[i] = rows[k + u2]
            okv[i] = rows[k + u2] > 0.0


@numba.njit(parallel=True)
def _write_cameras(flat: Any, u: Any, v: Any, depth: Any, valid: Any) -> None:  # pragma: no cover - compiled
    n = u.shape[1]
    u0, u1, u2, u3 = _U(0), _U(1), _U(2), _U(3)
    for b in prange((n + _BLOCK - 1) // _BLOCK):
        s = b * _BLOCK
        m = min(n, s + _BLOCK) - s
        rows = flat[3 * s : 3 * (s + m)]
        for c in range(u.shape[0]):
            uc = u[c, s : s + m]
            vc = v[c, s : s + m]
            dc = depth[c, s : s + m]
            okc = valid[c, s : s + m]
            for i in range(u0, _U(m)):
                k = u3 * i
                uc[i] = rows[k]
                vc[i] = rows[k + u1]
                dc[i] = rows[k + u2]
                okc[i] = rows[k + u2] > 0.0


def copy_rows_floor(points: np.ndarray, fresh: bool = True) -> Any:
    """A callable moving one camera's bytes: ``(N, 3)`` rows in, ``uv (N, 2)``, depth, valid out."""
    n = points.shape[0]
    flat = np.ascontiguousarray(points, np.float32).reshape(-1)

    def outputs() -> tuple[np.ndarray, ...]:
        return np.empty(2 * n, np.float32), np.empty(n, np.float32), np.empty(n, np.bool_)

    keep = outputs()

    def call() -> None:
        _copy_rows(flat, *(outputs() if fresh else keep))

    return call


def write_cameras_floor(points: np.ndarray, cameras: int, fresh: bool = True) -> Any:
    """A callable moving C cameras' dense bytes: rows in once, ``(C, N)`` u, v, depth, valid out."""
    n = points.shape[0]
    flat = np.ascontiguousarray(points, np.float32).reshape(-1)

    def outputs() -> tuple[np.ndarray, ...]:
        return tuple(np.empty((cameras, n), dt) for dt in (np.float32, np.float32, np.float32, np.bool_))

    keep = outputs()

    def call() -> None:
        _write_cameras(flat, *(outputs() if fresh else keep))

    return call


def cache_bandwidth(nbytes: int, timer: Any) -> float:
    """NumPy copy bandwidth [GB/s] (read + write) of a ``nbytes`` array: cache-resident when small.

    ``timer(fn, repeat)`` returns the time of one call [s] (e.g. the benchmark's best_time).
    """
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    t = timer(lambda: np.copyto(b, a), 50)
    return 2 * a.nbytes / float(getattr(t, "best", t)) / 1e9
