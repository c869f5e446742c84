"""CPU kernels: the scalar math of :mod:`kernels._math` inlined into numba ``prange`` loops.

Private: call the public functions of :mod:`kernels` instead; these trust their inputs.

Projection (measured, see ``benchmarks/RESULTS.md``): the camera math is compiled twice from one
source, in float64 and in float32 (``retarget(..., real=np.float32)``: every constant becomes
float32, so with float32 points and intrinsics nothing promotes). Kernels work in blocks of
:data:`BLOCK` points of the flat ``(3 N,)`` view of the ``(N, 3)`` rows, while the block sits in
L1. The one-camera kernel reads the interleaved rows, projects and writes interleaved ``uv``,
depth and valid in one fused loop. The multi-camera kernel first moves the block into each
camera's frame (a loop writing local structure-of-arrays), then projects in a second loop:
measured 1.7x faster than one loop doing both (for the one-camera kernel the fused loop is the
faster one). The loop indices are **unsigned**: with signed ones numba adds a negative-index
wrap-around select to every access and LLVM no longer sees the stride-3 / stride-2 interleaved
groups, so the loop stays scalar (measured 2.5x slower; that is why earlier versions copied rows
into local structure-of-arrays first). Masks are combined with ``&`` (no short-circuit branches).
A scalar reduction inside the math loop also stops the vectoriser, so the one-camera kernel checks
for non-finite inputs in a second loop over the block's floats, from L1. The projection kernels
are cached on disk per model and precision (:func:`kernels._cache.cached_njit`, which also
follows edits to the inlined ``kernels/_math``).
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import prange
from numba.np.unsafe.ndarray import to_fixed_tuple

from kernels._cache import cached_njit
from kernels._jit import model_projector
from kernels._math import camera as _camera_math
from kernels._math import transform as _transform_math
from kernels._math.retarget import retarget

__all__ = [
    "BLOCK",
    "REALS",
    "deskew",
    "depth_buffer",
    "project_kernel",
    "project_rows_kernel",
    "radar_velocity",
]

_INLINE = numba.njit(inline="always")
#: Arithmetic type per precision name ("float32" computes in single precision end to end).
REALS: dict[str, Any] = {"float64": np.float64, "float32": np.float32}
_CAMS = {name: retarget(_camera_math.DEVICE_FUNCTIONS, _INLINE, real=real) for name, real in REALS.items()}
_TFS = {name: retarget(_transform_math.DEVICE_FUNCTIONS, _INLINE, real=real) for name, real in REALS.items()}
_TF = _TFS["float64"]

_INTR_SIZE = _camera_math.INTR_SIZE
_deskew_point = _TF["deskew_point"]
_radar_point_velocity = _TF["radar_point_velocity"]
#: FMA contraction only: ``arcp`` / ``afn`` were measured no faster and cost accuracy.
_FASTMATH = {"contract"}


#: Points per block: 12 KiB of float32 rows, re-read from L1 for every camera and the NaN count.
BLOCK = 1024
_U = np.uint64


def _make_project_kernel(model_id: int, precision: str) -> Any:
    cam = _CAMS[precision]
    project = model_projector(cam, model_id, _INLINE)
    apply_rt = _TFS[precision]["apply_rt"]
    in_image = cam["in_image"]
    point_depth = cam["point_depth"]
    real = REALS[precision]
    mid = model_id
    size = _INTR_SIZE
    block = BLOCK
    u0, u1, u2, u3 = _U(0), _U(1), _U(2), _U(3)

    @cached_njit(parallel=True, fastmath=_FASTMATH, key=f"project/model={mid}/{precision}")
    def kernel(points, rts, intrs, cams, u, v, depth, valid):  # type: ignore[no-untyped-def]
        n = points.shape[0]
        flat = points.reshape(3 * n)
        for b in prange((n + block - 1) // block):
            s = b * block
            m = min(n, s + block) - s
            rows = flat[3 * s : 3 * (s + m)]
            xs = np.empty(block, real)
            ys = np.empty(block, real)
            zs = np.empty(block, real)
            for j in range(cams.shape[0]):
                c = cams[j]
                rt = to_fixed_tuple(rts[c], 12)  # type: ignore[call-arg, var-annotated]
                intr = to_fixed_tuple(intrs[c], size)
                for i in range(u0, _U(m)):  # unsigned indices: no wrap-around selects, so it vectorises
                    k = u3 * i
                    xs[i], ys[i], zs[i] = apply_rt(rt, real(rows[k]), real(rows[k + u1]), real(rows[k + u2]))
                uc = u[c, s : s + m]
                vc = v[c, s : s + m]
                dc = depth[c, s : s + m]
                okc = valid[c, s : s + m]
                for i in range(u0, _U(m)):  # a separate loop: 1.7x faster than transforming in it
                    xc = xs[i]
                    yc = ys[i]
                    zc = zs[i]
                    uu, vv, ok = project(intr, xc, yc, zc)
                    okc[i] = ok & in_image(intr, uu, vv)
                    uc[i] = uu
                    vc[i] = vv
                    dc[i] = point_depth(mid, xc, yc, zc)

    return kernel


_PROJECT_KERNELS: dict[tuple[int, str], Any] = {}


def project_kernel(model_id: int, precision: str = "float32") -> Any:
    """The compiled multi-camera projection loop of one camera model (built on first use).

    Signature: ``kernel(points, rts, intrs, cams, u, v, depth, valid)`` with ``points`` float32
    C-contiguous (N, 3) rows, ``rts`` (C, 12) packed ``camera_from_points`` and ``intrs``
    (C, INTR_SIZE), both of the ``precision`` dtype, ``cams`` int64 (K,) the cameras of this model,
    outputs (C, N) float32 / bool; rows not in ``cams`` are left untouched.
    """
    key = (model_id, precision)
    kernel = _PROJECT_KERNELS.get(key)
    if kernel is None:
        kernel = _PROJECT_KERNELS[key] = _make_project_kernel(model_id, precision)
    return kernel


def _make_project_rows_kernel(model_id: int, precision: str) -> Any:
    cam = _CAMS[precision]
    project = model_projector(cam, model_id, _INLINE)
    in_image = cam["in_image"]
    point_depth = cam["point_depth"]
    real = REALS[precision]
    mid = model_id
    size = _INTR_SIZE
    block = BLOCK
    u0, u1, u2, u3 = _U(0), _U(1), _U(2), _U(3)

    @cached_njit(parallel=True, fastmath=_FASTMATH, key=f"project_rows/model={mid}/{precision}")
    def kernel(points, intr_row, uv, depth, valid):  # type: ignore[no-untyped-def]
        intr = to_fixed_tuple(intr_row, size)  # type: ignore[call-arg, var-annotated]
        n = points.shape[0]
        flat = points.reshape(3 * n)
        flat_uv = uv.reshape(2 * n)
        bad = 0
        for b in prange((n + block - 1) // block):
            s = b * block
            m = min(n, s + block) - s
            rows = flat[3 * s : 3 * (s + m)]
            out = flat_uv[2 * s : 2 * (s + m)]
            dv = depth[s : s + m]
            okv = valid[s : s + m]
            for i in range(u0, _U(m)):  # unsigned indices and no reduction: LLVM vectorises it
                k = u3 * i
                x = real(rows[k])
                y = real(rows[k + u1])
                z = real(rows[k + u2])
                uu, vv, ok = project(intr, x, y, z)
                okv[i] = ok & in_image(intr, uu, vv)
                out[u2 * i] = uu
                out[u2 * i + u1] = vv
                dv[i] = point_depth(mid, x, y, z)
            nonfinite = False
            for k in range(u0, _U(3 * m)):  # the block's floats again, from L1
                w = rows[k]
                nonfinite |= (w - w) != 0.0  # NaN for NaN and +-inf
            bad += nonfinite
        return bad

    return kernel


_PROJECT_ROWS_KERNELS: dict[tuple[int, str], Any] = {}


def project_rows_kernel(model_id: int, precision: str = "float32") -> Any:
    """The compiled one-camera projection of ``(N, 3)`` camera-frame rows of one model (built on first use).

    Signature: ``kernel(points, intr, uv, depth, valid) -> int`` with ``points`` float32 (N, 3)
    C-contiguous in the camera optical frame, ``intr`` (INTR_SIZE,) of the ``precision`` dtype,
    outputs ``uv`` float32 (N, 2), ``depth`` float32 (N,), ``valid`` bool (N,). Returns the number
    of blocks with a NaN or infinite coordinate: nonzero when there is one (outputs are then
    meaningless; the caller raises).
    """
    key = (model_id, precision)
    kernel = _PROJECT_ROWS_KERNELS.get(key)
    if kernel is None:
        kernel = _PROJECT_ROWS_KERNELS[key] = _make_project_rows_kernel(model_id, precision)
    return kernel


@cached_njit(parallel=True)
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


@cached_njit(parallel=True)
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


@cached_njit(parallel=True)
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
