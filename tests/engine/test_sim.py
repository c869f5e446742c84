"""The simulator: determinism, sensor realism (counts, motion skew, Doppler), ground-truth consistency."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from calibration.se3 import SE3, quat_wxyz_to_yaw
from engine import open_log
from engine.annotations import CuboidTrack
from engine.cli import app
from engine.errors import InvalidInputError
from engine.log import Log
from engine.sim import RIGS, SimResult, read_ground_truth, simulate, write_simulation
from engine.sim.lidar import simulate_lidar_sweep
from engine.sim.scene import START_US, build_scene


@pytest.fixture(scope="module")
def tiny() -> SimResult:
    return simulate("tiny", 2.0, 3)


@pytest.fixture(scope="module")
def nusc() -> SimResult:
    return simulate("nuscenes", 0.1, 1)


def _assert_logs_equal(a: Log, b: Log) -> None:
    assert sorted(a.sensors) == sorted(b.sensors)
    for sid, sensor in a.sensors.items():
        assert sensor.ego_from_sensor == b.sensors[sid].ego_from_sensor
        assert sensor.camera == b.sensors[sid].camera
    for name in ("timestamps_us", "translations", "quaternions_wxyz"):
        assert np.array_equal(getattr(a.trajectory, name), getattr(b.trajectory, name))
    for group in ("lidar", "radar"):
        sa, sb = getattr(a, group), getattr(b, group)
        assert sorted(sa) == sorted(sb)
        fields = ("points", "time_offset_us") + (
            ("intensity", "ring") if group == "lidar" else ("radial_velocity", "rcs")
        )
        for sid in sa:
            assert len(sa[sid]) == len(sb[sid])
            for x, y in zip(sa[sid], sb[sid], strict=True):
                assert x.timestamp_us == y.timestamp_us
                for f in fields:
                    u, v = getattr(x, f), getattr(y, f)
                    assert u.dtype == v.dtype and u.shape == v.shape
                    assert u.tobytes() == v.tobytes(), f"{group} {sid} {f}"
    for sid in a.cameras:
        assert list(a.cameras[sid]) == list(b.cameras[sid])


def _assert_tracks_equal(a: tuple[CuboidTrack, ...], b: tuple[CuboidTrack, ...]) -> None:
    assert [t.track_id for t in a] == [t.track_id for t in b]
    for x, y in zip(a, b, strict=True):
        for f in ("timestamps_us", "centers", "sizes", "rotations_wxyz"):
            assert np.array_equal(getattr(x, f), getattr(y, f))
        assert x.attributes == y.attributes and x.label == y.label


def test_same_seed_is_bit_identical_and_seeds_differ() -> None:
    a, b, c = simulate("tiny", 0.3, 5), simulate("tiny", 0.3, 5), simulate("tiny", 0.3, 6)
    _assert_logs_equal(a.log, b.log)
    _assert_tracks_equal(a.ground_truth.annotations.tracks, b.ground_truth.annotations.tracks)
    assert a.ground_truth.camera_boxes == b.ground_truth.camera_boxes
    for sid, labels in a.ground_truth.point_labels.items():
        for x, y in zip(labels, b.ground_truth.point_labels[sid], strict=True):
            assert np.array_equal(x.semantic, y.semantic) and np.array_equal(x.instance, y.instance)
    pa, pc = a.log.lidar["lidar"][0].points, c.log.lidar["lidar"][0].points
    assert pa.shape != pc.shape or not np.array_equal(pa, pc)
    assert not np.array_equal(a.log.trajectory.translations, c.log.trajectory.translations)


@pytest.mark.parametrize(("rig", "target", "seed"), [("nuscenes", 34_000, 1), ("robotaxi", 250_000, 2)])
def test_point_counts_close_to_rig_targets(rig: str, target: int, seed: int) -> None:
    spec = RIGS[rig]
    lidar = spec.lidars[0]
    scene = build_scene(spec, 0.3, seed)
    t = START_US + lidar.period_us
    near = scene.actors_near(t, scene.ego_xy(np.array([t]))[0], lidar.max_range_m + 25.0)
    sweep, labels = simulate_lidar_sweep(scene, lidar, 0, 1, t, near, seed)
    assert abs(len(sweep) - target) <= 0.15 * target, len(sweep)
    assert len(labels) == len(sweep)
    assert set(np.unique(labels.semantic)) >= {0, 1, 2}  # ground, structures and cars are hit


def test_nuscenes_rig_shape(nusc: SimResult) -> None:
    log = nusc.log
    assert len(log.lidar) == 1 and len(log.radar) == 5 and len(log.cameras) == 6
    sweep = log.lidar["lidar_top"][0]
    assert abs(len(sweep) - 34_000) <= 0.15 * 34_000
    models = {s.camera.width for s in log.sensors.values() if s.camera is not None}
    assert models == {1600}
    robotaxi = RIGS["robotaxi"]
    kinds = [c.model for c in robotaxi.cameras]
    assert kinds.count("brown_conrady") == 8 and kinds.count("fisheye") == 4 and len(robotaxi.radars) == 6
    assert robotaxi.lidars[0].beams == 128 and RIGS["nuscenes"].lidars[0].beams == 32


def test_lidar_sweep_fields(tiny: SimResult) -> None:
    spec = RIGS["tiny"].lidars[0]
    for sweep in tiny.log.lidar["lidar"][:3]:
        off = sweep.time_offset_us
        assert off.min() >= -spec.period_us // 2 and off.max() < spec.period_us // 2
        assert np.all(np.diff(off) >= 0)  # column order is firing order
        r = np.linalg.norm(sweep.points, axis=1)
        assert r.min() >= spec.min_range_m and r.max() <= spec.max_range_m
        assert 0.0 <= sweep.intensity.min() and sweep.intensity.max() <= 1.0
        assert sweep.ring.max() < spec.beams


def _face_distance(points: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance of points to a box's surface and the outward normal of the nearest face (world)."""
    c, s = np.cos(box[6]), np.sin(box[6])
    rel = points - box[:3]
    local = np.stack([c * rel[:, 0] + s * rel[:, 1], -s * rel[:, 0] + c * rel[:, 1], rel[:, 2]], axis=1)
    excess = np.abs(local) - box[3:6] / 2.0
    axis = np.argmax(excess, axis=1)
    normal_local = np.zeros_like(local)
    normal_local[np.arange(len(local)), axis] = np.sign(local[np.arange(len(local)), axis])
    normal = np.stack(
        [
            c * normal_local[:, 0] - s * normal_local[:, 1],
            s * normal_local[:, 0] + c * normal_local[:, 1],
            normal_local[:, 2],
        ],
        axis=1,
    )
    return excess.max(axis=1), normal


