"""CPU footprint kernel: :mod:`kernels._math.footprint` inlined into a numba ``prange`` loop.

Private: call :func:`kernels.footprint.sample_footprints` instead; this trusts its inputs.
"""

from __future__ import annotations

from typing import Any

import numba
from numba import prange

from kernels._math import footprint as _footprint_math
from kernels._math.retarget import retarget

__all__ = ["footprint_kernel"]

_FP = retarget(_footprint_math.DEVICE_FUNCTIONS, numba.njit(inline="always"))
_footprint_sample = _FP["footprint_sample"]


@numba.njit(parallel=True)
def footprint_kernel(
    bp: Any,
    rts: Any,
    intrs: Any,
    model_ids: Any,
    cam_index: Any,
    k_edge: int,
    grid: int,
    near: float,
    u: Any,
    v: Any,
    depth: Any,
    points_cam: Any,
    flags: Any,
) -> None:  # pragma: no cover - compiled
    """Every sample of every (box, camera) pair; pair ``j`` is box ``j`` seen by camera ``cam_index[j]``.

    ``bp`` float64 (P, 9) box parameter rows, ``rts`` float64 (C, 12) packed ``camera_from_points``,
    ``intrs`` float64 (C, INTR_SIZE), ``model_ids`` int64 (C,), ``cam_index`` int64 (P,); outputs
    ``u, v, depth`` float32 (P, S), ``points_cam`` float32 (P, S, 3), ``flags`` uint8 (P, S).
    """
    n_s = u.shape[1]
    for j in prange(u.shape[0]):
        c = cam_index[j]
        rt = rts[c]
        intr = intrs[c]
        mid = model_ids[c]
        for s in range(n_s):
            uu, vv, dd, xc, yc, zc, fl = _footprint_sample(mid, intr, rt, near, bp, j, s, k_edge, grid)
            u[j, s] = uu
            v[j, s] = vv
            depth[j, s] = dd
            points_cam[j, s, 0] = xc
            points_cam[j, s, 1] = yc
            points_cam[j, s, 2] = zc
            flags[j, s] = fl
