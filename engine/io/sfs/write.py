"""Write a :class:`~engine.Log` as an SFS scene file (``shared/reference/sfs-format.md``).

What goes where:

* ``time_offset`` = the earliest time in the log (trajectory, every point, every capture, every
  keyframe), so all relative times are >= 0 and the first is 0. ``time_unit`` = ``"microseconds"``.
* An ``odometry`` sensor (id ``odometry_id``) carries ``world_from_ego`` (``include_odometry=False`` puts
  it into the scene metadata instead, for tools that reject odometry sensors, e.g. SDK 0.5.4's validator).
* Lidar and radar positions stay in the sensor frame (``coordinates: "ego"``, read as "relative to the
  sensor's own pose"), so they are the engine's float32 arrays bit for bit. A frame's ``timestamp`` is
  its earliest point time (the SDK requires ``timestamp <= min(point timestamps)``); per-point
  ``timestamps`` are uint32 µs on the scene timeline (uint64 beyond 71 minutes).
  Intensity is written as uint8 ``round(255 i)``; radar ``directions``/``lengths`` = unit vector and
  magnitude of ``v_r * p/|p|`` (the radial velocity as a vector).
* Cameras: ``intrinsics`` with the model's ``distortion {model, params}`` (SFS order) and ``skew``;
  ``images`` with each frame's file bytes (JPEG/PNG as stored; an empty array where a frame has no
  image), or ``video`` when the sensor came from an SFS video (``metadata["sfs_video"]``).
* Sensor poses: :class:`SensorPoses` (``WORLD``: ``world_from_sensor`` at every capture; ``PARENT``:
  ``parent_id`` = odometry and one constant ``ego_from_sensor``).
* Exact engine values the SFS fields cannot carry bit for bit (sweep ``timestamp_us``, float intensity,
  ring, radial velocity, RCS, ``ego_from_sensor``, sensor metadata, the camera model, log metadata)
  go to ``"fusionlabel"`` extension objects, which other readers ignore.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from calibration.camera import CameraModel
from calibration.se3 import quat_wxyz_to_xyzw, quat_xyzw_to_wxyz
from calibration.trajectory import Trajectory
from engine.io.sfs._common import EXT, AngleUnit, SensorPoses, shift_times, unpack_arrays
from engine.io.sfs.annotations import annotations_to_sfs
from engine.io.sfs.container import write_json_binary
from engine.log import Log
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import InvalidInputError, LogFormatError

__all__ = ["camera_to_sfs", "write_sfs"]

_U32_MAX = int(np.iinfo(np.uint32).max)


def camera_to_sfs(camera: CameraModel) -> dict[str, Any]:
    """SFS ``intrinsics`` of a camera (inverse of :func:`calibration.camera_from_sfs`)."""
    out: dict[str, Any] = {
        "fx": camera.fx,
        "fy": camera.fy,
        "cx": camera.cx,
        "cy": camera.cy,
        "width": camera.width,
        "height": camera.height,
        "distortion": {"model": camera.model, "params": list(camera.params)},
    }
    if camera.skew:
        out["skew"] = camera.skew
    return out


def _pose_values(
    translations: npt.NDArray[np.float64], quats_wxyz: npt.NDArray[np.float64]
) -> list[list[float]]:
    xyzw = quat_wxyz_to_xyzw(quats_wxyz)
    return [[*map(float, t), *map(float, q)] for t, q in zip(translations, xyzw, strict=True)]


def _sensor_pose_path(
    sensor: Sensor, times_us: npt.NDArray[np.int64], trajectory: Trajectory, offset: int, mode: SensorPoses
) -> dict[str, Any]:
    e = sensor.ego_from_sensor
    if mode is SensorPoses.PARENT or times_us.size == 0:
        return {"timestamps": [0], "values": _pose_values(e.translation[None], e.quaternion_wxyz[None])}
    m = trajectory.matrices_at(times_us) @ e.matrix
    quats = quat_xyzw_to_wxyz(Rotation.from_matrix(m[:, :3, :3]).as_quat())
    return {"timestamps": [int(t) - offset for t in times_us], "values": _pose_values(m[:, :3, 3], quats)}


def _point_times(sweep: LidarSweep | RadarSweep, offset: int) -> tuple[npt.NDArray[Any], int]:
    """Per-point times on the scene timeline (uint32, or uint64 when needed) and the frame timestamp."""
    rel = (sweep.timestamp_us - offset) + sweep.time_offset_us.astype(np.int64)
    if rel.size == 0:
        return rel.astype(np.uint32), sweep.timestamp_us - offset
    if rel.min() < 0:
        raise InvalidInputError(f"sensor {sweep.sensor_id!r}: a point time precedes time_offset {offset}")
    dtype = np.uint32 if rel.max() <= _U32_MAX else np.uint64
    return rel.astype(dtype), int(rel.min())


def _lidar_frame(sweep: LidarSweep, offset: int) -> dict[str, Any]:
    times, frame_ts = _point_times(sweep, offset)
    u8 = np.rint(np.clip(sweep.intensity, 0.0, 1.0) * 255.0).astype(np.uint8)
    ext: dict[str, Any] = {"timestamp": sweep.timestamp_us - offset}
    if not np.array_equal(
        (u8.astype(np.float32) / np.float32(255.0)).view(np.uint32), sweep.intensity.view(np.uint32)
    ):
        ext["intensity"] = sweep.intensity
    if np.any(sweep.ring):
        ext["ring"] = sweep.ring
    points = {"positions": sweep.points, "intensities": u8, "timestamps": times}
    return {"timestamp": frame_ts, "points": points, EXT: ext}


def _radar_frame(sweep: RadarSweep, offset: int) -> dict[str, Any]:
    times, frame_ts = _point_times(sweep, offset)
    p = sweep.points.astype(np.float64)
    rng = np.linalg.norm(p, axis=1)
    unit = np.divide(p, rng[:, None], out=np.zeros_like(p), where=rng[:, None] > 0)
    rv = sweep.radial_velocity.astype(np.float64)
    directions = (unit * np.where(rv < 0, -1.0, 1.0)[:, None]).astype(np.float32)
    points = {
        "positions": sweep.points,
        "directions": directions,
        "lengths": np.abs(sweep.radial_velocity).astype(np.float32),
        "timestamps": times,
    }
    ext = {
        "timestamp": sweep.timestamp_us - offset,
        "radial_velocity": sweep.radial_velocity,
        "rcs": sweep.rcs,
    }
    return {"timestamp": frame_ts, "points": points, EXT: ext}


def _image_bytes(frame: CameraFrame, root: str | None) -> npt.NDArray[np.uint8]:
    if frame.image is None:
        return np.zeros(0, np.uint8)
    path = Path(frame.image)
    if not path.is_absolute() and root:
        path = Path(root) / path
    try:
        return np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise LogFormatError(f"camera {frame.sensor_id!r}: cannot read image {str(path)!r}: {exc}") from exc


def _sensor_ext(sensor: Sensor) -> dict[str, Any]:
    ext: dict[str, Any] = {
        "ego_from_sensor": sensor.ego_from_sensor.to_dict(),
        "metadata": dict(sensor.metadata),
    }
    if sensor.camera is not None:
        ext["camera"] = sensor.camera.to_dict()
    return ext


def _sensor(log: Log, sensor: Sensor, offset: int, mode: SensorPoses, parent: str) -> dict[str, Any]:
    sid = sensor.sensor_id
    out: dict[str, Any] = {"id": sid, "type": sensor.kind.value}
    if sensor.kind is SensorKind.CAMERA:
        assert sensor.camera is not None  # Sensor guarantees a model for cameras
        stream = log.cameras.get(sid)
        times = stream.timestamps_us if stream is not None else np.zeros(0, np.int64)
        out["intrinsics"] = camera_to_sfs(sensor.camera)
        video = sensor.metadata.get("sfs_video")
        if video:
            content = np.fromfile(video["path"], dtype=np.uint8)
            out["video"] = {
                "timestamps": [int(t) - offset for t in times],
                "content": content,
                "fps": video["fps"],
            }
        else:
            root = log.metadata.get("path")
            out["images"] = [
                {"timestamp": f.timestamp_us - offset, "content": _image_bytes(f, root)}
                for f in (stream or [])
            ]
    else:
        streams: Mapping[str, Any] = log.lidar if sensor.kind is SensorKind.LIDAR else log.radar
        stream = streams.get(sid)
        times = stream.timestamps_us if stream is not None else np.zeros(0, np.int64)
        make = _lidar_frame if sensor.kind is SensorKind.LIDAR else _radar_frame
        out["coordinates"] = "ego"
        out["frames"] = [make(s, offset) for s in (stream or [])]  # type: ignore[arg-type]
    out["poses"] = _sensor_pose_path(sensor, times, log.trajectory, offset, mode)
    if mode is SensorPoses.PARENT:
        out["parent_id"] = parent
    out[EXT] = _sensor_ext(sensor)
    return out


def _earliest_time(log: Log) -> int:
    """Earliest time anywhere in the log [µs]: poses, points, captures, keyframes, kept SFS extras."""
    cands = [log.trajectory.start_us]
    for group in (log.lidar, log.radar):
        for stream in group.values():
            for sweep in stream:
                lo = int(sweep.time_offset_us.min()) if len(sweep) else 0
                cands.append(sweep.timestamp_us + min(lo, 0))
    cands += [int(s.timestamps_us[0]) for s in log.cameras.values() if len(s)]
    cands += [int(t.timestamps_us[0]) for t in log.annotations.tracks]
    cands += [a.timestamps_us[0] for tr in log.annotations.tracks for a in tr.attributes if a.timestamps_us]
    return min(cands)


def write_sfs(
    log: Log,
    path: str | Path,
    *,
    angle_unit: AngleUnit | str = AngleUnit.RADIANS,
    sensor_poses: SensorPoses | str = SensorPoses.WORLD,
    include_odometry: bool = True,
    odometry_id: str = "ego",
    time_offset_us: int | None = None,
) -> Path:
    """Write ``log`` to the SFS file ``path`` (atomically).

    Parameters
    ----------
    log : Log
        Sensors, streams, trajectory and annotations.
    path : str or Path
        Output file (``.sfs`` by convention).
    angle_unit : AngleUnit or {"radians", "degrees"}
        Unit of cuboid ``roll, pitch, yaw`` on the wire (undocumented by SFS; recorded in the scene
        metadata so :func:`read_sfs` picks it up).
    sensor_poses : SensorPoses or {"world", "parent"}
        How sensors are posed (see :class:`SensorPoses`).
    include_odometry : bool
        Write the trajectory as an ``odometry`` sensor (else only in the metadata extension).
    odometry_id : str
        Id of the odometry sensor; must differ from every sensor id.
    time_offset_us : int, optional
        The scene's ``time_offset`` [µs]; default the earliest time in the log.

    Returns
    -------
    Path
        The file written.
    """
    unit = AngleUnit.parse(angle_unit)
    mode = SensorPoses.parse(sensor_poses)
    if odometry_id in log.sensors:
        raise InvalidInputError(f"odometry_id {odometry_id!r} collides with a sensor id")
    if mode is SensorPoses.PARENT and not include_odometry:
        raise InvalidInputError(
            "sensor_poses='parent' needs include_odometry=True (the parent is the odometry)"
        )
    offset = _earliest_time(log) if time_offset_us is None else int(time_offset_us)
    tr = log.trajectory
    odom = {
        "timestamps": [int(t) - offset for t in tr.timestamps_us],
        "values": _pose_values(tr.translations, tr.quaternions_wxyz),
    }
    extras: dict[str, Any] = dict(log.metadata.get("sfs", {}))
    sensors: list[dict[str, Any]] = []
    if include_odometry:
        sensors.append({"id": odometry_id, "type": "odometry", "poses": odom})
    sensors += [_sensor(log, s, offset, mode, odometry_id) for _, s in sorted(log.sensors.items())]
    sensors += [unpack_arrays(shift_times(s, -offset)) for s in extras.get("sensors", [])]
    ext: dict[str, Any] = {
        "version": 1,
        "name": log.name,
        "angle_unit": unit.value,
        "odometry_id": odometry_id if include_odometry else None,
        "extrapolation": tr.extrapolation.value,
        "max_extrapolation_us": tr.max_extrapolation_us,
        "log_metadata": {k: v for k, v in log.metadata.items() if k not in ("sfs", "path")},
    }
    if not include_odometry:
        ext["trajectory"] = odom
    scene = {
        "version": "1.0",
        "time_offset": offset,
        "time_unit": "microseconds",
        "sensors": sensors,
        "annotations": annotations_to_sfs(
            log.annotations, time_offset_us=offset, angle_unit=unit, trajectory=tr, extras=extras
        ),
        "attributes": unpack_arrays(shift_times(extras.get("scene_attributes", []), -offset)),
        "metadata": {**unpack_arrays(extras.get("scene_metadata", {})), EXT: ext},
    }
    path = Path(path)
    write_json_binary(path, scene)
    return path
