"""Compiled 4-DOF point-to-plane ICP of :mod:`tracking.snap_motion` (numba; private).

The NumPy + ``scipy.spatial.cKDTree`` version, :func:`tracking.snap_motion._register_reference`, is the
reference: the tests compare the two on random and real inputs. Same algorithm, same correspondence
rule and reuse bounds; the nearest target points come from a dense uniform grid (cells of half the
smallest correspondence radius, searched ring by ring outwards until no unseen point can be nearer)
instead of a kd-tree. For the few hundred to 1,500 points of one object this avoids the Python and
NumPy overhead of the reference's twenty small iterations.

* :func:`grid_build` — counting-sort of points into a dense ``(nx, ny, nz)`` grid (CSR layout).
* :func:`normals` — each point's normal from its k nearest neighbours (closed-form 3 x 3 eigenvector).
* :func:`register` — the ICP loop; returns the move, the information matrix, inlier fractions and RMS.

Exact ties between target points are resolved to the lower index (the kd-tree resolves them its own
way); nearest neighbours are otherwise exact, as in the reference.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

__all__ = ["MAX_CELLS", "grid_build", "normals", "register"]

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
def _knn(
    qx: float,
    qy: float,
    qz: float,
    pts: Any,
    grid: Any,
    cell: float,
    radius: float,
    best_d: Any,
    best_j: Any,
    first_only: bool,
) -> None:  # pragma: no cover - compiled
    """The ``k = len(best_d)`` nearest points closer than ``radius``, by a ring search around ``q``.

    Cells at Chebyshev distance 0, 1, 2, ... from ``q``'s cell are visited; after ring ``R`` every point
    closer than ``R * cell`` has been seen, so the search stops once that bound passes ``radius`` or the
    k-th squared distance found, or (``first_only``) at the first point closer than ``radius``. Fills
    ``best_d`` (squared distances, ascending; inf where fewer were found, points beyond ``radius``
    included when seen) and ``best_j`` (indices, -1 where none; exact ties: lower index first).
    """
    lo, dims, start, order = grid
    k_best = best_d.shape[0]
    for a in range(k_best):
        best_d[a] = np.inf
        best_j[a] = -1
    cx = _cell_of(qx, lo[0], cell)
    cy = _cell_of(qy, lo[1], cell)
    cz = _cell_of(qz, lo[2], cell)
    r2 = radius * radius
    if radius < np.inf:
        rings = int(math.ceil(radius / cell)) + 1
    else:  # every cell of the grid, from wherever q is
        outside = max(max(-cx, cx - dims[0] + 1), max(max(-cy, cy - dims[1] + 1), max(-cz, cz - dims[2] + 1)))
        rings = max(dims[0], max(dims[1], dims[2])) + max(outside, 0)
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
                        c = base + iz
                        for s in range(start[c], start[c + 1]):
                            j = order[s]
                            dx = pts[j, 0] - qx
                            dy = pts[j, 1] - qy
                            dz = pts[j, 2] - qz
                            d = dx * dx + dy * dy + dz * dz
                            last = k_best - 1
                            if d < best_d[last] or (d == best_d[last] and j < best_j[last]):
                                a = last
                                while a > 0 and (
                                    d < best_d[a - 1] or (d == best_d[a - 1] and j < best_j[a - 1])
                                ):
                                    best_d[a] = best_d[a - 1]
                                    best_j[a] = best_j[a - 1]
                                    a -= 1
                                best_d[a] = d
                                best_j[a] = j
                            if first_only and best_d[0] < r2:
                                return
                    iz += step
        bound = ring * cell - _RING_SLACK_M
        if bound > 0.0 and (bound * bound >= r2 or best_d[k_best - 1] <= bound * bound):
            break


@numba.njit(cache=True)
def normals(pts: Any, k: int, grid: Any, cell: float) -> Any:  # pragma: no cover - compiled
    """Unit normals (N, 3): the least-variance direction of each point's ``k`` nearest neighbours.

    Same neighbourhoods as ``cKDTree(pts).query(pts, k)`` (the point itself included; exact ties aside)
    and the eigenvector of the smallest eigenvalue of their scatter matrix, as
    :func:`tracking.snap_motion._normals` (``numpy.linalg.eigh``) computes it, up to sign; solved in closed
    form (:func:`_least_axis`).
    """
    m = pts.shape[0]
    k = min(k, m)
    out = np.empty((m, 3))
    best_d = np.empty(k)
    best_j = np.empty(k, np.int64)
    for i in range(m):
        _knn(pts[i, 0], pts[i, 1], pts[i, 2], pts, grid, cell, np.inf, best_d, best_j, False)
        mx = 0.0
        my = 0.0
        mz = 0.0
        for a in range(k):
            j = best_j[a]
            mx += pts[j, 0]
            my += pts[j, 1]
            mz += pts[j, 2]
        mx /= k
        my /= k
        mz /= k
        sxx = sxy = sxz = syy = syz = szz = 0.0
        for a in range(k):
            j = best_j[a]
            dx = pts[j, 0] - mx
            dy = pts[j, 1] - my
            dz = pts[j, 2] - mz
            sxx += dx * dx
            sxy += dx * dy
            sxz += dx * dz
            syy += dy * dy
            syz += dy * dz
            szz += dz * dz
        out[i, 0], out[i, 1], out[i, 2] = _least_axis(sxx, sxy, sxz, syy, syz, szz)
    return out


@numba.njit(cache=True)
def _least_axis(
    a00: float, a01: float, a02: float, a11: float, a12: float, a22: float
) -> tuple[float, float, float]:  # pragma: no cover - compiled
    """Unit eigenvector of the smallest eigenvalue of the symmetric 3 x 3 matrix ``a`` (closed form).

    Eigenvalues by the trigonometric formula of the characteristic cubic (after scaling by the largest
    entry), the eigenvector as the longest cross product of two rows of ``a - λ_min I``. An isotropic
    matrix (every direction an eigenvector) gives ``(0, 0, 1)``.
    """
    scale = max(abs(a00), abs(a01), abs(a02), abs(a11), abs(a12), abs(a22))
    if scale == 0.0:
        return 0.0, 0.0, 1.0
    a00 /= scale
    a01 /= scale
    a02 /= scale
    a11 /= scale
    a12 /= scale
    a22 /= scale
    q = (a00 + a11 + a22) / 3.0
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    b00, b11, b22 = a00 - q, a11 - q, a22 - q
    p2 = b00 * b00 + b11 * b11 + b22 * b22 + 2.0 * p1
    if p2 <= 0.0:
        return 0.0, 0.0, 1.0
    p = math.sqrt(p2 / 6.0)
    det = b00 * (b11 * b22 - a12 * a12) - a01 * (a01 * b22 - a12 * a02) + a02 * (a01 * a12 - b11 * a02)
    r = min(max(det / (2.0 * p * p * p), -1.0), 1.0)
    lam = q + 2.0 * p * math.cos(math.acos(r) / 3.0 + 2.0 * math.pi / 3.0)  # the smallest root
    r0 = (a00 - lam, a01, a02)
    r1 = (a01, a11 - lam, a12)
    r2 = (a02, a12, a22 - lam)
    best = (0.0, 0.0, 0.0)
    best_n = -1.0
    for u, v in ((r0, r1), (r0, r2), (r1, r2)):
        c = (u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0])
        n = c[0] * c[0] + c[1] * c[1] + c[2] * c[2]
        if n > best_n:
            best_n = n
            best = c
    if best_n <= 0.0:
        return 0.0, 0.0, 1.0
    inv = 1.0 / math.sqrt(best_n)
    return best[0] * inv, best[1] * inv, best[2] * inv


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
    two_d = np.empty(2)
    two_j = np.empty(2, np.int64)
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
                _knn(moved[i, 0], moved[i, 1], moved[i, 2], dst, grid, cell, radius, two_d, two_j, False)
                s1, s2, j = two_d[0], two_d[1], two_j[0]
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
            _knn(dst[i, 0], dst[i, 1], dst[i, 2], moved, mgrid, cell, last, two_d[:1], two_j[:1], True)
            if two_d[0] < last * last:
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
