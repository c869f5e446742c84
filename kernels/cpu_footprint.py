"""CPU footprint kernel: :mod:`kernels._math.footprint` compiled with numba into a ``prange`` loop.

Private: call :func:`kernels.footprint.sample_footprints` instead; this trusts its inputs. One kernel
per camera model, built on first use. The scalar functions are compiled as ordinary (not inlined)
njit functions: the clipping bisection calls the projector from several sites, and inlining them all
made compilation take minutes, while the footprint is not a throughput-bound kernel. Each kernel is
cached on disk per model (:func:`kernels._cache.cached_njit`), so only the first process compiles it.
"""

from __future__ import annotations

from typing import Any

import numba
from numba import prange

from kernels._cache import cached_njit
from kernels._math import footprint as _footprint_math

__all__ = ["footprint_kernel"]

_KERNELS: dict[int, Any] = {}


def _make_kernel(model_id: int) -> Any:
    store = _footprint_math.compile_group(model_id, numba.njit)["store_sample"]
    mid = model_id

    @cached_njit(parallel=True, key=f"model={mid}")
    def kernel(bp, rts, intrs, cam_index, sel, k_edge, grid, near, u, v, depth, points_cam, flags):  # type: ignore[no-untyped-def]  # noqa: E501
        n_s = u.shape[1]
        for q in prange(sel.shape[0]):
            j = sel[q]
            c = cam_index[j]
            rt = rts[c]
            intr = intrs[c]
            for s in range(n_s):
                store(mid, intr, rt, near, bp, j, s, k_edge, grid, u, v, depth, points_cam, flags)

    return kernel


def footprint_kernel(model_id: int) -> Any:
    """The compiled footprint loop of one camera model.

    Signature: ``kernel(bp, rts, intrs, cam_index, sel, k_edge, grid, near, u, v, depth, points_cam,
    flags)``: ``bp`` float64 (P, 9) box parameter rows, ``rts`` float64 (C, 12) packed
    ``camera_from_points``, ``intrs`` float64 (C, INTR_SIZE), ``cam_index`` int64 (P,), ``sel`` int64
    (Q,) the pairs whose camera has this model; outputs ``u, v, depth`` float32 (P, S), ``points_cam``
    float32 (P, S, 3), ``flags`` uint8 (P, S); rows not in ``sel`` are left untouched.
    """
    kernel = _KERNELS.get(model_id)
    if kernel is None:
        kernel = _KERNELS[model_id] = _make_kernel(model_id)
    return kernel
