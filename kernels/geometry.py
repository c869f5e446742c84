"""Model-free 3D geometry for cuboid proposals: ground segmentation, voxel clustering, cuboid fitting.

Public entry points (validate once, pick the backend, run the CPU or CUDA kernels of one source):

* :func:`segment_ground` -- cell-wise ground with a slope-limited lower envelope (slopes, curbs);
* :func:`cluster_points` -- voxel hashing (floor keys, sorted) + connected components over occupied
  voxels; labels are canonical (component of the smallest voxel key first), so backends agree exactly;
* :func:`fit_boxes` -- one cuboid per cluster: L-shape yaw search, heading rule, class size priors.

Backends follow :mod:`kernels.dispatch`: NumPy input runs on the CPU, device arrays on CUDA (results
stay there), ``backend="cuda"`` with host input copies in and out (the simulator tests use that).
Boxes use the kernel layout ``[x, y, z, length, width, height, yaw]`` (float32, the points' frame).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels._math import fit as _fit_math
from kernels._math.cluster import NO_KEY
from kernels.dispatch import Backend, place
from kernels.errors import InvalidInputError
from kernels.validation import as_array

__all__ = [
    "Clustering",
    "FittedBoxes",
    "GroundSegmentation",
    "Heading",
    "PRIOR_COLUMNS",
    "cluster_points",
    "fit_boxes",
    "segment_ground",
]

PRIOR_COLUMNS = _fit_math.PRIOR_COLUMNS
"""Columns of a class-prior row: ``l, w, h`` mean, sigma, min, max [m], then a class weight."""


class Heading(enum.Enum):
    """How the fitted rectangle's axes become length/width and yaw (see :mod:`kernels._math.fit`)."""

    NONE = "none"
    """Length along the fitted angle in ``[0, pi/2)``; no reordering."""
    LONGER_SIDE = "longer_side"
    """Length = the longer side; yaw in ``[-pi/2, pi/2)``."""
    VELOCITY = "velocity"
    """Length axis and direction from the cluster velocity (below ``min_speed``: longer side)."""
    PRIOR = "prior"
    """Length axis from the best-fitting class prior (a car seen from behind is wide, not long)."""

    @classmethod
    def parse(cls, value: str | Heading) -> Heading:
        """Parse a mode name, raising with the accepted names otherwise."""
        if isinstance(value, Heading):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown heading {value!r}; expected one of {[h.value for h in cls]}"
            ) from None

    @property
    def code(self) -> int:
        """The kernel's integer code."""
        return {
            Heading.NONE: _fit_math.HEADING_NONE,
            Heading.LONGER_SIDE: _fit_math.HEADING_LONGER_SIDE,
            Heading.VELOCITY: _fit_math.HEADING_VELOCITY,
            Heading.PRIOR: _fit_math.HEADING_PRIOR,
        }[self]


@dataclass(frozen=True, slots=True)
class GroundSegmentation:
    """Result of :func:`segment_ground` (NumPy arrays, or device arrays for device input).

    Attributes
    ----------
    ground : ndarray of shape (N,), bool
        True for ground points.
    height : ndarray of shape (N,), float32
        Height of each point above the ground under it [m] (``z - height`` is the ground height).
    """

    ground: Any
    height: Any


@dataclass(frozen=True, slots=True)
class Clustering:
    """Result of :func:`cluster_points`.

    Attributes
    ----------
    labels : ndarray of shape (N,), int32
        Cluster of each point in ``[0, n_clusters)``, ``-1`` for masked-out points and points outside
        the grid. Clusters are numbered in the order of their smallest voxel key.
    n_clusters : int
        Number of clusters.
    """

    labels: Any
    n_clusters: int


@dataclass(frozen=True, slots=True)
class FittedBoxes:
    """Result of :func:`fit_boxes`: one row per cluster holding at least ``min_points`` points.

    Attributes
    ----------
    boxes : ndarray of shape (K, 7), float32
        ``[x, y, z, length, width, height, yaw]`` in the points' frame [m, rad].
    class_id : ndarray of shape (K,), int32
        Row of ``priors`` that fits best, ``-1`` when none is feasible.
    score : ndarray of shape (K,), float32
        Prior likelihood times a point-count saturation, in [0, 1].
    cluster : ndarray of shape (K,), int64
        The cluster label each box was fitted to.
    """

    boxes: Any
    class_id: Any
    score: Any
    cluster: Any


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise InvalidInputError(f"{name} must be a finite number > 0, got {value!r}")
    return v


