"""CUDA kernels of ground segmentation, voxel clustering and cuboid fitting (grid-stride loops).

Private: call :mod:`kernels.geometry` instead; these trust their inputs. The device functions are the
scalar math of :mod:`kernels._math.ground`, :mod:`kernels._math.cluster` and :mod:`kernels._math.fit`
compiled with ``cuda.jit(device=True)``. ``cuda`` is a module-level global (the simulator swaps it).

Connected components run as hook-and-compress iterations (one thread per voxel): every voxel links
the root of each lower-keyed neighbour and its own root, the larger root under the smaller with
``atomic.min``; a compress pass points every voxel at its root; repeat until nothing changes. Parents
only ever decrease, so the loop ends, and each component's root is its smallest voxel index -- the
same label as the CPU union-find.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import cuda

from kernels._math import cluster as _cluster_math
from kernels._math import fit as _fit_math
from kernels._math import ground as _ground_math
from kernels._math.retarget import retarget
from kernels.cuda import launch_config
from kernels.device import simulator_enabled

if TYPE_CHECKING:
    from kernels.geometry import Clustering, FittedBoxes, GroundSegmentation

__all__ = [
    "run_cluster",
    "run_fit",
    "run_ground",
    "cc_compress",
    "cc_hook",
    "cc_init",
    "fit_clusters",
    "gather_labels",
    "ground_cell_min",
    "ground_classify",
    "ground_fill_pits",
    "ground_relax",
    "head_flags",
    "scatter_voxels",
    "voxel_keys",
]

_DEVICE = cuda.jit(device=True, inline=True)
_GR = retarget(_ground_math.DEVICE_FUNCTIONS, _DEVICE)
_CL = retarget(_cluster_math.DEVICE_FUNCTIONS, _DEVICE)
_FIT = retarget(_fit_math.DEVICE_FUNCTIONS, _DEVICE)

_ground_cell = _GR["ground_cell"]
_relax_cell = _GR["relax_cell"]
_height_above = _GR["height_above"]
_fill_pit = _GR["fill_pit"]
_voxel_key = _CL["voxel_key"]
_neighbour_range = _CL["neighbour_range"]
_find_root = _CL["find_root"]
_fit_selected = _FIT["fit_selected"]
_NO_KEY = _cluster_math.NO_KEY


@cuda.jit
def ground_cell_min(points, half, inv_cell, nc, cell_of, gmin):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Cell of every point and the lowest ``z`` per cell (``atomic.min`` on float32)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        c = _ground_cell(points[i, 0], points[i, 1], half, inv_cell, nc)
        cell_of[i] = c
        cuda.atomic.min(gmin, c, points[i, 2])


@cuda.jit
def ground_relax(g, out, nc, side, diag):  # type: ignore[no-untyped-def]  # pragma: no cover
    """One Jacobi sweep of the slope-limited envelope, ``g`` -> ``out``."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for c in range(start, nc * nc, stride):
        out[c] = _relax_cell(g, c, nc, side, diag)


@cuda.jit
def ground_fill_pits(g, out, nc, side, diag):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Pit filling of every cell, ``g`` -> ``out``."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for c in range(start, nc * nc, stride):
        out[c] = _fill_pit(g, c, nc, side, diag)


@cuda.jit
def ground_classify(points, cell_of, g, threshold, ground, height):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Height above the cell's ground and the ground flag of every point."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        h = _height_above(points[i, 2], g, cell_of[i])
        height[i] = h
        ground[i] = h < threshold


@cuda.jit
def voxel_keys(points, mask, origin, inv_size, dims, keys):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Packed voxel key of every point (``NO_KEY`` where masked out or outside the grid)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        k = _voxel_key(points[i, 0], points[i, 1], points[i, 2], origin, inv_size, dims)
        keys[i] = k if mask[i] else _NO_KEY


@cuda.jit
def head_flags(keys, order, flags):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``flags[j] = 1`` where sorted position ``j`` starts a new (valid) voxel."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, order.shape[0], stride):
        k = keys[order[j]]
        new = j == 0 or keys[order[j - 1]] != k
        flags[j] = 1 if (new and k != _NO_KEY) else 0