def test_motion_skew_is_real(tiny: SimResult) -> None:
    log, truth = tiny.log, tiny.ground_truth
    sensor = log.sensors["lidar"]
    stream = log.lidar["lidar"]
    traj = log.trajectory
    # The sweep where the ego moves fastest.
    mid = stream.timestamps_us
    p0, _ = traj.poses_at(mid - 20_000)
    p1, _ = traj.poses_at(mid + 20_000)
    speeds = np.linalg.norm(p1 - p0, axis=1) / 0.04
    k = int(np.argmax(speeds))
    assert speeds[k] > 3.0
    sweep, labels = stream[k], truth.point_labels["lidar"][k]
    wall = labels.semantic == 1
    pts = sweep.points[wall].astype(np.float64)
    times = sweep.point_times_us[wall]
    boxes = truth.structures[labels.instance[wall]]
    # Each point with the ego pose at its own firing time.
    trans, quats = traj.poses_at(times)
    yaw = quat_wxyz_to_yaw(quats)
    ego_pts = sensor.ego_from_sensor.transform_points(pts)
    c, s = np.cos(yaw), np.sin(yaw)
    own = np.stack(
        [
            c * ego_pts[:, 0] - s * ego_pts[:, 1] + trans[:, 0],
            s * ego_pts[:, 0] + c * ego_pts[:, 1] + trans[:, 1],
            ego_pts[:, 2] + trans[:, 2],
        ],
        axis=1,
    )
    # Every point with the single pose of the sweep timestamp.
    single = (traj.pose_at(sweep.timestamp_us) @ sensor.ego_from_sensor).transform_points(pts)
    d_own = np.array([_face_distance(own[i : i + 1], boxes[i])[0][0] for i in range(len(own))])
    d_single, normal = zip(
        *(_face_distance(single[i : i + 1], boxes[i]) for i in range(len(single))), strict=True
    )
    d_single_arr = np.concatenate(d_single)
    normal_arr = np.concatenate(normal)
    heading = (p1[k] - p0[k])[:2] / np.linalg.norm((p1[k] - p0[k])[:2])
    facing_motion = np.abs(normal_arr[:, :2] @ heading) > 0.7
    late = np.abs(sweep.time_offset_us[wall]) > 0.3 * RIGS["tiny"].lidars[0].period_us
    sel = facing_motion & late
    assert sel.sum() >= 20
    assert np.percentile(np.abs(d_own), 99) < 0.1  # per-point poses: on the wall within the range noise
    expected = speeds[k] * np.abs(sweep.time_offset_us[wall][sel]) * 1e-6
    assert np.median(np.abs(d_single_arr[sel])) > 0.5 * np.median(expected)
    assert np.median(np.abs(d_single_arr[sel])) > 5.0 * np.median(np.abs(d_own[sel]))


