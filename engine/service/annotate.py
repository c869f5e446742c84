"""Interactive annotation calls for UIs: interpolate keyframes, fit a box, count points in boxes.

Thin wrappers that pick the stage functions (interpolation optionally snapped to a log's lidar); no
math of their own beyond frame bookkeeping.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.log import Log
from engine.proposals.priors import load_size_priors, priors_array
from engine.tracks import sweep_points
from kernels.boxes import points_in_boxes_counts
from kernels.errors import InvalidInputError
from kernels.geometry import fit_boxes
from kernels.validation import as_array
from tracking import (
    CuboidPath,
    OutOfRange,
    PoseFrame,
    PositionMethod,
    SnapConfig,
    SnapResult,
    interpolate,
    snap_to_points,
)

__all__ = [
    "FitResult",
    "Interpolated",
    "count_points_in_boxes",
    "fit_box",
    "interpolate_cuboids",
    "log_points",
]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Interpolated:
    """Result of :func:`interpolate_cuboids`: the cuboids and, when snapped, the per-cuboid fit report."""

    path: CuboidPath
    snap: SnapResult | None = None


@dataclass(frozen=True, slots=True)
class FitResult:
    """A fitted cuboid.

    Attributes
    ----------
    path : CuboidPath
        One cuboid (the fit), in the frame of the input.
    label : str or None
        Size-prior class of a fit from points; None when refining a given box.
    score : float
        Prior likelihood of a fit from points, or ``1 - residual / truncation`` of a refinement, in [0, 1].
    n_points : int
        Points that took part.
    needs_keyframe : bool
        For a refinement: the fit was poor or hit its bound (see :func:`tracking.snap_to_points`).
    """

    path: CuboidPath
    label: str | None
    score: float
    n_points: int
    needs_keyframe: bool = False


def log_points(log: Log, lidar_id: str | None, timestamp_us: int, frame: PoseFrame, max_gap_us: int) -> F32:
    """Points of the lidar sweep nearest ``timestamp_us`` in ``frame`` (ego at the sweep time, or world).

    Raises
    ------
    InvalidInputError
        Unknown lidar, or no sweep within ``max_gap_us``.
    """
    if lidar_id is None:
        if len(log.lidar) != 1:
            raise InvalidInputError(f"log has lidars {sorted(log.lidar)}; pass lidar_id to pick one")
        lidar_id = next(iter(log.lidar))
    if lidar_id not in log.lidar:
        raise InvalidInputError(f"unknown lidar_id {lidar_id!r}; expected one of {sorted(log.lidar)}")
    stream = log.lidar[lidar_id]
    index = stream.nearest(int(timestamp_us))
    gap = abs(int(stream.timestamps_us[index]) - int(timestamp_us))
    if gap > max_gap_us:
        raise InvalidInputError(
            f"timestamp_us {timestamp_us} has no {lidar_id!r} sweep within {max_gap_us} µs "
            f"(nearest {gap} µs away)"
        )
    return sweep_points(log, lidar_id, index, frame)


def interpolate_cuboids(
    keyframes: CuboidPath,
    timestamps_us: npt.ArrayLike,
    *,
    output_frame: PoseFrame | None = None,
    method: PositionMethod = PositionMethod.HERMITE,
    out_of_range: OutOfRange = OutOfRange.RAISE,
    log: Log | None = None,
    snap: SnapConfig | None = None,
    lidar_id: str | None = None,
    max_gap_us: int = 60_000,
) -> Interpolated:
    """Cuboids at ``timestamps_us`` from keyframes (:func:`tracking.interpolate`), optionally snapped.

    Parameters
    ----------
    keyframes : CuboidPath
        The track's keyframes.
    timestamps_us : array_like of shape (Q,), int64
        Strictly increasing query times [µs].
    output_frame, method, out_of_range
        As in :func:`tracking.interpolate`.
    log : Log, optional
        Supplies ``world_from_ego`` (needed when the keyframes or the output are in the ego frame) and
        the lidar sweeps to snap against.
    snap : SnapConfig, optional
        When given (with ``log``), each cuboid is refit to the sweep nearest its timestamp.
    lidar_id : str, optional
        Lidar to snap against (the only one when omitted).
    max_gap_us : int
        A query farther than this from every sweep cannot be snapped (error).

    Returns
    -------
    Interpolated
    """
    if snap is not None and log is None:
        raise InvalidInputError("snap needs a log_id: the points come from the log's lidar sweeps")
    trajectory = log.trajectory if log is not None else None
    path = interpolate(
        keyframes,
        timestamps_us,
        world_from_ego=trajectory,
        output_frame=output_frame,
        method=method,
        out_of_range=out_of_range,
    )
    if snap is None or log is None:
        return Interpolated(path)
    points = [log_points(log, lidar_id, int(t), path.frame, max_gap_us) for t in path.timestamps_us]
    result = snap_to_points(path, points, snap)
    return Interpolated(result.path, result)


@functools.cache
def _priors() -> tuple[tuple[str, ...], npt.NDArray[np.float64]]:
    priors = load_size_priors()
    return tuple(p.name for p in priors), priors_array(priors)


def fit_box(
    points: npt.ArrayLike,
    *,
    box: CuboidPath | None = None,
    snap: SnapConfig | None = None,
    heading: str = "prior",
) -> FitResult:
    """Fit one cuboid to ``points``, or refine a rough ``box`` against them.

    Parameters
    ----------
    points : array_like of shape (N, 3), float32 [m], z up
        The object's points (fit from scratch), or a sweep around the rough box (refinement).
    box : CuboidPath, optional
        One rough cuboid: refined with :func:`tracking.snap_to_points` (bounded move, no heading flip).
        Without it the points are fitted from scratch with :func:`kernels.geometry.fit_boxes` (all points
        one cluster; box bottom on the lowest point; class from the packaged size priors).
    snap : SnapConfig, optional
        Bounds of the refinement.
    heading : {"none", "longer_side", "prior"}
        Heading rule of a fit from scratch.

    Returns
    -------
    FitResult
    """
    pts = as_array("points", points, np.float32, (None, 3))
    if box is not None:
        if len(box) != 1:
            raise InvalidInputError(f"box must hold exactly one cuboid, got {len(box)}")
        cfg = snap or SnapConfig()
        res = snap_to_points(box, [pts], cfg)
        residual = float(res.residual_m[0])
        score = 0.0 if np.isnan(residual) else float(np.clip(1.0 - residual / cfg.truncation_m, 0.0, 1.0))
        return FitResult(
            res.path, None, score, int(res.n_points[0]), bool(res.needs_keyframe[0] or not res.snapped[0])
        )
    if pts.shape[0] < 3:
        raise InvalidInputError(f"points must hold at least 3 points to fit a box, got {pts.shape[0]}")
    classes, priors = _priors()
    labels = np.zeros(pts.shape[0], np.int32)
    ground = np.full(pts.shape[0], pts[:, 2].min(), np.float32)
    fitted = fit_boxes(
        pts, labels, ground, priors, n_clusters=1, min_points=3, heading=heading, backend="cpu"
    )
    if len(fitted.boxes) == 0:  # pragma: no cover - one cluster of >= 3 points always gets a box
        raise InvalidInputError("no box could be fitted to points")
    cls = int(fitted.class_id[0])
    path = CuboidPath.from_boxes([0], np.asarray(fitted.boxes[:1], np.float64))
    return FitResult(path, classes[cls] if cls >= 0 else None, float(fitted.score[0]), int(pts.shape[0]))


def count_points_in_boxes(points: npt.ArrayLike, boxes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Points inside each box, (M,) int64 (:func:`kernels.points_in_boxes_counts`, CPU).

    Parameters
    ----------
    points : array_like of shape (N, 3), float32 [m]
        Points, in the boxes' frame.
    boxes : array_like of shape (M, 7), float32
        ``[x, y, z, length, width, height, yaw]`` [m, rad].
    """
    pts = as_array("points", points, np.float32, (None, 3))
    b = as_array("boxes", boxes, np.float32, (None, 7))
    return np.asarray(points_in_boxes_counts(pts, b, backend="cpu").counts, dtype=np.int64)
