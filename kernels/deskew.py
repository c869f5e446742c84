"""Public deskew and fuse: sensor points at their own capture times -> one frame at one time.

Sign convention for radar (see :func:`kernels._math.transform.radial_velocity_compensated`): the
measured radial velocity is positive when the range grows; the compensated value is the target's own
velocity over ground projected on the ray, ``v_r + dot(v_sensor, u)`` (0 for static structure).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.dispatch import Backend, place
from kernels.errors import InvalidTypeError
from kernels.motion import (
    Frame,
    PoseTrack,
    TrajectoryArrays,
    check_time,
    frame_params,
    pack_rigid,
    trajectory_arrays,
)
from kernels.validation import as_array

__all__ = ["FusedPoints", "SensorPoints", "deskew", "fuse"]


def _launch(placement: Any, name: str, n: int, *args: Any) -> None:
    if placement.backend is Backend.CPU:
        from kernels import cpu

        getattr(cpu, name)(*args)
    else:
        from kernels import cuda

        getattr(cuda, name)[cuda.launch_config(n)](*args)


def _offset_range(placement: Any, offsets: Any) -> tuple[int, int]:
    host = offsets if isinstance(offsets, np.ndarray) else offsets.copy_to_host()
    return (int(host.min()), int(host.max())) if host.size else (0, 0)


def deskew(
    points: Any,
    time_offset_us: Any,
    *,
    timestamp_us: int,
    trajectory: PoseTrack,
    ego_from_sensor: Any = None,
    ref_time_us: int | None = None,
    frame: str | Frame = "ego",
    extrapolation: str | enum.Enum = "raise",
    max_extrapolation_us: int = 500_000,
    backend: str | Backend = "auto",
) -> Any:
    """Move every point of a sweep to one frame at one reference time (motion compensation).

    Point ``i`` was captured at ``timestamp_us + time_offset_us[i]``; it is mapped with the ego pose
    interpolated at that time (translation lerp, rotation slerp) into the world, then into the ego
    frame at ``ref_time_us`` (or left in the world frame).

    Parameters
    ----------
    points : array of shape (N, 3), float32, sensor frame [m]
        NumPy, or a CUDA array (CuPy, torch) to run on the GPU.
    time_offset_us : array of shape (N,), int32 [µs]
        Capture time of each point minus ``timestamp_us`` (same device as ``points``).
    timestamp_us : int
        The sweep's timestamp [µs].
    trajectory : PoseTrack
        ``world_from_ego`` poses, e.g. ``calibration.Trajectory``.
    ego_from_sensor : array_like of shape (4, 4), float64, optional
        Sensor extrinsics; identity when omitted (points already in the ego frame).
    ref_time_us : int, optional
        Reference time [µs]; defaults to ``timestamp_us``.
    frame : {"ego", "world"}
        Output frame.
    extrapolation : {"raise", "clamp", "constant_velocity"}
        Times outside the trajectory: error (default), hold the end pose, or continue the end
        segment's constant velocity, the last two for at most ``max_extrapolation_us``.
    max_extrapolation_us : int
        See ``extrapolation``.
    backend : {"auto", "cpu", "cuda"}
        Where to run (see :mod:`kernels.dispatch`).

    Returns
    -------
    array of shape (N, 3), float32
        Compensated points [m], on the device of ``points``.

    See Also
    --------
    fuse : several lidars and radars at once.
    """
    placement = place(backend, {"points": points, "time_offset_us": time_offset_us})
    pts = placement.host("points", points, np.float32, (None, 3))
    n = pts.shape[0]
    off = placement.host("time_offset_us", time_offset_us, np.int32, (n,))
    base = check_time("timestamp_us", timestamp_us)
    ref = base if ref_time_us is None else check_time("ref_time_us", ref_time_us)
    traj = trajectory_arrays(trajectory, extrapolation, max_extrapolation_us)
    rts = pack_rigid("ego_from_sensor", np.eye(4) if ego_from_sensor is None else ego_from_sensor, 1)
    which = Frame.parse(frame)
    lo, hi = _offset_range(placement, off)
    if n:
        traj.check_times("point time (timestamp_us + time_offset_us)", base + lo, base + hi)
    if which is Frame.EGO:
        traj.check_times("ref_time_us", ref, ref)
    params = frame_params(traj, ref, which)
    owner, out = placement.empty((n, 3), np.float32)
    if n:
        args = _kernel_args(placement, traj, rts, np.array([base]), np.zeros(1, np.int32), 0)
        _launch(placement, "deskew", n, pts, off, *args, placement.small(params), out)
    return placement.result(owner)


def _kernel_args(
    placement: Any, traj: TrajectoryArrays, rts: Any, base: Any, index: Any, stride: int
) -> tuple[Any, ...]:
    small = placement.small
    return (
        index if not isinstance(index, np.ndarray) else small(index),
        stride,
        small(np.asarray(base, np.int64)),
        small(rts),
        small(traj.timestamps_us),
        small(traj.translations),
        small(traj.quaternions_wxyz),
        traj.clamp,
    )


@dataclass(frozen=True, slots=True)
class SensorPoints:
    """Points of one lidar or radar capture, ready to fuse.

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32, sensor frame [m]
    time_offset_us : ndarray of shape (N,), int32 [µs]
        Capture time minus ``timestamp_us``.
    timestamp_us : int
        Capture timestamp [µs].
    ego_from_sensor : ndarray of shape (4, 4), float64
        Extrinsics.
    radial_velocity : ndarray of shape (N,), float32 [m/s], optional
        Radar only: measured range rate, positive away from the sensor.
    """

    points: npt.NDArray[np.float32]
    time_offset_us: npt.NDArray[np.int32]
    timestamp_us: int
    ego_from_sensor: npt.NDArray[np.float64]
    radial_velocity: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True, slots=True)
class FusedPoints:
    """All sensors of one frame in one frame at one time.

    Attributes
    ----------
    points : ndarray of shape (N, 3), float32 [m]
        Motion-compensated points, sensors concatenated in input order.
    sensor_index : ndarray of shape (N,), int32
        Position of each point's sensor in the input sequence.
    radial_velocity : ndarray of shape (N,), float32 [m/s]
        Ego-motion-compensated radial velocity (radar); NaN for sensors without one.
    starts : ndarray of shape (S + 1,), int64
        ``points[starts[s]:starts[s + 1]]`` came from sensor ``s``.
    """

    points: npt.NDArray[np.float32]
    sensor_index: npt.NDArray[np.int32]
    radial_velocity: npt.NDArray[np.float32]
    starts: npt.NDArray[np.int64]


def fuse(
    sensors: Sequence[SensorPoints],
    *,
    trajectory: PoseTrack,
    ref_time_us: int,
    frame: str | Frame = "ego",
    extrapolation: str | enum.Enum = "raise",
    max_extrapolation_us: int = 500_000,
    backend: str | Backend = "auto",
) -> FusedPoints:
    """Fuse lidars and radars of one frame: deskew every point, tag its sensor, compensate radar Doppler.

    Parameters
    ----------
    sensors : sequence of SensorPoints
        Host (NumPy) captures; ``backend="cuda"`` runs the kernels on the GPU and copies back.
    trajectory : PoseTrack
        ``world_from_ego`` poses.
    ref_time_us : int
        Reference time of the output frame [µs].
    frame, extrapolation, max_extrapolation_us, backend
        As in :func:`deskew`.

    Returns
    -------
    FusedPoints
    """
    if isinstance(sensors, SensorPoints) or not isinstance(sensors, Sequence):
        raise InvalidTypeError(f"sensors must be a sequence of SensorPoints, got {type(sensors).__name__}")
    pts, offs, rvs, rts, bases, starts = [], [], [], [], [], [0]
    for s, sp in enumerate(sensors):
        if not isinstance(sp, SensorPoints):
            raise InvalidTypeError(f"sensors[{s}] must be SensorPoints, got {type(sp).__name__}")
        p = as_array(f"sensors[{s}].points", sp.points, np.float32, (None, 3))
        n = p.shape[0]
        pts.append(p)
        offs.append(as_array(f"sensors[{s}].time_offset_us", sp.time_offset_us, np.int32, (n,)))
        rv = sp.radial_velocity
        rvs.append(None if rv is None else as_array(f"sensors[{s}].radial_velocity", rv, np.float32, (n,)))
        rts.append(pack_rigid(f"sensors[{s}].ego_from_sensor", sp.ego_from_sensor, 1)[0])
        bases.append(check_time(f"sensors[{s}].timestamp_us", sp.timestamp_us))
        starts.append(starts[-1] + n)
    placement = place(backend, {})
    ref = check_time("ref_time_us", ref_time_us)
    traj = trajectory_arrays(trajectory, extrapolation, max_extrapolation_us)
    which = Frame.parse(frame)
    for s, off in enumerate(offs):
        if off.size:
            traj.check_times(f"sensors[{s}] point time", bases[s] + int(off.min()), bases[s] + int(off.max()))
    if which is Frame.EGO:
        traj.check_times("ref_time_us", ref, ref)
    count = starts[-1]
    all_pts = np.concatenate(pts) if pts else np.empty((0, 3), np.float32)
    all_off = np.concatenate(offs) if offs else np.empty(0, np.int32)
    index = np.repeat(np.arange(len(pts), dtype=np.int32), np.diff(starts))
    table = np.array(rts).reshape(-1, 12) if rts else np.zeros((1, 12))
    base = np.array(bases if bases else [0], np.int64)
    owner, out = placement.empty((count, 3), np.float32)
    if count:
        args = _kernel_args(placement, traj, table, base, index, 1)
        _launch(
            placement,
            "deskew",
            count,
            placement.small(all_pts),
            placement.small(all_off),
            *args,
            placement.small(frame_params(traj, ref, which)),
            out,
        )
    velocity = np.full(count, np.nan, np.float32)
    radar = np.concatenate(
        [np.arange(starts[s], starts[s + 1]) for s in range(len(pts)) if rvs[s] is not None]
        or [np.empty(0, np.int64)]
    )
    if radar.size:
        r_v = np.concatenate([rv for rv in rvs if rv is not None])
        r_own, r_out = placement.empty((radar.size,), np.float32)
        small = placement.small
        _launch(
            placement,
            "radar_velocity",
            radar.size,
            small(all_pts[radar]),
            small(r_v),
            small(all_off[radar]),
            small(index[radar]),
            small(base),
            small(table),
            small(traj.timestamps_us),
            small(traj.translations),
            small(traj.quaternions_wxyz),
            traj.clamp,
            r_out,
        )
        velocity[radar] = placement.result(r_own)
    return FusedPoints(placement.result(owner), index, velocity, np.array(starts, np.int64))
