"""nuScenes tables read directly, on a tiny synthetic folder in the nuScenes layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import engine
from engine.io.nuscenes import read_pcd

T = 1_532_402_927_647_951


def _q(yaw: float) -> list[float]:
    x, y, z, w = Rotation.from_euler("z", yaw).as_quat()
    return [w, x, y, z]


def _write_radar_pcd(path: Path, rows: np.ndarray) -> None:
    fields = ["x", "y", "z", "dyn_prop", "id", "rcs", "vx", "vy", "vx_comp", "vy_comp"]
    dt = np.dtype(
        [
            (f, "<f4") if f not in ("dyn_prop", "id") else (f, "i1" if f == "dyn_prop" else "<i2")
            for f in fields
        ]
    )
    arr = np.zeros(len(rows), dt)
    for f in fields:
        arr[f] = rows[f]
    head = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
        f"FIELDS {' '.join(fields)}\nSIZE 4 4 4 1 2 4 4 4 4 4\nTYPE F F F I I F F F F F\n"
        f"COUNT {' '.join(['1'] * len(fields))}\nWIDTH {len(rows)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {len(rows)}\nDATA binary\n"
    )
    path.write_bytes(head.encode() + arr.tobytes())


def make_nuscenes(root: Path) -> dict:
    v = root / "v1.0-mini"
    (root / "samples/LIDAR_TOP").mkdir(parents=True)
    (root / "samples/RADAR_FRONT").mkdir(parents=True)
    v.mkdir()
    rng = np.random.default_rng(0)
    lidar = rng.normal(size=(30, 5)).astype("<f4")
    lidar[:, 3] = rng.integers(0, 256, 30)
    lidar[:, 4] = rng.integers(0, 32, 30)
    lidar.tofile(root / "samples/LIDAR_TOP/a.pcd.bin")
    radar = np.zeros(
        4, [(f, "<f4") for f in ("x", "y", "z", "dyn_prop", "id", "rcs", "vx", "vy", "vx_comp", "vy_comp")]
    )
    radar["x"], radar["y"], radar["rcs"] = [10, 20, 5, 8], [0, 5, -2, 0], [1, 2, 3, 4]
    radar["vx"], radar["vy"] = [-5, 1, 0, 2], [0, 1, 3, 0]
    _write_radar_pcd(root / "samples/RADAR_FRONT/r.pcd", radar)
    tables = {
        "scene": [{"token": "sc", "name": "scene-0001", "log_token": "l", "nbr_samples": 2}],
        "sample": [
            {"token": "s0", "scene_token": "sc", "timestamp": T},
            {"token": "s1", "scene_token": "sc", "timestamp": T + 500_000},
        ],
        "sensor": [
            {"token": "sl", "channel": "LIDAR_TOP", "modality": "lidar"},
            {"token": "sr", "channel": "RADAR_FRONT", "modality": "radar"},
            {"token": "scam", "channel": "CAM_FRONT", "modality": "camera"},
        ],
        "calibrated_sensor": [
            {
                "token": "cl",
                "sensor_token": "sl",
                "translation": [0.94, 0.0, 1.84],
                "rotation": _q(-np.pi / 2),
                "camera_intrinsic": [],
            },
            {
                "token": "cr",
                "sensor_token": "sr",
                "translation": [3.4, 0.0, 0.5],
                "rotation": _q(0.0),
                "camera_intrinsic": [],
            },
            {
                "token": "cc",
                "sensor_token": "scam",
                "translation": [1.7, 0.0, 1.5],
                "rotation": [0.5, -0.5, 0.5, -0.5],
                "camera_intrinsic": [[1266.4, 0, 816.3], [0, 1266.4, 491.5], [0, 0, 1]],
            },
        ],
        "ego_pose": [
            {
                "token": f"e{i}",
                "timestamp": T + i * 250_000,
                "translation": [400 + 2 * i, 1100, 0],
                "rotation": _q(0.1 * i),
            }
            for i in range(3)
        ],
        "sample_data": [
            {
                "token": "d0",
                "sample_token": "s0",
                "ego_pose_token": "e0",
                "calibrated_sensor_token": "cl",
                "timestamp": T,
                "fileformat": "pcd",
                "is_key_frame": True,
                "filename": "samples/LIDAR_TOP/a.pcd.bin",
                "width": 0,
                "height": 0,
            },
            {
                "token": "d1",
                "sample_token": "s0",
                "ego_pose_token": "e1",
                "calibrated_sensor_token": "cr",
                "timestamp": T + 250_000,
                "fileformat": "pcd",
                "is_key_frame": True,
                "filename": "samples/RADAR_FRONT/r.pcd",
                "width": 0,
                "height": 0,
            },
            {
                "token": "d2",
                "sample_token": "s1",
                "ego_pose_token": "e2",
                "calibrated_sensor_token": "cc",
                "timestamp": T + 500_000,
                "fileformat": "jpg",
                "is_key_frame": True,
                "filename": "samples/CAM_FRONT/c.jpg",
                "width": 1600,
                "height": 900,
            },
        ],
        "category": [{"token": "k", "name": "vehicle.car"}],
        "instance": [{"token": "i1", "category_token": "k"}],
        "attribute": [{"token": "a1", "name": "vehicle.moving"}],
        "visibility": [{"token": "4", "level": "v80-100"}],
        "sample_annotation": [
            {
                "token": f"sa{i}",
                "sample_token": f"s{i}",
                "instance_token": "i1",
                "translation": [410 + i, 1102, 1.0],
                "size": [1.9, 4.6, 1.7],
                "rotation": _q(0.3 + 0.1 * i),
                "attribute_tokens": ["a1"],
                "visibility_token": "4",
            }
            for i in range(2)
        ],
    }
    for name, rows in tables.items():
        (v / f"{name}.json").write_text(json.dumps(rows))
    return {"lidar": lidar, "radar": radar, "tables": tables}


def test_reads_scene_boxes_sensors_and_sweeps(tmp_path: Path) -> None:
    src = make_nuscenes(tmp_path)
    log = engine.open_log(tmp_path)  # picked by content
    assert log.metadata["format"] == "nuscenes" and log.name == "scene-0001"
    car = log.annotations.track("i1")
    assert car.label == "vehicle.car" and car.frame is engine.CoordinateFrame.WORLD
    assert car.timestamps_us.tolist() == [T, T + 500_000]
    assert car.sizes[0].tolist() == [4.6, 1.9, 1.7]  # size is (w, l, h)
    np.testing.assert_allclose(car.boxes[:, 6], [0.3, 0.4], atol=1e-9)
    assert {a.name: a.values for a in car.attributes} == {
        "attribute": ("vehicle.moving",) * 2,
        "visibility": ("v80-100",) * 2,
    }
    lid = log.sensors["LIDAR_TOP"]
    np.testing.assert_allclose(lid.ego_from_sensor.translation, [0.94, 0.0, 1.84])
    sweep = log.lidar["LIDAR_TOP"][0]
    assert np.array_equal(sweep.points, src["lidar"][:, :3])
    assert np.array_equal(sweep.ring, src["lidar"][:, 4].astype(np.uint16))
    np.testing.assert_allclose(sweep.intensity, src["lidar"][:, 3] / 255, rtol=1e-6)
    radar = log.radar["RADAR_FRONT"][0]
    # a target straight ahead closing at 5 m/s measures -5 (positive = moving away)
    assert radar.radial_velocity[0] == pytest.approx(-5.0)
    p = np.stack([src["radar"]["x"], src["radar"]["y"]], 1)
    v = np.stack([src["radar"]["vx"], src["radar"]["vy"]], 1)
    np.testing.assert_allclose(radar.radial_velocity, (p * v).sum(1) / np.linalg.norm(p, axis=1), rtol=1e-6)
    assert radar.rcs.tolist() == [1, 2, 3, 4]
    cam = log.sensors["CAM_FRONT"]
    assert cam.camera is not None and cam.camera.fx == 1266.4 and cam.camera.width == 1600
    assert log.cameras["CAM_FRONT"][0].image == "samples/CAM_FRONT/c.jpg"
    np.testing.assert_allclose(log.trajectory.pose_at(T + 250_000).translation, [402, 1100, 0])


def test_read_pcd_fields(tmp_path: Path) -> None:
    src = make_nuscenes(tmp_path)
    pc = read_pcd(tmp_path / "samples/RADAR_FRONT/r.pcd")
    assert pc.dtype.names[:3] == ("x", "y", "z") and np.array_equal(pc["rcs"], src["radar"]["rcs"])
