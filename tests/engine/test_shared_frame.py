"""Frame-level shared-frame calls on the bundled PandaSet sample, against manual NumPy chains."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import kernels
from engine.io.pandaset import read_pandaset
from engine.log import Log
from engine.shared_frame import deskew_sweep, fuse_frame, project_frame, project_points
from kernels.errors import InvalidInputError

LIDAR = "pandar64"
FRONT = "front_camera"


@pytest.fixture(scope="module")
def log(sample_dir: Path) -> Log:
    return read_pandaset(sample_dir)


def _t(log: Log, frame: int) -> int:
    return int(log.trajectory.timestamps_us[frame])


def _sweep40(log: Log):  # type: ignore[no-untyped-def]
    stream = log.lidar[LIDAR]
    return stream[stream.nearest(_t(log, 40))]


def _world_from_lidar(log: Log, t_us: int) -> np.ndarray:
    return log.trajectory.matrices_at(t_us)[0] @ log.sensors[LIDAR].ego_from_sensor.matrix


def _car_boxes_at(log: Log, t_us: int) -> np.ndarray:
    """World-frame (M, 7) float64 boxes of the cars with a keyframe at ``t_us``."""
    out = []
    for track in log.annotations.tracks:
        hit = np.flatnonzero(track.timestamps_us == t_us)
        if track.label == "Car" and hit.size:
            out.append(track.boxes[hit[0]].astype(np.float64))
    return np.array(out)


def _corners(box: np.ndarray) -> np.ndarray:
    x, y, z, length, width, height, yaw = box
    sx, sy, sz = np.meshgrid([-0.5, 0.5], [-0.5, 0.5], [-0.5, 0.5], indexing="ij")
    local = np.c_[sx.ravel() * length, sy.ravel() * width, sz.ravel() * height]
    c, s = np.cos(yaw), np.sin(yaw)
    return local @ np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]).T + [x, y, z]


def _inside(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    x, y, z, length, width, height, yaw = box
    d = points - [x, y, z]
    c, s = np.cos(yaw), np.sin(yaw)
    along, across = d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c
    return np.asarray(
        (np.abs(along) <= length / 2) & (np.abs(across) <= width / 2) & (np.abs(d[:, 2]) <= height / 2)
    )


def _pinhole(log: Log, cam: str, camera_from_world: np.ndarray, world: np.ndarray) -> np.ndarray:
    """Manual chain: world -> camera -> undistorted pinhole pixels (PandaSet images are undistorted)."""
    model = log.sensors[cam].camera
    assert model is not None
    p = world @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]
    return np.asarray(p[:, :2] / p[:, 2:] * [model.fx, model.fy] + [model.cx, model.cy])


def test_compensated_sweep_is_moved_with_the_frame_pose_only(log: Log) -> None:
    assert log.metadata["lidar_motion_compensated"] is True
    sweep = _sweep40(log)
    got = deskew_sweep(log, LIDAR, 2, frame="world")
    want = sweep.points.astype(np.float64) @ _world_from_lidar(log, sweep.timestamp_us)[:3, :3].T
    want += _world_from_lidar(log, sweep.timestamp_us)[:3, 3]
    np.testing.assert_allclose(got, want, atol=2e-4)


def test_raw_sweep_is_deskewed_with_per_point_poses(log: Log) -> None:
    raw = dataclasses.replace(log, metadata={**log.metadata, "lidar_motion_compensated": False})
    sweep = _sweep40(log)
    ref = sweep.timestamp_us
    got = deskew_sweep(raw, LIDAR, 2, ref_time_us=ref)
    m = log.trajectory.matrices_at(sweep.point_times_us)
    e = log.sensors[LIDAR].ego_from_sensor.matrix
    pe = sweep.points.astype(np.float64) @ e[:3, :3].T + e[:3, 3]
    pw = np.einsum("nij,nj->ni", m[:, :3, :3], pe) + m[:, :3, 3]
    r = log.trajectory.matrices_at(ref)[0]
    np.testing.assert_allclose(got, (pw - r[:3, 3]) @ r[:3, :3], atol=2e-4)
    # ~3 m/s over the ~100 ms sweep: early points move by up to ~0.3 m against the compensated reading
    moved = np.linalg.norm(got - deskew_sweep(log, LIDAR, 2, ref_time_us=ref), axis=1)
    assert 0.2 < moved.max() < 0.5 and np.median(moved) > 0.05


def test_fuse_frame_takes_the_nearest_sweep_and_tags_it(log: Log) -> None:
    t40 = _t(log, 40)
    shared = fuse_frame(log, t40 + 20_000, ref_time_us=t40)
    assert shared.sensor_ids == (LIDAR,) and shared.capture_time_us.tolist() == [t40]
    n = len(_sweep40(log))
    assert shared.points.shape == (n, 3) and shared.starts.tolist() == [0, n]
    assert not shared.sensor_index.any() and np.isnan(shared.radial_velocity).all()
    assert shared.frame is kernels.Frame.EGO and shared.ref_time_us == t40
    np.testing.assert_array_equal(shared.points, deskew_sweep(log, LIDAR, 2))
    # a frame time with no sweep within max_gap_us fuses nothing
    empty = fuse_frame(log, _t(log, 60), max_gap_us=50_000)
    assert empty.sensor_ids == () and empty.points.shape == (0, 3)


def test_gt_centres_land_where_the_capture_time_chain_puts_them(log: Log) -> None:
    t40 = _t(log, 40)
    centres = _car_boxes_at(log, t40)[:, :3]
    res = project_points(log, centres.astype(np.float32), ref_time_us=t40, frame="world")
    assert res.camera_ids == tuple(sorted(log.cameras))
    c = res.camera_ids.index(FRONT)
    stream = log.cameras[FRONT]
    t_cam = int(stream.timestamps_us[stream.nearest(t40)])
    assert res.capture_time_us[c] == t_cam and abs(t_cam - t40) > 40_000  # front camera fires mid-sweep
    ego_from_cam = log.sensors[FRONT].ego_from_sensor.matrix
    proj = res.projection
    assert isinstance(proj, kernels.DenseProjection)
    uv = np.c_[proj.u[c], proj.v[c]]
    valid = proj.valid[c]
    assert valid.sum() >= 15
    at_capture = _pinhole(
        log, FRONT, np.linalg.inv(log.trajectory.matrices_at(t_cam)[0] @ ego_from_cam), centres
    )
    at_frame = _pinhole(log, FRONT, np.linalg.inv(log.trajectory.matrices_at(t40)[0] @ ego_from_cam), centres)
    np.testing.assert_allclose(uv[valid], at_capture[valid], atol=0.05)
    assert np.abs(at_frame[valid] - at_capture[valid]).max() > 3.0  # the capture time matters


def test_lidar_points_of_cars_land_inside_their_boxes_in_the_front_image(log: Log) -> None:
    t40 = _t(log, 40)
    shared = fuse_frame(log, t40)
    res = project_frame(log, shared, camera_ids=[FRONT, "back_camera"], output="compact")
    assert res.camera_ids == (FRONT, "back_camera")
    proj = res.projection
    assert isinstance(proj, kernels.CompactProjection)
    front = proj.camera_index == 0
    world = shared.points.astype(np.float64) @ log.trajectory.matrices_at(t40)[0][:3, :3].T
    world += log.trajectory.matrices_at(t40)[0][:3, 3]
    ego_from_cam = log.sensors[FRONT].ego_from_sensor.matrix
    camera_from_world = np.linalg.inv(
        log.trajectory.matrices_at(int(res.capture_time_us[0]))[0] @ ego_from_cam
    )
    checked = 0
    for box in _car_boxes_at(log, t40):
        corners = _pinhole(log, FRONT, camera_from_world, _corners(box))
        depth = (camera_from_world[:3, :3] @ box[:3] + camera_from_world[:3, 3])[2]
        lo, hi = corners.min(axis=0) - 5.0, corners.max(axis=0) + 5.0
        if not (3.0 < depth < 40.0 and lo[0] > 0 and lo[1] > 0 and hi[0] < 1920 and hi[1] < 1080):
            continue
        mine = np.isin(proj.point_index[front], np.flatnonzero(_inside(world, box)))
        if mine.sum() < 10:
            continue
        uv = np.c_[proj.u[front][mine], proj.v[front][mine]]
        inside = np.all((uv >= lo) & (uv <= hi), axis=1)
        assert inside.mean() > 0.95, (box, inside.mean())
        checked += 1
    assert checked >= 5


def test_unknown_sensor_and_camera_are_named(log: Log) -> None:
    with pytest.raises(InvalidInputError, match="'radar_x' has no lidar or radar stream"):
        deskew_sweep(log, "radar_x", 0)
    with pytest.raises(InvalidInputError, match="camera_ids: 'pandar64' is not a camera stream"):
        project_points(log, np.zeros((1, 3), np.float32), ref_time_us=_t(log, 40), camera_ids=[LIDAR])


def test_fuse_frame_adds_radar_with_doppler_compensated_for_ego_motion(log: Log) -> None:
    from calibration.se3 import SE3
    from engine.log import Stream
    from engine.sensors import Sensor, SensorKind
    from engine.sweeps import RadarSweep

    t40 = _t(log, 40)
    t41 = _t(log, 41)
    p, _ = log.trajectory.poses_at([t40, t41])  # the kernel's velocity: constant over this segment
    speed = float(np.linalg.norm(p[1] - p[0]) / ((t41 - t40) * 1e-6))
    assert speed > 2.5
    # static targets straight ahead / 30° left of a forward-looking radar at the ego origin
    pts = np.array([[20.0, 0.0, 0.0], [17.32, 10.0, 0.0]], np.float32)
    measured = -speed * np.array([1.0, np.cos(np.radians(30))], np.float32)  # closing in: negative
    sweep = RadarSweep(
        "radar_front", t40 + 10_000, pts, measured, np.zeros(2, np.float32), np.zeros(2, np.int32)
    )
    radar = Sensor("radar_front", SensorKind.RADAR, SE3.identity())
    with_radar = dataclasses.replace(
        log,
        sensors={**log.sensors, "radar_front": radar},
        radar={"radar_front": Stream.from_items("radar_front", [sweep])},
    )
    shared = fuse_frame(with_radar, t40)
    assert shared.sensor_ids == (LIDAR, "radar_front")
    n = len(_sweep40(log))
    assert shared.starts.tolist() == [0, n, n + 2] and shared.sensor_index[n:].tolist() == [1, 1]
    assert np.isnan(shared.radial_velocity[:n]).all()
    np.testing.assert_allclose(shared.radial_velocity[n:], 0.0, atol=0.03)  # static: ~0 over ground
    assert not np.allclose(measured, 0.0, atol=0.1)
