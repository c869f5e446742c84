"""Adapters between the scene model (:class:`engine.CuboidTrack`, :class:`engine.Log`) and ``tracking``.

``tracking`` never imports ``engine``; this module converts ``CuboidTrack`` keyframes to
:class:`tracking.CuboidPath` and back, and gathers a sweep's points in the frame a cuboid path uses.

Keyframes may be sparse (pre-labels with ``tracks.keyframes="sparse"``: the fewest frames from which
:func:`tracking.interpolate` reproduces the dense path within a tolerance). Every consumer evaluates a
track at the times it needs with :func:`interpolate_track` (never by looking up keyframe timestamps);
per-frame confidence is kept in ``CuboidTrack.frame_confidence`` and read with :func:`confidence_at`;
:func:`densify_track` turns a sparse track back into one keyframe per frame (what validation checks).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.trajectory import Trajectory
from engine.annotations import CoordinateFrame, CuboidTrack, FrameConfidence
from engine.log import Log
from kernels.errors import InvalidInputError
from tracking.interpolation import OutOfRange, PositionMethod, interpolate
from tracking.paths import CuboidPath, PoseFrame

__all__ = [
    "confidence_at",
    "densify_track",
    "interpolate_track",
    "path_from_track",
    "sweep_points",
    "track_from_path",
]


def path_from_track(track: CuboidTrack) -> CuboidPath:
    """The keyframes of ``track`` as a :class:`tracking.CuboidPath` (same frame, no copy of meaning)."""
    return CuboidPath(
        track.timestamps_us,
        track.centers,
        track.sizes,
        track.rotations_wxyz,
        track.confidence,
        PoseFrame(track.frame.value),
    )


def track_from_path(
    path: CuboidPath, track_id: str, label: str, *, keyframes: CuboidPath | None = None, **kwargs: Any
) -> CuboidTrack:
    """A :class:`engine.CuboidTrack` holding the cuboids of ``path`` (or of ``keyframes``) as keyframes.

    Parameters
    ----------
    path : CuboidPath
        Keyframes (e.g. an offline tracker's output or interpolated samples), or the dense path when
        ``keyframes`` is given.
    track_id, label : str
        Id and class of the new track.
    keyframes : CuboidPath, optional
        Sparse keyframes of ``path`` (e.g. :func:`tracking.keyframes_from_path`): they become the
        track's keyframes and ``path``'s per-frame confidence its ``frame_confidence``.
    **kwargs
        Further ``CuboidTrack`` fields (``attributes``, ``static_attributes``).

    Returns
    -------
    CuboidTrack
        The track, in the path's frame.
    """
    kf = path if keyframes is None else keyframes
    if keyframes is not None:
        if keyframes.frame is not path.frame:
            raise InvalidInputError(
                f"keyframes are in the {keyframes.frame.value} frame, "
                f"the path in the {path.frame.value} frame"
            )
        assert path.confidence is not None  # filled by CuboidPath.__post_init__
        kwargs["frame_confidence"] = FrameConfidence(path.timestamps_us, path.confidence)
    return CuboidTrack(
        track_id,
        label,
        CoordinateFrame(kf.frame.value),
        kf.timestamps_us,
        kf.centers,
        kf.sizes,
        kf.rotations_wxyz,
        kf.confidence,
        **kwargs,
    )


def interpolate_track(
    track: CuboidTrack,
    timestamps_us: npt.ArrayLike,
    trajectory: Trajectory | None = None,
    output_frame: CoordinateFrame | None = None,
    out_of_range: OutOfRange = OutOfRange.RAISE,
) -> CuboidPath:
    """:func:`tracking.interpolate` for a scene-model track (Hermite positions, slerp rotations)."""
    frame = None if output_frame is None else PoseFrame(output_frame.value)
    return interpolate(
        path_from_track(track),
        timestamps_us,
        world_from_ego=trajectory,
        output_frame=frame,
        method=PositionMethod.HERMITE,
        out_of_range=out_of_range,
    )


def confidence_at(track: CuboidTrack, timestamps_us: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Confidence of ``track`` at ``timestamps_us``, (Q,) float32.

    From ``track.frame_confidence`` when present (exact at its frames, linear between), otherwise
    linear between the keyframes' confidence (as :func:`tracking.interpolate`); held beyond the ends.
    """
    if track.frame_confidence is not None:
        return track.frame_confidence.at(timestamps_us)
    assert track.confidence is not None  # filled by CuboidTrack.__post_init__
    t = np.asarray(timestamps_us, dtype=np.int64)
    return np.interp(t, track.timestamps_us, track.confidence).astype(np.float32)


def densify_track(track: CuboidTrack, timestamps_us: npt.ArrayLike | None = None) -> CuboidTrack:
    """``track`` with a keyframe at every frame: its keyframes plus ``timestamps_us`` inside its span.

    Parameters
    ----------
    track : CuboidTrack
        A track, sparse or not.
    timestamps_us : array_like of int64, optional
        Frame times [µs]; default the frames of ``track.frame_confidence`` (returned unchanged when it
        has none). Times outside the keyframe span are ignored.

    Returns
    -------
    CuboidTrack
        Same id, label, frame and attributes; cuboids from :func:`interpolate_track` (exact at the
        keyframes), confidence from :func:`confidence_at`, ``frame_confidence`` None.
    """
    if timestamps_us is None:
        if track.frame_confidence is None:
            return track
        timestamps_us = track.frame_confidence.timestamps_us
    t = np.asarray(timestamps_us, dtype=np.int64).reshape(-1)
    lo, hi = int(track.timestamps_us[0]), int(track.timestamps_us[-1])
    t = np.union1d(track.timestamps_us, t[(t >= lo) & (t <= hi)]).astype(np.int64)
    path = interpolate_track(track, t)
    return CuboidTrack(
        track.track_id,
        track.label,
        track.frame,
        path.timestamps_us,
        path.centers,
        path.sizes,
        path.rotations_wxyz,
        confidence_at(track, t),
        track.attributes,
        track.static_attributes,
    )


def sweep_points(log: Log, sensor_id: str, index: int, frame: PoseFrame) -> npt.NDArray[np.float32]:
    """Points of one lidar sweep, (N, 3) float32, in the ego frame at the sweep's timestamp or the world.

    Points are moved with the pose at the sweep's ``timestamp_us`` (no per-point deskew).
    """
    if sensor_id not in log.lidar:
        raise InvalidInputError(f"unknown lidar sensor_id {sensor_id!r}; expected one of {sorted(log.lidar)}")
    sweep = log.lidar[sensor_id][index]
    ego_from_sensor = log.sensors[sensor_id].ego_from_sensor
    if frame is PoseFrame.EGO:
        return np.ascontiguousarray(ego_from_sensor.transform_points(sweep.points), dtype=np.float32)
    if frame is PoseFrame.WORLD:
        world_from_sensor = log.trajectory.pose_at(sweep.timestamp_us) @ ego_from_sensor
        return np.ascontiguousarray(world_from_sensor.transform_points(sweep.points), dtype=np.float32)
    raise InvalidInputError(f"unknown frame {frame!r}; expected one of {list(PoseFrame)}")
