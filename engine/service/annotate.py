"""Interactive annotation calls for UIs: interpolate keyframes, fit a box, count points in boxes.

Thin wrappers that pick the stage functions (interpolation optionally snapped to a log's lidar); no
math of their own beyond frame bookkeeping.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from engine.log import Log
from engine.proposals.priors import load_size_priors, priors_array
from engine.service.sweep_cache import sweep_cache
from engine.tracks import sweep_points
from kernels.boxes import points_in_boxes_counts
from kernels.errors import InvalidInputError
from kernels.geometry import fit_boxes
from kernels.validation import as_array
from tracking import (
    CuboidPath,
    FaceSnapConfig,
    MotionSnapConfig,
    OutOfRange,
    PoseFrame,
    PositionMethod,
    SnapConfig,
    SnapReference,
    SnapResult,
    interpolate,
    snap_by_motion,
    snap_to_faces,
    snap_to_points,
    to_frame,
)

__all__ = [
    "AnySnapConfig",
    "FaceSnapConfig",
    "FitResult",
    "Interpolated",
    "MotionSnapConfig",
    "count_points_in_boxes",
    "fit_box",
    "interpolate_cuboids",
    "log_points",
]

F32 = npt.NDArray[np.float32]

AnySnapConfig = SnapConfig | MotionSnapConfig | FaceSnapConfig
"""A snap's settings; the type picks the method: :func:`tracking.snap_to_points` (``SnapConfig``),
:func:`tracking.snap_by_motion` (``MotionSnapConfig``) or :func:`tracking.snap_to_faces`
(``FaceSnapConfig``)."""


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


def _lidar(log: Log, lidar_id: str | None) -> str:
    """The lidar to read: ``lidar_id`` checked, or the log's only one."""
    if lidar_id is None:
        if len(log.lidar) != 1:
            raise InvalidInputError(f"log has lidars {sorted(log.lidar)}; pass lidar_id to pick one")
        lidar_id = next(iter(log.lidar))
    if lidar_id not in log.lidar:
        raise InvalidInputError(f"unknown lidar_id {lidar_id!r}; expected one of {sorted(log.lidar)}")
    return lidar_id


def _nearest_sweep(log: Log, lidar_id: str, timestamp_us: int, max_gap_us: int, required: bool) -> int | None:
    """Index of the sweep nearest ``timestamp_us``; None (error if ``required``) beyond ``max_gap_us``."""
    stream = log.lidar[lidar_id]
    index = stream.nearest(int(timestamp_us))
    gap = abs(int(stream.timestamps_us[index]) - int(timestamp_us))
    if gap <= max_gap_us:
        return index
    if required:
        raise InvalidInputError(
            f"timestamp_us {timestamp_us} has no {lidar_id!r} sweep within {max_gap_us} µs "
            f"(nearest {gap} µs away)"
        )
    return None


def log_points(log: Log, lidar_id: str | None, timestamp_us: int, frame: PoseFrame, max_gap_us: int) -> F32:
    """Points of the lidar sweep nearest ``timestamp_us`` in ``frame`` (ego at the sweep time, or world).

    Raises
    ------
    InvalidInputError
        Unknown lidar, or no sweep within ``max_gap_us``.
    """
    lidar_id = _lidar(log, lidar_id)
    index = _nearest_sweep(log, lidar_id, timestamp_us, max_gap_us, required=True)
    assert index is not None
    return sweep_points(log, lidar_id, index, frame)


class _WorldSweeps:
    """World-frame points of a log's sweeps, each sweep read once (queries and keyframes share them)."""

    def __init__(self, log: Log, lidar_id: str | None, max_gap_us: int) -> None:
        self.log, self.lidar_id, self.max_gap_us = log, _lidar(log, lidar_id), max_gap_us
        self._cache: dict[int, F32] = {}

    def _points(self, timestamp_us: int, required: bool) -> F32:
        index = _nearest_sweep(self.log, self.lidar_id, timestamp_us, self.max_gap_us, required)
        if index is None:
            return np.zeros((0, 3), np.float32)
        if index not in self._cache:  # this call's sweeps; across calls the service's sweep cache
            log, lidar_id = self.log, self.lidar_id
            self._cache[index] = sweep_cache.get(
                log, lidar_id, index, lambda: sweep_points(log, lidar_id, index, PoseFrame.WORLD)
            )
        return self._cache[index]

    def query(self, timestamp_us: int) -> F32:
        """The sweep nearest ``timestamp_us``; raises when none lies within ``max_gap_us``."""
        return self._points(timestamp_us, required=True)

    def keyframe(self, timestamp_us: int) -> F32:
        """The sweep nearest ``timestamp_us``, or no points (no evidence) when none lies within the gap."""
        return self._points(timestamp_us, required=False)