def test_tracks_are_consistent(tiny: SimResult) -> None:
    tracks = tiny.ground_truth.annotations.tracks
    sweep_times = set(tiny.log.lidar["lidar"].timestamps_us.tolist())
    assert {t.label for t in tracks} >= {"car", "pedestrian"}
    moving = 0
    for tr in tracks:
        assert set(tr.timestamps_us.tolist()) <= sweep_times
        assert np.all(tr.sizes == tr.sizes[0])
        assert np.all(np.abs(tr.centers[:, 2] - tr.sizes[:, 2] / 2.0) < 1e-9)  # standing on the ground
        if tr.label in ("car", "truck"):
            assert {a.name for a in tr.attributes} == {"blinker", "brake_light"}
        if len(tr) < 2:
            continue
        v = np.diff(tr.centers[:, :2], axis=0) / (np.diff(tr.timestamps_us)[:, None] * 1e-6)
        speed = np.linalg.norm(v, axis=1)
        yaw = quat_wxyz_to_yaw(tr.rotations_wxyz)
        mid_yaw = yaw[:-1] + 0.5 * np.angle(np.exp(1j * (yaw[1:] - yaw[:-1])))
        fast = speed > 1.0
        err = np.angle(np.exp(1j * (np.arctan2(v[:, 1], v[:, 0]) - mid_yaw)))
        assert np.all(np.abs(err[fast]) < np.radians(3.0)), tr.track_id
        moving += int(fast.any())
    assert moving >= 5


def test_vehicle_attributes_follow_motion() -> None:
    scene = build_scene(RIGS["tiny"], 40.0, 11)
    act = scene.actors
    lane_vehicles = np.flatnonzero((np.isin(act.label, (2, 3))) & (act.mode == 0) & (act.lane[:, 4] > 0))
    times = START_US + np.arange(0, 40_000_000, 50_000)
    st = scene.actor_states(times, lane_vehicles)
    codes = scene.attributes(times, lane_vehicles)
    speed = np.hypot(st.vx, st.vy)
    accel = np.gradient(speed, 0.05, axis=0)
    braking = accel < -1.0
    cruising = (accel > 0.1) & (speed > 1.0)
    assert braking.sum() > 10 and cruising.sum() > 10
    assert np.all(codes["brake_light"][braking] == 1)
    assert np.all(codes["brake_light"][cruising] == 0)
    assert set(np.unique(codes["blinker"]).tolist()) >= {0, 1, 2}


