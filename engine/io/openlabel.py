"""OpenLABEL (ASAM OpenLABEL 1.0 JSON) export of a log's cuboid tracks.

* Frames: the first lidar's sweeps (else every keyframe time), numbered 0..F-1; each frame's
  ``frame_properties`` has ``timestamp`` [s, float] and the exact ``timestamp_us`` [µs, int], and the
  ego pose under ``transforms.world_to_ego``: ``matrix4x4`` (row-major) = ``world_from_ego``, i.e.
  the pose of ``ego`` in ``world`` (maps ego coordinates to world coordinates).
* Coordinate systems: ``world`` (scene_cs) → ``ego`` (local_cs) → one per sensor (sensor_cs) with
  ``pose_wrt_parent.matrix4x4`` = ``ego_from_sensor`` (maps sensor coordinates into ``ego``).
* Streams: one per sensor; cameras carry ``intrinsics_pinhole`` (``camera_matrix_3x4``,
  ``distortion_coeffs_1xN`` in OpenCV order, size) for ``brown_conrady``, else ``intrinsics_custom``
  with the engine's camera dict.
* Objects: one per track (``name`` = track id, ``type`` = label, ``frame_intervals``); per frame a
  ``cuboid`` ``box3d`` in ``world``: ``val = [x, y, z, qx, qy, qz, qw, sx, sy, sz]`` (centre,
  scalar-last quaternion of world_from_box, sizes along box x, y, z = length, width, height),
  interpolated at the frame time (tracking.interpolate), plus the attributes in force as ``text``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from calibration.se3 import quat_wxyz_to_xyzw
from engine.io._sampling import frame_times, world_cuboids
from engine.log import Log

__all__ = ["to_openlabel", "write_openlabel"]


def _intervals(frames: list[int]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = []
    for f in frames:
        if out and out[-1]["frame_end"] == f - 1:
            out[-1]["frame_end"] = f
        else:
            out.append({"frame_start": f, "frame_end": f})
    return out


def _stream(log: Log, sid: str) -> dict[str, Any]:
    s = log.sensors[sid]
    out: dict[str, Any] = {"type": s.kind.value, "uri": "", "description": f"fusionlabel sensor {sid}"}
    cam = s.camera
    if cam is not None:
        if cam.model == "brown_conrady":
            k = cam.K
            p = cam.params  # k1 k2 p1 p2 k3 k4 k5 k6: OpenCV order
            out["stream_properties"] = {
                "intrinsics_pinhole": {
                    "camera_matrix_3x4": [*k[0], 0.0, *k[1], 0.0, *k[2], 0.0],
                    "distortion_coeffs_1xN": list(p),
                    "width_px": cam.width,
                    "height_px": cam.height,
                }
            }
        else:
            out["stream_properties"] = {"intrinsics_custom": cam.to_dict()}
    return out


def to_openlabel(log: Log) -> dict[str, Any]:
    """The OpenLABEL document of ``log`` as a JSON-safe dict (see the module docstring)."""
    times = frame_times(log)
    frames: dict[str, Any] = {}
    poses = log.trajectory.matrices_at(times) if times.size else np.zeros((0, 4, 4))
    for i, t in enumerate(times):
        frames[str(i)] = {
            "objects": {},
            "frame_properties": {
                "timestamp": int(t) / 1e6,
                "timestamp_us": int(t),
                "transforms": {
                    "world_to_ego": {
                        "src": "world",
                        "dst": "ego",
                        "transform_src_to_dst": {"matrix4x4": poses[i].ravel().tolist()},
                    }
                },
            },
        }
    objects: dict[str, Any] = {}
    for uid, (track, idx, path) in enumerate(world_cuboids(log, times)):
        key = str(uid)
        objects[key] = {
            "name": track.track_id,
            "type": track.label,
            "frame_intervals": _intervals(idx.tolist()),
        }
        if track.static_attributes:
            objects[key]["object_data"] = {
                "text": [{"name": k, "val": v} for k, v in track.static_attributes.items()]
            }
        quats = quat_wxyz_to_xyzw(path.rotations_wxyz)
        for j, f in enumerate(idx):
            t = int(times[f])
            data: dict[str, Any] = {
                "cuboid": [
                    {
                        "name": "box3d",
                        "coordinate_system": "world",
                        "val": [*path.centers[j].tolist(), *quats[j].tolist(), *path.sizes[j].tolist()],
                    }
                ]
            }
            text = [{"name": a.name, "val": v} for a in track.attributes if (v := a.value_at(t)) is not None]
            if text:
                data["text"] = text
            frames[str(int(f))]["objects"][key] = {"object_data": data}
    sensors = sorted(log.sensors)
    cs: dict[str, Any] = {
        "world": {"type": "scene_cs", "parent": "", "children": ["ego"]},
        "ego": {"type": "local_cs", "parent": "world", "children": sensors},
    }
    for sid in sensors:
        cs[sid] = {
            "type": "sensor_cs",
            "parent": "ego",
            "children": [],
            "pose_wrt_parent": {"matrix4x4": log.sensors[sid].ego_from_sensor.matrix.ravel().tolist()},
        }
    return {
        "openlabel": {
            "metadata": {"schema_version": "1.0.0", "name": log.name, "annotator": "fusionlabel"},
            "coordinate_systems": cs,
            "streams": {sid: _stream(log, sid) for sid in sensors},
            "objects": objects,
            "frames": frames,
            "frame_intervals": _intervals(list(range(times.size))),
        }
    }


def write_openlabel(log: Log, path: str | Path) -> Path:
    """Write :func:`to_openlabel` of ``log`` to ``path`` as JSON."""
    path = Path(path)
    path.write_text(json.dumps(to_openlabel(log), allow_nan=False))
    return path