@cuda.jit
def scatter_voxels(keys, order, csum, vkeys, point_voxel):  # type: ignore[no-untyped-def]  # pragma: no cover
    """From the inclusive scan of the head flags: unique keys and each point's voxel index."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, order.shape[0], stride):
        i = order[j]
        k = keys[i]
        v = csum[j] - 1
        if k == _NO_KEY:
            point_voxel[i] = -1
        else:
            point_voxel[i] = v
            if j == 0 or keys[order[j - 1]] != k:
                vkeys[v] = k


@cuda.jit
def cc_init(parent):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Every voxel its own root."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for v in range(start, parent.shape[0], stride):
        parent[v] = v


@cuda.jit
def cc_hook(vkeys, dims, dz, parent, changed):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Link the roots across every edge to a lower-keyed neighbour (larger root under smaller)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    nv = parent.shape[0]
    for v in range(start, nv, stride):
        key = vkeys[v]
        for q in range(5):
            dx = -1 if q < 3 else 0
            dy = q - 1 if q < 3 else (-1 if q == 3 else 0)
            lo, hi = _neighbour_range(vkeys, nv, key, dims, dx, dy, dz)
            top = hi if hi < v else v
            for u in range(lo, top):
                ru = _find_root(parent, u)
                rv = _find_root(parent, v)
                if ru != rv:
                    big = ru if ru > rv else rv
                    small = rv if ru > rv else ru
                    cuda.atomic.min(parent, big, small)
                    changed[0] = 1


@cuda.jit
def cc_compress(parent):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Point every voxel at its root."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for v in range(start, parent.shape[0], stride):
        parent[v] = _find_root(parent, v)


@cuda.jit
def gather_labels(point_voxel, parent, compact, labels):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Point label = compact index of its voxel's root (``compact`` = exclusive scan of root flags)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, point_voxel.shape[0], stride):
        v = point_voxel[i]
        labels[i] = compact[parent[v]] if v >= 0 else -1


@cuda.jit
def fit_clusters(  # type: ignore[no-untyped-def]
    points, ground_z, order, offsets, selected, params, priors, mode, velocity, boxes, class_id, score
):  # type: ignore[no-untyped-def]  # noqa: E501  # pragma: no cover
    """One cuboid per selected cluster, one thread each (see :func:`kernels.cpu_geometry.fit_clusters`)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, selected.shape[0], stride):
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


# --- orchestration (called by kernels.geometry with validated, placed arrays) -------------------------


def _cupy() -> Any:
    """CuPy when it can allocate on a device (sorts and scans then stay on the GPU), else None."""
    if simulator_enabled():
        return None
    try:
        import cupy

        return cupy if cupy.cuda.is_available() else None
    except Exception:  # noqa: BLE001 - no CuPy: the host does the sort/scan
        return None


def _argsort(view: Any, stable: bool) -> Any:
    """Device int64 permutation sorting ``view`` (CuPy on the GPU; a host round trip otherwise)."""
    cp = _cupy()
    if cp is not None:
        return cuda.as_cuda_array(cp.argsort(cp.asarray(view)).astype(cp.int64))
    host = view.copy_to_host()
    return cuda.to_device(np.argsort(host, kind="stable" if stable else "quicksort").astype(np.int64))


def _cumsum(view: Any) -> Any:
    """Inclusive int64 scan of a device array."""
    cp = _cupy()
    if cp is not None:
        return cuda.as_cuda_array(cp.cumsum(cp.asarray(view), dtype=cp.int64))
    return cuda.to_device(np.cumsum(view.copy_to_host(), dtype=np.int64))


def run_ground(
    pl: Any, pts: Any, half: float, inv_cell: float, nc: int, side: float, diag: float, iters: int, thr: float
) -> GroundSegmentation:  # noqa: E501
    """Ground segmentation on the device (see :func:`kernels.geometry.segment_ground`)."""
    from kernels.geometry import GroundSegmentation

    n = pts.shape[0]
    cell_of = cuda.device_array(n, np.int64)
    g = cuda.to_device(np.full(nc * nc, np.inf, np.float32))
    tmp = cuda.device_array(nc * nc, np.float32)
    if n:
        ground_cell_min[launch_config(n)](pts, half, inv_cell, nc, cell_of, g)
    ground_fill_pits[launch_config(nc * nc)](g, tmp, nc, side, diag)
    g, tmp = tmp, g
    for _ in range(iters):
        ground_relax[launch_config(nc * nc)](g, tmp, nc, side, diag)
        g, tmp = tmp, g
    ground_owner, ground = pl.empty((n,), np.bool_)
    height_owner, height = pl.empty((n,), np.float32)
    if n:
        ground_classify[launch_config(n)](pts, cell_of, g, thr, ground, height)
    return GroundSegmentation(pl.result(ground_owner), pl.result(height_owner))


