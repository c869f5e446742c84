"""Per-element cuboid footprint math: sample a box's edges and faces, move them into a camera, clip.

Plain scalar functions (``math``, scalars, tuples, array indexing; no numpy calls, no allocation, no
exceptions, no numba import), compiled as one group with the camera and rigid-transform math by
:func:`kernels._math.retarget.retarget` over :data:`DEVICE_FUNCTIONS` (``kernels/cpu_footprint.py``
with ``numba.njit``, ``kernels/cuda_footprint.py`` with ``numba.cuda.jit(device=True)``).

Sample layout of one (box, camera) pair, ``K`` samples per edge and a ``G x G`` grid per face:

* samples ``0 .. 12 K - 1``: edge ``e = s // K`` at ``tau = (s % K) / (K - 1)``. Edge ``e`` runs along
  box axis ``a = e // 4``; its other two unit coordinates are ``(2 (j & 1) - 1, 2 (j >> 1 & 1) - 1)``
  with ``j = e % 4`` (in axis order). Unit coordinates go from -1 to +1 and scale by the half sizes.
* samples ``12 K .. 12 K + 6 G^2 - 1``: face ``f`` (normal along box axis ``f // 2``, sign
  ``2 (f & 1) - 1``), cell ``c`` at unit coordinates ``((c % G) + 0.5) / G * 2 - 1`` and
  ``((c // G) + 0.5) / G * 2 - 1`` on the two other axes in axis order.

A sample is **valid** when the camera model projects it validly (``project_model``'s ``ok``) and its
depth (``point_depth``: ``z`` for brown_conrady, the range otherwise) is at least ``near``: the near
plane of a pinhole camera, a near sphere for the wide-angle models. An invalid edge sample next to a
valid one along its edge is **clipped**: moved by bisection onto the boundary of the valid domain
(``BISECT_STEPS`` halvings, keeping the valid end) and flagged valid and clipped, so the sampled edge
ends where the camera stops seeing it and projected edges curve as the lens bends them.

Boxes are the float64 parameter rows of :func:`kernels._box_host.box_params` (yaw-only, z-up frame).

``project_model(intr, x, y, z) -> (u, v, ok)`` is not defined here: :func:`compile_group` binds it to
one camera model's projector, so each compiled kernel holds a single model (compiling the generic
nine-model switch into every call site took minutes).
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from kernels._jit import project_function_names
from kernels._math import camera as _camera_math
from kernels._math.camera import DEVICE_FUNCTIONS as _CAMERA
from kernels._math.camera import in_image, point_depth
from kernels._math.retarget import retarget
from kernels._math.transform import apply_rt

#: Edges and faces of a box.
N_EDGES = 12
N_FACES = 6
#: Halvings of the edge parameter interval when clipping a sample onto the valid-domain boundary.
BISECT_STEPS = 24
#: Bits of a sample's flags.
FLAG_VALID = 1
FLAG_IN_IMAGE = 2
FLAG_FACING = 4
FLAG_CLIPPED = 8


def edge_unit(e: int, tau: float) -> tuple[float, float, float]:
    """Unit-box coordinates (each in [-1, 1]) of edge ``e`` at parameter ``tau`` in [0, 1]."""
    axis = e // 4
    j = e - 4 * axis
    s1 = 2.0 * (j & 1) - 1.0
    s2 = 2.0 * ((j >> 1) & 1) - 1.0
    a = 2.0 * tau - 1.0
    if axis == 0:
        return a, s1, s2
    if axis == 1:
        return s1, a, s2
    return s1, s2, a


def face_unit(f: int, cell: int, grid: int) -> tuple[float, float, float]:
    """Unit-box coordinates of cell ``cell`` (row-major, ``grid x grid``) on face ``f``."""
    axis = f // 2
    sign = 2.0 * (f & 1) - 1.0
    a = ((cell % grid) + 0.5) / grid * 2.0 - 1.0
    b = ((cell // grid) + 0.5) / grid * 2.0 - 1.0
    if axis == 0:
        return sign, a, b
    if axis == 1:
        return a, sign, b
    return a, b, sign


def box_point(bp, j: int, lx: float, ly: float, lz: float) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Unit-box coordinates of box ``j`` (parameter rows ``bp``) to the points' frame [m]."""
    x = lx * bp[j, 3]
    y = ly * bp[j, 4]
    c = bp[j, 6]
    s = bp[j, 7]
    return bp[j, 0] + c * x - s * y, bp[j, 1] + s * x + c * y, bp[j, 2] + lz * bp[j, 5]


def camera_point(  # type: ignore[no-untyped-def]
    model_id: int, intr, rt, near: float, x: float, y: float, z: float
) -> tuple[float, float, float, float, float, float, bool]:
    """Move a point into the camera and project it: ``(u, v, depth, xc, yc, zc, valid)``."""
    xc, yc, zc = apply_rt(rt, x, y, z)
    u, v, ok = project_model(intr, xc, yc, zc)  # type: ignore[name-defined]  # noqa: F821 - compile_group
    d = point_depth(model_id, xc, yc, zc)
    return u, v, d, xc, yc, zc, ok & (d >= near)


def edge_valid(model_id: int, intr, rt, near: float, bp, j: int, e: int, tau: float) -> bool:  # type: ignore[no-untyped-def]
    """Whether edge ``e`` of box ``j`` at ``tau`` is valid in the camera (see the module docstring)."""
    lx, ly, lz = edge_unit(e, tau)
    x, y, z = box_point(bp, j, lx, ly, lz)
    res = camera_point(model_id, intr, rt, near, x, y, z)
    return res[6]


