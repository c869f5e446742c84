"""Per-element math of cuboid fitting to one cluster, shared by the CPU and CUDA kernels.

Plain scalar functions (``math``, scalars, tuples and array indexing only; no numba import). One call
of :func:`fit_cluster` handles one cluster (one CUDA thread, one ``prange`` iteration).

Steps
-----
1. **Yaw search** (L-shape fitting, closeness criterion of Zhang et al., "Efficient L-Shape Fitting
   for Vehicle Detection Using Laser Scanners", IV 2017): for candidate angles ``theta`` in
   ``[0, pi/2)`` project the BEV points on the rectangle axes ``e1 = (cos, sin)`` and
   ``e2 = (-sin, cos)``; every point scores ``1 / max(d, d0)`` where ``d`` is its distance to the
   nearest rectangle edge -- by default only the (at most two) edges facing the sensor: a lidar sees
   an object's near faces, while roof and far-side returns are sparse and would tilt the fit.
   A coarse grid of ``n_coarse`` angles is refined by ``2 * n_fine + 1``
   angles around the best one. At most ``max_points`` points (a regular stride) enter the search.
2. **Extents** along ``e1``/``e2`` over all points; bottom = mean ground height under the points,
   top = highest point.
3. **Heading** (:data:`HEADING_NONE` ... :data:`HEADING_PRIOR`): which rectangle axis is the length.
4. **Class priors** (``priors`` rows, see :data:`PRIOR_COLUMNS`): each class scores
   ``weight * exp(-cost / 2)``; observed extents above a class maximum rule it out, extents below the
   mean cost little (occlusion hides parts of objects, never adds). The best class wins; a side shorter
   than the class minimum is extended to the class mean, growing **away from the sensor** (the visible
   faces are the near ones). No feasible class: ``class_id = -1``, box as observed.
"""

from __future__ import annotations

import math

CRITERION_CLOSENESS = 0
"""Yaw search maximises the closeness of points to the rectangle edges."""
CRITERION_AREA = 1
"""Yaw search minimises the area of the bounding rectangle."""

HEADING_NONE = 0
"""Length = extent along the fitted angle ``theta`` in ``[0, pi/2)``; yaw = theta."""
HEADING_LONGER_SIDE = 1
"""Length = the longer rectangle side; yaw in ``[-pi/2, pi/2)``."""
HEADING_VELOCITY = 2
"""Length axis = the axis closer to the cluster's velocity, yaw pointing along it (slow: longer side)."""
HEADING_PRIOR = 3
"""Length axis = the assignment that fits the best class prior (a car seen from behind is wide, not long)."""

#: Columns of one class-prior row: mean, sigma, min and max of length, width, height [m] and a weight.
PRIOR_COLUMNS = 13
#: Under-size tolerance: a side below the mean costs ``((mean - obs) / (sigma + OCCLUSION * occl * mean))^2``.
OCCLUSION = 0.5
#: Share of :data:`OCCLUSION` a side facing the sensor keeps (see :func:`occlusion_weight`).
OCCLUSION_FLOOR = 0.25
_INFEASIBLE = 1e30
_HALF_PI = 0.5 * math.pi


def rect_extents(  # type: ignore[no-untyped-def]
    points, order, start: int, end: int, step: int, c: float, s: float, mx: float, my: float
) -> tuple[float, float, float, float]:
    """Min and max projections of the cluster's BEV points (relative to ``(mx, my)``) on ``e1`` and ``e2``."""
    lo1 = 1e30
    hi1 = -1e30
    lo2 = 1e30
    hi2 = -1e30
    for k in range(start, end, step):
        i = order[k]
        x = points[i, 0] - mx
        y = points[i, 1] - my
        p1 = x * c + y * s
        p2 = y * c - x * s
        lo1 = p1 if p1 < lo1 else lo1
        hi1 = p1 if p1 > hi1 else hi1
        lo2 = p2 if p2 < lo2 else lo2
        hi2 = p2 if p2 > hi2 else hi2
    return lo1, hi1, lo2, hi2


