"""A small synthetic log with every stream kind and annotation feature, and exact log comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calibration import SE3, CameraModel, Trajectory, yaw_to_quat_wxyz
from engine import (
    Annotations,
    AttributePath,
    CameraFrame,
    CoordinateFrame,
    CuboidTrack,
    LidarSweep,
    Link,
    Log,
    RadarSweep,
    Sensor,
    SensorKind,
)
from engine.log import Stream

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(60)) + b"\xff\xd9"
T0 = 1_700_000_000_000_000


def synthetic_log(tmp: Path, seed: int = 0) -> Log:
    rng = np.random.default_rng(seed)
    n_sweeps = 3
    t = T0 + np.arange(11, dtype=np.int64) * 50_000
    traj = Trajectory(
        t,
        np.stack([np.arange(11) * 0.7, np.arange(11) * 0.1, np.zeros(11)], 1),
        yaw_to_quat_wxyz(np.linspace(0, 0.3, 11)),
    )
    cam = CameraModel("fisheye", 640, 480, 300.0, 301.0, 320.5, 240.25, 0.5, (0.1, -0.02, 0.003, -0.0004))
    sensors = {
        "lidar_top": Sensor(
            "lidar_top", SensorKind.LIDAR, SE3.from_yaw(-np.pi / 2, [0.5, 0.0, 1.8]), metadata={"beams": 32}
        ),
        "radar_front": Sensor("radar_front", SensorKind.RADAR, SE3.from_yaw(0.1, [3.6, 0.0, 0.5])),
        "cam_front": Sensor(
            "cam_front",
            SensorKind.CAMERA,
            SE3(np.array([[0.0, 0, 1], [-1, 0, 0], [0, -1, 0]]), np.array([1.5, 0.0, 1.6])),
            cam,
        ),
    }
    lidar, radar = [], []
    for k in range(n_sweeps):
        ts = T0 + 60_000 + k * 100_000
        n = 50 + k
        lidar.append(
            LidarSweep(
                "lidar_top",
                ts,
                rng.normal(size=(n, 3)).astype(np.float32) * 20,
                rng.integers(-90_000, 5_000, n).astype(np.int32),
                rng.random(n).astype(np.float32),
                rng.integers(0, 32, n).astype(np.uint16),
            )
        )
        radar.append(
            RadarSweep(
                "radar_front",
                ts + 7,
                rng.uniform(1, 50, (7, 3)).astype(np.float32),
                rng.normal(size=7).astype(np.float32) * 5,
                rng.normal(size=7).astype(np.float32),
                rng.integers(-2000, 0, 7).astype(np.int32),
            )
        )
    img = tmp / "img0.jpg"
    img.write_bytes(JPEG)
    frames = [CameraFrame("cam_front", T0 + 40_000, str(img)), CameraFrame("cam_front", T0 + 140_000, None)]
    kt = T0 + np.array([60_000, 160_000, 260_000])
    world = CuboidTrack(
        "car-1",
        "car",
        CoordinateFrame.WORLD,
        kt,
        rng.normal(size=(3, 3)) * 10,
        np.array([[4.5, 1.9, 1.6]] * 3),
        yaw_to_quat_wxyz([3.1, -3.1, 0.2]),
        attributes=(
            AttributePath("blinker", (int(kt[0]), int(kt[1])), ("off", "left")),
            AttributePath("occluded", (int(kt[0]),), ("no",), "cam_front", True),
        ),
        static_attributes={"make": "unknown"},
    )
    q = np.array([0.9, 0.1, -0.05, 0.3])
    ego = CuboidTrack(
        "ped 2",
        "pedestrian",
        CoordinateFrame.EGO,
        kt[:2],
        rng.normal(size=(2, 3)),
        np.array([[0.6, 0.7, 1.8]] * 2),
        np.stack([q / np.linalg.norm(q)] * 2),
        np.array([0.25, 0.75], np.float32),
    )
    links = (
        Link("box-7", "car-1", "camera_link", True, {"iou": "0.81"}),
        Link("ped 2", "car-1", "near", False),
    )
    return Log(
        name="synthetic",
        sensors=sensors,
        trajectory=traj,
        lidar={"lidar_top": Stream.from_items("lidar_top", lidar)},
        radar={"radar_front": Stream.from_items("radar_front", radar)},
        cameras={"cam_front": Stream.from_items("cam_front", frames)},
        annotations=Annotations((world, ego), links),
        metadata={"format": "synthetic", "source": "tests", "nested": {"a": [1, 2.5]}},
    )


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_tracks_equal(a: Annotations, b: Annotations) -> None:
    assert [t.track_id for t in a.tracks] == [t.track_id for t in b.tracks]
    for x, y in zip(a.tracks, b.tracks, strict=True):
        assert (x.label, x.frame, x.attributes, dict(x.static_attributes)) == (
            y.label,
            y.frame,
            y.attributes,
            dict(y.static_attributes),
        ), x.track_id
        for f in ("timestamps_us", "centers", "sizes", "rotations_wxyz", "confidence"):
            assert bits_equal(getattr(x, f), getattr(y, f)), (x.track_id, f)
    assert [(k.from_id, k.to_id, k.label, k.is_bidirectional, dict(k.attributes)) for k in a.links] == [
        (k.from_id, k.to_id, k.label, k.is_bidirectional, dict(k.attributes)) for k in b.links
    ]


def _resolve(log: Log, image: str) -> Path:
    p = Path(image)
    return p if p.is_absolute() else Path(log.metadata["path"]) / p


def assert_logs_equal(a: Log, b: Log, *, images: bool = True) -> None:
    assert a.name == b.name
    assert dict(a.sensors) == dict(b.sensors)
    for f in ("timestamps_us", "translations", "quaternions_wxyz"):
        assert bits_equal(getattr(a.trajectory, f), getattr(b.trajectory, f)), f
    assert a.trajectory.extrapolation == b.trajectory.extrapolation
    for group in ("lidar", "radar"):
        sa, sb = getattr(a, group), getattr(b, group)
        assert sorted(sa) == sorted(sb)
        for sid in sa:
            assert bits_equal(sa[sid].timestamps_us, sb[sid].timestamps_us)
            for x, y in zip(sa[sid], sb[sid], strict=True):
                for f in x.__dataclass_fields__:
                    vx, vy = getattr(x, f), getattr(y, f)
                    assert bits_equal(vx, vy) if isinstance(vx, np.ndarray) else vx == vy, (sid, f)
    assert sorted(a.cameras) == sorted(b.cameras)
    for sid in a.cameras:
        for x, y in zip(a.cameras[sid], b.cameras[sid], strict=True):
            assert x.timestamp_us == y.timestamp_us
            assert (x.image is None) == (y.image is None)
            if images and x.image is not None:
                assert _resolve(a, x.image).read_bytes() == _resolve(b, y.image).read_bytes()
    assert_tracks_equal(a.annotations, b.annotations)
