"""Per-pair rotated-box overlap math (exact BEV polygon intersection) shared by the CPU and CUDA kernels.

Plain scalar functions (see :mod:`kernels._math`): ``math``, scalars and array indexing only; no
allocation. Functions that need room for polygon vertices take a caller-allocated float64
``scratch`` array of :data:`SCRATCH_SIZE` elements (CPU: one ``np.empty`` per loop row; CUDA:
``cuda.local.array``). The scratch holds two vertex slots of :data:`SLOT` floats each pair
(x at ``slot * 2 * SLOT + i``, y at ``slot * 2 * SLOT + SLOT + i``).

Boxes are rows of the float64 parameter arrays of :mod:`kernels._math.box`
(``cx, cy, cz, l/2, w/2, h/2, cos yaw, sin yaw, r``; the columns are repeated here as numbers so this
module stays self-contained; compile it with :func:`kernels._math.retarget.retarget`).

Method: box ``a``'s BEV rectangle is expressed in box ``b``'s own frame (centres subtracted first, so
large world coordinates lose no precision), clipped by ``b``'s four axis-aligned half-planes
(Sutherland-Hodgman; a convex quadrilateral clipped four times has at most 8 vertices) and its
area taken with the shoelace formula. Pairs whose circumscribed circles are disjoint skip the
polygon work. Degenerate boxes (zero length or width) have zero area; a pair with an empty union
gets IoU 0.
"""

from __future__ import annotations

#: Vertices one scratch slot can hold (Sutherland-Hodgman needs 8, the monotone hull 16).
SLOT = 16
SCRATCH_SIZE = 4 * SLOT
_STRIDE = 2 * SLOT
# Offsets of the x and y arrays of slot 0 and slot 1 in the scratch.
_X0 = 0
_Y0 = SLOT
_X1 = 2 * SLOT
_Y1 = 3 * SLOT


def load_rect_in_frame(ra, i: int, rb, j: int, scratch, slot: int) -> None:  # type: ignore[no-untyped-def]
    """Write the 4 BEV corners of box ``ra[i]`` (counter-clockwise) in the frame of box ``rb[j]``."""
    ca = ra[i, 6]
    sa = ra[i, 7]
    cb = rb[j, 6]
    sb = rb[j, 7]
    ox = ra[i, 0] - rb[j, 0]
    oy = ra[i, 1] - rb[j, 1]
    hl = ra[i, 3]
    hw = ra[i, 4]
    for k in range(4):
        u = hl if (k == 0) | (k == 3) else -hl
        v = hw if k < 2 else -hw
        wx = ox + ca * u - sa * v
        wy = oy + sa * u + ca * v
        scratch[slot * _STRIDE + k] = cb * wx + sb * wy
        scratch[slot * _STRIDE + SLOT + k] = cb * wy - sb * wx


def clip_axis(scratch, src: int, n: int, dst: int, axis: int, sign: float, bound: float) -> int:  # type: ignore[no-untyped-def]
    """Clip polygon slot ``src`` (``n`` vertices) to ``sign * coord[axis] <= bound`` into slot ``dst``.

    Returns the number of output vertices (0 when nothing is left).
    """
    m = 0
    for k in range(n):
        p = k - 1 if k > 0 else n - 1
        cx = scratch[src * _STRIDE + k]
        cy = scratch[src * _STRIDE + SLOT + k]
        px = scratch[src * _STRIDE + p]
        py = scratch[src * _STRIDE + SLOT + p]
        dc = sign * (cy if axis == 1 else cx) - bound
        dp = sign * (py if axis == 1 else px) - bound
        if (dc <= 0.0) != (dp <= 0.0):
            t = dp / (dp - dc)
            scratch[dst * _STRIDE + m] = px + t * (cx - px)
            scratch[dst * _STRIDE + SLOT + m] = py + t * (cy - py)
            m += 1
        if dc <= 0.0:
            scratch[dst * _STRIDE + m] = cx
            scratch[dst * _STRIDE + SLOT + m] = cy
            m += 1
    return m


def polygon_area(scratch, slot: int, n: int) -> float:  # type: ignore[no-untyped-def]
    """Absolute shoelace area of the ``n`` vertices in ``slot``."""
    acc = 0.0
    for k in range(n):
        p = k - 1 if k > 0 else n - 1
        xo = slot * _STRIDE
        yo = xo + SLOT
        acc += scratch[xo + p] * scratch[yo + k] - scratch[xo + k] * scratch[yo + p]
    return abs(0.5 * acc)


def intersection_area_bev(ra, i: int, rb, j: int, scratch) -> float:  # type: ignore[no-untyped-def]
    """Exact BEV intersection area of box ``ra[i]`` and box ``rb[j]`` [m^2]."""
    dx = ra[i, 0] - rb[j, 0]
    dy = ra[i, 1] - rb[j, 1]
    reach = ra[i, 8] + rb[j, 8]
    if dx * dx + dy * dy > reach * reach:
        return 0.0
    load_rect_in_frame(ra, i, rb, j, scratch, 0)
    n = 4
    for plane in range(4):  # x <= l/2, -x <= l/2, y <= w/2, -y <= w/2; slots alternate 0 -> 1 -> 0
        axis = plane >> 1
        n = clip_axis(scratch, plane & 1, n, 1 - (plane & 1), axis, 1.0 - 2.0 * (plane & 1), rb[j, 3 + axis])
    return polygon_area(scratch, 0, n) if n >= 3 else 0.0