def edge_distance(p: float, lo: float, hi: float, sp: float, visible: bool) -> float:
    """Distance [m] of a projection ``p`` to the nearest slab edge ``lo``/``hi``.

    With ``visible``, only the edge facing the sensor (projection ``sp``) counts, and none
    (``1e30``) when the sensor lies between the two edges.
    """
    both = min(hi - p, p - lo)
    one = p - lo if sp <= lo else (hi - p if sp >= hi else 1e30)
    return one if visible else both


def closeness(  # type: ignore[no-untyped-def]
    points, order, start: int, end: int, step: int, theta: float, mx: float, my: float, params
) -> float:
    """Closeness score of the rectangle at angle ``theta``: sum of ``1 / max(edge distance, d0)``.

    ``params`` as in :func:`fit_cluster` (``d0``, the sensor position, the visible-edges switch).
    """
    c = math.cos(theta)
    s = math.sin(theta)
    lo1, hi1, lo2, hi2 = rect_extents(points, order, start, end, step, c, s, mx, my)
    sx = params[4] - mx
    sy = params[5] - my
    s1 = sx * c + sy * s
    s2 = sy * c - sx * s
    d0 = params[3]
    visible = params[8] > 0.0
    area = (hi1 - lo1) * (hi2 - lo2)
    if params[9] == CRITERION_AREA:
        return -area
    score = 0.0
    for k in range(start, end, step):
        i = order[k]
        x = points[i, 0] - mx
        y = points[i, 1] - my
        p1 = x * c + y * s
        p2 = y * c - x * s
        d = min(edge_distance(p1, lo1, hi1, s1, visible), edge_distance(p2, lo2, hi2, s2, visible))
        score += 1.0 / max(d, d0)
    return score


def search_yaw(  # type: ignore[no-untyped-def]
    points, order, start: int, end: int, step: int, mx: float, my: float, params
) -> float:
    """Rectangle angle in ``[0, pi/2)`` maximising :func:`closeness` (coarse grid, then refinement)."""
    n_coarse = int(params[0])
    n_fine = int(params[1])
    dc = _HALF_PI / n_coarse
    best = 0.0
    best_score = -1.0
    for k in range(n_coarse):
        t = k * dc
        sc = closeness(points, order, start, end, step, t, mx, my, params)
        if sc > best_score:
            best_score = sc
            best = t
    df = dc / (n_fine + 1)
    centre = best
    for j in range(-n_fine, n_fine + 1):
        t = centre + j * df
        sc = closeness(points, order, start, end, step, t, mx, my, params)
        if sc > best_score:
            best_score = sc
            best = t
    return best - math.floor(best / _HALF_PI) * _HALF_PI


def dim_cost(obs: float, mean: float, sigma: float, vmax: float, occl: float) -> float:
    """Cost of an observed side ``obs`` [m] under one class: infeasible above ``vmax``, soft below.

    ``occl`` in [0, 1] is how much of the side occlusion may hide: below the mean the deviation is
    measured in units of ``sigma + OCCLUSION * occl * mean``.
    """
    over = (obs - mean) / sigma
    under = (mean - obs) / (sigma + OCCLUSION * occl * mean)
    cost = over * over if obs >= mean else under * under
    return _INFEASIBLE if obs > vmax else cost


def class_cost(  # type: ignore[no-untyped-def]
    priors, c: int, length: float, width: float, height: float, occl_l: float, occl_w: float
) -> float:
    """Summed :func:`dim_cost` of ``(length, width, height)`` [m] under class row ``c``."""
    return (
        dim_cost(length, priors[c, 0], priors[c, 3], priors[c, 9], occl_l)
        + dim_cost(width, priors[c, 1], priors[c, 4], priors[c, 10], occl_w)
        + dim_cost(height, priors[c, 2], priors[c, 5], priors[c, 11], 1.0)
    )


