"""CUDA footprint kernel: :mod:`kernels._math.footprint` as device functions in a grid-stride loop.

Private: call :func:`kernels.footprint.sample_footprints` instead; this trusts its inputs. Imported
lazily (first CUDA call); ``cuda`` is a module-level global (numba's simulator swaps it). One kernel
per camera model, built on first use.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from kernels._math import footprint as _footprint_math

__all__ = ["footprint_kernel"]

_KERNELS: dict[int, Any] = {}


def _make_kernel(model_id: int) -> Any:
    store = _footprint_math.compile_group(model_id, cuda.jit(device=True))["store_sample"]
    mid = model_id

    @cuda.jit
    def kernel(bp, rts, intrs, cam_index, sel, k_edge, grid, near, u, v, depth, points_cam, flags):  # type: ignore[no-untyped-def]  # noqa: E501
        start, stride = cuda.grid(1), cuda.gridsize(1)
        n_s = u.shape[1]
        for k in range(start, sel.shape[0] * n_s, stride):
            q = k // n_s
            s = k - q * n_s
            j = sel[q]
            c = cam_index[j]
            store(mid, intrs[c], rts[c], near, bp, j, s, k_edge, grid, u, v, depth, points_cam, flags)

    return kernel


def footprint_kernel(model_id: int) -> Any:
    """The footprint kernel of one camera model; launch over ``len(sel) * S`` threads.

    Arguments as :func:`kernels.cpu_footprint.footprint_kernel` (device arrays).
    """
    kernel = _KERNELS.get(model_id)
    if kernel is None:
        kernel = _KERNELS[model_id] = _make_kernel(model_id)
    return kernel
