"""PandaSet reader: facts from the excerpt's README, on the full excerpt (../shared) and the bundled sample.

Tests that take ``pandaset_dir`` skip (saying why) when the full excerpt is absent; the ``sample_dir``
tests always run. ``seq_dir`` runs a test on both.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import engine
from calibration.units import seconds_to_us
from engine.io.pandaset import EGO_FROM_LIDAR, is_pandaset, read_pandaset
from engine.log import Log
from engine.sensors import SensorKind
from kernels.errors import LogFormatError

LIDAR = "pandar64"
CAMERAS = [
    "back_camera",
    "front_camera",
    "front_left_camera",
    "front_right_camera",
    "left_camera",
    "right_camera",
]
VEHICLES = {"Car", "Pickup Truck", "Medium-sized Truck", "Other Vehicle - Construction Vehicle"}


@pytest.fixture(params=["sample", "full"])
def seq_dir(request: pytest.FixtureRequest) -> Path:
    """The bundled sample and (when present) the full excerpt."""
    return request.getfixturevalue("sample_dir" if request.param == "sample" else "pandaset_dir")


@pytest.fixture(scope="module")
def full_log(pandaset_dir: Path) -> Log:
    return read_pandaset(pandaset_dir)


def _sweeps_txt(root: Path) -> dict[int, tuple[int, int, int, int]]:
    """frame -> (n_points, frame_us, first_point_us, last_point_us) from lidar/sweeps.txt."""
    out = {}
    for line in (root / "lidar" / "sweeps.txt").read_text().splitlines():
        if line.startswith("#"):
            continue
        f, n, t, first, last = line.split()
        out[int(f)] = (int(n), seconds_to_us(t), seconds_to_us(first), seconds_to_us(last))
    return out


def _boxes_at(log: Log, timestamp_us: int) -> tuple[np.ndarray, list[str]]:
    """World-frame (M, 7) float64 boxes and labels of the tracks with a keyframe at ``timestamp_us``."""
    boxes, labels = [], []
    for track in log.annotations.tracks:
        i = int(np.searchsorted(track.timestamps_us, timestamp_us))
        if i < len(track) and track.timestamps_us[i] == timestamp_us:
            boxes.append(track.boxes[i].astype(np.float64))
            labels.append(track.label)
    return np.array(boxes), labels


def _points_in_boxes_oracle(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Slow, obvious count of (N, 3) points inside each yaw-rotated box [x, y, z, l, w, h, yaw]."""
    counts = np.zeros(len(boxes), dtype=np.int64)
    for k, (x, y, z, length, width, height, yaw) in enumerate(boxes):
        d = points - np.array([x, y, z])
        c, s = np.cos(yaw), np.sin(yaw)
        along, across = d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c
        inside = (
            (np.abs(along) <= length / 2) & (np.abs(across) <= width / 2) & (np.abs(d[:, 2]) <= height / 2)
        )
        counts[k] = int(inside.sum())
    return counts


