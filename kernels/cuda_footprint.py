"""CUDA footprint kernel: :mod:`kernels._math.footprint` as device functions in a grid-stride loop.

Private: call :func:`kernels.footprint.sample_footprints` instead; this trusts its inputs. Imported
lazily (first CUDA call); ``cuda`` is a module-level global (numba's simulator swaps it).
"""

from __future__ import annotations

from numba import cuda

from kernels._math import footprint as _footprint_math
from kernels._math.retarget import retarget

__all__ = ["footprint_kernel"]

_FP = retarget(_footprint_math.DEVICE_FUNCTIONS, cuda.jit(device=True, inline=True))
_footprint_sample = _FP["footprint_sample"]


@cuda.jit
def footprint_kernel(bp, rts, intrs, model_ids, cam_index, k_edge, grid, near, u, v, depth, points_cam, flags):  # type: ignore[no-untyped-def]  # noqa: E501  # pragma: no cover
    """One (pair, sample) per thread (arguments as :func:`kernels.cpu_footprint.footprint_kernel`)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    n_s = u.shape[1]
    for k in range(start, u.shape[0] * n_s, stride):
        j = k // n_s
        s = k - j * n_s
        c = cam_index[j]
        rt = rts[c]
        intr = intrs[c]
        uu, vv, dd, xc, yc, zc, fl = _footprint_sample(model_ids[c], intr, rt, near, bp, j, s, k_edge, grid)
        u[j, s] = uu
        v[j, s] = vv
        depth[j, s] = dd
        points_cam[j, s, 0] = xc
        points_cam[j, s, 1] = yc
        points_cam[j, s, 2] = zc
        flags[j, s] = fl
