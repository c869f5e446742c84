"""Read an SFS scene file as a :class:`~engine.Log` (``shared/reference/sfs-format.md``).

* Times: SFS times are µs relative to ``time_offset``; the reader adds it (``t_abs = time_offset + t``).
  ``time_unit`` must be ``"microseconds"``.
* Poses: ``[x, y, z, qx, qy, qz, qw]`` (scalar-last, via :func:`calibration.quat_xyzw_to_wxyz`; norms
  checked to 1e-6); a sensor's poses map it to the world, or to its ``parent_id`` sensor (chains are
  composed). Between pose timestamps: lerp + slerp (:class:`calibration.Trajectory`), ends held.
* Ego and trajectory: the ``odometry`` sensor (``world_from_ego``); without one, the first lidar's
  poses (ego = that lidar's frame); without any, the identity. ``ego_from_sensor`` =
  ``ego_from_world(t) @ world_from_sensor(t)`` at the sensor's first pose time, unless the
  ``"fusionlabel"`` extension carries the exact value.
* Points: ``coordinates: "ego"`` is read as "in the sensor's own frame" (the points are used as
  stored, zero copy); ``"world"`` (the SFS default) is mapped into the sensor frame with the sensor's
  pose at the frame timestamp *(assumption: SFS does not define "ego"; see CONVENTIONS §8)*.
  Per-point ``timestamps`` become int32 offsets from the sweep's ``timestamp_us`` (the frame timestamp,
  or the exact value from the extension); intensity uint8 / 255; radar radial velocity =
  ``lengths * (directions · p/|p|)``; RCS 0 unless the extension has it.
* Cameras: images are extracted lazily (on first access of a frame) to ``image_dir``; JPEG and PNG
  payloads are written as they are, raw ``H x W x 3`` arrays as PNG. A video is extracted once to
  ``image_dir`` and referenced from the sensor's ``metadata["sfs_video"]`` (frames have no image).
* Angle unit of cuboids: ``angle_unit`` argument, else what the file records (fusionlabel writer),
  else radians.

Arrays are views of a memory map of the file; nothing is copied until a conversion needs it.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel
from calibration.camera_formats import camera_from_sfs
from calibration.se3 import SE3, quat_xyzw_to_wxyz
from calibration.trajectory import Extrapolation, Trajectory
from engine.io.sfs._common import EXT, AngleUnit, pack_arrays, shift_times
from engine.io.sfs._streams import camera_stream, lidar_loader, radar_loader
from engine.io.sfs.annotations import annotations_from_sfs
from engine.io.sfs.container import is_json_binary, read_json_binary
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from kernels.errors import EngineError, LogFormatError
from kernels.validation import check_unit_quaternions

__all__ = ["is_sfs", "read_sfs"]

logger = logging.getLogger(__name__)
_FAR = 1 << 62


def is_sfs(path: str | Path) -> bool:
    """Whether ``path`` is a JSON-binary file whose header starts an SFS scene (``"version": "1.0"``)."""
    if not is_json_binary(path):
        return False
    with open(path, "rb") as f:
        head = f.read(1 << 16).split(b"\0", 1)[0]
    return b'"version"' in head and (
        b'"sensors"' in head or b'"annotations"' in head or b'"time_offset"' in head
    )


def _pose_trajectory(poses: Mapping[str, Any], offset: int, where: str, **kw: Any) -> Trajectory:
    t = np.asarray([int(v) + offset for v in poses.get("timestamps", [])], dtype=np.int64)
    v = np.asarray(poses.get("values", []), dtype=np.float64).reshape(-1, 7)
    if t.size == 0 or v.shape[0] != t.size:
        raise LogFormatError(f"{where}: poses need >= 1 timestamp and one value per timestamp")
    q = quat_xyzw_to_wxyz(v[:, 3:])
    try:
        check_unit_quaternions(f"{where}.values quaternion", q)
        kw.setdefault("extrapolation", Extrapolation.CLAMP)
        kw.setdefault("max_extrapolation_us", _FAR)
        return Trajectory(t, v[:, :3].copy(), _renormalised(q), **kw)
    except EngineError as exc:
        raise LogFormatError(f"{where}: {exc}") from exc


def _renormalised(q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Unit quaternions; rows already unit to float64 rounding (4 ulp) are kept bit for bit."""
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(np.abs(norm - 1.0) > 4 * np.finfo(np.float64).eps, q / norm, q)


