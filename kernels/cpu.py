"""CPU kernels: the scalar math of :mod:`kernels._math` inlined into numba ``prange`` loops.

Private: call the public functions of :mod:`kernels` instead; these trust their inputs.

Layout for speed (measured, see ``benchmarks/RESULTS.md``): projection reads structure-of-arrays
``x, y, z`` and writes one contiguous row per camera for ``u``, ``v``, ``depth`` and ``valid``; masks
are combined with ``&`` (no short-circuit branches), so LLVM vectorises the per-point loop.
Only ``soa_from_rows`` is cached on disk: numba's cache does not notice edits to inlined callees. Reading
``(N, 3)`` rows or writing interleaved ``(N, 2)`` pixels makes the same loop ~7x slower, and so does a
scalar reduction (e.g. counting NaNs) inside it: the one-camera :func:`project_rows_kernel` therefore
works in cache-sized blocks (rows -> local SoA, vectorised math, local SoA -> interleaved pixels) and
counts non-finite inputs in the copy-out loop.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import prange
from numba.np.unsafe.ndarray import to_fixed_tuple

from kernels._jit import model_projector
from kernels._math import camera as _camera_math
from kernels._math import transform as _transform_math
from kernels._math.retarget import retarget

__all__ = [
    "deskew",
    "depth_buffer",
    "project_kernel",
    "project_rows_kernel",
    "radar_velocity",
    "soa_from_rows",
]

_INLINE = numba.njit(inline="always")
_CAM = retarget(_camera_math.DEVICE_FUNCTIONS, _INLINE)
_TF = retarget(_transform_math.DEVICE_FUNCTIONS, _INLINE)

_INTR_SIZE = _camera_math.INTR_SIZE
_apply_rt = _TF["apply_rt"]
_deskew_point = _TF["deskew_point"]
_radar_point_velocity = _TF["radar_point_velocity"]
_in_image = _CAM["in_image"]
_point_depth = _CAM["point_depth"]


@numba.njit(parallel=True, cache=True)
def soa_from_rows(points: Any, out: Any) -> None:  # pragma: no cover - compiled
    """Copy ``(N, 3)`` rows into the ``(3, N)`` structure-of-arrays ``out``."""
    for i in prange(points.shape[0]):
        out[0, i] = points[i, 0]
        out[1, i] = points[i, 1]
        out[2, i] = points[i, 2]


def _make_project_kernel(model_id: int) -> Any:
    project = model_projector(_CAM, model_id, _INLINE)
    mid = model_id
    size = _INTR_SIZE

    @numba.njit(parallel=True)
    def kernel(x, y, z, rts, intrs, cams, u, v, depth, valid):  # type: ignore[no-untyped-def]
        n = x.shape[0]
        for j in range(cams.shape[0]):
            c = cams[j]
            rt = to_fixed_tuple(rts[c], 12)
            intr = to_fixed_tuple(intrs[c], size)
            uc = u[c]
            vc = v[c]
            dc = depth[c]
            okc = valid[c]
            for i in prange(n):
                xc, yc, zc = _apply_rt(rt, x[i], y[i], z[i])
                uu, vv, ok = project(intr, xc, yc, zc)
                okc[i] = ok & _in_image(intr, uu, vv)
                uc[i] = uu
                vc[i] = vv
                dc[i] = _point_depth(mid, xc, yc, zc)

    return kernel


_PROJECT_KERNELS: dict[int, Any] = {}


def project_kernel(model_id: int) -> Any:
    """The compiled multi-camera projection loop of one camera model (built on first use).

    Signature: ``kernel(x, y, z, rts, intrs, cams, u, v, depth, valid)`` with ``x, y, z`` float32 (N,),
    ``rts`` float64 (C, 12) packed ``camera_from_points``, ``intrs`` float64 (C, INTR_SIZE), ``cams``
    int64 (K,) the cameras of this model, outputs (C, N) float32 / bool; rows not in ``cams`` are
    left untouched.
    """
    kernel = _PROJECT_KERNELS.get(model_id)
    if kernel is None:
        kernel = _PROJECT_KERNELS[model_id] = _make_project_kernel(model_id)
    return kernel


#: Points per block of :func:`project_rows_kernel` (5 float32 + 1 bool scratch rows stay in L1/L2).
ROWS_BLOCK = 1024


def _make_project_rows_kernel(model_id: int) -> Any:
    project = model_projector(_CAM, model_id, _INLINE)
    mid = model_id
    size = _INTR_SIZE
    block = ROWS_BLOCK

    @numba.njit(parallel=True)
    def kernel(points, intr_row, uv, depth, valid):  # type: ignore[no-untyped-def]
        intr = to_fixed_tuple(intr_row, size)
        n = points.shape[0]
        bad = 0
        for b in prange((n + block - 1) // block):
            s = b * block
            m = min(n, s + block) - s
            xs = np.empty(block, np.float32)
            ys = np.empty(block, np.float32)
            zs = np.empty(block, np.float32)
            us = np.empty(block, np.float32)
            vs = np.empty(block, np.float32)
            finite = np.empty(block, np.bool_)
            dv = depth[s : s + m]
            okv = valid[s : s + m]
            for j in range(m):
                xs[j] = points[s + j, 0]
                ys[j] = points[s + j, 1]
                zs[j] = points[s + j, 2]
            for j in range(m):  # no reduction here: it would stop LLVM's vectoriser
                x = np.float64(xs[j])
                y = np.float64(ys[j])
                z = np.float64(zs[j])
                finite[j] = ((x - x) == 0.0) & ((y - y) == 0.0) & ((z - z) == 0.0)
                uu, vv, ok = project(intr, x, y, z)
                okv[j] = ok & _in_image(intr, uu, vv)
                us[j] = uu
                vs[j] = vv
                dv[j] = _point_depth(mid, x, y, z)
            count = 0
            for j in range(m):
                uv[s + j, 0] = us[j]
                uv[s + j, 1] = vs[j]
                count += not finite[j]
            bad += count
        return bad

    return kernel


_PROJECT_ROWS_KERNELS: dict[int, Any] = {}


def project_rows_kernel(model_id: int) -> Any:
    """The compiled one-camera projection of ``(N, 3)`` camera-frame rows of one model (built on first use).

    Signature: ``kernel(points, intr, uv, depth, valid) -> int`` with ``points`` float32 (N, 3) in the
    camera optical frame, ``intr`` float64 (INTR_SIZE,), outputs ``uv`` float32 (N, 2), ``depth``
    float32 (N,), ``valid`` bool (N,). Returns the number of points with a NaN or infinite coordinate
    (their outputs are meaningless; the caller raises).
    """
    kernel = _PROJECT_ROWS_KERNELS.get(model_id)
    if kernel is None:
        kernel = _PROJECT_ROWS_KERNELS[model_id] = _make_project_rows_kernel(model_id)
    return kernel


@numba.njit(parallel=True)
def depth_buffer(u: Any, v: Any, depth: Any, valid: Any, sizes: Any, out: Any) -> None:  # pragma: no cover
    """Nearest depth per pixel: ``out[c, floor(v), floor(u)] = min(depth)`` over valid points.

    ``out`` (C, H, W) float32 must hold +inf; ``sizes`` int64 (C, 2) is each camera's (width, height).
    One thread per camera walks its points in order, so the result is deterministic.
    """
    for c in prange(u.shape[0]):
        w = sizes[c, 0]
        h = sizes[c, 1]
        for i in range(u.shape[1]):
            if valid[c, i]:
                col = min(int(math.floor(u[c, i])), w - 1)  # float32 rounding can reach the edge
                row = min(int(math.floor(v[c, i])), h - 1)
                d = depth[c, i]
                if d < out[c, row, col]:
                    out[c, row, col] = d


@numba.njit(parallel=True)
def deskew(
    points: Any,
    offsets: Any,
    sensor_index: Any,
    index_stride: int,
    base_time: Any,
    rts: Any,
    ts: Any,
    trans: Any,
    quat: Any,
    clamp: bool,
    frame: Any,
    out: Any,
) -> None:  # pragma: no cover - compiled
    """Motion-compensate every point: sensor frame at its own time -> output frame at the reference.

    Point ``i`` belongs to sensor ``s = sensor_index[i * index_stride]`` (stride 0: one sensor) and
    was captured at ``base_time[s] + offsets[i]`` [µs]. See :func:`kernels._math.transform.deskew_point`.
    """
    for i in prange(points.shape[0]):
        s = sensor_index[i * index_stride]
        t = base_time[s] + np.int64(offsets[i])
        ox, oy, oz = _deskew_point(
            points[i, 0], points[i, 1], points[i, 2], t, rts[s], ts, trans, quat, clamp, frame
        )
        out[i, 0] = ox
        out[i, 1] = oy
        out[i, 2] = oz


@numba.njit(parallel=True)
def radar_velocity(
    points: Any,
    v_r: Any,
    offsets: Any,
    sensor_index: Any,
    base_time: Any,
    rts: Any,
    ts: Any,
    trans: Any,
    quat: Any,
    clamp: bool,
    out: Any,
) -> None:  # pragma: no cover - compiled
    """Ego-motion-compensated radial velocity of every radar return (see ``radar_point_velocity``)."""
    for i in prange(points.shape[0]):
        s = sensor_index[i]
        t = base_time[s] + np.int64(offsets[i])
        out[i] = _radar_point_velocity(
            points[i, 0], points[i, 1], points[i, 2], v_r[i], t, rts[s], ts, trans, quat, clamp
        )