def _frame40_counts(log: Log) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Points per GT box at frame 40 (sweep moved to world with the frame pose), box ranges, labels."""
    t40 = int(log.trajectory.timestamps_us[40])
    stream = log.lidar[LIDAR]
    sweep = stream[int(np.flatnonzero(stream.timestamps_us == t40)[0])]
    world_from_lidar = log.trajectory.pose_at(t40) @ log.sensors[LIDAR].ego_from_sensor
    points = world_from_lidar.transform_points(sweep.points.astype(np.float64))
    boxes, labels = _boxes_at(log, t40)
    ranges = np.hypot(
        boxes[:, 0] - world_from_lidar.translation[0], boxes[:, 1] - world_from_lidar.translation[1]
    )
    return _points_in_boxes_oracle(points, boxes), ranges, labels


# --- facts of the full excerpt -----------------------------------------------------------------------


def test_full_has_50_sweeps_of_106k_points_with_times_from_sweeps_txt(
    pandaset_dir: Path, full_log: Log
) -> None:
    table = _sweeps_txt(pandaset_dir)
    stream = full_log.lidar[LIDAR]
    assert len(stream) == 50 and sorted(table) == list(range(50))
    for i, sweep in enumerate(stream):
        n, frame_us, first_us, last_us = table[i]
        assert len(sweep) == n and 100_000 < n < 112_000
        assert sweep.points.dtype == np.float32 and sweep.time_offset_us.dtype == np.int32
        assert sweep.timestamp_us == frame_us == full_log.trajectory.timestamps_us[i]
        times = sweep.point_times_us
        assert abs(int(times.min()) - first_us) <= 1 and abs(int(times.max()) - last_us) <= 1
        # the frame timestamp is near the END of the sweep: offsets mostly negative, ~100 ms span
        assert np.mean(sweep.time_offset_us < 0) > 0.95
        assert 95_000 < int(sweep.time_offset_us.max()) - int(sweep.time_offset_us.min()) < 110_000
        assert 0.0 <= sweep.intensity.min() and sweep.intensity.max() <= 1.0
        assert not sweep.ring.any()


def test_full_poses_cover_80_frames_and_reproduce_world_from_lidar(pandaset_dir: Path, full_log: Log) -> None:
    rows = np.loadtxt(pandaset_dir / "meta" / "lidar_poses_4x4.txt", usecols=range(2, 18))
    assert len(full_log.trajectory) == 80 and rows.shape == (80, 16)
    records = json.loads((pandaset_dir / "meta" / "lidar_poses.json").read_text())
    ego_from_lidar = full_log.sensors[LIDAR].ego_from_sensor
    for i, t in enumerate(full_log.trajectory.timestamps_us):
        world_from_lidar = full_log.trajectory.pose_at(int(t)) @ ego_from_lidar
        np.testing.assert_allclose(world_from_lidar.matrix, rows[i].reshape(4, 4), atol=2e-9)
        q = records[i]["heading"]  # the original record, full precision
        rot = Rotation.from_quat([q["x"], q["y"], q["z"], q["w"]]).as_matrix()
        np.testing.assert_allclose(world_from_lidar.rotation, rot, atol=1e-8)


def test_full_drops_pandargt_duplicates_to_98_tracks(pandaset_dir: Path, full_log: Log) -> None:
    tracks = full_log.annotations.tracks
    assert len(tracks) == 98
    assert all(t.frame is engine.CoordinateFrame.WORLD for t in tracks)
    assert all(t.static_attributes.get("sensor_id", "-1") != "1" for t in tracks)
    assert full_log.metadata["pandargt_cuboid_rows_dropped"] == 1835
    assert len(read_pandaset(pandaset_dir, drop_pandargt_cuboids=False).annotations.tracks) == 128
    # attributes: constant ones are static, changing ones are paths of change points
    walkers = [t for t in tracks if any(a.name == "pedestrian_behavior" for a in t.attributes)]
    assert len(walkers) == 2  # two pedestrians stop walking during the sequence
    for walker in walkers:
        path = next(a for a in walker.attributes if a.name == "pedestrian_behavior")
        assert path.values == ("Walking", "Standing") and not path.static
        assert path.timestamps_us[0] == walker.timestamps_us[0]
        assert (
            walker.static_attributes["stationary"] == "False"
            and "pedestrian_behavior" not in walker.static_attributes
        )


def test_full_ego_stops_then_accelerates_to_5_m_per_s(full_log: Log) -> None:
    tr = full_log.trajectory
    speed = np.linalg.norm(np.diff(tr.translations, axis=0), axis=1) / (np.diff(tr.timestamps_us) / 1e6)
    assert speed[:15].max() < 0.3  # frames 00-15: nearly stopped
    assert speed[40] > 2.5 and 4.5 < speed[60:].mean() < 6.0  # then up to about 5 m/s
    assert np.all(np.diff(np.convolve(speed[16:], np.ones(5) / 5, "valid")) > -0.05)  # accelerating


def test_full_ego_frame_is_x_forward(full_log: Log) -> None:
    tr = full_log.trajectory
    t = tr.timestamps_us
    for i in range(20, 79):
        v_world = tr.translations[i + 1] - tr.translations[i - 1]
        v_ego = tr.pose_at(int(t[i])).rotation.T @ v_world
        assert np.arctan2(abs(v_ego[1]), v_ego[0]) < 0.05, (i, v_ego)
    lidar_y_in_ego = EGO_FROM_LIDAR.rotation @ np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(lidar_y_in_ego, [1.0, 0.0, 0.0], atol=1e-12)


def test_full_frame40_points_in_boxes_reproduce_readme_counts(pandaset_dir: Path) -> None:
    # The README counted over every cuboid row, PandarGT duplicates (sensor_id == 1) included:
    # cars (label "Car", 87 boxes) hold a median of 27 points; 5 of the 41 boxes (any label) within
    # 40 m of the lidar (xy distance) hold none.
    counts, ranges, labels = _frame40_counts(read_pandaset(pandaset_dir, drop_pandargt_cuboids=False))
    cars = np.array([lab == "Car" for lab in labels])
    assert cars.sum() == 87 and np.median(counts[cars]) == 27
    near = ranges <= 40.0
    assert near.sum() == 41 and int((counts[near] == 0).sum()) == 5


def test_moving_objects_heading_matches_motion(seq_dir: Path) -> None:
    tracks = read_pandaset(seq_dir).annotations.tracks
    step = min(5, max(len(t) for t in tracks) - 1)  # 0.5 s baseline (the sample's 4 frames: 0.3 s)
    errors = []
    for track in tracks:
        if track.static_attributes.get("stationary") != "False" or len(track) <= step:
            continue
        t = track.timestamps_us / 1e6
        xy, yaw = track.centers[:, :2], track.boxes[:, 6].astype(np.float64)
        d = xy[step:] - xy[:-step]
        fast = np.linalg.norm(d, axis=1) / (t[step:] - t[:-step]) > 2.0
        motion = np.arctan2(d[:, 1], d[:, 0])
        mid = np.arctan2(np.sin(yaw[step:]) + np.sin(yaw[:-step]), np.cos(yaw[step:]) + np.cos(yaw[:-step]))
        errors.extend(np.abs(np.angle(np.exp(1j * (motion - mid))))[fast])
    err = np.array(errors)
    assert err.size >= 20
    assert np.median(err) < 0.01 and np.percentile(err, 90) < 0.03


def test_full_cameras_frames_and_extrinsics(pandaset_dir: Path, full_log: Log) -> None:
    assert sorted(full_log.cameras) == CAMERAS
    front = full_log.cameras["front_camera"]
    assert len(front) == 80
    assert [i for i, f in enumerate(front) if f.image] == list(range(50))
    for cam in CAMERAS:
        frames = list(full_log.cameras[cam])
        stamps = json.loads((pandaset_dir / "camera" / cam / "timestamps.json").read_text())
        assert [f.timestamp_us for f in frames] == [round(s * 1e6) for s in stamps]
        images = [f.image for f in frames if f.image]
        assert all((pandaset_dir / im).is_file() for im in images)
        if cam != "front_camera":
            assert images == [f"camera/{cam}/10.jpg", f"camera/{cam}/40.jpg"]


# --- both the sample and the full excerpt ------------------------------------------------------------


def test_frame40_points_in_boxes_after_dropping_duplicates(seq_dir: Path) -> None:
    counts, ranges, labels = _frame40_counts(read_pandaset(seq_dir))
    cars = np.array([lab == "Car" for lab in labels])
    assert cars.sum() == 70 and np.median(counts[cars]) == 33
    near = ranges <= 40.0
    assert near.sum() == 37 and int((counts[near] == 0).sum()) == 4


def test_camera_intrinsics_extrinsics_and_image_size(seq_dir: Path) -> None:
    log = read_pandaset(seq_dir)
    image = cv2.imread(str(seq_dir / "camera" / "front_camera" / "40.jpg"))
    assert image.shape == (1080, 1920, 3)
    axes = {
        "front_camera": [1, 0, 0],
        "back_camera": [-1, 0, 0],
        "left_camera": [0, 1, 0],
        "right_camera": [0, -1, 0],
    }
    for cam in CAMERAS:
        sensor = log.sensors[cam]
        assert sensor.kind is SensorKind.CAMERA and sensor.camera is not None
        intr = json.loads((seq_dir / "camera" / cam / "intrinsics.json").read_text())
        assert (sensor.camera.fx, sensor.camera.fy, sensor.camera.cx, sensor.camera.cy) == (
            intr["fx"],
            intr["fy"],
            intr["cx"],
            intr["cy"],
        )
        assert (sensor.camera.width, sensor.camera.height) == (1920, 1080) and not any(sensor.camera.params)
        # the per-frame extrinsics agree to the centimetre / milliradian
        assert (
            sensor.metadata["extrinsic_spread_m"] < 0.02 and sensor.metadata["extrinsic_spread_rad"] < 0.002
        )
        optical_z_in_ego = sensor.ego_from_sensor.rotation[:, 2]
        if cam in axes:
            assert optical_z_in_ego @ np.array(axes[cam], dtype=float) > 0.95, (cam, optical_z_in_ego)
        assert 1.0 < sensor.ego_from_sensor.translation[2] < 2.5  # above the lidar origin, like all six


def test_frame40_box_centres_project_onto_vehicles_in_front_image(seq_dir: Path) -> None:
    log = read_pandaset(seq_dir)
    cam = log.sensors["front_camera"]
    assert cam.camera is not None
    frame = log.cameras["front_camera"][40]
    assert frame.image == "camera/front_camera/40.jpg"
    boxes, labels = _boxes_at(log, int(log.trajectory.timestamps_us[40]))
    camera_from_world = (log.trajectory.pose_at(frame.timestamp_us) @ cam.ego_from_sensor).inverse()
    uv, depth, valid = cam.camera.project(camera_from_world.transform_points(boxes[:, :3]))
    inside = valid & (uv[:, 0] >= 0) & (uv[:, 0] < 1920) & (uv[:, 1] >= 0) & (uv[:, 1] < 1080)
    # the extrinsic chain reproduces the raw per-frame camera pose to a pixel
    raw = json.loads((seq_dir / "camera" / "front_camera" / "poses.json").read_text())[40]
    rot = Rotation.from_quat([raw["heading"][k] for k in "xyzw"]).as_matrix()
    p = (boxes[:, :3] - np.array([raw["position"][k] for k in "xyz"])) @ rot
    uv_raw = (p[:, :2] / p[:, 2:]) * [cam.camera.fx, cam.camera.fy] + [cam.camera.cx, cam.camera.cy]
    assert inside.sum() >= 30 and np.abs(uv[inside] - uv_raw[inside]).max() < 2.0
    # nearby vehicles land on vehicles, not on the sky
    image = cv2.imread(str(seq_dir / frame.image)).astype(np.float64)

    def sky_like(u: float, v: float, r: int = 15) -> bool:
        patch = image[int(v) - r : int(v) + r + 1, int(u) - r : int(u) + r + 1].reshape(-1, 3)
        b, g, red = patch.mean(axis=0)
        return bool(patch.mean() > 170 and b >= red and patch.std(axis=0).mean() < 8)

    assert sky_like(960, 60)  # the detector sees the sky above the street
    near = [k for k in np.flatnonzero(inside) if labels[k] in VEHICLES and depth[k] < 40]
    assert len(near) >= 8
    assert not any(sky_like(*uv[k]) for k in near)
    assert all(uv[k][1] > cam.camera.cy for k in near)  # below the horizon


# --- the bundled sample ------------------------------------------------------------------------------


def test_sample_opens_with_open_log(sample_dir: Path) -> None:
    assert is_pandaset(sample_dir)
    log = engine.open_log(sample_dir)
    assert log.summary()["lidar_sweeps"] == {LIDAR: 4} and len(log.trajectory) == 80
    assert log.metadata["lidar_frames"] == [38, 39, 40, 41]
    assert log.metadata["licence"] == "CC BY 4.0" and "Xiao et al." in log.metadata["citation"]
    assert log.metadata["lidar_motion_compensated"] is True
    table = _sweeps_txt(sample_dir)
    for sweep, (frame, (n, frame_us, first_us, last_us)) in zip(
        log.lidar[LIDAR], sorted(table.items()), strict=True
    ):
        assert frame in (38, 39, 40, 41) and len(sweep) == n and sweep.timestamp_us == frame_us
        assert (
            abs(int(sweep.point_times_us.min()) - first_us) <= 1
            and abs(int(sweep.point_times_us.max()) - last_us) <= 1
        )
    assert [f.image for f in log.cameras["front_camera"] if f.image] == ["camera/front_camera/40.jpg"]
    assert {len(t) for t in log.annotations.tracks} <= {1, 2, 3, 4} and len(log.annotations.tracks) == 94


def test_sample_is_small_and_attributed(sample_dir: Path) -> None:
    size = sum(p.stat().st_size for p in sample_dir.rglob("*") if p.is_file())
    assert size <= 8_000_000
    readme = (sample_dir / "README.md").read_text()
    assert "CC BY 4.0" in readme
    assert (
        '*Xiao et al., "PandaSet: Advanced Sensor Suite Dataset for Autonomous\n  Driving", ITSC 2021*'
        in readme
    )
    assert "x = right, y = forward, z = up" in readme


def test_sample_sweeps_equal_the_full_excerpt(sample_dir: Path, pandaset_dir: Path, full_log: Log) -> None:
    sample = read_pandaset(sample_dir)
    for sweep in sample.lidar[LIDAR]:
        full = full_log.lidar[LIDAR][full_log.lidar[LIDAR].nearest(sweep.timestamp_us)]
        for name in ("points", "time_offset_us", "intensity"):
            np.testing.assert_array_equal(getattr(sweep, name), getattr(full, name))


def test_sample_native_round_trip_is_bit_exact(sample_dir: Path, tmp_path: Path) -> None:
    log = engine.open_log(sample_dir)
    back = engine.read_native_log(engine.write_native_log(log, tmp_path / "native"))
    assert back.sensors.keys() == log.sensors.keys()
    for sid, s in log.sensors.items():
        b = back.sensors[sid]
        assert (
            b.ego_from_sensor == s.ego_from_sensor
            and b.kind is s.kind
            and dict(b.metadata) == dict(s.metadata)
        )
        assert (b.camera is None) == (s.camera is None)
        if s.camera is not None and b.camera is not None:
            assert b.camera.to_dict() == s.camera.to_dict()
    for name in ("timestamps_us", "translations", "quaternions_wxyz"):
        np.testing.assert_array_equal(getattr(back.trajectory, name), getattr(log.trajectory, name))
    for a, b in zip(log.lidar[LIDAR], back.lidar[LIDAR], strict=True):
        assert a.timestamp_us == b.timestamp_us
        for name in ("points", "time_offset_us", "intensity", "ring"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    for cam in CAMERAS:
        for a, b in zip(log.cameras[cam], back.cameras[cam], strict=True):
            assert (a.sensor_id, a.timestamp_us) == (b.sensor_id, b.timestamp_us)
            # relative references are stored resolved against the source folder
            assert (a.image is None and b.image is None) or Path(b.image) == (sample_dir / a.image).resolve()
    assert len(back.annotations.tracks) == len(log.annotations.tracks)
    for a, b in zip(log.annotations.tracks, back.annotations.tracks, strict=True):
        assert (a.track_id, a.label, a.attributes, dict(a.static_attributes)) == (
            b.track_id,
            b.label,
            b.attributes,
            dict(b.static_attributes),
        )
        for name in ("timestamps_us", "centers", "sizes", "rotations_wxyz", "confidence"):
            assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    meta = {k: v for k, v in back.metadata.items() if k != "path"}
    assert meta == {k: v for k, v in log.metadata.items() if k != "path"}


def test_opening_reads_no_sweep(sample_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    real_load = np.load

    def counting_load(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        loaded.append(str(file))
        return real_load(file, *args, **kwargs)

    monkeypatch.setattr(np, "load", counting_load)
    log = read_pandaset(sample_dir)
    assert loaded == [] and len(log.lidar[LIDAR]) == 4
    log.lidar[LIDAR][2]
    assert loaded == [str(sample_dir / "lidar" / "40.npz")]


# --- errors ------------------------------------------------------------------------------------------


def test_not_a_pandaset_folder(tmp_path: Path) -> None:
    assert not is_pandaset(tmp_path)
    with pytest.raises(LogFormatError, match="is not a PandaSet folder"):
        read_pandaset(tmp_path)
    with pytest.raises(LogFormatError, match="cannot tell the format"):
        engine.open_log(tmp_path)


def _copy_minimal(sample_dir: Path, dst: Path) -> Path:
    """meta/, lidar/sweeps.txt and lidar/40.npz of the sample (no cameras, no labels)."""
    shutil.copytree(sample_dir / "meta", dst / "meta", copy_function=shutil.copyfile)
    (dst / "lidar").mkdir()
    shutil.copyfile(sample_dir / "lidar" / "40.npz", dst / "lidar" / "40.npz")
    shutil.copyfile(sample_dir / "lidar" / "sweeps.txt", dst / "lidar" / "sweeps.txt")
    return dst


def test_minimal_folder_and_bad_sweep_count(sample_dir: Path, tmp_path: Path) -> None:
    root = _copy_minimal(sample_dir, tmp_path / "seq")
    log = read_pandaset(root)
    assert len(log.lidar[LIDAR]) == 1 and not log.cameras and not log.annotations.tracks
    assert log.lidar[LIDAR][0].timestamp_us == log.trajectory.timestamps_us[40]
    table = root / "lidar" / "sweeps.txt"
    table.write_text(table.read_text().replace(" 106207 ", " 106208 "))
    with pytest.raises(LogFormatError, match="106207 points, sweeps.txt says 106208"):
        read_pandaset(root).lidar[LIDAR][0]


def test_sweep_timestamp_without_pose_is_rejected(sample_dir: Path, tmp_path: Path) -> None:
    root = _copy_minimal(sample_dir, tmp_path / "seq")
    table = root / "lidar" / "sweeps.txt"
    table.write_text(table.read_text().replace("1557539960.500117", "1557539960.500118"))
    with pytest.raises(LogFormatError, match="sweep 40 at 1557539960500118 µs matches no posed frame"):
        read_pandaset(root)


def test_native_copy_of_sample_keeps_images_reachable(sample_dir, tmp_path):
    """Regression: relative image paths of a converted log used to dangle in the new folder."""
    from engine import open_log, write_native_log

    native = open_log(write_native_log(open_log(sample_dir), tmp_path / "native"))
    images = [f.image for f in native.cameras["front_camera"] if f.image is not None]
    assert images and all(Path(p).is_file() for p in images)
