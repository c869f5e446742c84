"""Scalar rigid-motion math (kernels._math.transform) run as plain Python against scipy."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_helpers import random_trajectory
from scipy.spatial.transform import Rotation

from calibration.trajectory import slerp_wxyz
from kernels._math import transform as tf

unit = st.floats(-1.0, 1.0, allow_nan=False)


def _quat(rng: np.random.Generator) -> np.ndarray:
    return Rotation.random(random_state=int(rng.integers(1 << 31))).as_quat()[[3, 0, 1, 2]]


def test_quat_rotate_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        q = _quat(rng)
        p = rng.normal(size=3)
        want = Rotation.from_quat(q[[1, 2, 3, 0]]).apply(p)
        np.testing.assert_allclose(tf.quat_rotate(*q, *p), want, atol=1e-12)


def test_quat_mul_composes_rotations() -> None:
    rng = np.random.default_rng(1)
    a, b = _quat(rng), _quat(rng)
    ab = np.array(tf.quat_mul(*a, *b))
    p = rng.normal(size=3)
    np.testing.assert_allclose(
        tf.quat_rotate(*ab, *p), tf.quat_rotate(*a, *tf.quat_rotate(*b, *p)), atol=1e-12
    )


def test_slerp_endpoints_and_midpoint() -> None:
    rng = np.random.default_rng(2)
    a, b = _quat(rng), _quat(rng)
    np.testing.assert_allclose(tf.slerp(*a, *b, 0.0), a, atol=1e-12)
    q1 = np.array(tf.slerp(*a, *b, 1.0))
    np.testing.assert_allclose(q1 * np.sign(q1 @ b), b, atol=1e-12)
    mid = np.array(tf.slerp(*a, *b, 0.5))
    ref = slerp_wxyz(a[None], b[None], np.array([0.5]))[0]
    np.testing.assert_allclose(mid * np.sign(mid @ ref), ref, atol=1e-12)


def test_slerp_takes_short_arc() -> None:
    """q and -q are the same rotation: interpolating towards -b must equal interpolating towards b."""
    rng = np.random.default_rng(3)
    a, b = _quat(rng), _quat(rng)
    for alpha in (0.25, 0.5, 0.8, 1.3, -0.2):
        q1, q2 = np.array(tf.slerp(*a, *b, alpha)), np.array(tf.slerp(*a, *(-b), alpha))
        assert abs(abs(q1 @ q2) - 1.0) < 1e-12


def test_slerp_nearly_equal_rotations_stay_unit() -> None:
    a = np.array([1.0, 0.0, 0.0, 0.0])
    b = np.array([1.0, 1e-12, 0.0, 0.0]) / math.sqrt(1.0 + 1e-24)
    q = np.array(tf.slerp(*a, *b, 0.5))
    assert abs(np.linalg.norm(q) - 1.0) < 1e-15 and np.isfinite(q).all()


@settings(max_examples=60, deadline=None)
@given(st.integers(-200_000, 900_000))
def test_find_segment_brackets_time(t: int) -> None:
    ts = np.array([0, 100_000, 250_000, 400_000, 700_000], np.int64)
    i = tf.find_segment(ts, t)
    assert 0 <= i <= ts.size - 2
    if ts[0] <= t <= ts[-1]:
        assert ts[i] <= t <= ts[i + 1]
    assert (t >= ts[0]) or i == 0
    assert (t <= ts[-1]) or i == ts.size - 2


def test_pose_at_matches_trajectory_oracle() -> None:
    rng = np.random.default_rng(4)
    traj = random_trajectory(rng)
    times = rng.integers(traj.start_us, traj.end_us, 200)
    times[:2] = traj.start_us, traj.end_us
    p_ref, q_ref = traj.poses_at(times)
    for k, t in enumerate(times):
        px, py, pz, *q = tf.pose_at(
            traj.timestamps_us, traj.translations, traj.quaternions_wxyz, int(t), False
        )
        np.testing.assert_allclose([px, py, pz], p_ref[k], atol=1e-9)
        assert abs(abs(np.dot(q, q_ref[k])) - 1.0) < 1e-12


def test_pose_at_clamp_holds_end_pose() -> None:
    traj = random_trajectory(np.random.default_rng(5))
    args = (traj.timestamps_us, traj.translations, traj.quaternions_wxyz)
    late = tf.pose_at(*args, traj.end_us + 80_000, True)
    np.testing.assert_allclose(late[:3], traj.translations[-1], atol=1e-12)
    extrap = tf.pose_at(*args, traj.end_us + 50_000, False)  # one step: continue the last segment
    np.testing.assert_allclose(extrap[:3], 2 * traj.translations[-1] - traj.translations[-2], atol=1e-9)


def test_segment_velocity_yaw_rate_and_speed() -> None:
    ts = np.array([0, 100_000], np.int64)
    trans = np.array([[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]])
    yaw = 0.02
    quat = np.array([[1.0, 0.0, 0.0, 0.0], [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]])
    vx, vy, vz, wx, wy, wz = tf.segment_velocity(ts, trans, quat, 50_000)
    np.testing.assert_allclose([vx, vy, vz], [15.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose([wx, wy, wz], [0.0, 0.0, 0.2], atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(unit, unit, unit, st.floats(-50.0, 50.0), st.floats(-30.0, 30.0))
def test_radial_velocity_compensation_static_target_is_zero(
    ux: float, uy: float, uz: float, vx: float, vr_bias: float
) -> None:
    """A static target seen from a sensor moving at v measures v_r = -dot(v, u); compensation gives 0."""
    n = math.sqrt(ux * ux + uy * uy + uz * uz)
    if n < 1e-3:
        return
    u = (ux / n, uy / n, uz / n)
    v = (vx, 0.5 * vx, -0.1 * vx)
    measured = -(v[0] * u[0] + v[1] * u[1] + v[2] * u[2])
    assert abs(tf.radial_velocity_compensated(measured, *v, *u)) < 1e-9
    moving = measured + vr_bias  # the target's own radial speed survives compensation
    assert abs(tf.radial_velocity_compensated(moving, *v, *u) - vr_bias) < 1e-9
