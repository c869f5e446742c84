"""Numba ray casting against the ground plane ``z = 0`` and yaw-only boxes (private; see lidar/radar).

Hit ids: ``-2`` no hit within range, ``-1`` ground, ``k >= 0`` the k-th box of the caller's box list.
Boxes are passed as rows ``[cx, cy, cz, half_length, half_width, half_height, cos(yaw), sin(yaw)]``.
A ray starting inside a box ignores that box (only entering hits count). Results are deterministic: every
ray is computed independently, without reductions across threads.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

__all__ = ["box_rows", "cast_rays", "cast_spinning"]


@numba.njit(inline="always", cache=True)
def _axis(
    lo: float, ld: float, half: float, t_near: float, t_far: float, cos_in: float
) -> tuple[float, float, float]:
    """Clip the ray's [t_near, t_far] interval against one slab ``|lo + t ld| <= half``."""
    if abs(ld) < 1e-12:
        if abs(lo) > half:
            return math.inf, -math.inf, cos_in
        return t_near, t_far, cos_in
    inv = 1.0 / ld
    t1 = (-half - lo) * inv
    t2 = (half - lo) * inv
    if t1 > t2:
        t1, t2 = t2, t1
    if t1 > t_near:
        t_near, cos_in = t1, abs(ld)
    return t_near, min(t_far, t2), cos_in


@numba.njit(inline="always", cache=True)
def _slab(
    ox: float,
    oy: float,
    oz: float,
    dx: float,
    dy: float,
    dz: float,
    cx: float,
    cy: float,
    cz: float,
    hl: float,
    hw: float,
    hh: float,
    c: float,
    s: float,
) -> tuple[float, float]:
    """Entry distance along the unit ray and |cos| of the incidence angle; (inf, 0) when missed."""
    rx, ry = ox - cx, oy - cy
    t_near, t_far, cos_in = _axis(c * rx + s * ry, c * dx + s * dy, hl, -math.inf, math.inf, 0.0)
    t_near, t_far, cos_in = _axis(-s * rx + c * ry, -s * dx + c * dy, hw, t_near, t_far, cos_in)
    t_near, t_far, cos_in = _axis(oz - cz, dz, hh, t_near, t_far, cos_in)
    if t_near > t_far or t_near <= 0.0:
        return math.inf, 0.0
    return t_near, cos_in


@numba.njit(cache=True)
def _spinning_kernel(
    origins: npt.NDArray[np.float64],
    col_yaw: npt.NDArray[np.float64],
    el_cos: npt.NDArray[np.float64],
    el_sin: npt.NDArray[np.float64],
    dyn_xy: npt.NDArray[np.float64],
    dyn_fix: npt.NDArray[np.float64],
    stat: npt.NDArray[np.float64],
    min_range: float,
    max_range: float,
    out_t: npt.NDArray[np.float64],
    out_id: npt.NDArray[np.int32],
    out_cos: npt.NDArray[np.float64],
) -> None:
    n_col, n_beam = out_t.shape
    n_dyn, n_stat = dyn_fix.shape[0], stat.shape[0]
    for c in range(n_col):
        ox, oy, oz = origins[c, 0], origins[c, 1], origins[c, 2]
        cyaw, syaw = math.cos(col_yaw[c]), math.sin(col_yaw[c])
        cand = np.empty(n_dyn + n_stat, np.int64)
        n = 0
        for m in range(n_dyn + n_stat):
            if m < n_dyn:
                bx, by = dyn_xy[c, m, 0], dyn_xy[c, m, 1]
                rad = math.hypot(dyn_fix[m, 1], dyn_fix[m, 2])
            else:
                bx, by = stat[m - n_dyn, 0], stat[m - n_dyn, 1]
                rad = math.hypot(stat[m - n_dyn, 3], stat[m - n_dyn, 4])
            vx, vy = bx - ox, by - oy
            dist = math.hypot(vx, vy)
            if dist - rad > max_range:
                continue
            if dist > rad + 0.05:
                # Angle between the column's heading and the box centre, wrapped to [-pi, pi].
                ang = math.atan2(vy * cyaw - vx * syaw, vx * cyaw + vy * syaw)
                if abs(ang) > math.asin(rad / dist) + 1e-3:
                    continue
            cand[n] = m
            n += 1
        for b in range(n_beam):
            dx, dy, dz = el_cos[b] * cyaw, el_cos[b] * syaw, el_sin[b]
            best, hid, cos_in = max_range, -2, 0.0
            if dz < 0.0:
                tg = -oz / dz
                if min_range <= tg < best:
                    best, hid, cos_in = tg, -1, -dz
            for j in range(n):
                m = cand[j]
                if m < n_dyn:
                    t, ci = _slab(
                        ox,
                        oy,
                        oz,
                        dx,
                        dy,
                        dz,
                        dyn_xy[c, m, 0],
                        dyn_xy[c, m, 1],
                        dyn_fix[m, 0],
                        dyn_fix[m, 1],
                        dyn_fix[m, 2],
                        dyn_fix[m, 3],
                        dyn_xy[c, m, 2],
                        dyn_xy[c, m, 3],
                    )
                else:
                    r = stat[m - n_dyn]
                    t, ci = _slab(ox, oy, oz, dx, dy, dz, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
                if min_range <= t < best:
                    best, hid, cos_in = t, m, ci
            out_t[c, b] = best
            out_id[c, b] = hid
            out_cos[c, b] = cos_in


@numba.njit(cache=True)
def _rays_kernel(
    origins: npt.NDArray[np.float64],
    dirs: npt.NDArray[np.float64],
    boxes: npt.NDArray[np.float64],
    skip: npt.NDArray[np.int32],
    ground: bool,
    max_range: npt.NDArray[np.float64],
    out_t: npt.NDArray[np.float64],
    out_id: npt.NDArray[np.int32],
    out_cos: npt.NDArray[np.float64],
) -> None:
    for i in range(origins.shape[0]):
        ox, oy, oz = origins[i, 0], origins[i, 1], origins[i, 2]
        dx, dy, dz = dirs[i, 0], dirs[i, 1], dirs[i, 2]
        best, hid, cos_in = max_range[i], -2, 0.0
        if ground and dz < 0.0:
            tg = -oz / dz
            if 0.0 < tg < best:
                best, hid, cos_in = tg, -1, -dz
        for m in range(boxes.shape[0]):
            if m == skip[i]:
                continue
            r = boxes[m]
            t, ci = _slab(ox, oy, oz, dx, dy, dz, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7])
            if t < best:
                best, hid, cos_in = t, m, ci
        out_t[i], out_id[i], out_cos[i] = best, hid, cos_in