def best_class(  # type: ignore[no-untyped-def]
    priors, n_classes: int, e1: float, e2: float, height: float, occl1: float, occl2: float, both: bool
) -> tuple[int, float, bool]:
    """Best class for a rectangle with sides ``e1`` (length candidate) and ``e2``.

    ``occl1``/``occl2`` weight how much each side may be hidden (see :func:`dim_cost`).

    Returns
    -------
    (int, float, bool)
        Class row (-1 when none is feasible), its likelihood ``weight * exp(-cost / 2)``, and whether
        the swapped assignment (length = ``e2``) won; ``both`` allows the swap.
    """
    best = -1
    best_like = 0.0
    swap = False
    for c in range(n_classes):
        cost_a = class_cost(priors, c, e1, e2, height, occl1, occl2)
        cost_b = class_cost(priors, c, e2, e1, height, occl2, occl1) if both else _INFEASIBLE
        cost = cost_a if cost_a <= cost_b else cost_b
        like = priors[c, 12] * math.exp(-0.5 * cost) if cost < 1e29 else 0.0
        if like > best_like:
            best_like = like
            best = c
            swap = cost_b < cost_a
    return best, best_like, swap


def occlusion_weight(ax: float, ay: float, rx: float, ry: float) -> float:
    """How much of a side along unit axis ``(ax, ay)`` occlusion may hide, seen along unit ray ``(rx, ry)``.

    A side running along the line of sight is seen only in part (self-occlusion), a side facing the
    sensor usually whole: ``OCCLUSION_FLOOR + (1 - OCCLUSION_FLOOR) * |cos|``.
    """
    cosang = abs(ax * rx + ay * ry)
    return OCCLUSION_FLOOR + (1.0 - OCCLUSION_FLOOR) * cosang


def grow(
    centre_x: float, centre_y: float, ax: float, ay: float, obs: float, want: float, sx: float, sy: float
) -> tuple[float, float, float]:
    """Grow the side along unit axis ``(ax, ay)`` from ``obs`` to ``want`` [m], away from the sensor.

    ``(sx, sy)`` is the sensor position.

    Returns the new centre and side; nothing changes when ``want <= obs``.
    """
    extra = want - obs
    extra = 0.0 if extra < 0.0 else extra
    toward = (centre_x - sx) * ax + (centre_y - sy) * ay
    sign = 1.0 if toward >= 0.0 else -1.0
    return centre_x + sign * 0.5 * extra * ax, centre_y + sign * 0.5 * extra * ay, obs + extra


