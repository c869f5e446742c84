"""Points in oriented boxes: first box per point, count per box and per-box point lists.

Public entry points (exported by :mod:`kernels`): :func:`points_in_boxes` and
:func:`points_in_boxes_counts`. Boxes are bucketed into a uniform BEV grid (cell edge from the boxes'
extents, see :func:`kernels._box_host.build_grid`), so each point tests only the boxes listed in its
own cell, not every box.

Containment rule (inclusive): a point is inside box ``[x, y, z, l, w, h, yaw]`` when, in float64,
``|dx cos + dy sin| <= l/2``, ``|dy cos - dx sin| <= w/2`` and ``|dz| <= h/2`` with
``(dx, dy, dz)`` the point minus the box centre and ``cos, sin`` NumPy's float64 cosine and sine of
the yaw. Points on faces, edges and corners are inside. On the CPU and in numba's CUDA simulator the
result is bit-exact against a NumPy evaluation of this formula; a real GPU may contract the products
into fused multiply-adds, which can flip points within about 1e-15 relative of a face.

Boxes are validated and turned into parameter rows and the grid on the host (they are few); with
device inputs only the boxes make that round trip, the points stay on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels._box_host import BevGrid, box_params, build_grid, check_boxes
from kernels.dispatch import Backend, Placement, place

__all__ = ["BoxPoints", "points_in_boxes", "points_in_boxes_counts"]

_MAX_POINTS = 2**31 - 1


@dataclass(frozen=True, slots=True)
class BoxPoints:
    """Which points lie in which boxes.

    Arrays live where the inputs lived (NumPy for host inputs; the device library's arrays for
    device inputs).

    Attributes
    ----------
    first : array of int32, shape (N,)
        Lowest index of a box containing each point, -1 for none.
    counts : array of int32, shape (M,)
        Number of points inside each box. A point inside several (overlapping) boxes counts for
        each of them, so ``counts.sum() >= (first >= 0).sum()``.
    offsets : array of int64, shape (M + 1,)
        CSR offsets: the points of box ``j`` are ``indices[offsets[j]:offsets[j + 1]]``.
    indices : array of int32, shape (counts.sum(),)
        Point indices, ascending within each box.
    """

    first: Any
    counts: Any
    offsets: Any
    indices: Any

    def points_of(self, box: int) -> Any:
        """Indices of the points inside box ``box`` (ascending)."""
        return self.indices[int(self.offsets[box]) : int(self.offsets[box + 1])]


def _prepare(
    points: Any, boxes: Any, backend: str | Backend
) -> tuple[Placement, Any, npt.NDArray[np.float64], BevGrid]:
    placement = place(backend, {"points": points, "boxes": boxes})
    pts = placement.host("points", points, np.float32, (None, 3))
    if pts.shape[0] > _MAX_POINTS:
        from kernels.errors import InvalidInputError

        raise InvalidInputError(f"points must hold fewer than 2**31 rows, got {pts.shape[0]}")
    if placement.on_device:
        host_boxes = check_boxes(
            "boxes", placement.host("boxes", boxes, np.float32, (None, 7)).copy_to_host()
        )
    else:
        host_boxes = check_boxes("boxes", boxes)
    params = box_params(host_boxes)
    return placement, pts, params, build_grid(params)


def points_in_boxes(points: Any, boxes: Any, *, backend: str | Backend = "auto") -> Any:
    """Index of the first (lowest-index) box containing each point.

    Parameters
    ----------
    points : array_like of float32, shape (N, 3)
        Points [m], same frame as the boxes. NumPy, or a CUDA array (CuPy, torch) to run on the GPU.
    boxes : array_like of float32, shape (M, 7)
        ``[x, y, z, length, width, height, yaw]`` [m, rad]; centre, full sizes (non-negative) and
        heading of the box's x axis about +z. On the same side (host or device) as ``points``.
    backend : {"auto", "cpu", "cuda"}
        ``"auto"`` runs where the arrays live.

    Returns
    -------
    array of int32, shape (N,)
        Box index per point, -1 outside every box (points on a face are inside).

    Raises
    ------
    InvalidInputError
        Wrong shapes, NaN or infinite values, negative box sizes.
    """
    placement, pts, params, grid = _prepare(points, boxes, backend)
    n = pts.shape[0]
    owner, out = placement.empty((n,), np.int32)
    if n == 0:
        return placement.result(owner)
    if placement.backend is Backend.CPU:
        from kernels import cpu_boxes

        cpu_boxes.points_first(pts, params, grid.grid, grid.cell_start, grid.cell_boxes, out)
    else:
        from kernels import cuda_boxes
        from kernels.cuda import launch_config

        cuda_boxes.points_first[launch_config(n)](
            pts, *(placement.small(a) for a in (params, grid.grid, grid.cell_start, grid.cell_boxes)), out
        )
    return placement.result(owner)


def points_in_boxes_counts(points: Any, boxes: Any, *, backend: str | Backend = "auto") -> BoxPoints:
    """First box per point, number of points per box and the per-box point lists.

    Parameters
    ----------
    points : array_like of float32, shape (N, 3)
        Points [m], same frame as the boxes.
    boxes : array_like of float32, shape (M, 7)
        ``[x, y, z, length, width, height, yaw]`` [m, rad].
    backend : {"auto", "cpu", "cuda"}
        ``"auto"`` runs where the arrays live.

    Returns
    -------
    BoxPoints
        ``first`` as :func:`points_in_boxes`; ``counts``, ``offsets``, ``indices`` list every point
        inside each box (overlapping boxes share points).
    """
    placement, pts, params, grid = _prepare(points, boxes, backend)
    if placement.backend is Backend.CPU:
        return _counts_cpu(pts, params, grid)
    return _counts_cuda(placement, pts, params, grid)


def _counts_cpu(pts: Any, params: npt.NDArray[np.float64], grid: BevGrid) -> BoxPoints:
    from kernels import cpu_boxes

    n = pts.shape[0]
    m = params.shape[0]
    first = np.full(n, -1, np.int32)
    nhit = np.zeros(n, np.int32)
    if n:
        cpu_boxes.points_count(pts, params, grid.grid, grid.cell_start, grid.cell_boxes, first, nhit)
    pair_start = np.zeros(n + 1, np.int64)
    np.cumsum(nhit, out=pair_start[1:])
    pair_box = np.empty(int(pair_start[-1]), np.int32)
    if pair_box.size:
        cpu_boxes.points_pairs(pts, params, grid.grid, grid.cell_start, grid.cell_boxes, pair_start, pair_box)
    counts = np.zeros(m, np.int32)
    offsets = np.zeros(m + 1, np.int64)
    indices = np.empty(pair_box.size, np.int32)
    cpu_boxes.group_by_box(pair_start, pair_box, counts, offsets, indices)
    return BoxPoints(first, counts, offsets, indices)


def _counts_cuda(placement: Placement, pts: Any, params: npt.NDArray[np.float64], grid: BevGrid) -> BoxPoints:
    from kernels import cuda_boxes
    from kernels.cuda import launch_config

    n = pts.shape[0]
    m = params.shape[0]
    dev = [placement.small(a) for a in (params, grid.grid, grid.cell_start, grid.cell_boxes)]
    first_owner, first = placement.empty((n,), np.int32, fill=-1)
    counts_owner, counts = placement.empty((max(m, 1),), np.int32, fill=0)
    if n:
        cuda_boxes.points_count[launch_config(n)](pts, *dev, first, counts)
    host_counts = counts.copy_to_host()[:m]
    host_offsets = np.zeros(m + 1, np.int64)
    np.cumsum(host_counts, out=host_offsets[1:])
    total = int(host_offsets[-1])
    offsets_owner, offsets = placement.empty((m + 1,), np.int64)
    offsets.copy_to_device(host_offsets)
    indices_owner, indices = placement.empty((total,), np.int32)
    if total:
        cursor = placement.small(np.zeros(m, np.int32))
        cuda_boxes.points_scatter[launch_config(n)](pts, *dev, offsets, cursor, indices)
        cuda_boxes.sort_segments[launch_config(m)](offsets, indices)
    return BoxPoints(
        placement.result(first_owner),
        placement.result(counts_owner)[:m],
        placement.result(offsets_owner),
        placement.result(indices_owner),
    )