class _Rig:
    """World poses of every SFS sensor, following ``parent_id`` chains."""

    def __init__(self, sensors: list[Mapping[str, Any]], offset: int) -> None:
        self.raw = {str(s["id"]): s for s in sensors}
        self.paths = {
            sid: _pose_trajectory(s["poses"], offset, f"sensor {sid!r}")
            for sid, s in self.raw.items()
            if s.get("poses")
        }

    def world_from(self, sid: str, t_us: npt.NDArray[np.int64], depth: int = 0) -> npt.NDArray[np.float64]:
        if depth > len(self.raw):
            raise LogFormatError(f"sensor {sid!r}: parent_id chain has a cycle")
        path = self.paths.get(sid)
        m = (
            path.matrices_at(t_us)
            if path is not None
            else np.broadcast_to(np.eye(4), (t_us.size, 4, 4)).copy()
        )
        parent = self.raw[sid].get("parent_id")
        if parent is None:
            return m
        if str(parent) not in self.raw:
            raise LogFormatError(f"sensor {sid!r}: parent_id {parent!r} is not a sensor")
        return self.world_from(str(parent), t_us, depth + 1) @ m


def _image_dir(path: Path, image_dir: str | Path | None) -> Path:
    if image_dir is not None:
        return Path(image_dir)
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "fusionlabel-sfs" / key


def _ego_from_sensor(rig: _Rig, sid: str, trajectory: Trajectory, ext: Mapping[str, Any]) -> SE3:
    if "ego_from_sensor" in ext:
        return SE3.from_dict(ext["ego_from_sensor"])
    path = rig.paths.get(sid)
    t = np.array([path.start_us if path is not None else trajectory.start_us], dtype=np.int64)
    m = (
        np.linalg.inv(trajectory.with_extrapolation(Extrapolation.CLAMP, _FAR).matrices_at(t)[0])
        @ rig.world_from(sid, t)[0]
    )
    return SE3.from_matrix(m)


