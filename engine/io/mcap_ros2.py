"""MCAP files with ROS 2 messages as logs (``mcap`` + ``mcap-ros2-support``).

Read: ``sensor_msgs/msg/PointCloud2`` (one lidar per topic), ``sensor_msgs/msg/CameraInfo`` and
``sensor_msgs/msg/CompressedImage`` (one camera per image topic, paired with the CameraInfo of the
same ``frame_id``), ``tf2_msgs/msg/TFMessage`` (``/tf`` and ``/tf_static``).

* Frames: ROS REP 103/105. Ego = ``ego_frame`` (default ``base_link``, x forward, y left, z up);
  ``world_from_ego`` = the dynamic transforms whose child is the ego frame (parent ``world_frame`` if
  given); none: the ego stands at the origin. ``ego_from_sensor`` = the static transform chain from the
  ego frame to the message's ``frame_id``. Camera frame ids are taken to be optical frames
  (x right, y down, z forward, REP 103 ``_optical_frame``). TF quaternions are (x, y, z, w).
* Time: ``header.stamp`` (sec, nanosec) → ns → µs (``calibration.ns_to_us``). Per-point time fields:
  ``t`` / ``offset_time`` (integer ns after the stamp), ``time`` (float s after the stamp),
  ``timestamp`` (float s, absolute when > 1e9, else after the stamp).
* Points: x, y, z float32 in the sensor frame, non-finite rows dropped; ``intensity`` (or
  ``reflectivity``) uint8/uint16 scaled by the type's maximum, floats above 1 divided by 255
  *(assumption: 0-255 drivers)*; ``ring`` → uint16.
* CameraInfo: ``plumb_bob`` / ``rational_polynomial`` → brown_conrady (D = k1 k2 p1 p2 k3 [k4 k5 k6]),
  ``equidistant`` → fisheye (k1..k4). Images are written to ``image_dir`` as they arrive.

The whole file is read once at open; point clouds stay as raw bytes and are decoded when indexed.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from calibration.camera_formats import camera_from_opencv
from calibration.se3 import SE3
from calibration.trajectory import Trajectory
from calibration.units import ns_to_us
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep
from kernels.errors import LogFormatError

__all__ = ["is_mcap", "read_mcap"]

_MAGIC = b"\x89MCAP0\r\n"
_PC2_TYPES = {1: "i1", 2: "u1", 3: "<i2", 4: "<u2", 5: "<i4", 6: "<u4", 7: "<f4", 8: "<f8"}


def is_mcap(path: str | Path) -> bool:
    """Whether ``path`` is a file starting with the MCAP magic bytes."""
    p = Path(path)
    if not p.is_file():
        return False
    with open(p, "rb") as f:
        return f.read(8) == _MAGIC


def _stamp_us(header: Any) -> int:
    return int(ns_to_us(int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)))


def _se3(tf: Any) -> SE3:
    r, t = tf.rotation, tf.translation
    q = np.array([r.x, r.y, r.z, r.w], dtype=np.float64)
    return SE3(Rotation.from_quat(q / np.linalg.norm(q)).as_matrix(), np.array([t.x, t.y, t.z]))


def _sid(topic: str) -> str:
    return topic.strip("/").replace("/", "_") or "root"


def _decode_cloud(sid: str, stamp: int, msg: dict[str, Any]) -> LidarSweep:
    fields = {f["name"]: (_PC2_TYPES[f["datatype"]], f["offset"]) for f in msg["fields"] if f["count"] == 1}
    if msg["is_bigendian"]:
        raise LogFormatError(f"lidar {sid!r}: big-endian PointCloud2 is not supported")
    missing = [k for k in ("x", "y", "z") if k not in fields]
    if missing:
        raise LogFormatError(f"lidar {sid!r}: PointCloud2 lacks fields {missing}")
    dt = np.dtype(
        {
            "names": list(fields),
            "formats": [v[0] for v in fields.values()],
            "offsets": [v[1] for v in fields.values()],
            "itemsize": msg["point_step"],
        }
    )
    arr = np.frombuffer(msg["data"], dtype=dt, count=msg["width"] * msg["height"])
    xyz = np.stack([arr["x"], arr["y"], arr["z"]], 1).astype(np.float32)
    keep = np.isfinite(xyz).all(1)
    arr, xyz = arr[keep], np.ascontiguousarray(xyz[keep])
    n = xyz.shape[0]
    name = "intensity" if "intensity" in fields else "reflectivity" if "reflectivity" in fields else None
    inten = np.zeros(n, np.float32)
    if name is not None:
        raw = arr[name]
        if raw.dtype.kind in "iu":
            inten = (raw.astype(np.float64) / np.iinfo(raw.dtype).max).astype(np.float32)
        else:
            inten = raw.astype(np.float32)
            if inten.size and inten.max() > 1:
                inten = np.clip(inten / np.float32(255.0), 0, 1).astype(np.float32)
    off = np.zeros(n, np.int64)
    for tname in ("t", "offset_time", "time", "timestamp"):
        if tname in fields:
            v = arr[tname]
            if v.dtype.kind in "iu":
                off = np.asarray(ns_to_us(v.astype(np.int64)))
            elif tname == "timestamp" and v.size and float(v.max()) > 1e9:
                off = np.rint(v.astype(np.float64) * 1e6).astype(np.int64) - stamp
            else:
                off = np.rint(v.astype(np.float64) * 1e6).astype(np.int64)
            break
    ring = arr["ring"].astype(np.uint16) if "ring" in fields else np.zeros(n, np.uint16)
    return LidarSweep(sid, stamp, xyz, off.astype(np.int32), inten, ring)


def _chain(frame: str, ego: str, parents: dict[str, tuple[str, SE3]]) -> SE3:
    """``ego_from_frame`` through the static tree (child -> parent links)."""
    out, cur, seen = SE3.identity(), frame, set()
    while cur != ego:
        if cur in seen or cur not in parents:
            raise LogFormatError(f"no static transform chain from frame {frame!r} to ego frame {ego!r}")
        seen.add(cur)
        parent, parent_from_cur = parents[cur]
        out, cur = parent_from_cur @ out, parent
    return out


def read_mcap(
    path: str | Path,
    *,
    ego_frame: str = "base_link",
    world_frame: str | None = None,
    image_dir: str | Path | None = None,
) -> Log:
    """Open an MCAP file of ROS 2 messages as a :class:`~engine.Log` (see the module docstring)."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    path = Path(path)
    key = hashlib.sha1(f"{path.resolve()}|{path.stat().st_mtime_ns}".encode()).hexdigest()[:16]
    images = Path(image_dir) if image_dir else Path(tempfile.gettempdir()) / "fusionlabel-mcap" / key
    static: dict[str, tuple[str, SE3]] = {}
    poses: dict[int, SE3] = {}
    clouds: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    infos: dict[str, Any] = {}
    frames: dict[str, list[tuple[int, str, str]]] = {}
    try:
        with open(path, "rb") as f:
            for schema, channel, _, m in make_reader(
                f, decoder_factories=[DecoderFactory()]
            ).iter_decoded_messages():
                kind = schema.name if schema else ""
                if kind == "tf2_msgs/msg/TFMessage":
                    for tr in m.transforms:
                        parent, child = tr.header.frame_id, tr.child_frame_id
                        if "static" in channel.topic:
                            static[child] = (parent, _se3(tr.transform))
                        elif child == ego_frame and world_frame in (None, parent):
                            poses[_stamp_us(tr.header)] = _se3(tr.transform)
                elif kind == "sensor_msgs/msg/PointCloud2":
                    msg = {
                        k: getattr(m, k) for k in ("width", "height", "point_step", "is_bigendian", "data")
                    }
                    msg["fields"] = [
                        {"name": x.name, "offset": x.offset, "datatype": x.datatype, "count": x.count}
                        for x in m.fields
                    ]
                    clouds.setdefault(channel.topic, []).append((_stamp_us(m.header), m.header.frame_id, msg))
                elif kind == "sensor_msgs/msg/CameraInfo":
                    infos.setdefault(m.header.frame_id, m)
                elif kind == "sensor_msgs/msg/CompressedImage":
                    stamp, sid = _stamp_us(m.header), _sid(channel.topic)
                    ext = "png" if "png" in m.format.lower() else "jpg"
                    dest = images / sid / f"{stamp}.{ext}"
                    if not dest.exists():
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        dest.write_bytes(bytes(m.data))
                    frames.setdefault(sid, []).append((stamp, m.header.frame_id, str(dest)))
    except (OSError, ValueError) as exc:
        raise LogFormatError(f"cannot read MCAP {str(path)!r}: {exc}") from exc
    if poses:
        ts = sorted(poses)
        trajectory = Trajectory.from_matrices(np.asarray(ts), np.stack([poses[t].matrix for t in ts]))
    else:
        t0 = min([c[0][0] for c in clouds.values() if c] + [f[0][0] for f in frames.values() if f] + [0])
        trajectory = Trajectory(np.array([t0]), np.zeros((1, 3)), np.array([[1.0, 0.0, 0.0, 0.0]]))
    sensors: dict[str, Sensor] = {}
    lidar: dict[str, Stream[LidarSweep]] = {}
    for topic, msgs in clouds.items():
        sid = _sid(topic)
        msgs.sort(key=lambda x: x[0])
        sensors[sid] = Sensor(
            sid,
            SensorKind.LIDAR,
            _chain(msgs[0][1], ego_frame, static),
            metadata={"topic": topic, "frame_id": msgs[0][1]},
        )

        def load(i: int, sid: str = sid, msgs: list[Any] = msgs) -> LidarSweep:
            return _decode_cloud(sid, msgs[i][0], msgs[i][2])

        loader: Callable[[int], LidarSweep] = load
        lidar[sid] = Stream(sid, [x[0] for x in msgs], loader)
    cameras: dict[str, Stream[CameraFrame]] = {}
    for sid, items in frames.items():
        items.sort(key=lambda x: x[0])
        info = infos.get(items[0][1])
        if info is None:
            raise LogFormatError(f"camera topic {sid!r}: no CameraInfo with frame_id {items[0][1]!r}")
        fisheye = info.distortion_model == "equidistant"
        model = camera_from_opencv(
            np.asarray(info.k, dtype=np.float64).reshape(3, 3),
            _dist(info.d, fisheye),
            int(info.width),
            int(info.height),
            "fisheye" if fisheye else "pinhole",
        )
        sensors[sid] = Sensor(
            sid, SensorKind.CAMERA, _chain(items[0][1], ego_frame, static), model, {"frame_id": items[0][1]}
        )
        cameras[sid] = Stream.from_items(sid, [CameraFrame(sid, t, p) for t, _, p in items])
    return Log(
        name=path.stem,
        sensors=sensors,
        trajectory=trajectory,
        lidar=lidar,
        cameras=cameras,
        metadata={"format": "mcap_ros2", "path": str(path), "ego_frame": ego_frame},
    )


def _dist(d: Any, fisheye: bool) -> npt.NDArray[np.float64]:
    a = np.asarray(d, dtype=np.float64)
    if fisheye or a.size in (0, 4, 5, 8):
        return a
    return np.concatenate([a, np.zeros(8 - a.size)])[:8] if a.size < 8 else a[:8]