def test_ego_drives_turns_stops_and_speed_changes() -> None:
    scene = build_scene(RIGS["tiny"], 60.0, 2)
    traj = scene.trajectory
    yaw = np.unwrap(quat_wxyz_to_yaw(traj.quaternions_wxyz))
    speed = np.linalg.norm(np.diff(traj.translations, axis=0), axis=1) / 0.01
    accel = np.diff(speed) / 0.01
    assert np.ptp(yaw) > np.radians(30.0)
    assert speed.min() < 0.01 and speed.max() > 8.0
    assert np.abs(accel).max() < 4.0  # smooth profile, no jumps
    assert np.all(np.diff(traj.timestamps_us) == 10_000)
    for box in scene.structures:  # the ego never drives through a building
        rel = traj.translations[:, :2] - box[:2]
        c, s = np.cos(box[6]), np.sin(box[6])
        inside = (np.abs(c * rel[:, 0] + s * rel[:, 1]) < box[3] / 2) & (
            np.abs(-s * rel[:, 0] + c * rel[:, 1]) < box[4] / 2
        )
        assert not inside.any()


def test_boxes_2d_inside_images_and_match_tracks(tiny: SimResult) -> None:
    truth, log = tiny.ground_truth, tiny.log
    tracks = {t.track_id: t for t in truth.annotations.tracks}
    per_camera = dict.fromkeys(log.cameras, 0)
    for frame in truth.camera_boxes:
        cam = log.sensors[frame.sensor_id].camera
        assert cam is not None
        assert frame.timestamp_us in set(log.cameras[frame.sensor_id].timestamps_us.tolist())
        for box in frame.boxes:
            x0, y0, x1, y1 = box.box
            assert 0.0 <= x0 <= x1 <= cam.width and 0.0 <= y0 <= y1 <= cam.height
            assert 0.0 < box.visible_fraction <= 1.0 and 0.0 <= box.truncation <= 1.0
            assert 0.0 <= box.occlusion < 1.0
            track = tracks[box.track_id]
            assert track.label == box.label
            assert track.timestamps_us[0] <= frame.timestamp_us <= track.timestamps_us[-1]
            for path in track.attributes:
                assert box.attributes[path.name] == path.value_at(frame.timestamp_us)
            per_camera[frame.sensor_id] += 1
    assert all(n > 0 for n in per_camera.values()), per_camera


def test_box_2d_contains_projected_corners(tiny: SimResult) -> None:
    truth, log = tiny.ground_truth, tiny.log
    checked = 0
    for frame in truth.camera_boxes:
        sensor = log.sensors[frame.sensor_id]
        assert sensor.camera is not None
        cam_from_world = (log.trajectory.pose_at(frame.timestamp_us) @ sensor.ego_from_sensor).inverse()
        for box in frame.boxes:
            if box.truncation > 0.0:
                continue
            track = truth.annotations.track(box.track_id)
            i = int(np.searchsorted(track.timestamps_us, frame.timestamp_us))
            # Camera times fall between keyframes: bracket the cuboid with both neighbours' corners.
            corners = []
            for j in (i - 1, i):
                b = track.boxes[j].astype(np.float64)
                signs = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]) * b[3:6] / 2
                c, s = np.cos(b[6]), np.sin(b[6])
                corners.append(
                    np.stack(
                        [
                            c * signs[:, 0] - s * signs[:, 1] + b[0],
                            s * signs[:, 0] + c * signs[:, 1] + b[1],
                            signs[:, 2] + b[2],
                        ],
                        axis=1,
                    )
                )
            uv, _, valid = sensor.camera.project(cam_from_world.transform_points(np.concatenate(corners)))
            assert valid.all()
            x0, y0, x1, y1 = box.box
            slack = 25.0  # motion of the box within one lidar period
            assert uv[:, 0].min() > x0 - slack and uv[:, 0].max() < x1 + slack
            assert uv[:, 1].min() > y0 - slack and uv[:, 1].max() < y1 + slack
            checked += 1
    assert checked > 20


