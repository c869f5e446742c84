"""Scale legacy frames in, lidar / linking responses out; OpenLABEL out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import engine
from calibration import SE3, CameraModel, Trajectory
from engine import Annotations, CameraFrame, CuboidTrack, Log, Sensor, SensorKind
from engine.io.openlabel import to_openlabel
from engine.io.scale_legacy import scale_lidar_response, scale_linking_response
from engine.log import Stream

T_NS = 1_600_000_000_000_000_000


def _frame(k: int, yaw: float, pos: list[float], pts_world: np.ndarray) -> dict:
    x, y, z, w = Rotation.from_euler("z", yaw).as_quat()
    return {
        "device_position": {"x": pos[0], "y": pos[1], "z": pos[2]},
        "device_heading": {"w": w, "x": x, "y": y, "z": z},
        "timestamp": T_NS + k * 100_000_000,
        "points": [
            {"x": p[0], "y": p[1], "z": p[2], "i": 0.5, "d": 1, "t": T_NS + k * 100_000_000 + 1500 * j}
            for j, p in enumerate(pts_world)
        ],
        "radar_points": [
            {
                "position": {"x": pos[0] + 10, "y": pos[1], "z": pos[2]},
                "direction": {"x": -1.0, "y": 0.0, "z": 0.0},
                "size": 4.0,
            }
        ],
        "images": [
            {
                "image_url": f"img{k}.jpg",
                "position": {"x": pos[0] + 1, "y": pos[1], "z": 1.5},
                "heading": {"w": 0.5, "x": -0.5, "y": 0.5, "z": -0.5},
                "fx": 500,
                "fy": 500,
                "cx": 320,
                "cy": 240,
                "width": 640,
                "height": 480,
                "timestamp": T_NS + k * 100_000_000 - 20_000,
            }
        ],
    }


def test_legacy_frames_in(tmp_path: Path) -> None:
    pts = np.array([[5.0, 1.0, 0.5], [7.0, -2.0, 1.0]])
    for k in range(2):
        (tmp_path / f"{k:03d}.json").write_text(json.dumps(_frame(k, 0.0, [2.0 * k, 0.0, 0.0], pts)))
    log = engine.open_log(tmp_path)
    assert log.metadata["format"] == "scale_legacy"
    sweep = log.lidar["lidar"][1]
    assert sweep.timestamp_us == T_NS // 1000 + 100_000
    np.testing.assert_allclose(sweep.points, pts - [2.0, 0, 0], atol=1e-6)  # world -> device frame
    assert sweep.time_offset_us.tolist() == [0, 2]  # ns_to_us(1500) == 2
    assert sweep.ring.tolist() == [1, 1] and sweep.intensity.tolist() == [0.5, 0.5]
    assert log.radar["radar"][0].radial_velocity.tolist() == [-4.0]
    cam = log.sensors["camera_0"]
    assert cam.camera is not None and cam.camera.fx == 500
    np.testing.assert_allclose(cam.ego_from_sensor.translation, [1.0, 0.0, 1.5])
    assert log.cameras["camera_0"][0].timestamp_us == T_NS // 1000 - 20


def _posed_log() -> Log:
    traj = Trajectory(np.array([0, 1_000_000]), np.zeros((2, 3)), np.array([[1.0, 0, 0, 0]] * 2))
    cam = Sensor(
        "cam",
        SensorKind.CAMERA,
        SE3(np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]]), np.zeros(3)),
        CameraModel.pinhole(640, 480, 500, 500, 320, 240),
    )
    track = CuboidTrack.from_boxes(
        "car",
        "car",
        [0, 1_000_000],
        [[10, 0, 0, 4, 2, 1.5, 0.0], [12, 0, 0, 4, 2, 1.5, 0.0]],
        static_attributes={"kind": "sedan"},
    )
    return Log(
        "posed",
        {"cam": cam},
        traj,
        cameras={"cam": Stream.from_items("cam", [CameraFrame("cam", 500_000)])},
        annotations=Annotations((track,)),
    )


def test_lidar_and_linking_responses() -> None:
    log = _posed_log()
    frames = scale_lidar_response(log)
    assert [f["timestamp_us"] for f in frames] == [0, 1_000_000]
    c = frames[0]["cuboids"][0]
    assert c["dimensions"] == {"x": 2.0, "y": 4.0, "z": 1.5}  # x = width, y = length
    assert c["yaw"] == pytest.approx(-np.pi / 2)  # our yaw 0 (front along +x) = legacy -pi/2
    assert c["position"] == {"x": 10.0, "y": 0.0, "z": 0.0} and c["attributes"] == {"kind": "sedan"}
    boxes = scale_linking_response(log)[0]["cameras"]["cam"]
    # box 8..12 m ahead, 2 m wide, 1.5 m tall: its near face spans 500 * 1 / 8 px either side
    b = boxes[0]
    assert b["cuboid_uuid"] == "car"
    assert b["left"] == pytest.approx(320 - 500 / 8) and b["width"] == pytest.approx(2 * 500 / 8)
    assert b["top"] == pytest.approx(240 - 500 * 0.75 / 8) and b["height"] == pytest.approx(500 * 1.5 / 8)


def test_openlabel_document() -> None:
    log = _posed_log()
    doc = to_openlabel(log)["openlabel"]
    assert doc["metadata"]["schema_version"] == "1.0.0"
    assert doc["frame_intervals"] == [{"frame_start": 0, "frame_end": 1}]
    obj = doc["objects"]["0"]
    assert (
        obj["type"] == "car"
        and obj["name"] == "car"
        and obj["frame_intervals"] == [{"frame_start": 0, "frame_end": 1}]
    )
    val = doc["frames"]["1"]["objects"]["0"]["object_data"]["cuboid"][0]["val"]
    np.testing.assert_allclose(val, [12, 0, 0, 0, 0, 0, 1, 4, 2, 1.5], atol=1e-12)
    assert doc["coordinate_systems"]["cam"]["parent"] == "ego"
    assert doc["frames"]["0"]["frame_properties"]["timestamp_us"] == 0
    assert doc["streams"]["cam"]["stream_properties"]["intrinsics_pinhole"]["width_px"] == 640
    json.dumps(doc, allow_nan=False)