def hull_area_bev(ra, i: int, rb, j: int, scratch) -> float:  # type: ignore[no-untyped-def]
    """Area of the convex hull of both BEV rectangles [m^2] (monotone chain over the 8 corners)."""
    load_rect_in_frame(ra, i, rb, j, scratch, 0)
    hl = rb[j, 3]
    hw = rb[j, 4]
    for k in range(4):
        scratch[_X0 + 4 + k] = hl if (k == 0) | (k == 3) else -hl
        scratch[_Y0 + 4 + k] = hw if k < 2 else -hw
    for k in range(1, 8):  # insertion sort by (x, y)
        x = scratch[_X0 + k]
        y = scratch[_Y0 + k]
        m = k - 1
        while m >= 0 and ((scratch[_X0 + m] > x) | ((scratch[_X0 + m] == x) & (scratch[_Y0 + m] > y))):
            scratch[_X0 + m + 1] = scratch[_X0 + m]
            scratch[_Y0 + m + 1] = scratch[_Y0 + m]
            m -= 1
        scratch[_X0 + m + 1] = x
        scratch[_Y0 + m + 1] = y
    h = 0
    for sweep in range(2):  # lower hull left to right, then upper hull right to left
        limit = 2 if sweep == 0 else h + 1
        for q in range(8 - sweep):
            k = q if sweep == 0 else 6 - q
            x = scratch[_X0 + k]
            y = scratch[_Y0 + k]
            while h >= limit:
                ax = scratch[_X1 + h - 2]
                ay = scratch[_Y1 + h - 2]
                bx = scratch[_X1 + h - 1]
                by = scratch[_Y1 + h - 1]
                if (bx - ax) * (y - ay) - (by - ay) * (x - ax) > 0.0:
                    break
                h -= 1
            scratch[_X1 + h] = x
            scratch[_Y1 + h] = y
            h += 1
    n = h - 1  # the last point repeats the first
    return polygon_area(scratch, 1, n) if n >= 3 else 0.0


def z_overlap(ra, i: int, rb, j: int) -> float:  # type: ignore[no-untyped-def]
    """Length of the overlap of the two boxes' z extents [m] (0 when disjoint)."""
    top: float = min(ra[i, 2] + ra[i, 5], rb[j, 2] + rb[j, 5])
    bottom: float = max(ra[i, 2] - ra[i, 5], rb[j, 2] - rb[j, 5])
    return max(top - bottom, 0.0)


def z_span(ra, i: int, rb, j: int) -> float:  # type: ignore[no-untyped-def]
    """Height of the smallest z interval holding both boxes [m]."""
    top: float = max(ra[i, 2] + ra[i, 5], rb[j, 2] + rb[j, 5])
    bottom: float = min(ra[i, 2] - ra[i, 5], rb[j, 2] - rb[j, 5])
    return top - bottom


def inter_union(ra, i: int, rb, j: int, three_d: bool, scratch) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """``(intersection, union)`` of two boxes: BEV areas [m^2], or volumes [m^3] when ``three_d``."""
    inter = intersection_area_bev(ra, i, rb, j, scratch)
    size_a = 4.0 * ra[i, 3] * ra[i, 4]
    size_b = 4.0 * rb[j, 3] * rb[j, 4]
    if three_d:
        inter = inter * z_overlap(ra, i, rb, j)
        size_a = size_a * 2.0 * ra[i, 5]
        size_b = size_b * 2.0 * rb[j, 5]
    return inter, size_a + size_b - inter


def pair_iou(ra, i: int, rb, j: int, three_d: bool, scratch) -> float:  # type: ignore[no-untyped-def]
    """BEV or 3D IoU of two boxes, in [0, 1] (0 when the union is empty)."""
    inter, union = inter_union(ra, i, rb, j, three_d, scratch)
    return inter / union if union > 0.0 else 0.0


def pair_giou(ra, i: int, rb, j: int, three_d: bool, scratch) -> float:  # type: ignore[no-untyped-def]
    """Generalised IoU in [-1, 1]: IoU minus the share of the enclosing shape not in the union.

    The enclosing shape is the convex hull of both BEV rectangles (times the joint z span in 3D).
    """
    inter, union = inter_union(ra, i, rb, j, three_d, scratch)
    iou = inter / union if union > 0.0 else 0.0
    enclose = hull_area_bev(ra, i, rb, j, scratch)
    if three_d:
        enclose = enclose * z_span(ra, i, rb, j)
    return iou - (enclose - union) / enclose if enclose > 0.0 else iou


#: Every function of this module, to compile as one group (see :func:`kernels._math.retarget.retarget`).
DEVICE_FUNCTIONS = (
    load_rect_in_frame,
    clip_axis,
    polygon_area,
    intersection_area_bev,
    hull_area_bev,
    z_overlap,
    z_span,
    inter_union,
    pair_iou,
    pair_giou,
)