def footprint_sample(  # type: ignore[no-untyped-def]
    model_id: int, intr, rt, near: float, bp, j: int, s: int, k_edge: int, grid: int
) -> tuple[float, float, float, float, float, float, int]:
    """Sample ``s`` of box ``j`` in one camera: ``(u, v, depth, xc, yc, zc, flags)``.

    ``u, v`` [px] and ``depth`` [m] are placeholders unless ``flags & FLAG_VALID``; ``xc, yc, zc`` is
    the (possibly clipped) sample in the camera optical frame [m].
    """
    n_edge = N_EDGES * k_edge
    flags = 0
    if s < n_edge:
        e = s // k_edge
        k = s - e * k_edge
        tau = k / (k_edge - 1.0)
        lx, ly, lz = edge_unit(e, tau)
        x, y, z = box_point(bp, j, lx, ly, lz)
        u, v, d, xc, yc, zc, ok = camera_point(model_id, intr, rt, near, x, y, z)
        if not ok:
            good = -1.0
            if k > 0:
                t_prev = (k - 1.0) / (k_edge - 1.0)
                if edge_valid(model_id, intr, rt, near, bp, j, e, t_prev):
                    good = t_prev
            if good < 0.0 and k < k_edge - 1:
                t_next = (k + 1.0) / (k_edge - 1.0)
                if edge_valid(model_id, intr, rt, near, bp, j, e, t_next):
                    good = t_next
            if good >= 0.0:
                bad = tau
                for _ in range(BISECT_STEPS):
                    mid = 0.5 * (good + bad)
                    if edge_valid(model_id, intr, rt, near, bp, j, e, mid):
                        good = mid
                    else:
                        bad = mid
                lx, ly, lz = edge_unit(e, good)
                x, y, z = box_point(bp, j, lx, ly, lz)
                u, v, d, xc, yc, zc, ok = camera_point(model_id, intr, rt, near, x, y, z)
                flags = FLAG_CLIPPED
    else:
        q = s - n_edge
        f = q // (grid * grid)
        cell = q - f * grid * grid
        lx, ly, lz = face_unit(f, cell, grid)
        x, y, z = box_point(bp, j, lx, ly, lz)
        u, v, d, xc, yc, zc, ok = camera_point(model_id, intr, rt, near, x, y, z)
        # Outward normal in the points' frame, then in the camera: facing when it points at the camera.
        axis = f // 2
        sign = 2.0 * (f & 1) - 1.0
        c = bp[j, 6]
        sn = bp[j, 7]
        nx = 0.0
        ny = 0.0
        nz = 0.0
        if axis == 0:
            nx = c * sign
            ny = sn * sign
        elif axis == 1:
            nx = -sn * sign
            ny = c * sign
        else:
            nz = sign
        ncx = rt[0] * nx + rt[1] * ny + rt[2] * nz
        ncy = rt[4] * nx + rt[5] * ny + rt[6] * nz
        ncz = rt[8] * nx + rt[9] * ny + rt[10] * nz
        if ncx * xc + ncy * yc + ncz * zc < 0.0:
            flags = FLAG_FACING
    if ok:
        flags = flags | FLAG_VALID
        if in_image(intr, u, v):
            flags = flags | FLAG_IN_IMAGE
    else:
        flags = flags & FLAG_FACING
    return u, v, d, xc, yc, zc, flags


def store_sample(  # type: ignore[no-untyped-def]
    model_id: int,
    intr,
    rt,
    near: float,
    bp,
    j: int,
    s: int,
    k_edge: int,
    grid: int,
    u,
    v,
    depth,
    points_cam,
    flags,
) -> None:
    """:func:`footprint_sample` stored at row ``j``, column ``s`` (both targets' loop body)."""
    uu, vv, dd, xc, yc, zc, fl = footprint_sample(model_id, intr, rt, near, bp, j, s, k_edge, grid)
    u[j, s] = uu
    v[j, s] = vv
    depth[j, s] = dd
    points_cam[j, s, 0] = xc
    points_cam[j, s, 1] = yc
    points_cam[j, s, 2] = zc
    flags[j, s] = fl


def sample_count(k_edge: int, grid: int) -> int:
    """Samples per (box, camera) pair: ``12 K + 6 G^2``."""
    return N_EDGES * k_edge + N_FACES * grid * grid


#: This module's functions (compile them with :func:`compile_group`, which adds the camera math).
DEVICE_FUNCTIONS = (
    edge_unit,
    face_unit,
    box_point,
    camera_point,
    edge_valid,
    footprint_sample,
    store_sample,
    sample_count,
)


def compile_group(model_id: int, wrap: Callable[[Callable[..., Any]], Any]) -> dict[str, Any]:
    """Compile the footprint math for one camera model: ``{name: wrap(f)}`` (see ``retarget``).

    ``project_model`` is bound to the model's ``project_<model>`` function (or, for a model without
    one, never the case today, a ``KeyError`` names the id).
    """
    name = project_function_names()[model_id]
    proj = getattr(_camera_math, name)
    bound = types.FunctionType(proj.__code__, proj.__globals__, "project_model", proj.__defaults__)
    bound.__annotations__ = dict(proj.__annotations__)
    return retarget((*_CAMERA, apply_rt, *DEVICE_FUNCTIONS, bound), wrap)


__all__ = [
    "BISECT_STEPS",
    "DEVICE_FUNCTIONS",
    "FLAG_CLIPPED",
    "FLAG_FACING",
    "FLAG_IN_IMAGE",
    "FLAG_VALID",
    "N_EDGES",
    "N_FACES",
    "box_point",
    "camera_point",
    "compile_group",
    "edge_unit",
    "edge_valid",
    "face_unit",
    "footprint_sample",
    "sample_count",
    "store_sample",
]