def test_radar_radial_velocity_matches_geometry(tiny: SimResult) -> None:
    log, truth = tiny.log, tiny.ground_truth
    sensor = log.sensors["radar_front"]
    traj = log.trajectory
    errors, signs_ok, n_signed = [], 0, 0
    for sweep, labels in zip(log.radar["radar_front"], truth.point_labels["radar_front"], strict=True):
        t = sweep.timestamp_us
        pose = traj.pose_at(t) @ sensor.ego_from_sensor
        v_radar = (
            (traj.pose_at(t + 5_000) @ sensor.ego_from_sensor).translation
            - (traj.pose_at(t - 5_000) @ sensor.ego_from_sensor).translation
        ) / 0.01
        world = pose.transform_points(sweep.points.astype(np.float64))
        u = world - pose.translation
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        for i in range(len(sweep)):
            v_obj = np.zeros(3)
            if labels.semantic[i] >= 2:
                track = truth.annotations.track(f"actor_{labels.instance[i]:04d}")
                k = int(np.clip(np.searchsorted(track.timestamps_us, t), 1, len(track) - 1))
                v_obj = (track.centers[k] - track.centers[k - 1]) / (
                    (track.timestamps_us[k] - track.timestamps_us[k - 1]) * 1e-6
                )
            expected = float(u[i] @ (v_obj - v_radar))
            errors.append(abs(expected - float(sweep.radial_velocity[i])))
            if abs(expected) > 2.0:
                n_signed += 1
                signs_ok += int(np.sign(expected) == np.sign(sweep.radial_velocity[i]))
    assert n_signed > 20 and signs_ok == n_signed
    assert np.percentile(errors, 90) < 0.5


def test_written_log_reopens_bit_exact(tmp_path: Path) -> None:
    path = write_simulation(tmp_path / "run", "tiny", 0.3, 4)
    assert path == tmp_path / "run" / "log"
    memory = simulate("tiny", 0.3, 4)
    disk = open_log(path)
    _assert_logs_equal(memory.log, disk)
    truth = read_ground_truth(tmp_path / "run")
    _assert_tracks_equal(memory.ground_truth.annotations.tracks, truth.annotations.tracks)
    assert truth.camera_boxes == memory.ground_truth.camera_boxes
    assert np.array_equal(truth.structures, memory.ground_truth.structures)
    for sid, labels in memory.ground_truth.point_labels.items():
        assert len(truth.point_labels[sid]) == len(labels)
        for x, y in zip(labels, truth.point_labels[sid], strict=True):
            assert np.array_equal(x.semantic, y.semantic) and np.array_equal(x.instance, y.instance)
    assert read_ground_truth(tmp_path / "run" / "ground_truth").metadata["seed"] == 4


def test_cli_sim_writes_log_and_ground_truth(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        app, ["sim", "--rig", "tiny", "--seconds", "0.3", "--seed", "1", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "lidar sweeps" in result.output and "GT tracks" in result.output
    assert len(open_log(out / "log").lidar["lidar"]) == 3
    assert (out / "ground_truth" / "boxes_2d.json").is_file()
    bad = CliRunner().invoke(app, ["sim", "--rig", "nope", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "unknown rig 'nope'" in bad.output


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InvalidInputError, match="unknown rig 'warp'"):
        simulate("warp", 1.0, 0)
    with pytest.raises(InvalidInputError, match="seconds must be > 0"):
        simulate("tiny", 0.0, 0)
    with pytest.raises(InvalidInputError, match="seed must be a non-negative integer"):
        simulate("tiny", 1.0, -3)


def test_cameras_have_own_trigger_times(tiny: SimResult) -> None:
    lidar_times = set(tiny.log.lidar["lidar"].timestamps_us.tolist())
    stamps = [set(s.timestamps_us.tolist()) for s in tiny.log.cameras.values()]
    assert all(not (s & lidar_times) for s in stamps)
    assert not (stamps[0] & stamps[1])
    fisheye = tiny.log.sensors["fisheye_left"]
    assert fisheye.camera is not None and fisheye.camera.model == "fisheye"
    # The optical axis (z) of the left fisheye points left (+y of the ego) and down.
    axis = fisheye.ego_from_sensor.rotation[:, 2]
    assert axis[1] > 0.9 and axis[2] < 0.0
    assert isinstance(fisheye.ego_from_sensor, SE3)