def box_rows(boxes: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Kernel rows (M, 8) from kernel-layout boxes (M, 7) ``[x, y, z, l, w, h, yaw]``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 7)
    return np.ascontiguousarray(
        np.column_stack([b[:, :3], b[:, 3:6] / 2.0, np.cos(b[:, 6]), np.sin(b[:, 6])])
    )


def cast_spinning(
    origins: npt.NDArray[np.float64],
    col_yaw: npt.NDArray[np.float64],
    elevations: npt.NDArray[np.float64],
    dyn_xy: npt.NDArray[np.float64],
    dyn_fix: npt.NDArray[np.float64],
    stat_rows: npt.NDArray[np.float64],
    min_range: float,
    max_range: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Cast a spinning lidar's rays, one column per row of ``origins``, boxes moving per column.

    Parameters
    ----------
    origins : ndarray of shape (C, 3), float64, world [m]
        Sensor origin at each column's firing time.
    col_yaw : ndarray of shape (C,), float64 [rad]
        World heading of each column.
    elevations : ndarray of shape (B,), float64 [rad]
        Beam elevations.
    dyn_xy : ndarray of shape (C, M, 4), float64
        Moving boxes per column: ``cx, cy, cos(yaw), sin(yaw)``.
    dyn_fix : ndarray of shape (M, 4), float64
        Their constant ``cz, half_length, half_width, half_height``.
    stat_rows : ndarray of shape (S, 8), float64
        Static boxes (:func:`box_rows`); hit ids ``M + s``.
    min_range, max_range : float
        Accepted hit distances [m].

    Returns
    -------
    range, hit_id, cos_incidence : ndarrays of shape (C, B)
        Distance [m] (``max_range`` where missed), hit id (see module docstring), |cos| of incidence.
    """
    c, b = col_yaw.shape[0], elevations.shape[0]
    out_t = np.empty((c, b))
    out_id = np.empty((c, b), np.int32)
    out_cos = np.empty((c, b))
    _spinning_kernel(
        np.ascontiguousarray(origins),
        np.ascontiguousarray(col_yaw),
        np.cos(elevations),
        np.sin(elevations),
        np.ascontiguousarray(dyn_xy),
        np.ascontiguousarray(dyn_fix),
        np.ascontiguousarray(stat_rows),
        float(min_range),
        float(max_range),
        out_t,
        out_id,
        out_cos,
    )
    return out_t, out_id, out_cos


def cast_rays(
    origins: npt.NDArray[np.float64],
    dirs: npt.NDArray[np.float64],
    rows: npt.NDArray[np.float64],
    max_range: float | npt.NDArray[np.float64],
    ground: bool = True,
    skip: npt.NDArray[np.int32] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int32], npt.NDArray[np.float64]]:
    """Cast N unit rays ``origins + t * dirs`` (world, (N, 3)) against fixed boxes ``rows`` (M, 8).

    ``max_range`` is a scalar or one limit per ray [m]; ``skip`` (N,) names a box each ray ignores (-1: none).
    """
    n = origins.shape[0]
    limit = np.broadcast_to(np.asarray(max_range, dtype=np.float64), (n,))
    skip_ids = np.full(n, -1, np.int32) if skip is None else np.asarray(skip, dtype=np.int32)
    out_t = np.empty(n)
    out_id = np.empty(n, np.int32)
    out_cos = np.empty(n)
    _rays_kernel(
        np.ascontiguousarray(origins, dtype=np.float64),
        np.ascontiguousarray(dirs, dtype=np.float64),
        np.ascontiguousarray(rows, dtype=np.float64).reshape(-1, 8),
        np.ascontiguousarray(skip_ids),
        bool(ground),
        np.ascontiguousarray(limit),
        out_t,
        out_id,
        out_cos,
    )
    return out_t, out_id, out_cos