def fit_cluster(  # type: ignore[no-untyped-def]
    points,
    ground_z,
    order,
    start: int,
    end: int,
    params,
    priors,
    n_classes: int,
    mode: int,
    vx: float,
    vy: float,
) -> tuple[float, float, float, float, float, float, float, int, float]:
    """Fit one cuboid to the points ``order[start:end]`` of one cluster.

    Parameters
    ----------
    points : array of shape (N, 3), float32
        Points [m] (z up).
    ground_z : array of shape (N,), float32
        Ground height under each point [m].
    order : array of int
        Point indices grouped by cluster.
    start, end : int
        This cluster's slice of ``order`` (``end > start``).
    params : array of 10 floats
        ``(n_coarse, n_fine, max_points, d0, sensor_x, sensor_y, min_speed, extend, visible_edges,
        criterion)``; flags are 1.0 (on) or 0.0; criterion is a ``CRITERION_*`` code.
    priors : array of shape (C, PRIOR_COLUMNS), float64
        Class rows (see :data:`PRIOR_COLUMNS`).
    n_classes : int
        Rows of ``priors`` to use.
    mode : int
        Heading mode (``HEADING_*``).
    vx, vy : float
        Cluster velocity [m/s] for :data:`HEADING_VELOCITY`.

    Returns
    -------
    tuple
        ``(x, y, z, length, width, height, yaw, class_id, score)``.
    """
    n = end - start
    cap = int(params[2])
    step = (n + cap - 1) // cap
    step = 1 if step < 1 else step
    mx = 0.0
    my = 0.0
    for k in range(start, end):
        i = order[k]
        mx += points[i, 0]
        my += points[i, 1]
    mx = mx / n
    my = my / n
    theta = search_yaw(points, order, start, end, step, mx, my, params)
    c = math.cos(theta)
    s = math.sin(theta)
    lo1, hi1, lo2, hi2 = rect_extents(points, order, start, end, 1, c, s, mx, my)
    top = -1e30
    bottom = 0.0
    for k in range(start, end):
        i = order[k]
        z = points[i, 2]
        top = z if z > top else top
        bottom += ground_z[i]
    bottom = bottom / n
    e1 = hi1 - lo1
    e2 = hi2 - lo2
    m1 = 0.5 * (hi1 + lo1)
    m2 = 0.5 * (hi2 + lo2)
    cx = mx + m1 * c - m2 * s
    cy = my + m1 * s + m2 * c
    height = top - bottom
    height = 0.01 if height < 0.01 else height
    # axis assignment: swap = the length lies along e2 (theta + pi/2)
    speed = math.sqrt(vx * vx + vy * vy)
    moving = mode == HEADING_VELOCITY and speed >= params[6]
    swap = e2 > e1 if mode != HEADING_NONE else False
    if moving:
        swap = abs(vx * c + vy * s) < abs(vy * c - vx * s)
    la = e2 if swap else e1
    wa = e1 if swap else e2
    rx = cx - params[4]
    ry = cy - params[5]
    rn = math.sqrt(rx * rx + ry * ry)
    rx = rx / rn if rn > 0.0 else 1.0
    ry = ry / rn if rn > 0.0 else 0.0
    o1 = occlusion_weight(c, s, rx, ry)
    o2 = occlusion_weight(-s, c, rx, ry)
    ol = o2 if swap else o1
    ow = o1 if swap else o2
    cls, like, flip = best_class(priors, n_classes, la, wa, height, ol, ow, mode == HEADING_PRIOR)
    if flip:
        swap = not swap
        la, wa = wa, la
    ux = -s if swap else c
    uy = c if swap else s
    # the length axis (ux, uy); the width axis is (-uy, ux)
    if moving and ux * vx + uy * vy < 0.0:
        ux = -ux
        uy = -uy
    if params[7] > 0.0 and cls >= 0:
        lmin = priors[cls, 6]
        wmin = priors[cls, 7]
        cx, cy, la = grow(cx, cy, ux, uy, la, priors[cls, 0] if la < lmin else la, params[4], params[5])
        cx, cy, wa = grow(cx, cy, -uy, ux, wa, priors[cls, 1] if wa < wmin else wa, params[4], params[5])
        height = priors[cls, 2] if height < priors[cls, 8] else height
    yaw = math.atan2(uy, ux)
    if not moving:  # heading sign unknown: keep yaw in [-pi/2, pi/2)
        yaw = yaw - math.pi if yaw >= _HALF_PI else yaw
        yaw = yaw + math.pi if yaw < -_HALF_PI else yaw
    if mode == HEADING_NONE:
        yaw = theta
    fill = 1.0 - math.exp(-n / 10.0)
    score = like * fill if cls >= 0 else 0.05 * fill
    return cx, cy, bottom + 0.5 * height, la, wa, height, yaw, cls, score


def fit_selected(  # type: ignore[no-untyped-def]
    j: int,
    points,
    ground_z,
    order,
    offsets,
    selected,
    params,
    priors,
    mode: int,
    velocity,
    boxes,
    class_id,
    score,
) -> None:
    """Fit the ``j``-th selected cluster and write row ``j`` of ``boxes``, ``class_id``, ``score``.

    The body of both targets' loops (``kernels.cpu_geometry.fit_clusters``, ``kernels.cuda_geometry``).
    """
    c = selected[j]
    x, y, z, ln, wd, ht, yaw, cls, sc = fit_cluster(
        points,
        ground_z,
        order,
        offsets[c],
        offsets[c + 1],
        params,
        priors,
        priors.shape[0],
        mode,
        velocity[j, 0],
        velocity[j, 1],
    )
    boxes[j, 0] = x
    boxes[j, 1] = y
    boxes[j, 2] = z
    boxes[j, 3] = ln
    boxes[j, 4] = wd
    boxes[j, 5] = ht
    boxes[j, 6] = yaw
    class_id[j] = cls
    score[j] = sc


#: Functions compiled for each target (see :func:`kernels._math.retarget.retarget`).
DEVICE_FUNCTIONS = (
    rect_extents,
    edge_distance,
    closeness,
    search_yaw,
    dim_cost,
    class_cost,
    best_class,
    occlusion_weight,
    grow,
    fit_cluster,
    fit_selected,
)
