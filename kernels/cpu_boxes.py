"""CPU box kernels: the scalar box and polygon math (:mod:`kernels._math`) in ``prange`` loops.

Private: call :mod:`kernels.boxes` and :mod:`kernels.box_iou` instead; these trust their inputs
(float64 parameter rows from :func:`kernels._box_host.box_params`, grids from
:func:`kernels._box_host.build_grid`). The kernels are cached on disk
(:func:`kernels._cache.cached_njit`), so only the first process compiles them.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import prange

from kernels._cache import cached_njit
from kernels._math import box as _box_math
from kernels._math import polygon as _polygon_math
from kernels._math.retarget import retarget

__all__ = [
    "fill_grid",
    "group_by_box",
    "greedy_nms",
    "nms_mask",
    "giou_matrix",
    "iou_matrix",
    "points_count",
    "points_first",
    "points_pairs",
]

_INLINE = numba.njit(inline="always")
_BOX = retarget(_box_math.DEVICE_FUNCTIONS, _INLINE)
_POLY = retarget(_polygon_math.DEVICE_FUNCTIONS, _INLINE)

_first_box = _BOX["first_box"]
_count_boxes = _BOX["count_boxes"]
_write_boxes = _BOX["write_boxes"]
_pair_iou = _POLY["pair_iou"]
_pair_giou = _POLY["pair_giou"]
_SCRATCH = _polygon_math.SCRATCH_SIZE


@cached_njit()
def fill_grid(ranges: Any, nx: int, cell_start: Any, cell_boxes: Any) -> None:  # pragma: no cover - compiled
    """Counting-sort the box-cell entries into CSR (boxes ascending within each cell).

    ``ranges`` int64 (M, 4) ``(ix0, iy0, ix1, iy1)``; ``cell_start`` int64 (cells + 1) zeroed.
    """
    m = ranges.shape[0]
    for j in range(m):
        for iy in range(ranges[j, 1], ranges[j, 3] + 1):
            for ix in range(ranges[j, 0], ranges[j, 2] + 1):
                cell_start[iy * nx + ix + 1] += 1
    for c in range(1, cell_start.shape[0]):
        cell_start[c] += cell_start[c - 1]
    cursor = cell_start[:-1].copy()
    for j in range(m):
        for iy in range(ranges[j, 1], ranges[j, 3] + 1):
            for ix in range(ranges[j, 0], ranges[j, 2] + 1):
                c = iy * nx + ix
                cell_boxes[cursor[c]] = j
                cursor[c] += 1


@cached_njit(parallel=True)
def points_first(
    points: Any, bp: Any, grid: Any, cell_start: Any, cell_boxes: Any, out: Any
) -> None:  # pragma: no cover
    """``out[i]`` = lowest index of a box containing point ``i``, or -1."""
    for i in prange(points.shape[0]):
        out[i] = _first_box(
            np.float64(points[i, 0]),
            np.float64(points[i, 1]),
            np.float64(points[i, 2]),
            bp,
            grid,
            cell_start,
            cell_boxes,
        )


@cached_njit(parallel=True)
def points_count(
    points: Any, bp: Any, grid: Any, cell_start: Any, cell_boxes: Any, first: Any, nhit: Any
) -> None:  # pragma: no cover - compiled
    """First containing box and the number of containing boxes of every point."""
    for i in prange(points.shape[0]):
        f, k = _count_boxes(
            np.float64(points[i, 0]),
            np.float64(points[i, 1]),
            np.float64(points[i, 2]),
            bp,
            grid,
            cell_start,
            cell_boxes,
        )
        first[i] = f
        nhit[i] = k


@cached_njit(parallel=True)
def points_pairs(
    points: Any, bp: Any, grid: Any, cell_start: Any, cell_boxes: Any, pair_start: Any, pair_box: Any
) -> None:  # pragma: no cover - compiled
    """Write the containing boxes of point ``i`` to ``pair_box[pair_start[i]:pair_start[i + 1]]``."""
    for i in prange(points.shape[0]):
        _write_boxes(
            np.float64(points[i, 0]),
            np.float64(points[i, 1]),
            np.float64(points[i, 2]),
            bp,
            grid,
            cell_start,
            cell_boxes,
            pair_box,
            pair_start[i],
        )


@cached_njit()
def group_by_box(
    pair_start: Any, pair_box: Any, counts: Any, offsets: Any, indices: Any
) -> None:  # pragma: no cover
    """Per-box CSR of point indices from per-point box lists (points ascending within each box).

    ``counts`` int32 (M,) and ``offsets`` int64 (M + 1,) are zeroed on entry.
    """
    n = pair_start.shape[0] - 1
    for k in range(pair_box.shape[0]):
        counts[pair_box[k]] += 1
    for j in range(counts.shape[0]):
        offsets[j + 1] = offsets[j] + counts[j]
    cursor = offsets[:-1].copy()
    for i in range(n):
        for k in range(pair_start[i], pair_start[i + 1]):
            j = pair_box[k]
            indices[cursor[j]] = i
            cursor[j] += 1


@cached_njit(parallel=True)
def iou_matrix(pa: Any, pb: Any, three_d: bool, out: Any) -> None:  # pragma: no cover - compiled
    """``out[i, j]`` = BEV (or 3D) IoU of boxes ``pa[i]`` and ``pb[j]``."""
    for i in prange(pa.shape[0]):
        scratch = np.empty(_SCRATCH, np.float64)
        for j in range(pb.shape[0]):
            out[i, j] = _pair_iou(pa, i, pb, j, three_d, scratch)


@cached_njit(parallel=True)
def giou_matrix(pa: Any, pb: Any, three_d: bool, out: Any) -> None:  # pragma: no cover - compiled
    """``out[i, j]`` = BEV (or 3D) generalised IoU of boxes ``pa[i]`` and ``pb[j]``."""
    for i in prange(pa.shape[0]):
        scratch = np.empty(_SCRATCH, np.float64)
        for j in range(pb.shape[0]):
            out[i, j] = _pair_giou(pa, i, pb, j, three_d, scratch)


@cached_njit(parallel=True)
def nms_mask(
    bp: Any,
    ranges: Any,
    nx: int,
    cell_start: Any,
    cell_boxes: Any,
    three_d: bool,
    threshold: float,
    mask: Any,
) -> None:  # pragma: no cover - compiled
    """Bit ``j`` of row ``i`` of ``mask`` (uint64 words, zeroed) = IoU(i, j) > threshold, for j > i.

    Boxes are in score order. Only boxes sharing a grid cell are compared, each pair once: in the
    first cell (lowest ``ix``, then ``iy``) common to both ranges.
    """
    for i in prange(bp.shape[0]):
        scratch = np.empty(_SCRATCH, np.float64)
        for iy in range(ranges[i, 1], ranges[i, 3] + 1):
            for ix in range(ranges[i, 0], ranges[i, 2] + 1):
                c = iy * nx + ix
                for k in range(cell_start[c], cell_start[c + 1]):
                    j = cell_boxes[k]
                    if j <= i:
                        continue
                    if max(ranges[i, 0], ranges[j, 0]) != ix or max(ranges[i, 1], ranges[j, 1]) != iy:
                        continue
                    if _pair_iou(bp, i, bp, j, three_d, scratch) > threshold:
                        mask[i, j >> 6] |= np.uint64(1) << np.uint64(j & 63)


@cached_njit()
def greedy_nms(mask: Any) -> Any:  # pragma: no cover - compiled
    """Greedy pass over the suppression mask (rows in score order): positions kept, ascending."""
    m = mask.shape[0]
    removed = np.zeros(mask.shape[1], np.uint64)
    keep = np.empty(m, np.int64)
    n = 0
    for i in range(m):
        w = i >> 6
        if removed[w] & (np.uint64(1) << np.uint64(i & 63)):
            continue
        keep[n] = i
        n += 1
        for k in range(w, mask.shape[1]):
            removed[k] |= mask[i, k]
    return keep[:n]
