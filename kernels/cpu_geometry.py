"""CPU kernels of ground segmentation, voxel clustering and cuboid fitting.

Private: call :mod:`kernels.geometry` instead; these trust their inputs. The scalar math of
:mod:`kernels._math.ground`, :mod:`kernels._math.cluster` and :mod:`kernels._math.fit` is inlined
(``numba.njit(inline="always")``) into ``prange`` loops. Two steps are sequential on purpose, being
faster than any parallel form for one sweep: the per-cell minimum (one pass, no atomics needed) and
the union-find over occupied voxels (the CUDA path uses hook-and-compress instead; both label a
component by its smallest voxel index, so the labels are identical). The kernels are cached on disk
(:func:`kernels._cache.cached_njit`), so only the first process compiles them.
"""

from __future__ import annotations

from typing import Any

import numba
from numba import prange

from kernels._cache import cached_njit
from kernels._math import cluster as _cluster_math
from kernels._math import fit as _fit_math
from kernels._math import ground as _ground_math
from kernels._math.retarget import retarget

__all__ = [
    "cluster_labels",
    "counting_order",
    "fit_clusters",
    "ground_cell_min",
    "ground_classify",
    "ground_relax",
    "unique_voxels",
    "voxel_keys",
]

_INLINE = numba.njit(inline="always")
_GR = retarget(_ground_math.DEVICE_FUNCTIONS, _INLINE)
_CL = retarget(_cluster_math.DEVICE_FUNCTIONS, _INLINE)
_FIT = retarget(_fit_math.DEVICE_FUNCTIONS, _INLINE)

_ground_cell = _GR["ground_cell"]
_relax_cell = _GR["relax_cell"]
_height_above = _GR["height_above"]
_fill_pit = _GR["fill_pit"]
_voxel_key = _CL["voxel_key"]
_neighbour_range = _CL["neighbour_range"]
_fit_selected = _FIT["fit_selected"]
_NO_KEY = _cluster_math.NO_KEY


@cached_njit(parallel=True)
def ground_cell_min(
    points: Any, half: float, inv_cell: float, nc: int, cell_of: Any, gmin: Any
) -> None:  # pragma: no cover
    """Cell of every point (parallel), then the lowest ``z`` per cell (one sequential pass)."""
    n = points.shape[0]
    for i in prange(n):
        cell_of[i] = _ground_cell(points[i, 0], points[i, 1], half, inv_cell, nc)
    for i in range(n):
        c = cell_of[i]
        z = points[i, 2]
        if z < gmin[c]:
            gmin[c] = z


@cached_njit()
def ground_relax(
    g: Any, tmp: Any, nc: int, side: float, diag: float, iterations: int
) -> None:  # pragma: no cover
    """Fill pits, then ``iterations`` Jacobi sweeps of the slope-limited envelope; the result ends in ``g``.

    Sequential on purpose: a grid of 160 x 160 cells takes ~2 ms, while ``2 * iterations`` parallel
    regions cost a thread barrier each (tens of ms on a loaded 2-core machine).
    """
    for c in range(nc * nc):
        tmp[c] = _fill_pit(g, c, nc, side, diag)
    for c in range(nc * nc):
        g[c] = tmp[c]
    for _ in range(iterations):
        changed = False
        for c in range(nc * nc):
            v = _relax_cell(g, c, nc, side, diag)
            tmp[c] = v
            changed |= v != g[c]
        if not changed:  # fixed point: further sweeps change nothing (same result as the CUDA path)
            break
        for c in range(nc * nc):
            g[c] = tmp[c]


@cached_njit(parallel=True)
def ground_classify(
    points: Any, cell_of: Any, g: Any, threshold: float, ground: Any, height: Any
) -> None:  # pragma: no cover
    """Height above the cell's ground and the ground flag of every point."""
    for i in prange(points.shape[0]):
        h = _height_above(points[i, 2], g, cell_of[i])
        height[i] = h
        ground[i] = h < threshold


