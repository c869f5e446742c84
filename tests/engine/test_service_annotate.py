"""``engine.service.interpolate_cuboids`` with a snap: the config type picks the method, the snap runs in
the world frame (keyframes' own sweeps for motion/faces) and the result comes back in the output frame."""

from __future__ import annotations

import numpy as np
import pytest

from engine import Log, open_log
from engine.service import OutOfRange, PoseFrame, SnapConfig, interpolate_cuboids
from engine.service.annotate import AnySnapConfig, FaceSnapConfig, MotionSnapConfig
from engine.sim import read_ground_truth, write_simulation
from engine.tracks import path_from_track, sweep_points
from kernels.errors import InvalidInputError
from tracking import (
    CuboidPath,
    SnapReference,
    interpolate,
    snap_by_motion,
    snap_to_faces,
    snap_to_points,
    to_ego,
    to_world,
)

KEEP = [1, 4, 8]  # keyframe rows of a 10-sweep track


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Log, CuboidPath]:
    """The 1 s tiny-rig simulation and the ground-truth track that the motion snap corrects most."""
    out = tmp_path_factory.mktemp("sim")
    write_simulation(out, "tiny", 1.0, 3)
    log = open_log(out / "log")
    paths = [path_from_track(t) for t in read_ground_truth(out / "ground_truth").annotations.tracks]
    paths = [p for p in paths if len(p) == 10]

    def corrected(p: CuboidPath) -> int:
        res = interpolate_cuboids(p.take(KEEP), p.timestamps_us[1:9], log=log, snap=MotionSnapConfig())
        assert res.snap is not None
        return int(res.snap.snapped.sum())

    best = max(paths, key=corrected)
    assert corrected(best) > 0, "no simulated track is seen well enough for the motion snap"
    return log, best


def _world_sweep(log: Log, t: int) -> np.ndarray:
    lidar = next(iter(log.lidar))
    return sweep_points(log, lidar, log.lidar[lidar].nearest(t), PoseFrame.WORLD)


@pytest.mark.parametrize("cfg", [MotionSnapConfig(), FaceSnapConfig(), SnapConfig()], ids=type)
def test_config_type_picks_the_method(sim: tuple[Log, CuboidPath], cfg: AnySnapConfig) -> None:
    log, track = sim
    kf = track.take(KEEP)
    query = track.timestamps_us[2:8]  # inside the keyframe range, before the last keyframe
    got = interpolate_cuboids(kf, query, log=log, snap=cfg)
    # Oracle: the tracking function called by hand on world-frame cuboids and world-frame sweeps.
    world = interpolate(kf, query)
    points = [_world_sweep(log, int(t)) for t in query]
    ref = SnapReference(kf, [_world_sweep(log, int(t)) for t in kf.timestamps_us])
    if isinstance(cfg, MotionSnapConfig):
        want = snap_by_motion(world, points, ref, cfg)
    elif isinstance(cfg, FaceSnapConfig):
        want = snap_to_faces(world, points, ref, cfg)
    else:
        want = snap_to_points(world, points, cfg)
    assert got.snap is not None
    np.testing.assert_array_equal(got.path.centers, want.path.centers)
    np.testing.assert_array_equal(got.path.rotations_wxyz, want.path.rotations_wxyz)
    np.testing.assert_array_equal(got.snap.snapped, want.snapped)
    np.testing.assert_array_equal(got.snap.n_points, want.n_points)
    assert got.snap.path is got.path


def test_methods_differ_on_a_seen_track(sim: tuple[Log, CuboidPath]) -> None:
    log, track = sim
    kf = track.take(KEEP)
    out = {
        type(c).__name__: interpolate_cuboids(kf, track.timestamps_us[1:9], log=log, snap=c).path.centers
        for c in (MotionSnapConfig(), FaceSnapConfig(), SnapConfig())
    }
    plain = interpolate_cuboids(kf, track.timestamps_us[1:9]).path.centers
    assert not np.array_equal(out["MotionSnapConfig"], plain)
    assert not np.array_equal(out["MotionSnapConfig"], out["SnapConfig"])


@pytest.mark.parametrize("cfg", [MotionSnapConfig(), FaceSnapConfig(), SnapConfig()], ids=type)
def test_ego_frame_request_equals_world_request(sim: tuple[Log, CuboidPath], cfg: AnySnapConfig) -> None:
    log, track = sim
    kf = track.take(KEEP)
    world = interpolate_cuboids(kf, track.timestamps_us, log=log, snap=cfg, out_of_range=OutOfRange.HOLD)
    kf_ego = to_ego(kf, log.trajectory)
    ego = interpolate_cuboids(kf_ego, track.timestamps_us, log=log, snap=cfg, out_of_range=OutOfRange.HOLD)
    assert ego.path.frame is PoseFrame.EGO and world.snap is not None and ego.snap is not None
    back = to_world(ego.path, log.trajectory)
    np.testing.assert_allclose(back.centers, world.path.centers, atol=1e-6, rtol=0)
    np.testing.assert_allclose(back.rotations_wxyz, world.path.rotations_wxyz, atol=1e-9, rtol=0)
    np.testing.assert_array_equal(ego.snap.snapped, world.snap.snapped)
    # world keyframes, ego output: the same cuboids moved to the ego frame
    mixed = interpolate_cuboids(
        kf,
        track.timestamps_us,
        log=log,
        snap=cfg,
        out_of_range=OutOfRange.HOLD,
        output_frame=PoseFrame.EGO,
    )
    np.testing.assert_allclose(mixed.path.centers, ego.path.centers, atol=1e-6, rtol=0)
    # unmoved rows at the keyframes' times are the ego keyframes bit for bit
    unmoved = (ego.snap.shift_m[KEEP] == 0) & (ego.snap.yaw_change_rad[KEEP] == 0)
    assert unmoved.any()
    np.testing.assert_array_equal(ego.path.centers[KEEP][unmoved], kf_ego.centers[unmoved])


