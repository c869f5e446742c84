"""Runs under an interpreter that has ``scale-sensor-fusion-io`` (the reference SFS SDK); imports only it.

``python sfs_sdk_helper.py write OUT``: the SDK writes a small known scene to OUT; prints it as JSON.
``python sfs_sdk_helper.py read IN``: the SDK loads IN (and validates it without the sensor types its
validator rejects); prints a JSON summary.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Any

import dacite
import numpy as np
from scale_json_binary import read_file, write_file
from scale_sensor_fusion_io.loaders.sfs_loader import SFSLoader
from scale_sensor_fusion_io.spec import SFS
from scale_sensor_fusion_io.validation import parse_and_validate_scene

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def _known_scene() -> tuple[Any, dict[str, Any]]:
    rng = np.random.default_rng(3)
    lidar_frames, lidar_json = [], []
    for k in range(2):
        pos = rng.uniform(-20, 20, (6, 3)).astype(np.float32)
        inten = rng.integers(0, 256, 6).astype(np.uint8)
        ts = (np.arange(6, dtype=np.uint32) * 1000 + 100_000 * k + 50).astype(np.uint32)
        pts = SFS.LidarSensorPoints(positions=pos, intensities=inten, timestamps=ts)
        lidar_frames.append(SFS.LidarSensorFrame(timestamp=100_000 * k, points=pts))
        lidar_json.append(
            {"positions": pos.tolist(), "intensities": inten.tolist(), "timestamps": ts.tolist()}
        )
    lidar_poses = [[1.0, 2.0, 0.5, 0.0, 0.0, 0.0, 1.0], [2.0, 2.0, 0.5, 0.0, 0.0, 0.0998334, 0.9950042]]
    lidar = SFS.LidarSensor(
        id="lidar",
        poses=SFS.PosePath(timestamps=[0, 100_000], values=lidar_poses),
        frames=lidar_frames,
    )
    rpos = rng.uniform(1, 30, (3, 3)).astype(np.float32)
    rdir = rng.normal(size=(3, 3)).astype(np.float32)
    rdir /= np.linalg.norm(rdir, axis=1, keepdims=True)
    rlen = rng.uniform(0, 10, 3).astype(np.float32)
    radar = SFS.RadarSensor(
        id="radar",
        poses=SFS.PosePath(timestamps=[0], values=[[3.0, 0.0, 0.5, 0.0, 0.0, 0.0, 1.0]]),
        frames=[
            SFS.RadarSensorFrame(
                timestamp=20_000,
                points=SFS.RadarSensorPoints(positions=rpos, directions=rdir, lengths=rlen),
            )
        ],
    )
    intr = SFS.CameraIntrinsics(
        fx=1000.0,
        fy=1001.0,
        cx=640.0,
        cy=360.0,
        width=1280,
        height=720,
        distortion=SFS.CameraDistortion(model="fisheye", params=[0.1, -0.01, 0.001, 0.0]),
    )
    camera = SFS.CameraSensor(
        id="cam",
        poses=SFS.PosePath(timestamps=[0], values=[[1.5, 0.0, 1.6, -0.5, 0.5, -0.5, 0.5]]),
        intrinsics=intr,
        images=[SFS.CameraSensorImage(timestamp=30_000, content=np.frombuffer(PNG, np.uint8))],
    )
    cuboid = SFS.CuboidAnnotation(
        id="car-1",
        label="car",
        path=SFS.CuboidPath(
            timestamps=[0, 100_000],
            values=[
                [4.5, 1.9, 1.6, 10.0, 3.0, 0.8, 0.0, 0.0, 0.5],
                [4.5, 1.9, 1.6, 11.0, 3.0, 0.8, 0.0, 0.0, 0.6],
            ],
        ),
        attributes=[SFS.AttributePath(name="moving", timestamps=[0], values=["yes"], static=True)],
    )
    scene = SFS.Scene(sensors=[lidar, radar, camera], annotations=[cuboid], time_offset=1_700_000_000_000_000)
    expected = {
        "time_offset": 1_700_000_000_000_000,
        "lidar_frames": lidar_json,
        "lidar_poses": lidar_poses,
        "radar": {"positions": rpos.tolist(), "directions": rdir.tolist(), "lengths": rlen.tolist()},
        "png": list(PNG),
    }
    return scene, expected


def _summary(path: str) -> dict[str, Any]:
    raw = read_file(path)
    kept = dict(raw)
    kept["sensors"] = [s for s in raw.get("sensors", []) if s.get("type") in ("lidar", "radar", "camera")]
    res = parse_and_validate_scene(kept)
    loader_error = None
    try:
        scene = SFSLoader(path).load_as_sfs()
    except ValueError as exc:
        # SDK 0.5.4's SFSLoader reshapes radar ``lengths`` to (-1, 3) (a bug: they are (n,)); parse with
        # the SDK's own dataclasses and dacite instead, which is what the loader does before that step.
        loader_error = f"{type(exc).__name__}: {exc}"
        scene = dacite.from_dict(data_class=SFS.Scene, data=raw, config=dacite.Config(cast=[Enum, tuple]))
    out: dict[str, Any] = {
        "loader_error": loader_error,
        "valid": bool(res.success),
        "errors": [] if res.success else [str(d) for d in res.details[:5]],
        "time_offset": scene.time_offset,
        "sensors": [[str(s.id), s.type] for s in scene.sensors or []],
        "lidar": {},
        "cuboids": {},
    }
    for s in scene.sensors or []:
        if s.type == "lidar":
            out["lidar"][str(s.id)] = {
                "timestamps": [f.timestamp for f in s.frames],
                "first_positions": np.asarray(s.frames[0].points.positions)[:5].tolist(),
                "first_point_times": np.asarray(s.frames[0].points.timestamps)[:5].tolist(),
                "coordinates": s.coordinates,
                "poses": s.poses.values[:2],
            }
    for a in scene.annotations or []:
        if a.type == "cuboid":
            out["cuboids"][str(a.id)] = {
                "label": a.label,
                "timestamps": a.path.timestamps,
                "values": a.path.values,
            }
    return out


def main() -> None:
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "write":
        scene, expected = _known_scene()
        write_file(path, scene)
        sys.stdout.write(json.dumps(expected))
    elif cmd == "read":
        sys.stdout.write(json.dumps(_summary(path)))
    else:
        raise SystemExit(f"unknown command {cmd!r}; expected 'write' or 'read'")


if __name__ == "__main__":
    main()
