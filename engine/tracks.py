"""Adapters between the scene model (:class:`engine.CuboidTrack`, :class:`engine.Log`) and ``tracking``.

``tracking`` never imports ``engine``; this module converts ``CuboidTrack`` keyframes to
:class:`tracking.CuboidPath` and back, and gathers a sweep's points in the frame a cuboid path uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.trajectory import Trajectory
from engine.annotations import CoordinateFrame, CuboidTrack
from engine.log import Log
from kernels.errors import InvalidInputError
from tracking.interpolation import OutOfRange, PositionMethod, interpolate
from tracking.paths import CuboidPath, PoseFrame

__all__ = ["interpolate_track", "path_from_track", "sweep_points", "track_from_path"]


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


def track_from_path(path: CuboidPath, track_id: str, label: str, **kwargs: Any) -> CuboidTrack:
    """A :class:`engine.CuboidTrack` holding the cuboids of ``path`` as keyframes.

    Parameters
    ----------
    path : CuboidPath
        Keyframes (e.g. an offline tracker's output or interpolated samples).
    track_id, label : str
        Id and class of the new track.
    **kwargs
        Further ``CuboidTrack`` fields (``attributes``, ``static_attributes``).

    Returns
    -------
    CuboidTrack
        The track, in the path's frame.
    """
    return CuboidTrack(
        track_id,
        label,
        CoordinateFrame(path.frame.value),
        path.timestamps_us,
        path.centers,
        path.sizes,
        path.rotations_wxyz,
        path.confidence,
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
