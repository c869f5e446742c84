"""Deskew and fuse against a slow NumPy oracle built on calibration.Trajectory, on CPU and CUDA."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_helpers import random_trajectory, rigid

import kernels
from calibration.trajectory import Trajectory
from kernels.errors import InvalidInputError, InvalidTypeError


def oracle(points, offsets, base, traj, ego_from_sensor, ref, frame="ego"):  # type: ignore[no-untyped-def]
    """Slow float64 reference: per-point 4x4 matrices from Trajectory.matrices_at."""
    m = traj.matrices_at(base + offsets.astype(np.int64))
    pe = points.astype(np.float64) @ ego_from_sensor[:3, :3].T + ego_from_sensor[:3, 3]
    pw = np.einsum("nij,nj->ni", m[:, :3, :3], pe) + m[:, :3, 3]
    if frame == "world":
        return pw
    r = traj.matrices_at(ref)[0]
    return (pw - r[:3, 3]) @ r[:3, :3]


def _case(seed: int, n: int):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    traj = random_trajectory(rng)
    pts = (rng.normal(size=(n, 3)) * 15).astype(np.float32)
    base = traj.start_us + 200_000
    off = rng.integers(-100_000, 100_000, n).astype(np.int32)
    return traj, pts, off, base, rigid(rng)


@pytest.mark.parametrize("frame", ["ego", "world"])
def test_deskew_matches_oracle(backend: str, frame: str) -> None:
    traj, pts, off, base, e = _case(10, 1500)
    ref = base + 30_000
    got = kernels.deskew(
        pts,
        off,
        timestamp_us=base,
        trajectory=traj,
        ego_from_sensor=e,
        ref_time_us=ref,
        frame=frame,
        backend=backend,
    )
    want = oracle(pts, off, base, traj, e, ref, frame)
    assert got.dtype == np.float32 and got.shape == pts.shape
    np.testing.assert_allclose(got, want, atol=2e-5 * max(1.0, np.abs(want).max()))


def test_cuda_simulator_matches_cpu() -> None:
    """Same kernel math on both targets: <= 1e-5 relative difference."""
    if not kernels.cuda_status().available:
        pytest.skip("no CUDA device and numba's CUDA simulator is off")
    traj, pts, off, base, e = _case(11, 2000)
    kw = {"timestamp_us": base, "trajectory": traj, "ego_from_sensor": e}
    a = kernels.deskew(pts, off, backend="cpu", **kw)
    b = kernels.deskew(pts, off, backend="cuda", **kw)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_deskew_identity_when_ego_is_static() -> None:
    traj = Trajectory(np.array([0, 1_000_000], np.int64), np.zeros((2, 3)), np.tile([1.0, 0, 0, 0], (2, 1)))
    pts = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    off = np.arange(100, dtype=np.int32) * 1000
    out = kernels.deskew(pts, off, timestamp_us=0, trajectory=traj)
    np.testing.assert_allclose(out, pts, atol=1e-6)


def _wall_scan(speed: float, n_cols: int = 720) -> tuple[Trajectory, np.ndarray, np.ndarray]:
    """A 10 Hz spinning lidar sweeping a flat wall at x = 20 m while the ego drives +x at ``speed``.

    Each column is fired at its own time over 100 ms; the sensor sits at the ego origin. Returns the
    trajectory, the sensor-frame points (as measured at firing time) and their time offsets.
    """
    ts = np.array([0, 50_000, 100_000, 150_000], np.int64)
    traj = Trajectory(ts, np.c_[speed * ts * 1e-6, np.zeros(4), np.zeros(4)], np.tile([1.0, 0, 0, 0], (4, 1)))
    t_off = np.linspace(0, 99_000, n_cols).astype(np.int32)
    az = np.linspace(-0.6, 0.6, n_cols)  # the part of the sweep that sees the wall
    elev = np.linspace(-0.2, 0.2, 16)
    a, e = np.meshgrid(az, elev, indexing="ij")
    t = np.repeat(t_off, elev.size)
    ego_x = speed * t * 1e-6
    d = np.stack([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)], -1).reshape(-1, 3)
    rng = (20.0 - ego_x) / d[:, 0]  # range to the wall from where the sensor was at firing time
    return traj, (d * rng[:, None]).astype(np.float32), t.astype(np.int32)


def test_wall_is_planar_after_deskew_and_skewed_before() -> None:
    """Synthetic rig at 15 m/s: raw points smear 1.5 m over the sweep; deskewed ones lie in the wall."""
    traj, pts, off = _wall_scan(15.0)
    raw_spread = np.ptp(pts[:, 0])
    out = kernels.deskew(pts, off, timestamp_us=0, trajectory=traj, ref_time_us=0)
    assert raw_spread > 1.0  # visibly skewed before
    assert np.abs(out[:, 0] - 20.0).max() < 0.01  # planar within 1 cm, at the wall's position at t=0


def test_extrapolation_policies() -> None:
    traj, pts, off, _, e = _case(12, 50)
    late = traj.end_us + 20_000
    with pytest.raises(InvalidInputError, match="point time .* outside the trajectory range"):
        kernels.deskew(pts, off, timestamp_us=late, trajectory=traj)
    cv = kernels.deskew(
        pts,
        off,
        timestamp_us=late,
        trajectory=traj,
        extrapolation="constant_velocity",
        ref_time_us=traj.end_us,
    )
    cl = kernels.deskew(
        pts, off, timestamp_us=late, trajectory=traj, extrapolation="clamp", ref_time_us=traj.end_us
    )
    np.testing.assert_allclose(cl[off > -20_000], pts[off > -20_000], atol=1e-4)  # end pose held
    assert np.abs(cv - cl).max() > 1e-3
    with pytest.raises(InvalidInputError, match="max_extrapolation_us"):
        kernels.deskew(
            pts, off, timestamp_us=late, trajectory=traj, extrapolation="clamp", max_extrapolation_us=10
        )
    with pytest.raises(InvalidInputError, match="unknown extrapolation 'sideways'"):
        kernels.deskew(pts, off, timestamp_us=late, trajectory=traj, extrapolation="sideways")


def test_single_pose_trajectory_is_constant() -> None:
    traj = Trajectory(np.array([5], np.int64), np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 0, 0, 0]]))
    pts = np.ones((4, 3), np.float32)
    out = kernels.deskew(pts, np.zeros(4, np.int32), timestamp_us=5, trajectory=traj, frame="world")
    np.testing.assert_allclose(out, pts + [1.0, 2.0, 3.0])


def test_empty_sweep() -> None:
    traj, *_ = _case(13, 1)
    out = kernels.deskew(
        np.empty((0, 3), np.float32), np.empty(0, np.int32), timestamp_us=traj.start_us, trajectory=traj
    )
    assert out.shape == (0, 3)


def test_bad_inputs_name_the_argument() -> None:
    traj, pts, off, base, e = _case(14, 10)
    kw = {"timestamp_us": base, "trajectory": traj}
    with pytest.raises(InvalidInputError, match=r"points must have shape \(N, 3\)"):
        kernels.deskew(pts[:, :2], off, **kw)
    with pytest.raises(InvalidInputError, match=r"time_offset_us must have shape \(10\), got \(5,\)"):
        kernels.deskew(pts, off[:5], **kw)
    with pytest.raises(InvalidTypeError, match="time_offset_us must hold integers"):
        kernels.deskew(pts, off + 0.5, **kw)
    with pytest.raises(InvalidInputError, match="ego_from_sensor must be a rigid transform"):
        kernels.deskew(pts, off, ego_from_sensor=np.diag([2.0, 1, 1, 1]), **kw)
    with pytest.raises(InvalidInputError, match="unknown frame 'lidar'"):
        kernels.deskew(pts, off, frame="lidar", **kw)
    with pytest.raises(InvalidInputError, match="unknown backend 'tpu'"):
        kernels.deskew(pts, off, backend="tpu", **kw)
    with pytest.raises(InvalidInputError, match="timestamp_us must be an integer"):
        kernels.deskew(pts, off, timestamp_us=1.5, trajectory=traj)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.integers(0, 9), st.integers(0, 2))
def test_non_finite_points_are_rejected(bad: float, row: int, col: int) -> None:
    traj, pts, off, base, _ = _case(15, 10)
    pts = pts.copy()
    pts[row, col] = bad
    with pytest.raises(InvalidInputError, match=rf"points must be finite: at index \({row}, {col}\)"):
        kernels.deskew(pts, off, timestamp_us=base, trajectory=traj)


def test_fuse_tags_sensors_and_compensates_radar(backend: str) -> None:
    """Two lidars and a radar seeing static targets: fused points match the oracle, Doppler -> 0."""
    rng = np.random.default_rng(16)
    traj = random_trajectory(rng)
    base = traj.start_us + 250_000
    lid = [
        kernels.SensorPoints(
            (rng.normal(size=(300, 3)) * 10).astype(np.float32),
            rng.integers(-50_000, 50_000, 300).astype(np.int32),
            base,
            rigid(rng),
        )
        for _ in range(2)
    ]
    # radar: static world targets measured from the moving sensor at time t
    e_r = rigid(rng)
    n_r = 200
    t_off = rng.integers(-40_000, 40_000, n_r).astype(np.int32)
    t = base + t_off.astype(np.int64)
    world = rng.normal(size=(n_r, 3)) * 20 + traj.translations[4]
    m = traj.matrices_at(t) @ e_r  # world_from_sensor at each time
    p_s = np.einsum("nji,nj->ni", m[:, :3, :3], world - m[:, :3, 3])
    # sensor velocity by finite differences of world_from_sensor
    h = 1
    m2 = traj.matrices_at(t + h) @ e_r
    v_sensor_w = (m2[:, :3, 3] - m[:, :3, 3]) / (h * 1e-6)
    u_w = (world - m[:, :3, 3]) / np.linalg.norm(world - m[:, :3, 3], axis=1, keepdims=True)
    v_meas = -np.sum(v_sensor_w * u_w, axis=1)  # static target: v_r = dot(0 - v_sensor, u)
    radar = kernels.SensorPoints(p_s.astype(np.float32), t_off, base, e_r, v_meas.astype(np.float32))
    fused = kernels.fuse([*lid, radar], trajectory=traj, ref_time_us=base, backend=backend)
    assert fused.starts.tolist() == [0, 300, 600, 800]
    assert fused.sensor_index.tolist() == [0] * 300 + [1] * 300 + [2] * 200
    for s, sp in enumerate([*lid, radar]):
        want = oracle(sp.points, sp.time_offset_us, base, traj, sp.ego_from_sensor, base)
        np.testing.assert_allclose(fused.points[fused.starts[s] : fused.starts[s + 1]], want, atol=5e-4)
    assert np.isnan(fused.radial_velocity[:600]).all()
    assert np.abs(v_meas).max() > 1.0  # the ego moves: raw Doppler of static targets is far from 0
    np.testing.assert_allclose(fused.radial_velocity[600:], 0.0, atol=2e-3)


def test_fuse_rejects_bad_sensor_lists() -> None:
    traj, pts, off, base, e = _case(17, 5)
    with pytest.raises(InvalidTypeError, match="sensors must be a sequence of SensorPoints"):
        kernels.fuse(kernels.SensorPoints(pts, off, base, e), trajectory=traj, ref_time_us=base)
    with pytest.raises(InvalidInputError, match=r"sensors\[1\].points must have shape"):
        kernels.fuse(
            [kernels.SensorPoints(pts, off, base, e), kernels.SensorPoints(pts[:, :2], off, base, e)],
            trajectory=traj,
            ref_time_us=base,
        )
