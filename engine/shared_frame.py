"""Frame-level shared-frame calls on a :class:`~engine.log.Log`: deskew, fuse, project into all cameras.

Thin wrappers over :mod:`kernels` (``deskew``, ``fuse``, ``camera_from_points_at``,
``project_to_cameras``) that read sensors, extrinsics, captures and the ego trajectory from a log and
pass the trajectory's own out-of-range policy (``Trajectory.extrapolation``) to the kernels.

Sweeps that a log marks as already motion-compensated (``metadata["lidar_motion_compensated"] is
True``, e.g. PandaSet) are moved with the ego pose at the sweep timestamp only (their per-point times
are ignored), so they are never compensated twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

import kernels
from calibration.camera import CameraModel
from engine.log import Log
from engine.sweeps import LidarSweep, RadarSweep
from kernels.errors import InvalidInputError

__all__ = ["LogProjection", "SharedFrame", "deskew_sweep", "fuse_frame", "project_frame", "project_points"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SharedFrame:
    """Every lidar and radar point of one frame, in one frame at one time.

    Attributes
    ----------
    points : ndarray of shape (N, 3), float32 [m]
        Points in ``frame`` (the ego frame at ``ref_time_us``, or the world frame).
    sensor_ids : tuple of str
        The sensors that contributed, in order; ``sensor_index`` points into it.
    capture_time_us : ndarray of shape (S,), int64
        Timestamp of each contributing capture [µs].
    sensor_index : ndarray of shape (N,), int32
        Sensor of every point.
    radial_velocity : ndarray of shape (N,), float32 [m/s]
        Ego-motion-compensated radial velocity (radar); NaN for lidar points.
    starts : ndarray of shape (S + 1,), int64
        ``points[starts[s]:starts[s + 1]]`` came from ``sensor_ids[s]``.
    ref_time_us : int
        Reference time [µs].
    frame : kernels.Frame
        ``EGO`` or ``WORLD``.
    """

    points: npt.NDArray[np.float32]
    sensor_ids: tuple[str, ...]
    capture_time_us: npt.NDArray[np.int64]
    sensor_index: npt.NDArray[np.int32]
    radial_velocity: npt.NDArray[np.float32]
    starts: npt.NDArray[np.int64]
    ref_time_us: int
    frame: kernels.Frame


@dataclass(frozen=True, slots=True)
class LogProjection:
    """Points projected into the cameras of a log at each camera's capture time.

    Attributes
    ----------
    camera_ids : tuple of str
        Cameras, in the order of the projection's camera axis.
    capture_index : ndarray of shape (C,), int64
        Index of the capture used in each camera's stream (the one nearest ``ref_time_us``).
    capture_time_us : ndarray of shape (C,), int64
        Its timestamp [µs].
    camera_from_points : ndarray of shape (C, 4, 4), float64
        The transforms used (points' frame at ``ref_time_us`` -> camera at its capture time).
    projection : kernels.DenseProjection or kernels.CompactProjection
        Pixels, depths and validity (see :func:`kernels.project_to_cameras`).
    """

    camera_ids: tuple[str, ...]
    capture_index: npt.NDArray[np.int64]
    capture_time_us: npt.NDArray[np.int64]
    camera_from_points: npt.NDArray[np.float64]
    projection: kernels.DenseProjection | kernels.CompactProjection


def _policy(log: Log) -> dict[str, Any]:
    tr = log.trajectory
    return {"extrapolation": tr.extrapolation, "max_extrapolation_us": tr.max_extrapolation_us}


def _lidar_compensated(log: Log) -> bool:
    return log.metadata.get("lidar_motion_compensated") is True


def _offsets(log: Log, sweep: LidarSweep | RadarSweep) -> npt.NDArray[np.int32]:
    """Per-point time offsets, zero for sweeps the log marks as already compensated."""
    if isinstance(sweep, LidarSweep) and _lidar_compensated(log):
        return np.zeros(len(sweep), np.int32)
    return sweep.time_offset_us


def _stream(log: Log, sensor_id: str) -> Any:
    for group in (log.lidar, log.radar):
        if sensor_id in group:
            return group[sensor_id]
    streams = sorted([*log.lidar, *log.radar])
    raise InvalidInputError(f"sensor_id {sensor_id!r} has no lidar or radar stream; streams are {streams}")


def deskew_sweep(
    log: Log,
    sensor_id: str,
    index: int,
    *,
    ref_time_us: int | None = None,
    frame: str | kernels.Frame = "ego",
    backend: str | kernels.Backend = "auto",
) -> npt.NDArray[np.float32]:
    """Move one lidar (or radar) sweep of a log into the ego or world frame at a reference time.

    Parameters
    ----------
    log : Log
        The drive log.
    sensor_id : str
        A lidar or radar of the log.
    index : int
        Capture index in that sensor's stream.
    ref_time_us : int, optional
        Reference time [µs]; the sweep's timestamp when omitted.
    frame : {"ego", "world"}
        Output frame.
    backend : {"auto", "cpu", "cuda"}
        Where the kernel runs.

    Returns
    -------
    ndarray of shape (N, 3), float32 [m]
        The sweep's points, each moved with the ego pose at its own capture time (or at the sweep
        timestamp when the log marks its lidar sweeps as already compensated).
    """
    sweep = _stream(log, sensor_id)[index]
    return kernels.deskew(  # type: ignore[no-any-return]
        sweep.points,
        _offsets(log, sweep),
        timestamp_us=sweep.timestamp_us,
        trajectory=log.trajectory,
        ego_from_sensor=log.sensors[sensor_id].ego_from_sensor.matrix,
        ref_time_us=ref_time_us,
        frame=frame,
        backend=backend,
        **_policy(log),
    )


def fuse_frame(
    log: Log,
    timestamp_us: int,
    *,
    sensor_ids: Sequence[str] | None = None,
    ref_time_us: int | None = None,
    frame: str | kernels.Frame = "ego",
    max_gap_us: int = 100_000,
    backend: str | kernels.Backend = "auto",
) -> SharedFrame:
    """Fuse the lidars and radars of one frame: each sensor's capture nearest ``timestamp_us``.

    Parameters
    ----------
    log : Log
        The drive log.
    timestamp_us : int
        Frame time [µs]; each sensor contributes its capture nearest to it.
    sensor_ids : sequence of str, optional
        Lidars and radars to fuse (default: every lidar, then every radar, in id order).
    ref_time_us : int, optional
        Reference time of the output [µs]; ``timestamp_us`` when omitted.
    frame : {"ego", "world"}
        Output frame.
    max_gap_us : int
        Sensors whose nearest capture lies further than this from ``timestamp_us`` are left out.
    backend : {"auto", "cpu", "cuda"}
        Where the kernels run.

    Returns
    -------
    SharedFrame
    """
    ids = list(sensor_ids) if sensor_ids is not None else [*sorted(log.lidar), *sorted(log.radar)]
    ref = int(timestamp_us) if ref_time_us is None else ref_time_us
    used, stamps, captures = [], [], []
    for sid in ids:
        stream = _stream(log, sid)
        if len(stream) == 0:
            continue
        i = stream.nearest(int(timestamp_us))
        gap = abs(int(stream.timestamps_us[i]) - int(timestamp_us))
        if gap > max_gap_us:
            logger.info("fuse_frame: %s left out, nearest capture %d µs from the frame", sid, gap)
            continue
        sweep = stream[i]
        captures.append(
            kernels.SensorPoints(
                sweep.points,
                _offsets(log, sweep),
                sweep.timestamp_us,
                log.sensors[sid].ego_from_sensor.matrix,
                sweep.radial_velocity if isinstance(sweep, RadarSweep) else None,
            )
        )
        used.append(sid)
        stamps.append(sweep.timestamp_us)
    fused = kernels.fuse(
        captures, trajectory=log.trajectory, ref_time_us=ref, frame=frame, backend=backend, **_policy(log)
    )
    return SharedFrame(
        fused.points,
        tuple(used),
        np.array(stamps, np.int64),
        fused.sensor_index,
        fused.radial_velocity,
        fused.starts,
        ref,
        kernels.Frame.parse(frame),
    )


def project_points(
    log: Log,
    points: Any,
    *,
    ref_time_us: int,
    frame: str | kernels.Frame = "ego",
    camera_ids: Sequence[str] | None = None,
    max_gap_us: int = 100_000,
    output: str | kernels.Output = "dense",
    depth_image: bool = False,
    backend: str | kernels.Backend = "auto",
) -> LogProjection:
    """Project points into the cameras of a log, each camera at its capture nearest ``ref_time_us``.

    A point fixed in the world and expressed in ``frame`` at ``ref_time_us`` is moved into each camera
    with the ego pose at that camera's capture time (:func:`kernels.camera_from_points_at`).

    Parameters
    ----------
    log : Log
        The drive log.
    points : array of shape (N, 3), float32 [m]
        Points in the ego frame at ``ref_time_us`` (``frame="ego"``) or in the world frame.
    ref_time_us : int
        Time of the points [µs]; also selects each camera's capture.
    frame : {"ego", "world"}
        Frame of ``points``.
    camera_ids : sequence of str, optional
        Cameras (default: every camera stream of the log, in id order).
    max_gap_us : int
        Cameras without a capture within this of ``ref_time_us`` are left out.
    output, depth_image, backend
        As in :func:`kernels.project_to_cameras`.

    Returns
    -------
    LogProjection
    """
    ids = list(camera_ids) if camera_ids is not None else sorted(log.cameras)
    used, index, times, camera_from_ego = [], [], [], []
    models: list[CameraModel] = []
    for cid in ids:
        if cid not in log.cameras:
            raise InvalidInputError(
                f"camera_ids: {cid!r} is not a camera stream; cameras are {sorted(log.cameras)}"
            )
        stream = log.cameras[cid]
        if len(stream) == 0:
            continue
        i = stream.nearest(int(ref_time_us))
        t = int(stream.timestamps_us[i])
        if abs(t - int(ref_time_us)) > max_gap_us:
            logger.info("project_points: %s left out, nearest capture %d µs away", cid, abs(t - ref_time_us))
            continue
        sensor = log.sensors[cid]
        if sensor.camera is None:  # pragma: no cover - Sensor guarantees a model for cameras
            raise InvalidInputError(f"camera {cid!r} has no camera model")
        used.append(cid)
        index.append(i)
        times.append(t)
        models.append(sensor.camera)
        camera_from_ego.append(sensor.ego_from_sensor.inverse().matrix)
    mats = (
        kernels.camera_from_points_at(
            np.array(camera_from_ego),
            np.array(times, np.int64),
            log.trajectory,
            ref_time_us=ref_time_us,
            frame=frame,
            **_policy(log),
        )
        if used
        else np.zeros((0, 4, 4))
    )
    projection = kernels.project_to_cameras(
        points, models, mats, output=output, depth_image=depth_image, backend=backend
    )
    return LogProjection(tuple(used), np.array(index, np.int64), np.array(times, np.int64), mats, projection)


def project_frame(
    log: Log,
    shared: SharedFrame,
    *,
    camera_ids: Sequence[str] | None = None,
    max_gap_us: int = 100_000,
    output: str | kernels.Output = "dense",
    depth_image: bool = False,
    backend: str | kernels.Backend = "auto",
) -> LogProjection:
    """Project a fused frame into the cameras of its log at their capture times.

    Parameters
    ----------
    log : Log
        The log ``shared`` came from.
    shared : SharedFrame
        Output of :func:`fuse_frame`.
    camera_ids, max_gap_us, output, depth_image, backend
        As in :func:`project_points`.

    Returns
    -------
    LogProjection
    """
    return project_points(
        log,
        shared.points,
        ref_time_us=shared.ref_time_us,
        frame=shared.frame,
        camera_ids=camera_ids,
        max_gap_us=max_gap_us,
        output=output,
        depth_image=depth_image,
        backend=backend,
    )
