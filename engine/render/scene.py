"""What a picture shows at one time: the tracks' boxes (with velocity, colour, worst finding) and points.

The pictures draw plain values; this module gathers them from a log, its annotations and findings:
each track alive at the time is interpolated there (:func:`engine.tracks.interpolate_track`, Hermite
positions, slerp rotations) and expressed in the ego frame at that time (BEV) or the world frame
(camera overlays); its velocity over ground is a central difference of the interpolated centres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import quat_wxyz_to_yaw
from engine.annotations import Annotations, CoordinateFrame
from engine.log import Log
from engine.render.colors import RGB, track_color
from engine.tracks import interpolate_track
from engine.validation import Finding
from kernels.errors import InvalidInputError

__all__ = ["DrawBox", "boxes_at", "frame_findings", "lidar_points_at"]

F64 = npt.NDArray[np.float64]
_DT_US = 50_000


@dataclass(frozen=True, slots=True)
class DrawBox:
    """One track's cuboid at one time, ready to draw.

    Attributes
    ----------
    track_id, label : str
        Identity and class.
    box : ndarray of shape (7,), float64
        ``[x, y, z, length, width, height, yaw]`` in the picture's frame [m, rad].
    velocity : ndarray of shape (3,), float64
        Velocity over ground in the picture frame's axes [m/s].
    color : tuple of 3 int
        The track's colour.
    severity : str or None
        Worst finding on this track at this time (``"error"``, ``"warning"``, ``"info"``), or None.
    """

    track_id: str
    label: str
    box: F64
    velocity: F64
    color: RGB
    severity: str | None = None


def _worst(findings: Sequence[Finding]) -> str | None:
    if not findings:
        return None
    return min(findings, key=lambda f: f.severity.rank).severity.value


def _near(f: Finding, timestamp_us: int, tolerance_us: int) -> bool:
    return f.timestamp_us is None or abs(f.timestamp_us - timestamp_us) <= tolerance_us


def frame_findings(findings: Sequence[Finding], timestamp_us: int, tolerance_us: int) -> list[Finding]:
    """Findings that concern ``timestamp_us`` (or no particular time), most severe first."""
    near = [f for f in findings if _near(f, timestamp_us, tolerance_us)]
    return sorted(near, key=lambda f: f.severity.rank)


def boxes_at(
    log: Log,
    annotations: Annotations,
    timestamp_us: int,
    frame: CoordinateFrame | str = CoordinateFrame.EGO,
    findings: Sequence[Finding] = (),
    tolerance_us: int = 50_000,
) -> list[DrawBox]:
    """Every track alive at ``timestamp_us`` (within ``tolerance_us`` of its span), in ``frame``.

    Parameters
    ----------
    log : Log
        The drive log (its trajectory moves world boxes into the ego frame).
    annotations : Annotations
        The tracks (world or ego keyframes).
    timestamp_us : int
        The picture's time [µs].
    frame : {"ego", "world"}
        Frame of the returned boxes: the ego frame at ``timestamp_us``, or the world.
    findings : sequence of Finding
        Validation findings; each box carries the worst one of its track near this time.
    tolerance_us : int
        A track whose keyframes end (or start) this close to ``timestamp_us`` is held at its end pose.

    Returns
    -------
    list of DrawBox
    """
    out_frame = CoordinateFrame.parse(frame)
    t = int(timestamp_us)
    by_track: dict[str, list[Finding]] = {}
    for f in findings:
        if f.track_id is not None and _near(f, t, tolerance_us):
            by_track.setdefault(f.track_id, []).append(f)
    ego = log.trajectory.pose_at(t)
    ego_yaw = float(quat_wxyz_to_yaw(ego.quaternion_wxyz))
    out = []
    for tr in annotations.tracks:
        lo, hi = int(tr.timestamps_us[0]), int(tr.timestamps_us[-1])
        if not lo - tolerance_us <= t <= hi + tolerance_us:
            continue
        tc = min(max(t, lo), hi)  # held at its end pose just outside its span
        tq = np.array(sorted({max(tc - _DT_US, lo), tc, min(tc + _DT_US, hi)}), np.int64)
        world = interpolate_track(tr, tq, log.trajectory, CoordinateFrame.WORLD)
        k = int(np.searchsorted(tq, tc))
        span_s = (tq[-1] - tq[0]) * 1e-6
        vel = (world.centers[-1] - world.centers[0]) / span_s if span_s > 0 else np.zeros(3)
        centre, yaw = world.centers[k], float(quat_wxyz_to_yaw(world.rotations_wxyz[k]))
        if out_frame is CoordinateFrame.EGO:  # world -> ego at t (yaw-only boxes)
            centre, vel, yaw = (
                ego.rotation.T @ (centre - ego.translation),
                ego.rotation.T @ vel,
                yaw - ego_yaw,
            )
        box = np.array([*centre, *world.sizes[k], yaw], np.float64)
        sev = _worst(by_track.get(tr.track_id, []))
        out.append(
            DrawBox(tr.track_id, tr.label, box, np.asarray(vel, np.float64), track_color(tr.track_id), sev)
        )
    return out


def lidar_points_at(
    log: Log, timestamp_us: int, frame: CoordinateFrame | str = CoordinateFrame.EGO, max_gap_us: int = 100_000
) -> npt.NDArray[np.float32]:
    """Every lidar's sweep nearest ``timestamp_us``, (N, 3) float32, in the ego frame then or the world.

    Sweeps are moved with the pose at their own timestamp (no per-point deskew: pictures only).
    """
    out_frame = CoordinateFrame.parse(frame)
    world_from_ego_now = log.trajectory.pose_at(int(timestamp_us))
    parts = []
    for sid in sorted(log.lidar):
        stream = log.lidar[sid]
        if len(stream) == 0:
            continue
        i = stream.nearest(int(timestamp_us))
        if abs(int(stream.timestamps_us[i]) - int(timestamp_us)) > max_gap_us:
            continue
        sweep = stream[i]
        world_from_sensor = log.trajectory.pose_at(sweep.timestamp_us) @ log.sensors[sid].ego_from_sensor
        pose = (
            world_from_sensor
            if out_frame is CoordinateFrame.WORLD
            else world_from_ego_now.inverse() @ world_from_sensor
        )
        parts.append(np.asarray(pose.transform_points(sweep.points), np.float32))
    if not parts:
        return np.zeros((0, 3), np.float32)
    return np.ascontiguousarray(np.concatenate(parts))


def check_time(log: Log, timestamp_us: int) -> int:
    """``timestamp_us`` as int, raising when the trajectory cannot place the ego there."""
    t = int(timestamp_us)
    tr = log.trajectory
    if not tr.start_us - tr.max_extrapolation_us <= t <= tr.end_us + tr.max_extrapolation_us:
        raise InvalidInputError(
            f"timestamp_us {t} lies outside the log's trajectory [{tr.start_us}, {tr.end_us}] µs"
        )
    return t