def interpolate_cuboids(
    keyframes: CuboidPath,
    timestamps_us: npt.ArrayLike,
    *,
    output_frame: PoseFrame | None = None,
    method: PositionMethod = PositionMethod.HERMITE,
    out_of_range: OutOfRange = OutOfRange.RAISE,
    log: Log | None = None,
    snap: AnySnapConfig | None = None,
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
    snap : SnapConfig or MotionSnapConfig or FaceSnapConfig, optional
        When given (with ``log``), the cuboids are corrected with the lidar; the config's type picks the
        method: :func:`tracking.snap_to_points` (each cuboid refit to its sweep on its own),
        :func:`tracking.snap_by_motion` or :func:`tracking.snap_to_faces` (both also use the keyframes'
        own sweeps). The snap runs in the world frame (the keyframes and the interpolated cuboids moved
        there through the log's trajectory, the sweeps' points too); the result is then moved to
        ``output_frame`` with :func:`tracking.to_frame`. Rows at a keyframe's timestamp that the snap did
        not move are the keyframe itself when ``output_frame`` is the keyframes' frame.
    lidar_id : str, optional
        Lidar to snap against (the only one when omitted).
    max_gap_us : int
        A query farther than this from every sweep cannot be snapped (error); a keyframe that far from
        every sweep gives the motion/faces snap no points (no evidence there).

    Returns
    -------
    Interpolated
    """
    if snap is not None and log is None:
        raise InvalidInputError("snap needs a log_id: the points come from the log's lidar sweeps")
    trajectory = log.trajectory if log is not None else None
    if snap is None or log is None:
        path = interpolate(
            keyframes,
            timestamps_us,
            world_from_ego=trajectory,
            output_frame=output_frame,
            method=method,
            out_of_range=out_of_range,
        )
        return Interpolated(path)
    if not isinstance(snap, SnapConfig | MotionSnapConfig | FaceSnapConfig):
        raise InvalidInputError(f"unknown snap config {type(snap).__name__}")
    out_frame = keyframes.frame if output_frame is None else output_frame
    world = interpolate(
        keyframes,
        timestamps_us,
        world_from_ego=trajectory,
        output_frame=PoseFrame.WORLD,
        method=method,
        out_of_range=out_of_range,
    )
    sweeps = _WorldSweeps(log, lidar_id, max_gap_us)
    points = [sweeps.query(int(t)) for t in world.timestamps_us]
    if isinstance(snap, SnapConfig):
        result = snap_to_points(world, points, snap)
    else:
        kf_world = to_frame(keyframes, PoseFrame.WORLD, trajectory)
        reference = SnapReference(kf_world, [sweeps.keyframe(int(t)) for t in kf_world.timestamps_us])
        if isinstance(snap, MotionSnapConfig):
            result = snap_by_motion(world, points, reference, snap)
        else:
            result = snap_to_faces(world, points, reference, snap)
    path = to_frame(result.path, out_frame, trajectory)
    if out_frame is not PoseFrame.WORLD and keyframes.frame is out_frame:
        path = _keep_keyframes(path, keyframes, (result.shift_m == 0) & (result.yaw_change_rad == 0))
    return Interpolated(path, replace(result, path=path))


def _keep_keyframes(path: CuboidPath, keyframes: CuboidPath, unmoved: npt.NDArray[np.bool_]) -> CuboidPath:
    """``path`` with its unmoved rows at a keyframe's timestamp set to that keyframe (bit for bit).

    The round trip through the world frame changes them by rounding only; interpolation without a snap
    returns the keyframes exactly, and so does this.
    """
    hit = np.searchsorted(keyframes.timestamps_us, path.timestamps_us)
    hit = np.minimum(hit, len(keyframes) - 1)
    exact = unmoved & (keyframes.timestamps_us[hit] == path.timestamps_us)
    if not exact.any():
        return path
    centers, rotations = path.centers.copy(), path.rotations_wxyz.copy()
    centers[exact] = keyframes.centers[hit[exact]]
    rotations[exact] = keyframes.rotations_wxyz[hit[exact]]
    return CuboidPath(path.timestamps_us, centers, path.sizes, rotations, path.confidence, path.frame)


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