@cached_njit(parallel=True)
def voxel_keys(
    points: Any, mask: Any, origin: Any, inv_size: Any, dims: Any, keys: Any
) -> None:  # pragma: no cover
    """Packed voxel key of every point (``NO_KEY`` where ``mask`` is False or outside the grid)."""
    for i in prange(points.shape[0]):
        k = _voxel_key(points[i, 0], points[i, 1], points[i, 2], origin, inv_size, dims)
        keys[i] = k if mask[i] else _NO_KEY


@cached_njit()
def unique_voxels(keys: Any, order: Any, vkeys: Any, point_voxel: Any) -> int:  # pragma: no cover
    """Walk the points in key order: unique keys into ``vkeys``, each point's voxel; returns the count."""
    nv = 0
    prev = -1
    for j in range(order.shape[0]):
        i = order[j]
        k = keys[i]
        if k == _NO_KEY:
            point_voxel[i] = -1
            continue
        if k != prev:
            vkeys[nv] = k
            nv += 1
            prev = k
        point_voxel[i] = nv - 1
    return nv


@cached_njit()
def _find(parent: Any, v: int) -> int:  # pragma: no cover
    while parent[v] != v:
        parent[v] = parent[parent[v]]  # path halving
        v = parent[v]
    return v


@cached_njit()
def cluster_labels(
    vkeys: Any, nv: int, dims: Any, dz: int, parent: Any, label: Any
) -> int:  # pragma: no cover
    """Union-find over occupied voxels (``dz``-reach neighbourhood); labels ordered by smallest voxel.

    Only the five "backward" columns (smaller keys) are searched: every edge is seen once.
    Returns the number of components; ``label[v]`` is the component of voxel ``v``.
    """
    for v in range(nv):
        parent[v] = v
    for v in range(nv):
        key = vkeys[v]
        for q in range(5):
            dx = -1 if q < 3 else 0
            dy = q - 1 if q < 3 else (-1 if q == 3 else 0)
            lo, hi = _neighbour_range(vkeys, nv, key, dims, dx, dy, dz)
            for u in range(lo, min(hi, v)):
                ru = _find(parent, u)
                rv = _find(parent, v)
                if ru != rv:
                    if ru < rv:
                        parent[rv] = ru
                    else:
                        parent[ru] = rv
    count = 0
    for v in range(nv):
        r = _find(parent, v)
        if r == v:
            label[v] = count
            count += 1
        else:
            label[v] = label[r]
    return count


@cached_njit()
def counting_order(labels: Any, k: int, counts: Any, offsets: Any, order: Any) -> None:  # pragma: no cover
    """Stable counting sort of the labelled points: cluster ``c`` is ``order[offsets[c]:offsets[c+1]]``."""
    for i in range(labels.shape[0]):
        c = labels[i]
        if c >= 0:
            counts[c] += 1
    offsets[0] = 0
    for c in range(k):
        offsets[c + 1] = offsets[c] + counts[c]
    cursor = offsets[:k].copy()
    for i in range(labels.shape[0]):
        c = labels[i]
        if c >= 0:
            order[cursor[c]] = i
            cursor[c] += 1


@cached_njit(parallel=True)
def fit_clusters(
    points: Any,
    ground_z: Any,
    order: Any,
    offsets: Any,
    selected: Any,
    params: Any,
    priors: Any,
    mode: int,
    velocity: Any,
    boxes: Any,
    class_id: Any,
    score: Any,
) -> None:  # pragma: no cover
    """Fit one cuboid per selected cluster (see :func:`kernels._math.fit.fit_cluster`)."""
    for j in prange(selected.shape[0]):
        _fit_selected(
            j,
            points,
            ground_z,
            order,
            offsets,
            selected,
            params,
            priors,
            mode,
            velocity,
            boxes,
            class_id,
            score,
        )
