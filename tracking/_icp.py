"""Compiled 4-DOF point-to-plane ICP of :mod:`tracking.snap_motion` (numba; private).

The NumPy + ``scipy.spatial.cKDTree`` version, :func:`tracking.snap_motion._register_reference`, is the
reference: the tests compare the two on random and real inputs. Same algorithm, same correspondence
rule and reuse bounds; the nearest target points come from a dense uniform grid (cells of half the
smallest correspondence radius, searched ring by ring outwards until no unseen point can be nearer)
instead of a kd-tree. For the few hundred to 1,500 points of one object this avoids the Python and
NumPy overhead of the reference's twenty small iterations.

* :func:`grid_build` — counting-sort of points into a dense ``(nx, ny, nz)`` grid (CSR layout).
* :func:`register` — the ICP loop; returns the move, the information matrix, inlier fractions and RMS.

Exact ties between target points are resolved to the lower index (the kd-tree resolves them its own
way); nearest neighbours are otherwise exact, as in the reference.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

__all__ = ["MAX_CELLS", "grid_build", "register"]

#: Largest dense grid built [cells]; beyond it the caller uses the kd-tree reference.
MAX_CELLS = 1 << 22


@numba.njit(cache=True)
def grid_build(pts: Any, cell: float) -> tuple[Any, Any, Any, Any]:  # pragma: no cover - compiled
    """Bucket ``pts`` (M, 3) into cubes of side ``cell``: ``(lo, dims, start, order)``.

    Points of cell ``k = (ix * ny + iy) * nz + iz`` are ``order[start[k]:start[k + 1]]`` in increasing
    index order. ``start`` is empty when the grid would exceed :data:`MAX_CELLS`.
    """
    m = pts.shape[0]
    lo = np.zeros(3)
    dims = np.ones(3, np.int64)
    if m == 0:
        return lo, dims, np.zeros(2, np.int64), np.zeros(0, np.int64)
    for a in range(3):
        mn = pts[0, a]
        mx = pts[0, a]
        for i in range(1, m):
            mn = min(mn, pts[i, a])
            mx = max(mx, pts[i, a])
        lo[a] = mn
        dims[a] = int((mx - mn) / cell) + 1
    ncell = dims[0] * dims[1] * dims[2]
    if ncell > MAX_CELLS:
        return lo, dims, np.zeros(0, np.int64), np.zeros(0, np.int64)
    key = np.empty(m, np.int64)
    start = np.zeros(ncell + 1, np.int64)
    for i in range(m):
        ix = min(int((pts[i, 0] - lo[0]) / cell), dims[0] - 1)
        iy = min(int((pts[i, 1] - lo[1]) / cell), dims[1] - 1)
        iz = min(int((pts[i, 2] - lo[2]) / cell), dims[2] - 1)
        k = (ix * dims[1] + iy) * dims[2] + iz
        key[i] = k
        start[k + 1] += 1
    for k in range(ncell):
        start[k + 1] += start[k]
    fill = start[:-1].copy()
    order = np.empty(m, np.int64)
    for i in range(m):
        order[fill[key[i]]] = i
        fill[key[i]] += 1
    return lo, dims, start, order


@numba.njit(inline="always")
def _cell_of(q: float, lo: float, cell: float) -> int:  # pragma: no cover - compiled
    f = math.floor((q - lo) / cell)
    return int(min(max(f, -1.0e9), 1.0e9))  # far outside: keep the integer conversion defined


#: Slack [m] of the ring search's stopping bound (points binned by rounded divisions at cell faces).
_RING_SLACK_M = 1e-9


@numba.njit(cache=True)
def _shell(
    qx: float,
    qy: float,
    qz: float,
    pts: Any,
    grid: Any,
    cell: float,
    radius: float,
    two: bool,
) -> tuple[float, float, int]:  # pragma: no cover - compiled
    """Ring search around ``q``: cells at Chebyshev distance 0, 1, 2, ... from its cell.

    After ring ``R`` every point closer than ``R * cell`` has been seen, so the search stops once the
    bound passes ``radius`` or (``two``) the second nearest squared distance found, or (not ``two``) as
    soon as one point closer than ``radius`` is seen. Returns squared distances ``(d1, d2)`` and the
    nearest index (lower index on exact ties; -1 when none).
    """
    lo, dims, start, order = grid
    cx = _cell_of(qx, lo[0], cell)
    cy = _cell_of(qy, lo[1], cell)
    cz = _cell_of(qz, lo[2], cell)
    r2 = radius * radius
    d1 = np.inf
    d2 = np.inf
    j1 = -1
    rings = int(math.ceil(radius / cell)) + 1
    for ring in range(rings + 1):
        for ix in range(max(cx - ring, 0), min(cx + ring, dims[0] - 1) + 1):
            on_x = abs(ix - cx) == ring
            for iy in range(max(cy - ring, 0), min(cy + ring, dims[1] - 1) + 1):
                full = on_x or abs(iy - cy) == ring
                z0 = max(cz - ring, 0)
                z1 = min(cz + ring, dims[2] - 1)
                step = 1 if full or ring == 0 else 2 * ring
                base = (ix * dims[1] + iy) * dims[2]
                iz = cz - ring if not full else z0
                while iz <= z1:
                    if iz >= z0:
                        k = base + iz
                        for s in range(start[k], start[k + 1]):
                            j = order[s]
                            dx = pts[j, 0] - qx
                            dy = pts[j, 1] - qy
                            dz = pts[j, 2] - qz
                            d = dx * dx + dy * dy + dz * dz
                            if d < d1 or (d == d1 and j < j1):
                                d2 = d1
                                d1 = d
                                j1 = j
                            elif d < d2:
                                d2 = d
                            if not two and d1 < r2:
                                return d1, d2, j1
                    iz += step
        bound = ring * cell - _RING_SLACK_M
        if bound > 0.0 and (bound * bound >= r2 or (two and d2 <= bound * bound)):
            break
    return d1, d2, j1


@numba.njit(cache=True)
def register(  # pragma: no cover - compiled
    src: Any,
    dst: Any,
    nrm: Any,
    grid: Any,
    cell: float,
    radii: Any,
    iterations: int,
    robust_scale: float,
    margin: float,
) -> tuple[Any, Any, float, float, bool]:
    """ICP of ``src`` onto ``dst``; ``grid`` is :func:`grid_build`'s ``(lo, dims, start, order)`` of ``dst``.

    Returns ``(move (4,), information (3, 3), inlier_fraction, rms, ok)``; ``ok`` False when an
    iteration found fewer than 3 correspondences (the caller reports a failed registration).
    """
    m = src.shape[0]
    x = np.zeros(4)
    ref = np.zeros((m, 3))
    b1 = np.zeros(m)
    b2 = np.zeros(m)
    found = np.zeros(m, np.bool_)
    jq = np.zeros(m, np.int64)
    ok = np.zeros(m, np.bool_)
    moved = np.empty((m, 3))
    rx = np.empty(m)
    ry = np.empty(m)
    info = np.zeros((3, 3))
    rms = np.inf
    nok = 0
    n_radii = radii.shape[0]
    radius = radii[0]
    for it in range(iterations):
        radius = radii[min(it * n_radii // iterations, n_radii - 1)]
        c = math.cos(x[3])
        s = math.sin(x[3])
        for i in range(m):
            rx[i] = c * src[i, 0] - s * src[i, 1]
            ry[i] = s * src[i, 0] + c * src[i, 1]
            moved[i, 0] = rx[i] + x[0]
            moved[i, 1] = ry[i] + x[1]
            moved[i, 2] = src[i, 2] + x[2]
        for i in range(m):
            if it == 0:
                need = True
                ok[i] = False
            else:
                dx = moved[i, 0] - ref[i, 0]
                dy = moved[i, 1] - ref[i, 1]
                dz = moved[i, 2] - ref[i, 2]
                delta = math.sqrt(dx * dx + dy * dy + dz * dz) + margin
                hi = b1[i] + delta
                ok[i] = found[i] and (hi < b2[i] - delta) and (hi < radius)  # same nearest, inside
                need = (not ok[i]) and (b1[i] - delta <= radius + margin)  # not surely outside
            if need:
                # like cKDTree.query(q, k=2, distance_upper_bound=radius)
                s1, s2, j = _shell(moved[i, 0], moved[i, 1], moved[i, 2], dst, grid, cell, radius, True)
                hit = s1 < radius * radius
                ref[i, 0] = moved[i, 0]
                ref[i, 1] = moved[i, 1]
                ref[i, 2] = moved[i, 2]
                b1[i] = math.sqrt(s1) if hit else radius
                b2[i] = min(math.sqrt(s2), radius)
                found[i] = hit
                jq[i] = j
                ok[i] = hit
        nok = 0
        hess = np.zeros((4, 4))
        grad = np.zeros(4)
        info[:] = 0.0
        sq = 0.0
        cap = 3.0 * robust_scale
        jac = np.empty(4)
        for i in range(m):
            if not ok[i]:
                continue
            nok += 1
            j = jq[i]
            n0, n1, n2 = nrm[j, 0], nrm[j, 1], nrm[j, 2]
            r = (
                (moved[i, 0] - dst[j, 0]) * n0
                + (moved[i, 1] - dst[j, 1]) * n1
                + (moved[i, 2] - dst[j, 2]) * n2
            )
            jac[0] = n0
            jac[1] = n1
            jac[2] = n2
            jac[3] = rx[i] * n1 - ry[i] * n0
            w = 1.0 / (1.0 + (r / robust_scale) ** 2)
            for a in range(4):
                grad[a] += jac[a] * w * r
                for b in range(4):
                    hess[a, b] += jac[a] * w * jac[b]
            sel0, sel1, sel2 = jac[0], jac[1], jac[3]
            info[0, 0] += sel0 * sel0
            info[0, 1] += sel0 * sel1
            info[0, 2] += sel0 * sel2
            info[1, 1] += sel1 * sel1
            info[1, 2] += sel1 * sel2
            info[2, 2] += sel2 * sel2
            rc = min(abs(r), cap)
            sq += rc * rc
        if nok < 3:
            return x, np.zeros((3, 3)), 0.0, np.inf, False
        info[1, 0] = info[0, 1]
        info[2, 0] = info[0, 2]
        info[2, 1] = info[1, 2]
        rms = math.sqrt(sq / nok)
        for a in range(4):
            hess[a, a] += 1e-9
        step = -np.linalg.solve(hess, grad)
        x += step
        if it >= 3 and max(abs(step[0]), abs(step[1]), abs(step[2])) < 1e-5 and abs(step[3]) < 1e-6:
            break
    info /= nok
    # Overlap both ways: scattered clutter near a surface matches it one way, not the other.
    c = math.cos(x[3])
    s = math.sin(x[3])
    for i in range(m):
        moved[i, 0] = c * src[i, 0] - s * src[i, 1] + x[0]
        moved[i, 1] = s * src[i, 0] + c * src[i, 1] + x[1]
        moved[i, 2] = src[i, 2] + x[2]
    last = radii[n_radii - 1]
    mgrid = grid_build(moved, cell)
    back = 0
    if mgrid[2].shape[0] > 0:
        for i in range(dst.shape[0]):
            if _shell(dst[i, 0], dst[i, 1], dst[i, 2], moved, mgrid, cell, last, False)[0] < last * last:
                back += 1
    else:  # far-flung source: brute force
        for i in range(dst.shape[0]):
            for k in range(m):
                dx = moved[k, 0] - dst[i, 0]
                dy = moved[k, 1] - dst[i, 1]
                dz = moved[k, 2] - dst[i, 2]
                if dx * dx + dy * dy + dz * dz < last * last:
                    back += 1
                    break
    fraction = min(nok / m, back / dst.shape[0])
    return x, info, fraction, rms, True
