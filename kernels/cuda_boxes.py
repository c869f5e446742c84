"""CUDA box kernels: the scalar box and polygon math (:mod:`kernels._math`) in grid-stride loops.

Private: call :mod:`kernels.boxes` and :mod:`kernels.box_iou` instead; these trust their inputs.
Imported lazily (first CUDA call); ``cuda`` is a module-level global (the simulator swaps it).

Per-box point lists on the device: the count pass adds to per-box counters with ``atomic.add``; the
scatter pass reserves slots with ``atomic.add`` on per-box cursors (arbitrary order), and a last
pass heap-sorts each box's segment (one thread per box), so the lists match the CPU ones exactly.
"""

from __future__ import annotations

import numpy as np
from numba import cuda

from kernels._math import box as _box_math
from kernels._math import polygon as _polygon_math
from kernels._math.retarget import retarget

__all__ = [
    "nms_mask",
    "giou_matrix",
    "iou_matrix",
    "points_count",
    "points_first",
    "points_scatter",
    "sort_segments",
]

_DEVICE = cuda.jit(device=True, inline=True)
_BOX = retarget(_box_math.DEVICE_FUNCTIONS, _DEVICE)
_POLY = retarget(_polygon_math.DEVICE_FUNCTIONS, _DEVICE)

_first_box = _BOX["first_box"]
_count_boxes = _BOX["count_boxes"]
_point_in_box = _BOX["point_in_box"]
_grid_cell = _BOX["grid_cell"]
_heap_sort = _BOX["heap_sort"]
_pair_iou = _POLY["pair_iou"]
_pair_giou = _POLY["pair_giou"]
_SCRATCH = _polygon_math.SCRATCH_SIZE


@cuda.jit
def points_first(points, bp, grid, cell_start, cell_boxes, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``out[i]`` = lowest index of a box containing point ``i``, or -1 (as ``cpu_boxes.points_first``)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        out[i] = _first_box(
            np.float64(points[i, 0]),
            np.float64(points[i, 1]),
            np.float64(points[i, 2]),
            bp,
            grid,
            cell_start,
            cell_boxes,
        )


@cuda.jit
def points_count(points, bp, grid, cell_start, cell_boxes, first, counts):  # type: ignore[no-untyped-def]  # pragma: no cover
    """First containing box of every point; ``counts[j]`` += points inside box ``j`` (zeroed int32)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        px = np.float64(points[i, 0])
        py = np.float64(points[i, 1])
        pz = np.float64(points[i, 2])
        f = -1
        cell = _grid_cell(px, py, grid)
        if cell >= 0:
            for k in range(cell_start[cell], cell_start[cell + 1]):
                j = cell_boxes[k]
                if _point_in_box(px, py, pz, bp, j):
                    if f < 0:
                        f = j
                    cuda.atomic.add(counts, j, 1)
        first[i] = f


@cuda.jit
def points_scatter(points, bp, grid, cell_start, cell_boxes, offsets, cursor, indices):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Put point ``i`` into the list of every box containing it (slot order arbitrary)."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, points.shape[0], stride):
        px = np.float64(points[i, 0])
        py = np.float64(points[i, 1])
        pz = np.float64(points[i, 2])
        cell = _grid_cell(px, py, grid)
        if cell >= 0:
            for k in range(cell_start[cell], cell_start[cell + 1]):
                j = cell_boxes[k]
                if _point_in_box(px, py, pz, bp, j):
                    slot = cuda.atomic.add(cursor, j, 1)
                    indices[offsets[j] + slot] = i


@cuda.jit
def sort_segments(offsets, indices):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Sort ``indices[offsets[j]:offsets[j + 1]]`` ascending, one thread per box."""
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for j in range(start, offsets.shape[0] - 1, stride):
        _heap_sort(indices, offsets[j], offsets[j + 1])


@cuda.jit
def iou_matrix(pa, pb, three_d, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``out[i, j]`` = BEV (or 3D) IoU of ``pa[i]`` and ``pb[j]``, one pair per thread."""
    scratch = cuda.local.array(_SCRATCH, np.float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    k = pb.shape[0]
    for t in range(start, pa.shape[0] * k, stride):
        i = t // k
        j = t - i * k
        out[i, j] = _pair_iou(pa, i, pb, j, three_d, scratch)


@cuda.jit
def giou_matrix(pa, pb, three_d, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """``out[i, j]`` = BEV (or 3D) generalised IoU of ``pa[i]`` and ``pb[j]``, one pair per thread."""
    scratch = cuda.local.array(_SCRATCH, np.float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    k = pb.shape[0]
    for t in range(start, pa.shape[0] * k, stride):
        i = t // k
        j = t - i * k
        out[i, j] = _pair_giou(pa, i, pb, j, three_d, scratch)


@cuda.jit
def nms_mask(bp, ranges, nx, cell_start, cell_boxes, three_d, threshold, mask):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Suppression bits of row ``i`` (one thread per box), as :func:`kernels.cpu_boxes.nms_mask`."""
    scratch = cuda.local.array(_SCRATCH, np.float64)
    start, stride = cuda.grid(1), cuda.gridsize(1)
    for i in range(start, bp.shape[0], stride):
        for iy in range(ranges[i, 1], ranges[i, 3] + 1):
            for ix in range(ranges[i, 0], ranges[i, 2] + 1):
                c = iy * nx + ix
                for k in range(cell_start[c], cell_start[c + 1]):
                    j = cell_boxes[k]
                    first_common = (
                        max(ranges[i, 0], ranges[j, 0]) == ix and max(ranges[i, 1], ranges[j, 1]) == iy
                    )
                    if j > i and first_common:
                        if _pair_iou(bp, i, bp, j, three_d, scratch) > threshold:
                            mask[i, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
