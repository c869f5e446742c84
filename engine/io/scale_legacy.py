"""Scale's legacy per-frame lidar task format: frames in, lidar and linking responses out.

Frames (``shared/reference/sfs-format.md``; Scale docs "Data Types and the Frame Objects"): one JSON
file per frame with ``device_position {x, y, z}``, ``device_heading {w, x, y, z}`` (``world_from_device``),
``points [{x, y, z, i, d, t}]`` in the **world** frame (``i`` in [0, 1], ``d`` = sensor id, ``t`` in
**ns**), ``radar_points [{position, direction, size}]`` (world; velocity = ``direction * size``) and
``images [{image_url, position, heading {w, x, y, z}, camera_model, fx, fy, cx, cy, skew, k1.., p1,
p2, xi, scale_factor, timestamp, width?, height?}]``.

Mapping: ego = the device frame; one lidar ``lidar`` (ego_from_lidar = identity, ring = ``d``) and
one radar ``radar`` with points moved into the device frame at the frame pose. Frame time: the
frame's ``timestamp`` [ns] when present, else the earliest point ``t``, else frame index x 100 ms;
point offsets from ``t``. Cameras: one per ``images`` index (``camera_<k>``), intrinsics via
:func:`calibration.camera_from_scale_legacy`; the camera pose is read as ``world_from_camera`` of the
optical frame *(unverified)*, giving ``ego_from_camera`` at the first frame. Radial velocity: the
world velocity rotated into the device frame, projected on ``p/|p|``.

Responses: cuboids in the world with ``position`` = centre, ``dimensions {x: width, y: length, z:
height}``, ``yaw = wrap(our yaw - pi/2)`` (legacy yaw 0 points the front along +y).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.camera_formats import camera_from_scale_legacy
from calibration.se3 import SE3, quat_wxyz_to_xyzw, quat_wxyz_to_yaw
from calibration.trajectory import Trajectory
from calibration.units import ns_to_us, wrap_angle
from engine.io._sampling import frame_times, world_cuboids
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import EngineError, LogFormatError

__all__ = ["is_scale_legacy", "read_scale_legacy_frames", "scale_lidar_response", "scale_linking_response"]

_PERIOD_US = 100_000


def _xyz(d: Any) -> list[float]:
    return [float(d["x"]), float(d["y"]), float(d["z"])]


def _wxyz(d: Any) -> list[float]:
    return [float(d["w"]), float(d["x"]), float(d["y"]), float(d["z"])]


def _pose(position: Any, heading: Any) -> SE3:
    q = np.asarray(_wxyz(heading))
    return SE3.from_quaternion(q / np.linalg.norm(q), _xyz(position))


def _frame_time(i: int, f: dict[str, Any]) -> int:
    if f.get("timestamp") is not None:
        return int(ns_to_us(int(f["timestamp"])))
    ts = [int(p["t"]) for p in f.get("points", []) if p.get("t") is not None]
    return int(ns_to_us(min(ts))) if ts else i * _PERIOD_US


def is_scale_legacy(path: str | Path) -> bool:
    """Whether ``path`` is (a folder of) JSON frame files starting with ``device_position`` data."""
    p = Path(path)
    files = sorted(p.glob("*.json"))[:1] if p.is_dir() else [p] if p.suffix == ".json" else []
    if not files or not files[0].is_file():
        return False
    with open(files[0], "rb") as f:
        return b'"device_position"' in f.read(1 << 16)


def read_scale_legacy_frames(path: str | Path) -> Log:
    """Read a folder of legacy frame JSON files (sorted by name) or a list file as a :class:`~engine.Log`."""
    root = Path(path)
    files = sorted(root.glob("*.json")) if root.is_dir() else [root]
    try:
        frames = [json.loads(f.read_text()) for f in files]
    except (OSError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"cannot read legacy frames under {str(root)!r}: {exc}") from exc
    if not frames:
        raise LogFormatError(f"{str(root)!r} holds no frame JSON files")
    try:
        times = [_frame_time(i, f) for i, f in enumerate(frames)]
        world_from_dev = [_pose(f["device_position"], f["device_heading"]) for f in frames]
        trajectory = Trajectory.from_matrices(np.asarray(times), np.stack([p.matrix for p in world_from_dev]))
        lidar, radar = [], []
        for f, t, pose in zip(frames, times, world_from_dev, strict=True):
            dev_from_world = pose.inverse()
            pts = f.get("points", [])
            xyz = np.array([[p["x"], p["y"], p["z"]] for p in pts], dtype=np.float64).reshape(-1, 3)
            tt = np.array([int(p.get("t", 0)) for p in pts], dtype=np.int64)
            offs = (ns_to_us(tt) - t) if any("t" in p for p in pts) else np.zeros(len(pts), np.int64)
            lidar.append(
                LidarSweep(
                    "lidar",
                    t,
                    dev_from_world.transform_points(xyz).astype(np.float32),
                    np.asarray(offs, np.int32),
                    np.array([p.get("i", 0.0) for p in pts], np.float32),
                    np.array([p.get("d", 0) for p in pts], np.uint16),
                )
            )
            rps = f.get("radar_points") or []
            if rps:
                rp = dev_from_world.transform_points(np.array([_xyz(r["position"]) for r in rps]))
                vel = np.array([np.multiply(_xyz(r["direction"]), float(r.get("size", 1.0))) for r in rps])
                vel = vel @ dev_from_world.rotation.T
                unit = rp / np.maximum(np.linalg.norm(rp, axis=1, keepdims=True), 1e-12)
                n = len(rps)
                radar.append(
                    RadarSweep(
                        "radar",
                        t,
                        rp.astype(np.float32),
                        (unit * vel).sum(1).astype(np.float32),
                        np.zeros(n, np.float32),
                        np.zeros(n, np.int32),
                    )
                )
        sensors = {
            "lidar": Sensor("lidar", SensorKind.LIDAR, SE3.identity(), metadata={"ring": "legacy point d"})
        }
        streams: dict[str, Any] = {
            "lidar": {"lidar": Stream.from_items("lidar", lidar)},
            "radar": {},
            "camera": {},
        }
        if radar:
            sensors["radar"] = Sensor("radar", SensorKind.RADAR, SE3.identity())
            streams["radar"]["radar"] = Stream.from_items("radar", radar)
        for k, rec in enumerate(frames[0].get("images") or []):
            sid = f"camera_{k}"
            model = camera_from_scale_legacy(rec)
            ego_from_cam = world_from_dev[0].inverse() @ _pose(rec["position"], rec["heading"])
            sensors[sid] = Sensor(sid, SensorKind.CAMERA, ego_from_cam, model, {"legacy_camera_index": k})
            items = []
            for f, t in zip(frames, times, strict=True):
                ims = f.get("images") or []
                if k < len(ims):
                    ts = ims[k].get("timestamp")
                    items.append(
                        CameraFrame(
                            sid, int(ns_to_us(int(ts))) if ts is not None else t, ims[k].get("image_url")
                        )
                    )
            streams["camera"][sid] = Stream.from_items(sid, items)
    except (KeyError, TypeError, ValueError) as exc:
        raise LogFormatError(f"{str(root)!r}: malformed legacy frame: {exc!r}") from exc
    except EngineError as exc:
        raise LogFormatError(f"{str(root)!r}: {exc}") from exc
    return Log(
        name=root.stem,
        sensors=sensors,
        trajectory=trajectory,
        lidar=streams["lidar"],
        radar=streams["radar"],
        cameras=streams["camera"],
        metadata={"format": "scale_legacy", "path": str(root if root.is_dir() else root.parent)},
    )


def _legacy_cuboid(track_id: str, label: str, c: Any, s: Any, q: Any) -> dict[str, Any]:
    return {
        "uuid": track_id,
        "label": label,
        "position": {"x": float(c[0]), "y": float(c[1]), "z": float(c[2])},
        "dimensions": {"x": float(s[1]), "y": float(s[0]), "z": float(s[2])},
        "yaw": float(wrap_angle(float(quat_wxyz_to_yaw(q)) - np.pi / 2)),
    }


def scale_lidar_response(log: Log) -> list[dict[str, Any]]:
    """Cuboids per frame in Scale's legacy lidar response shape: ``[{"cuboids": [...]}, ...]``.

    Frames are the first lidar's sweeps; each cuboid is its track interpolated there (world frame), with
    the attributes in force and ``numberOfPoints`` (points of that sweep inside the box).
    """
    times = frame_times(log)
    out: list[dict[str, Any]] = [{"timestamp_us": int(t), "cuboids": []} for t in times]
    lidar_id = sorted(log.lidar)[0] if log.lidar else None
    world_pts: dict[int, np.ndarray] = {}
    for track, idx, path in world_cuboids(log, times):
        for j, f in enumerate(idx):
            t = int(times[f])
            cub = _legacy_cuboid(
                track.track_id, track.label, path.centers[j], path.sizes[j], path.rotations_wxyz[j]
            )
            attrs = {a.name: v for a in track.attributes if (v := a.value_at(t)) is not None}
            cub["attributes"] = {**track.static_attributes, **attrs}
            if lidar_id is not None:
                if f not in world_pts:
                    sweep = log.lidar[lidar_id][int(f)]
                    pose = log.trajectory.pose_at(sweep.timestamp_us) @ log.sensors[lidar_id].ego_from_sensor
                    world_pts[int(f)] = pose.transform_points(sweep.points.astype(np.float64))
                r = Rotation.from_quat(quat_wxyz_to_xyzw(path.rotations_wxyz[j]))
                local = r.inv().apply(world_pts[int(f)] - path.centers[j])
                cub["numberOfPoints"] = int(np.all(np.abs(local) <= path.sizes[j] / 2, axis=1).sum())
            out[int(f)]["cuboids"].append(cub)
    return out


def _box_2d(corners_cam: np.ndarray, sensor: Sensor) -> list[float] | None:
    cam = sensor.camera
    assert cam is not None
    uv, _, ok = cam.project(corners_cam)
    if ok.sum() < 2:
        return None
    u = np.clip(uv[ok, 0], 0, cam.width)
    v = np.clip(uv[ok, 1], 0, cam.height)
    if u.max() - u.min() <= 0 or v.max() - v.min() <= 0:
        return None
    return [float(u.min()), float(v.min()), float(u.max() - u.min()), float(v.max() - v.min())]


def scale_linking_response(log: Log, *, samples_per_edge: int = 8) -> list[dict[str, Any]]:
    """Camera boxes per frame in Scale's legacy linking shape: ``[{"cameras": {id: [box, ...]}}, ...]``.

    Each box ``{cuboid_uuid, label, left, top, width, height}`` [px] bounds the cuboid's edges
    (sampled, so curved fisheye edges count) projected with the camera model into the camera frame
    nearest in time, clipped to the image; cuboids with fewer than 2 valid samples are left out.
    """
    times = frame_times(log)
    out: list[dict[str, Any]] = [
        {"timestamp_us": int(t), "cameras": {c: [] for c in log.cameras}} for t in times
    ]
    s = np.linspace(-0.5, 0.5, samples_per_edge)
    grid = np.array(np.meshgrid(s, s, s, indexing="ij")).reshape(3, -1).T
    edges = grid[(np.abs(grid) == 0.5).sum(1) >= 2]  # points on the 12 edges
    for track, idx, path in world_cuboids(log, times):
        for j, f in enumerate(idx):
            r = Rotation.from_quat(quat_wxyz_to_xyzw(path.rotations_wxyz[j]))
            pts_world = r.apply(edges * path.sizes[j]) + path.centers[j]
            for cid, stream in log.cameras.items():
                if len(stream) == 0:
                    continue
                k = stream.nearest(int(times[f]))
                sensor = log.sensors[cid]
                cam_from_world = (
                    log.trajectory.pose_at(int(stream.timestamps_us[k])) @ sensor.ego_from_sensor
                ).inverse()
                box = _box_2d(cam_from_world.transform_points(pts_world), sensor)
                if box is not None:
                    out[int(f)]["cameras"][cid].append(
                        {
                            "cuboid_uuid": track.track_id,
                            "label": track.label,
                            "left": box[0],
                            "top": box[1],
                            "width": box[2],
                            "height": box[3],
                        }
                    )
    return out