def read_sfs(
    path: str | Path, *, angle_unit: AngleUnit | str | None = None, image_dir: str | Path | None = None
) -> Log:
    """Open an SFS scene file as a :class:`~engine.Log` (sweeps are memory-mapped views, loaded lazily).

    Parameters
    ----------
    path : str or Path
        The ``.sfs`` file.
    angle_unit : AngleUnit or {"radians", "degrees"}, optional
        Unit of cuboid angles; default: the unit the file records (fusionlabel writer), else radians.
    image_dir : str or Path, optional
        Where camera images are extracted on first access; default a per-file folder in the temp dir.

    Returns
    -------
    Log
        What the engine models; everything else in ``metadata["sfs"]`` (written back by ``write_sfs``).
    """
    path = Path(path)
    tree = read_json_binary(path)
    if not str(tree.get("version", "")).startswith("1.0"):
        raise LogFormatError(
            f"{str(path)!r}: SFS version {tree.get('version')!r} is not supported (expected 1.0)"
        )
    if tree.get("time_unit", "microseconds") != "microseconds":
        raise LogFormatError(
            f"{str(path)!r}: time_unit {tree.get('time_unit')!r} is not supported (microseconds)"
        )
    offset = int(tree.get("time_offset") or 0)
    scene_meta = dict(tree.get("metadata") or {})
    ext = scene_meta.pop(EXT, None) or {}
    unit = AngleUnit.parse(angle_unit if angle_unit is not None else ext.get("angle_unit", "radians"))
    raw_sensors = list(tree.get("sensors") or [])
    rig = _Rig(raw_sensors, offset)
    policy: dict[str, Any] = {"extrapolation": Extrapolation(ext.get("extrapolation", "constant_velocity"))}
    if "max_extrapolation_us" in ext:
        policy["max_extrapolation_us"] = int(ext["max_extrapolation_us"])
    odom = [s for s in raw_sensors if s.get("type") == "odometry"]
    lidars = [s for s in raw_sensors if s.get("type") == "lidar"]
    if odom:
        trajectory = _pose_trajectory(odom[0]["poses"], offset, f"sensor {odom[0]['id']!r}", **policy)
    elif "trajectory" in ext:
        trajectory = _pose_trajectory(ext["trajectory"], offset, "metadata trajectory", **policy)
    elif lidars and str(lidars[0]["id"]) in rig.paths and lidars[0].get("parent_id") is None:
        trajectory = _pose_trajectory(lidars[0]["poses"], offset, f"sensor {lidars[0]['id']!r}", **policy)
    else:
        trajectory = Trajectory(np.array([offset]), np.zeros((1, 3)), np.array([[1.0, 0, 0, 0]]), **policy)
    images = _image_dir(path, image_dir)
    sensors: dict[str, Sensor] = {}
    streams: dict[str, dict[str, Stream[Any]]] = {"lidar": {}, "radar": {}, "camera": {}}
    kept: list[Any] = []
    for s in raw_sensors:
        sid, kind = str(s.get("id")), s.get("type")
        if kind not in ("lidar", "radar", "camera"):
            if kind != "odometry" or s is not odom[0]:
                kept.append(pack_arrays(shift_times(s, offset)))
            continue
        sext = s.get(EXT) or {}
        meta = dict(sext.get("metadata", {}))
        try:
            ego_from = _ego_from_sensor(rig, sid, trajectory, sext)
            if kind == "camera":
                model = (
                    CameraModel.from_dict(sext["camera"])
                    if "camera" in sext
                    else camera_from_sfs(s["intrinsics"])
                )
                streams["camera"][sid] = camera_stream(sid, s, model, offset, images, meta)
                sensors[sid] = Sensor(sid, SensorKind.CAMERA, ego_from, model, meta)
                continue
            frames = list(s.get("frames") or [])
            stamps = np.asarray(
                [int((f.get(EXT) or {}).get("timestamp", f["timestamp"])) + offset for f in frames],
                dtype=np.int64,
            )
            world = None
            if s.get("coordinates", "world") == "world":

                def world(t: int, sid: str = sid) -> SE3:
                    return SE3.from_matrix(rig.world_from(sid, np.array([t], dtype=np.int64))[0])

            loader = (lidar_loader if kind == "lidar" else radar_loader)(sid, frames, stamps, offset, world)
            streams[kind][sid] = Stream(sid, stamps, loader)
            sensors[sid] = Sensor(sid, SensorKind(kind), ego_from, None, meta)
        except (KeyError, TypeError) as exc:
            raise LogFormatError(f"{str(path)!r}: sensor {sid!r} is malformed: missing or bad {exc}") from exc
        except EngineError as exc:
            raise LogFormatError(f"{str(path)!r}: sensor {sid!r}: {exc}") from exc
    annotations, extras = annotations_from_sfs(
        list(tree.get("annotations") or []), time_offset_us=offset, angle_unit=unit
    )
    extras.update(
        sensors=kept,
        scene_attributes=shift_times(list(tree.get("attributes") or []), offset),
        scene_metadata=pack_arrays(scene_meta),
        time_offset=offset,
        angle_unit=unit.value,
    )
    metadata = {**ext.get("log_metadata", {"format": "sfs"}), "path": str(path), "sfs": extras}
    return Log(
        name=str(ext.get("name", path.stem)),
        sensors=sensors,
        trajectory=trajectory,
        lidar=streams["lidar"],
        radar=streams["radar"],
        cameras=streams["camera"],
        annotations=annotations,
        metadata=metadata,
    )