def run_cluster(pl: Any, pts: Any, msk: Any, origin: Any, inv_size: Any, dims: Any, reach: int) -> Clustering:
    """Voxel clustering on the device (see :func:`kernels.geometry.cluster_points`)."""
    from kernels.geometry import Clustering

    n = pts.shape[0]
    labels_owner, labels = pl.empty((n,), np.int32)
    if n == 0:
        return Clustering(pl.result(labels_owner), 0)
    keys = cuda.device_array(n, np.int64)
    dorigin, dinv, ddims = cuda.to_device(origin), cuda.to_device(inv_size), cuda.to_device(dims)
    voxel_keys[launch_config(n)](pts, msk, dorigin, dinv, ddims, keys)
    order = _argsort(keys, stable=False)
    flags = cuda.device_array(n, np.int64)
    head_flags[launch_config(n)](keys, order, flags)
    csum = _cumsum(flags)
    nv = int(csum[n - 1 : n].copy_to_host()[0])
    vkeys = cuda.device_array(max(nv, 1), np.int64)
    point_voxel = cuda.device_array(n, np.int64)
    scatter_voxels[launch_config(n)](keys, order, csum, vkeys, point_voxel)
    if nv == 0:
        gather_labels[launch_config(n)](
            point_voxel, cuda.to_device(np.zeros(1, np.int64)), cuda.to_device(np.zeros(1, np.int64)), labels
        )  # noqa: E501
        return Clustering(pl.result(labels_owner), 0)
    parent = cuda.device_array(nv, np.int64)
    cc_init[launch_config(nv)](parent)
    changed = cuda.to_device(np.zeros(1, np.int32))
    while True:
        changed[0:1].copy_to_device(np.zeros(1, np.int32))
        cc_hook[launch_config(nv)](vkeys[:nv], ddims, reach, parent, changed)
        cc_compress[launch_config(nv)](parent)
        if int(changed.copy_to_host()[0]) == 0:
            break
    roots = _root_flags(parent)
    csum_roots = _cumsum(roots)
    count = int(csum_roots[nv - 1 : nv].copy_to_host()[0])
    compact = cuda.device_array(nv, np.int64)
    _exclusive[launch_config(nv)](csum_roots, roots, compact)
    gather_labels[launch_config(n)](point_voxel, parent, compact, labels)
    return Clustering(pl.result(labels_owner), count)


@cuda.jit
def _is_root(parent, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for v in range(start, parent.shape[0], stride):
        out[v] = 1 if parent[v] == v else 0


@cuda.jit
def _exclusive(inclusive, values, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for v in range(start, values.shape[0], stride):
        out[v] = inclusive[v] - values[v]


def _root_flags(parent: Any) -> Any:
    out = cuda.device_array(parent.shape[0], np.int64)
    _is_root[launch_config(parent.shape[0])](parent, out)
    return out


@cuda.jit
def _count_labels(labels, counts):  # type: ignore[no-untyped-def]  # pragma: no cover
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, labels.shape[0], stride):
        c = labels[i]
        if c >= 0:
            cuda.atomic.add(counts, c, 1)


def run_fit(
    pl: Any, pts: Any, lab: Any, gz: Any, k: int, minp: int, params: Any, pri: Any, mode: int, vel: Any
) -> FittedBoxes:  # noqa: E501
    """Cuboid fitting on the device, one thread per cluster (see :func:`kernels.geometry.fit_boxes`)."""
    from kernels.geometry import FittedBoxes

    n = pts.shape[0]
    counts = cuda.to_device(np.zeros(max(k, 1), np.int64))
    if n:
        _count_labels[launch_config(n)](lab, counts)
    host_counts = counts.copy_to_host()[:k]
    # points sorted by label (stable: same order as the CPU counting sort); -1 labels come first
    order = _argsort(lab, stable=True) if n else cuda.device_array(0, np.int64)
    skip = n - int(host_counts.sum())
    offsets = np.concatenate([[0], np.cumsum(host_counts)]).astype(np.int64) + skip
    selected = np.flatnonzero(host_counts >= minp).astype(np.int64)
    m = selected.size
    boxes_owner, boxes = pl.empty((m, 7), np.float32)
    cls_owner, cls = pl.empty((m,), np.int32)
    score_owner, score = pl.empty((m,), np.float32)
    if m:
        fit_clusters[launch_config(m)](
            pts,
            gz,
            order,
            cuda.to_device(offsets),
            cuda.to_device(selected),
            cuda.to_device(params),
            cuda.to_device(pri),
            mode,
            cuda.to_device(np.ascontiguousarray(vel[selected])),
            boxes,
            cls,
            score,
        )
    return FittedBoxes(pl.result(boxes_owner), pl.result(cls_owner), pl.result(score_owner), selected)
