"""Per-element math of cell-wise ground segmentation, shared by the CPU and CUDA kernels.

Plain scalar functions (``math``, scalars, tuples and array indexing only; no numba import): compiled
for both targets by :func:`kernels._jit.compile_module`.

Model
-----
The ground is a height field on a square grid of ``nc x nc`` cells of side ``cell`` [m] centred on
the sensor (cell ``(cx, cy)`` covers ``[-half + cx * cell, -half + (cx + 1) * cell)`` in x, likewise
in y; points outside are clamped onto the border cells). Its estimate is built in three passes:

1. every cell takes the lowest ``z`` of its points (``+inf`` when empty);
2. pits filled: a cell deeper than its neighbours allow is raised (:func:`fill_pit`);
3. a slope-limited lower envelope: ``g[c] <- min(g[c], g[n] + max_slope * d(c, n))`` over the 8
   neighbours ``n`` at distance ``d`` (Jacobi sweeps). Cells whose lowest point is not ground (the
   inside of a car footprint, a bush) drop to what their neighbours allow; ramps up to ``max_slope``
   and curbs lower than the height threshold survive untouched. Each sweep reaches one cell further;
4. a point is ground when ``z - g[cell] < threshold``; its height above ground is ``z - g[cell]``.
"""

from __future__ import annotations

import math


def grid_axis_index(v: float, half: float, inv_cell: float, nc: int) -> int:
    """Cell index along one axis of ``v`` [m], clamped to ``[0, nc - 1]`` (floor, not int())."""
    k = int(math.floor((v + half) * inv_cell))
    k = 0 if k < 0 else k
    return nc - 1 if k > nc - 1 else k


def ground_cell(x: float, y: float, half: float, inv_cell: float, nc: int) -> int:
    """Flat index ``cx * nc + cy`` of the grid cell holding ``(x, y)`` [m]."""
    return grid_axis_index(x, half, inv_cell, nc) * nc + grid_axis_index(y, half, inv_cell, nc)


def relax_cell(g, c: int, nc: int, side: float, diag: float) -> float:  # type: ignore[no-untyped-def]
    """One Jacobi step of the slope-limited envelope for cell ``c`` of the flat height field ``g``.

    Parameters
    ----------
    g : array of shape (nc * nc,), float32
        Current ground heights [m] (``+inf`` for unknown).
    c : int
        Flat cell index.
    nc : int
        Cells per side.
    side, diag : float
        Allowed rise to an edge neighbour and to a diagonal neighbour [m]
        (``max_slope * cell`` and ``max_slope * cell * sqrt(2)``).

    Returns
    -------
    float
        ``min(g[c], min_n g[n] + rise_n)``.
    """
    cx = c // nc
    cy = c - cx * nc
    best = float(g[c])
    for dx in range(-1, 2):
        nx = cx + dx
        if nx >= 0 and nx < nc:
            for dy in range(-1, 2):
                ny = cy + dy
                if ny >= 0 and ny < nc and (dx != 0 or dy != 0):
                    rise = diag if dx != 0 and dy != 0 else side
                    cand = g[nx * nc + ny] + rise
                    best = cand if cand < best else best
    return best


def fill_pit(g, c: int, nc: int, side: float, diag: float) -> float:  # type: ignore[no-untyped-def]
    """Raise a cell lying deeper than its neighbours allow (a low outlier: multipath, reflections).

    Every finite neighbour ``n`` bounds the ground from below by ``g[n] - rise_n``; the cell is raised
    to the **third** lowest of these bounds (so pits of one or two cells are filled, while a cell with
    fewer than three finite neighbours is kept as it is).
    """
    a = math.inf
    b = math.inf
    t = math.inf
    cx = c // nc
    cy = c - cx * nc
    for dx in range(-1, 2):
        nx = cx + dx
        if nx >= 0 and nx < nc:
            for dy in range(-1, 2):
                ny = cy + dy
                if ny >= 0 and ny < nc and (dx != 0 or dy != 0):
                    rise = diag if dx != 0 and dy != 0 else side
                    v = g[nx * nc + ny] - rise
                    if v < a:
                        t = b
                        b = a
                        a = v
                    elif v < b:
                        t = b
                        b = v
                    elif v < t:
                        t = v
    own = float(g[c])
    return t if t < math.inf and t > own else own


def height_above(z: float, g, cell: int) -> float:  # type: ignore[no-untyped-def]
    """Height [m] of a point at ``z`` above the ground estimate of its cell."""
    return float(z - g[cell])


#: Functions compiled for each target (see :func:`kernels._math.retarget.retarget`).
DEVICE_FUNCTIONS = (grid_axis_index, ground_cell, relax_cell, fill_pit, height_above)