def _count(name: str, value: int, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < lo:
        raise InvalidInputError(f"{name} must be an integer >= {lo}, got {value!r}")
    return int(value)


def segment_ground(
    points: Any,
    *,
    cell_size_m: float = 1.0,
    half_extent_m: float = 80.0,
    max_slope: float = 0.15,
    height_threshold_m: float = 0.25,
    iterations: int = 8,
    backend: str | Backend = "auto",
) -> GroundSegmentation:
    """Split points into ground and the rest, cell by cell (slopes and curbs, not one plane).

    Each grid cell takes its lowest point; a slope-limited lower envelope lets cells without visible
    ground (under a car) drop to what their neighbours allow; a point is ground when it lies less than
    ``height_threshold_m`` above its cell's ground (see :mod:`kernels._math.ground`).

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32
        Points in a z-up frame centred near the sensor (ego frame) [m].
    cell_size_m : float
        Side of a square grid cell [m].
    half_extent_m : float
        The grid covers ``[-half_extent_m, half_extent_m]`` in x and y; outside points use the border cells.
    max_slope : float
        Steepest ground the envelope keeps [m rise per m].
    height_threshold_m : float
        Points lower than this above the ground are ground [m] (curbs below it stay ground).
    iterations : int
        Envelope sweeps; each reaches one cell further (>= 0).
    backend : {"auto", "cpu", "cuda"}
        See :mod:`kernels.dispatch`.

    Returns
    -------
    GroundSegmentation
        Ground mask and height above ground of every point.

    See Also
    --------
    cluster_points, fit_boxes
    """
    cell = _positive("cell_size_m", cell_size_m)
    half = _positive("half_extent_m", half_extent_m)
    slope = float(max_slope)
    if not math.isfinite(slope) or slope < 0.0:
        raise InvalidInputError(f"max_slope must be a finite number >= 0, got {max_slope!r}")
    thr = float(height_threshold_m)
    if not math.isfinite(thr):
        raise InvalidInputError(f"height_threshold_m must be finite, got {height_threshold_m!r}")
    iters = _count("iterations", iterations, 0)
    nc = int(math.ceil(2.0 * half / cell))
    pl = place(backend, {"points": points})
    pts = pl.host("points", points, np.float32, (None, 3))
    side, diag = slope * cell, slope * cell * math.sqrt(2.0)
    if pl.backend is Backend.CUDA:
        from kernels.cuda_geometry import run_ground

        return run_ground(pl, pts, half, 1.0 / cell, nc, side, diag, iters, thr)
    from kernels import cpu_geometry as cg

    n = pts.shape[0]
    cell_of = np.empty(n, np.int64)
    g = np.full(nc * nc, np.inf, np.float32)
    cg.ground_cell_min(pts, half, 1.0 / cell, nc, cell_of, g)
    cg.ground_relax(g, np.empty_like(g), nc, side, diag, iters)
    ground = np.empty(n, np.bool_)
    height = np.empty(n, np.float32)
    cg.ground_classify(pts, cell_of, g, thr, ground, height)
    return GroundSegmentation(ground, height)


def _voxel_grid(
    voxel_size_m: Any, half_extent_m: float, z_range_m: tuple[float, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    size = np.broadcast_to(np.asarray(voxel_size_m, dtype=np.float64), (3,)).copy()
    if not np.all(np.isfinite(size)) or np.any(size <= 0):
        raise InvalidInputError(f"voxel_size_m must be > 0 (one value or three), got {voxel_size_m!r}")
    half = _positive("half_extent_m", half_extent_m)
    zlo, zhi = (float(v) for v in z_range_m)
    if not (math.isfinite(zlo) and math.isfinite(zhi) and zhi > zlo):
        raise InvalidInputError(f"z_range_m must be a finite (low, high) with high > low, got {z_range_m!r}")
    origin = np.array([-half, -half, zlo])
    dims = np.ceil(np.array([2 * half, 2 * half, zhi - zlo]) / size).astype(np.int64)
    if float(np.prod(dims.astype(np.float64))) >= 2.0**62:
        raise InvalidInputError(f"voxel grid of {dims.tolist()} voxels is too large for int64 keys")
    return origin, 1.0 / size, dims


def cluster_points(
    points: Any,
    mask: Any = None,
    *,
    voxel_size_m: float | tuple[float, float, float] = (0.3, 0.3, 0.5),
    half_extent_m: float = 80.0,
    z_range_m: tuple[float, float] = (-10.0, 20.0),
    z_reach: int = 1,
    backend: str | Backend = "auto",
) -> Clustering:
    """Group points into objects: occupied voxels connected to their neighbours form one cluster.

    Two occupied voxels are neighbours when their x and y indices differ by at most 1 and their z
    indices by at most ``z_reach``. Voxel keys use ``floor`` (see :mod:`kernels._math.cluster`).

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32
        Points [m], any z-up frame centred near the sensor.
    mask : ndarray of shape (N,), bool, optional
        Points to cluster (e.g. not ground); all when omitted.
    voxel_size_m : float or (float, float, float)
        Voxel size [m], one value or per axis.
    half_extent_m : float
        The grid covers ``[-half_extent_m, half_extent_m]`` in x and y [m].
    z_range_m : (float, float)
        The grid's z range [m].
    z_reach : int
        Largest z-index difference of neighbouring voxels (>= 0).
    backend : {"auto", "cpu", "cuda"}
        See :mod:`kernels.dispatch`.

    Returns
    -------
    Clustering
        Per-point labels (-1: not clustered) and the number of clusters.
    """
    origin, inv_size, dims = _voxel_grid(voxel_size_m, half_extent_m, z_range_m)
    reach = _count("z_reach", z_reach, 0)
    data = {"points": points} if mask is None else {"points": points, "mask": mask}
    pl = place(backend, data)
    pts = pl.host("points", points, np.float32, (None, 3))
    n = pts.shape[0]
    if mask is None:
        msk = pl.small(np.ones(n, np.bool_))
    elif pl.on_device:
        msk = pl.host("mask", mask, np.bool_, (n,))
    else:
        msk = pl.host("mask", as_array("mask", mask, np.bool_, (n,), cast=False), np.bool_, (n,))
    if pl.backend is Backend.CUDA:
        from kernels.cuda_geometry import run_cluster

        return run_cluster(pl, pts, msk, origin, inv_size, dims, reach)
    from kernels import cpu_geometry as cg

    keys = np.empty(n, np.int64)
    cg.voxel_keys(pts, msk, origin, inv_size, dims, keys)
    valid = np.flatnonzero(keys != NO_KEY)
    order = np.concatenate([valid[np.argsort(keys[valid])], np.flatnonzero(keys == NO_KEY)])
    vkeys = np.empty(n, np.int64)
    point_voxel = np.empty(n, np.int64)
    nv = cg.unique_voxels(keys, order, vkeys, point_voxel)
    label = np.empty(max(nv, 1), np.int32)
    count = cg.cluster_labels(vkeys, nv, dims, reach, np.empty(max(nv, 1), np.int64), label)
    labels = np.where(point_voxel >= 0, label[np.maximum(point_voxel, 0)], -1).astype(np.int32)
    return Clustering(labels, int(count))


def fit_boxes(
    points: Any,
    labels: Any,
    ground_z: Any,
    priors: Any,
    *,
    n_clusters: int,
    min_points: int = 5,
    heading: str | Heading = "prior",
    velocity: Any = None,
    sensor_xy: tuple[float, float] = (0.0, 0.0),
    extend: bool = True,
    yaw_steps: int = 30,
    yaw_refine: int = 5,
    max_points: int = 256,
    min_distance_m: float = 0.01,
    min_speed_mps: float = 1.0,
    visible_edges: bool = True,
    criterion: str = "closeness",
    backend: str | Backend = "auto",
) -> FittedBoxes:
    """Fit one cuboid to every cluster with at least ``min_points`` points.

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32
        Points [m], z up.
    labels : ndarray of shape (N,), int32
        Cluster of each point (-1: none), e.g. :attr:`Clustering.labels`.
    ground_z : ndarray of shape (N,), float32
        Ground height under each point [m] (``z - GroundSegmentation.height``); box bottoms sit on it.
    priors : ndarray of shape (C, PRIOR_COLUMNS), float64
        Class size priors, one row per class (see :data:`PRIOR_COLUMNS`).
    n_clusters : int
        Number of clusters (labels lie in ``[0, n_clusters)``).
    min_points : int
        Smaller clusters get no box.
    heading : {"none", "longer_side", "velocity", "prior"}
        Axis/heading rule, see :class:`Heading`.
    velocity : ndarray of shape (n_clusters, 2), float32, optional
        Per-cluster BEV velocity [m/s] for ``heading="velocity"``.
    sensor_xy : (float, float)
        Sensor position in the points' frame [m]: partly seen boxes grow away from it.
    extend : bool
        Grow sides shorter than the class minimum to the class mean.
    yaw_steps, yaw_refine : int
        Coarse yaw angles over ``[0, pi/2)`` and refinement steps either side of the best.
    max_points : int
        At most this many points per cluster enter the yaw search (regular stride).
    min_distance_m : float
        ``d0`` of the closeness criterion [m].
    min_speed_mps : float
        Below this speed ``heading="velocity"`` falls back to the longer side.
    visible_edges : bool
        Score only the rectangle edges facing ``sensor_xy`` in the yaw search (plain closeness
        criterion when False).
    criterion : {"closeness", "area"}
        Yaw search objective: closeness of points to the edges (L-shape fitting) or the smallest
        bounding-rectangle area.
    backend : {"auto", "cpu", "cuda"}
        See :mod:`kernels.dispatch`.

    Returns
    -------
    FittedBoxes
        Boxes, class ids, scores and source clusters, in cluster order.
    """
    k = _count("n_clusters", n_clusters, 0)
    minp = _count("min_points", min_points, 1)
    mode = Heading.parse(heading)
    steps = _count("yaw_steps", yaw_steps, 1)
    refine = _count("yaw_refine", yaw_refine, 0)
    cap = _count("max_points", max_points, 1)
    d0 = _positive("min_distance_m", min_distance_m)
    pri = as_array("priors", priors, np.float64, (None, PRIOR_COLUMNS))
    if pri.shape[0] and np.any(pri[:, 3:6] <= 0):
        raise InvalidInputError("priors sigma columns (3:6) must be > 0")
    sx, sy = (float(v) for v in sensor_xy)
    criteria = {"closeness": _fit_math.CRITERION_CLOSENESS, "area": _fit_math.CRITERION_AREA}
    if criterion not in criteria:
        raise InvalidInputError(f"unknown criterion {criterion!r}; expected one of {list(criteria)}")
    crit = float(criteria[criterion])
    params = np.array(
        [steps, refine, cap, d0, sx, sy, float(min_speed_mps), float(extend), float(visible_edges), crit],
        np.float64,
    )
    pl = place(backend, {"points": points, "labels": labels, "ground_z": ground_z})
    pts = pl.host("points", points, np.float32, (None, 3))
    n = pts.shape[0]
    lab = pl.host("labels", labels, np.int32, (n,))
    gz = pl.host("ground_z", ground_z, np.float32, (n,))
    vel = (
        np.zeros((k, 2), np.float32)
        if velocity is None
        else as_array("velocity", velocity, np.float32, (k, 2))
    )
    if pl.backend is Backend.CUDA:
        from kernels.cuda_geometry import run_fit

        return run_fit(pl, pts, lab, gz, k, minp, params, pri, mode.code, vel)
    from kernels import cpu_geometry as cg

    if lab.size and int(lab.max(initial=-1)) >= k:
        raise InvalidInputError(f"labels hold {int(lab.max())} but n_clusters is {k}")
    counts = np.zeros(k, np.int64)
    offsets = np.empty(k + 1, np.int64)
    order = np.empty(n, np.int64)
    cg.counting_order(lab, k, counts, offsets, order)
    selected = np.flatnonzero(counts >= minp)
    m = selected.size
    boxes = np.empty((m, 7), np.float32)
    class_id = np.empty(m, np.int32)
    score = np.empty(m, np.float32)
    if m:
        cg.fit_clusters(
            pts, gz, order, offsets, selected, params, pri, mode.code, vel[selected], boxes, class_id, score
        )
    return FittedBoxes(boxes, class_id, score, selected)