def test_empty_keyframe_points_are_no_evidence(sim: tuple[Log, CuboidPath]) -> None:
    log, track = sim
    kf = track.take(KEEP)
    query = track.timestamps_us[2:8]
    world = interpolate(kf, query)
    points = [_world_sweep(log, int(t)) for t in query]
    sweeps = [_world_sweep(log, int(t)) for t in kf.timestamps_us]
    empty = [np.zeros((0, 3), np.float32)] * len(kf)
    far = [s + np.float32(1e4) for s in sweeps]  # points that touch no cuboid
    for snap in (snap_by_motion, snap_to_faces):
        a = snap(world, points, SnapReference(kf, empty))
        b = snap(world, points, SnapReference(kf, far))
        np.testing.assert_array_equal(a.path.centers, b.path.centers)
        np.testing.assert_array_equal(a.snapped, b.snapped)
        np.testing.assert_array_equal(a.needs_keyframe, b.needs_keyframe)
    # the middle keyframe without its sweep: motion loses the keyframe edges to it, faces that gap
    full = snap_by_motion(world, points, SnapReference(kf, sweeps))
    part = snap_by_motion(world, points, SnapReference(kf, [sweeps[0], empty[0], sweeps[2]]))
    assert not np.array_equal(full.path.centers, part.path.centers)


def test_keyframe_without_a_sweep_gets_no_points(sim: tuple[Log, CuboidPath]) -> None:
    log, track = sim
    # keyframes 50 ms off the 10 Hz sweeps, queries on them: with max_gap 40 ms only the queries have sweeps
    kf = interpolate(track.take([0, 9]), track.timestamps_us[[1, 4, 8]] + 50_000)
    query = track.timestamps_us[2:8]
    points = [_world_sweep(log, int(t)) for t in query]
    ref = SnapReference(kf, [np.zeros((0, 3), np.float32)] * len(kf))
    for cfg in (MotionSnapConfig(), FaceSnapConfig()):
        got = interpolate_cuboids(kf, query, log=log, snap=cfg, max_gap_us=40_000)
        if isinstance(cfg, MotionSnapConfig):
            want = snap_by_motion(interpolate(kf, query), points, ref, cfg)
        else:
            want = snap_to_faces(interpolate(kf, query), points, ref, cfg)
        np.testing.assert_array_equal(got.path.centers, want.path.centers)
        assert got.snap is not None
        np.testing.assert_array_equal(got.snap.snapped, want.snapped)
    with pytest.raises(InvalidInputError, match="sweep within"):  # a query without a sweep is an error
        interpolate_cuboids(kf, kf.timestamps_us, log=log, snap=MotionSnapConfig(), max_gap_us=40_000)


def test_faces_rows_at_and_after_the_last_keyframe(sim: tuple[Log, CuboidPath]) -> None:
    log, track = sim
    kf = track.take(KEEP)
    got = interpolate_cuboids(
        kf, track.timestamps_us, log=log, snap=FaceSnapConfig(), out_of_range=OutOfRange.HOLD
    )
    assert got.snap is not None
    tail = track.timestamps_us >= kf.timestamps_us[-1]
    assert not got.snap.snapped[tail].any()  # nothing to blend at or past the last keyframe
    held = interpolate(kf, track.timestamps_us[tail], out_of_range=OutOfRange.HOLD)
    np.testing.assert_allclose(got.path.centers[tail], held.centers, atol=1e-9)
    np.testing.assert_array_equal(got.path.centers[KEEP[-1]], kf.centers[-1])
    inside = interpolate_cuboids(kf, track.timestamps_us[KEEP[0] : KEEP[-1]], log=log, snap=FaceSnapConfig())
    assert inside.snap is not None
    np.testing.assert_array_equal(got.path.centers[KEEP[0] : KEEP[-1]], inside.path.centers)


def test_snap_needs_a_log(sim: tuple[Log, CuboidPath]) -> None:
    _, track = sim
    with pytest.raises(InvalidInputError, match="needs a log_id"):
        interpolate_cuboids(track.take(KEEP), track.timestamps_us[2:5], snap=MotionSnapConfig())
