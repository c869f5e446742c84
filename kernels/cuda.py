"""CUDA kernels: the scalar math of :mod:`kernels._math` as device functions in grid-stride loops.

Private: call the public functions of :mod:`kernels` instead; these trust their inputs. This is the
only module that imports ``numba.cuda``, and it is imported lazily (on the first CUDA call), so that
``import kernels`` stays cheap and the CUDA simulator can still be switched on before it. ``cuda`` is a
module-level global: numba's simulator swaps that global while a kernel runs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import cuda

from kernels._jit import model_projector
from kernels._math import camera as _camera_math
from kernels._math import transform as _transform_math
from kernels._math.retarget import retarget
from kernels.device import simulator_enabled

__all__ = [
    "count_nonfinite",
    "deskew",
    "depth_buffer",
    "launch_config",
    "project_kernel",
    "radar_velocity",
]

_DEVICE = cuda.jit(device=True, inline=True)
#: The camera and transform math per precision: the same source, float constants retyped for float32.
_CAMS = {
    "float64": retarget(_camera_math.DEVICE_FUNCTIONS, _DEVICE),
    "float32": retarget(_camera_math.DEVICE_FUNCTIONS, _DEVICE, real=np.float32),
}
_TFS = {
    "float64": retarget(_transform_math.DEVICE_FUNCTIONS, _DEVICE),
    "float32": retarget(_transform_math.DEVICE_FUNCTIONS, _DEVICE, real=np.float32),
}
_TF = _TFS["float64"]

_deskew_point = _TF["deskew_point"]
_radar_point_velocity = _TF["radar_point_velocity"]

#: Threads per block and the most blocks of one launch (grid-stride loops cover the rest).
THREADS_PER_BLOCK = 256
MAX_BLOCKS = 65_535
#: Under the simulator every thread is a Python thread: keep launches tiny.
SIM_THREADS_PER_BLOCK = 32
SIM_MAX_BLOCKS = 4


def launch_config(n: int) -> tuple[int, int]:
    """Blocks and threads per block for a grid-stride loop over ``n`` elements.

    Parameters
    ----------
    n : int
        Number of elements (points, or cameras x points).

    Returns
    -------
    (int, int)
        ``(blocks, threads_per_block)``; at least one block. The simulator gets at most
        ``SIM_MAX_BLOCKS`` blocks of ``SIM_THREADS_PER_BLOCK`` threads.
    """
    if simulator_enabled():
        threads, most = SIM_THREADS_PER_BLOCK, SIM_MAX_BLOCKS
    else:
        threads, most = THREADS_PER_BLOCK, MAX_BLOCKS
    blocks = max(1, min(most, (n + threads - 1) // threads))
    return blocks, threads


def _make_project_kernel(model_id: int, precision: str) -> Any:
    cam = _CAMS[precision]
    project = model_projector(cam, model_id, _DEVICE)
    apply_rt = _TFS[precision]["apply_rt"]
    in_image = cam["in_image"]
    point_depth = cam["point_depth"]
    mid = model_id

    @cuda.jit
    def kernel(points, rts, intrs, cams, u, v, depth, valid):  # type: ignore[no-untyped-def]
        start, stride = cuda.grid(1), cuda.gridsize(1)
        for i in range(start, points.shape[0], stride):
            x = points[i, 0]
            y = points[i, 1]
            z = points[i, 2]
            for j in range(cams.shape[0]):
                c = cams[j]
                rt = rts[c]
                intr = intrs[c]
                xc, yc, zc = apply_rt(rt, x, y, z)
                uu, vv, ok = project(intr, xc, yc, zc)
                valid[c, i] = ok & in_image(intr, uu, vv)
                u[c, i] = uu
                v[c, i] = vv
                depth[c, i] = point_depth(mid, xc, yc, zc)

    return kernel


_PROJECT_KERNELS: dict[tuple[int, str], Any] = {}


def project_kernel(model_id: int, precision: str = "float32") -> Any:
    """The compiled multi-camera projection kernel of one camera model (built on first use).

    Launch as ``kernel[launch_config(N)](points, rts, intrs, cams, u, v, depth, valid)``: ``points``
    float32 (N, 3), other arguments as :func:`kernels.cpu.project_kernel` (``rts`` and ``intrs`` of
    the ``precision`` dtype, "float32" or "float64").
    """
    key = (model_id, precision)
    kernel = _PROJECT_KERNELS.get(key)
    if kernel is None:
        kernel = _PROJECT_KERNELS[key] = _make_project_kernel(model_id, precision)
    return kernel


@cuda.jit
def depth_buffer(u, v, depth, valid, sizes, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Nearest depth per pixel by ``atomic.min`` (float32; the result does not depend on order)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    n = u.shape[1]
    for k in range(start, u.shape[0] * n, stride):
        c = k // n
        i = k - c * n
        if valid[c, i]:
            col = min(int(math.floor(u[c, i])), sizes[c, 0] - 1)
            row = min(int(math.floor(v[c, i])), sizes[c, 1] - 1)
            cuda.atomic.min(out, (c, row, col), depth[c, i])


@cuda.jit
def deskew(points, offsets, sensor_index, index_stride, base_time, rts, ts, trans, quat, clamp, frame, out):  # type: ignore[no-untyped-def]  # noqa: E501  # pragma: no cover
    """Motion compensation, one point per thread (see :func:`kernels.cpu.deskew`)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        s = sensor_index[i * index_stride]
        t = base_time[s] + offsets[i]
        ox, oy, oz = _deskew_point(
            points[i, 0], points[i, 1], points[i, 2], t, rts[s], ts, trans, quat, clamp, frame
        )
        out[i, 0] = ox
        out[i, 1] = oy
        out[i, 2] = oz


@cuda.jit
def radar_velocity(points, v_r, offsets, sensor_index, base_time, rts, ts, trans, quat, clamp, out):  # type: ignore[no-untyped-def]  # noqa: E501  # pragma: no cover
    """Ego-motion-compensated radial velocity, one return per thread (as ``kernels.cpu.radar_velocity``)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        s = sensor_index[i]
        t = base_time[s] + offsets[i]
        out[i] = _radar_point_velocity(
            points[i, 0], points[i, 1], points[i, 2], v_r[i], t, rts[s], ts, trans, quat, clamp
        )


@cuda.jit
def count_nonfinite(values, counter):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add the number of NaN/inf elements of the flat float array ``values`` to ``counter[0]``."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, values.shape[0], stride):
        x = values[i]
        if not (x - x == 0.0):  # NaN and +-inf give NaN
            cuda.atomic.add(counter, 0, 1)
