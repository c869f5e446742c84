"""Per-element math of voxel clustering, shared by the CPU and CUDA kernels.

Plain scalar functions (``math``, scalars, tuples and array indexing only; no numba import).

Voxel grid
----------
A box-shaped grid of ``nx x ny x nz`` voxels of size ``(sx, sy, sz)`` [m] whose lowest corner is
``(ox, oy, oz)``. A point's voxel coordinates are ``floor((p - o) / s)`` per axis -- ``floor``, never
``int()``, which truncates towards zero and folds the voxels either side of the origin onto one
(the hash-grid bug of negative coordinates). The packed key ``(ix * ny + iy) * nz + iz`` (int64) sorts
voxels column by column (a column is one ``(ix, iy)``), z fastest, so the voxels of one column are
contiguous in key order and a column's ``z`` range is found with one binary search.

Connectivity
------------
Two occupied voxels are connected when ``|dix| <= 1``, ``|diy| <= 1`` and ``|diz| <= dz``. Components
are labelled by the smallest voxel index (in key order) they contain, so the CPU union-find and the
GPU hook-and-compress iteration produce the same labels, not just the same partition.
"""

from __future__ import annotations

import math

#: Key of a point that belongs to no voxel (masked out or outside the grid); sorts last.
NO_KEY = 9223372036854775807


def voxel_key(  # type: ignore[no-untyped-def]
    x: float, y: float, z: float, origin, inv_size, dims
) -> int:
    """Packed int64 key of the voxel holding ``(x, y, z)``, or ``NO_KEY`` outside the grid.

    Parameters
    ----------
    x, y, z : float
        The point [m].
    origin : array of 3 floats
        Lowest grid corner ``(ox, oy, oz)`` [m].
    inv_size : array of 3 floats
        ``1 / voxel size`` per axis [1/m].
    dims : array of 3 ints
        ``(nx, ny, nz)``.
    """
    ix = int(math.floor((x - origin[0]) * inv_size[0]))
    iy = int(math.floor((y - origin[1]) * inv_size[1]))
    iz = int(math.floor((z - origin[2]) * inv_size[2]))
    inside = ix >= 0 and iy >= 0 and iz >= 0 and ix < dims[0] and iy < dims[1] and iz < dims[2]
    key = (ix * dims[1] + iy) * dims[2] + iz
    return key if inside else NO_KEY


def lower_bound(keys, n: int, value: int) -> int:  # type: ignore[no-untyped-def]
    """First index ``i`` in ``[0, n]`` with ``keys[i] >= value`` (``keys[:n]`` sorted ascending)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if keys[mid] < value:
            lo = mid + 1
        else:
            hi = mid
    return lo


def find_root(parent, v: int) -> int:  # type: ignore[no-untyped-def]
    """Root of ``v`` in the parent forest (``parent[r] == r`` at a root); no path compression."""
    r = v
    while parent[r] != r:
        r = parent[r]
    return r


def neighbour_range(  # type: ignore[no-untyped-def]
    keys, n: int, key: int, dims, dx: int, dy: int, dz: int
) -> tuple[int, int]:
    """Indices ``[lo, hi)`` of the occupied voxels near ``key`` in the column ``(ix + dx, iy + dy)``.

    Only voxels whose z index lies within ``dz`` of the query's count.

    Parameters
    ----------
    keys : array of shape (n,), int64
        Sorted unique voxel keys.
    n : int
        Number of voxels.
    key : int
        Key of the query voxel.
    dims : array of 3 ints
        ``(nx, ny, nz)``.
    dx, dy, dz : int
        Column offsets and the z reach.

    Returns
    -------
    (int, int)
        ``(lo, hi)``; empty (``lo == hi``) when the column lies outside the grid or holds no voxel in reach.
    """
    nz = dims[2]
    col = key // nz
    iz = key - col * nz
    ix = col // dims[1]
    iy = col - ix * dims[1]
    nx = ix + dx
    ny = iy + dy
    ok = nx >= 0 and ny >= 0 and nx < dims[0] and ny < dims[1]
    zlo = iz - dz
    zlo = 0 if zlo < 0 else zlo
    zhi = iz + dz
    zhi = nz - 1 if zhi > nz - 1 else zhi
    base = (nx * dims[1] + ny) * nz
    lo = lower_bound(keys, n, base + zlo) if ok else 0
    hi = lower_bound(keys, n, base + zhi + 1) if ok else 0
    return lo, hi


#: Functions compiled for each target (see :func:`kernels._math.retarget.retarget`).
DEVICE_FUNCTIONS = (voxel_key, lower_bound, find_root, neighbour_range)
