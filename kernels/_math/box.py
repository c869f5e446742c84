"""Per-element oriented-box math shared by the CPU and CUDA box kernels: containment and BEV cells.

Plain scalar functions: ``math``, scalars, tuples and array indexing only (no numpy calls, no
allocation, no exceptions, no numba import), so that ``kernels/cpu_boxes.py`` wraps each one in
``numba.njit(inline="always")`` and ``kernels/cuda_boxes.py`` in ``numba.cuda.jit(device=True)``
(both through :func:`kernels._math.retarget.retarget` over :data:`DEVICE_FUNCTIONS`).

Conventions
-----------
* A box is ``[x, y, z, length, width, height, yaw]`` (float32 at the API); ``length`` lies along the
  box's own x axis, ``yaw`` turns that axis counter-clockwise about +z [rad].
* Kernels read the float64 **parameter rows** built once on the host by
  :func:`kernels._box_host.box_params`: ``(cx, cy, cz, l/2, w/2, h/2, cos yaw, sin yaw, r)`` with
  ``r = hypot(l/2, w/2)`` the radius of the BEV circumscribed circle (columns ``P_*`` below). The
  cosine and sine come from NumPy on the host, so every target uses the very same numbers.
* Containment rule (inclusive: points on faces, edges and corners are inside), in float64::

      dx = px - cx;  dy = py - cy;  dz = pz - cz
      |dx * c + dy * s| <= l/2  and  |dy * c - dx * s| <= w/2  and  |dz| <= h/2

  evaluated exactly in this order (no fused multiply-add on the CPU), so an independent NumPy
  evaluation of the same formula agrees bit for bit.
* BEV grid: cell ``(ix, iy) = (floor((x - ox) * inv), floor((y - oy) * inv))`` with ``floor``
  (never truncation); cells outside ``[0, nx) x [0, ny)`` hold no box. ``cell_start`` (nx * ny + 1)
  and ``cell_boxes`` form the CSR list of boxes per cell (``iy * nx + ix``), ascending box index.
"""

from __future__ import annotations

import math

#: Columns of a box parameter row.
P_CX = 0
P_CY = 1
P_CZ = 2
P_HL = 3
P_HW = 4
P_HH = 5
P_COS = 6
P_SIN = 7
P_R = 8
N_PARAMS = 9


def point_in_box(px: float, py: float, pz: float, bp, j: int) -> bool:  # type: ignore[no-untyped-def]
    """True when the point lies inside (or on the surface of) box ``j`` of the parameter rows ``bp``."""
    dx = px - bp[j, P_CX]
    dy = py - bp[j, P_CY]
    dz = pz - bp[j, P_CZ]
    c = bp[j, P_COS]
    s = bp[j, P_SIN]
    lx = dx * c + dy * s
    ly = dy * c - dx * s
    inside: bool = (abs(lx) <= bp[j, P_HL]) & (abs(ly) <= bp[j, P_HW]) & (abs(dz) <= bp[j, P_HH])
    return inside


def grid_cell(px: float, py: float, grid) -> int:  # type: ignore[no-untyped-def]
    """Flat BEV cell index ``iy * nx + ix`` of a point, or -1 outside the grid.

    ``grid`` holds ``(ox, oy, inv_cell, nx, ny)`` as float64. The comparisons happen before the
    conversion to an integer, so far-away points never overflow it.
    """
    fx = (px - grid[0]) * grid[2]
    fy = (py - grid[1]) * grid[2]
    nx = grid[3]
    inside = (fx >= 0.0) & (fx < nx) & (fy >= 0.0) & (fy < grid[4])
    if not inside:
        return -1
    return int(math.floor(fy)) * int(nx) + int(math.floor(fx))


def first_box(px: float, py: float, pz: float, bp, grid, cell_start, cell_boxes) -> int:  # type: ignore[no-untyped-def]
    """Lowest index of a box containing the point, or -1; tests only the boxes of the point's cell."""
    cell = grid_cell(px, py, grid)
    if cell < 0:
        return -1
    for k in range(cell_start[cell], cell_start[cell + 1]):
        j = cell_boxes[k]
        if point_in_box(px, py, pz, bp, j):
            return int(j)
    return -1


def count_boxes(  # type: ignore[no-untyped-def]
    px: float, py: float, pz: float, bp, grid, cell_start, cell_boxes
) -> tuple[int, int]:
    """``(first, count)``: the lowest containing box (-1 for none) and how many boxes contain the point."""
    cell = grid_cell(px, py, grid)
    first = -1
    count = 0
    if cell >= 0:
        for k in range(cell_start[cell], cell_start[cell + 1]):
            j = cell_boxes[k]
            if point_in_box(px, py, pz, bp, j):
                if count == 0:
                    first = j
                count += 1
    return first, count


def write_boxes(  # type: ignore[no-untyped-def]
    px: float, py: float, pz: float, bp, grid, cell_start, cell_boxes, out, start: int
) -> int:
    """Write the indices of the boxes containing the point to ``out[start:]`` (ascending); return how many."""
    cell = grid_cell(px, py, grid)
    n = 0
    if cell >= 0:
        for k in range(cell_start[cell], cell_start[cell + 1]):
            j = cell_boxes[k]
            if point_in_box(px, py, pz, bp, j):
                out[start + n] = j
                n += 1
    return n


def sift_down(values, lo: int, root: int, end: int) -> None:  # type: ignore[no-untyped-def]
    """Restore the max-heap property of ``values[lo:lo + end]`` below heap position ``root``."""
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and values[lo + child + 1] > values[lo + child]:
            child += 1
        if values[lo + root] >= values[lo + child]:
            return
        tmp = values[lo + root]
        values[lo + root] = values[lo + child]
        values[lo + child] = tmp
        root = child


def heap_sort(values, lo: int, hi: int) -> None:  # type: ignore[no-untyped-def]
    """Sort ``values[lo:hi]`` ascending in place (heap sort: no scratch space, O(n log n))."""
    n = hi - lo
    for root in range(n // 2 - 1, -1, -1):
        sift_down(values, lo, root, n)
    for end in range(n - 1, 0, -1):
        tmp = values[lo]
        values[lo] = values[lo + end]
        values[lo + end] = tmp
        sift_down(values, lo, 0, end)


#: Every function of this module, to compile as one group (see :func:`kernels._math.retarget.retarget`).
DEVICE_FUNCTIONS = (point_in_box, grid_cell, first_box, count_boxes, write_boxes, sift_down, heap_sort)
