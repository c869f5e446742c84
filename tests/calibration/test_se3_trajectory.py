import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from calibration import (
    SE3,
    Extrapolation,
    Trajectory,
    quat_wxyz_to_xyzw,
    quat_wxyz_to_yaw,
    quat_xyzw_to_wxyz,
    slerp_wxyz,
    yaw_to_quat_wxyz,
)
from kernels.errors import InvalidInputError


def random_se3(rng: np.random.Generator) -> SE3:
    q = rng.normal(size=4)
    return SE3.from_quaternion(q / np.linalg.norm(q), rng.normal(size=3) * 10)


def test_quaternion_order_converters_match_scipy():
    rng = np.random.default_rng(1)
    r = Rotation.random(20, random_state=2)
    xyzw = r.as_quat()
    wxyz = quat_xyzw_to_wxyz(xyzw)
    np.testing.assert_array_equal(wxyz[:, 0], xyzw[:, 3])
    np.testing.assert_array_equal(quat_wxyz_to_xyzw(wxyz), xyzw)
    t = SE3.from_quaternion(wxyz[0], rng.normal(size=3))
    np.testing.assert_allclose(t.rotation, r[0].as_matrix(), atol=1e-12)


def test_compose_inverse_and_points():
    rng = np.random.default_rng(7)
    a_from_b, b_from_c = random_se3(rng), random_se3(rng)
    pts = rng.normal(size=(50, 3))
    a_from_c = a_from_b @ b_from_c
    np.testing.assert_allclose(
        a_from_c.transform_points(pts), a_from_b.transform_points(b_from_c.transform_points(pts))
    )
    assert (a_from_b.inverse() @ a_from_b).isclose(SE3.identity())
    np.testing.assert_allclose(SE3.from_matrix(a_from_c.matrix).matrix, a_from_c.matrix)
    assert SE3.from_dict(a_from_c.to_dict()) == a_from_c


def test_float32_points_stay_float32():
    t = SE3.from_yaw(0.3, [1, 2, 3])
    out = t.transform_points(np.ones((4, 3), np.float32))
    assert out.dtype == np.float32


def test_bad_rotation_and_quaternion_named():
    with pytest.raises(InvalidInputError, match="rotation must be a proper rotation"):
        SE3(np.diag([1.0, 1.0, -1.0]), np.zeros(3))
    with pytest.raises(InvalidInputError, match="quaternion_wxyz must hold unit quaternions"):
        SE3.from_quaternion([1.0, 0.1, 0.0, 0.0], [0, 0, 0])
    with pytest.raises(InvalidInputError, match="translation must be finite"):
        SE3(np.eye(3), np.array([0.0, np.nan, 0.0]))
    with pytest.raises(InvalidInputError, match=r"translation must have shape \(3\)"):
        SE3(np.eye(3), np.zeros(4))


@given(st.floats(-10, 10, allow_nan=False))
def test_yaw_round_trip(yaw):
    back = float(quat_wxyz_to_yaw(yaw_to_quat_wxyz(yaw)))
    assert abs(np.angle(np.exp(1j * (back - yaw)))) < 1e-9


def make_traj(**kw):
    t = np.array([0, 1_000_000, 2_000_000], dtype=np.int64)
    p = np.array([[0.0, 0, 0], [10, 0, 0], [20, 10, 0]])
    q = yaw_to_quat_wxyz(np.array([0.0, np.pi / 2, np.pi]))
    return Trajectory(t, p, q, **kw)


def test_interpolation_endpoints_and_midpoint():
    tr = make_traj()
    p, q = tr.poses_at(tr.timestamps_us)
    np.testing.assert_allclose(p, tr.translations)
    np.testing.assert_allclose(np.abs(np.sum(q * tr.quaternions_wxyz, axis=1)), 1.0, atol=1e-12)
    p, q = tr.poses_at([500_000, 1_500_000])
    np.testing.assert_allclose(p, [[5, 0, 0], [15, 5, 0]])
    np.testing.assert_allclose(quat_wxyz_to_yaw(q), [np.pi / 4, 3 * np.pi / 4], atol=1e-12)


def test_slerp_short_arc_across_pi():
    """Regression: interpolating yaw 170° -> -170° must pass through 180°, not through 0°."""
    q0 = yaw_to_quat_wxyz(np.radians([170.0]))
    q1 = yaw_to_quat_wxyz(np.radians([-170.0]))
    mid = slerp_wxyz(q0, q1, np.array([0.5]))
    assert abs(abs(float(quat_wxyz_to_yaw(mid)[0])) - np.pi) < 1e-9
    # Caller-owned inputs are not modified (pyquaternion's slerp negates q0 in place).
    np.testing.assert_array_equal(q1, yaw_to_quat_wxyz(np.radians([-170.0])))


def test_slerp_matches_scipy():
    from scipy.spatial.transform import Slerp

    r = Rotation.random(2, random_state=3)
    alphas = np.linspace(0, 1, 11)
    ours = slerp_wxyz(
        np.repeat(quat_xyzw_to_wxyz(r[:1].as_quat()), 11, 0),
        np.repeat(quat_xyzw_to_wxyz(r[1:].as_quat()), 11, 0),
        alphas,
    )
    ref = Slerp([0, 1], r)(alphas)
    assert np.allclose((Rotation.from_quat(quat_wxyz_to_xyzw(ours)) * ref.inv()).magnitude(), 0, atol=1e-9)


def test_extrapolation_policies():
    with pytest.raises(InvalidInputError, match=r"timestamps_us value 2100000 lies 100000 µs outside"):
        make_traj(extrapolation=Extrapolation.RAISE).poses_at([2_100_000])
    p, _ = make_traj(extrapolation=Extrapolation.CLAMP).poses_at([2_100_000, -5])
    np.testing.assert_allclose(p, [[20, 10, 0], [0, 0, 0]])
    p, q = make_traj().poses_at([2_100_000])  # constant velocity of the last segment
    np.testing.assert_allclose(p, [[21, 11, 0]])
    assert abs(float(quat_wxyz_to_yaw(q)[0]) + 0.95 * np.pi) < 1e-9  # π + 0.1·π/2 = 1.05π, wrapped
    with pytest.raises(InvalidInputError, match="outside the trajectory range"):
        make_traj(max_extrapolation_us=1000).poses_at([2_100_000])


def test_trajectory_validation_names_fields():
    with pytest.raises(InvalidInputError, match=r"timestamps_us must be strictly increasing: element 1"):
        Trajectory(np.array([5, 5]), np.zeros((2, 3)), np.tile([1.0, 0, 0, 0], (2, 1)))
    with pytest.raises(InvalidInputError, match="quaternions_wxyz must hold unit quaternions"):
        Trajectory(np.array([5, 6]), np.zeros((2, 3)), np.array([[1.0, 0, 0, 0], [2.0, 0, 0, 0]]))
    with pytest.raises(InvalidInputError, match="translations must be finite"):
        Trajectory(np.array([5, 6]), np.array([[0, 0, 0], [np.inf, 0, 0]]), np.tile([1.0, 0, 0, 0], (2, 1)))
    with pytest.raises(InvalidInputError, match="at least one pose"):
        Trajectory(np.array([], dtype=np.int64), np.zeros((0, 3)), np.zeros((0, 4)))


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2_000_000))
def test_interpolated_quaternions_are_unit_and_between(t):
    tr = make_traj()
    _, q = tr.poses_at([t])
    assert abs(np.linalg.norm(q[0]) - 1) < 1e-12
    yaw = float(quat_wxyz_to_yaw(q)[0]) % (2 * np.pi)
    assert -1e-9 <= yaw <= np.pi + 1e-9


def test_pose_at_matches_matrices():
    tr = make_traj()
    np.testing.assert_allclose(tr.pose_at(700_000).matrix, tr.matrices_at([700_000])[0], atol=1e-12)
    tr2 = Trajectory.from_matrices(tr.timestamps_us, tr.matrices_at(tr.timestamps_us))
    np.testing.assert_allclose(tr2.translations, tr.translations)


def test_wrap_angle_and_time_units():
    from calibration import ns_to_us, seconds_to_us, wrap_angle

    assert wrap_angle(np.pi) == -np.pi
    assert float(quat_wxyz_to_yaw(yaw_to_quat_wxyz(np.pi))) == -np.pi
    np.testing.assert_allclose(
        wrap_angle(np.array([3 * np.pi / 2, -3 * np.pi / 2, 0.1])), [-np.pi / 2, np.pi / 2, 0.1]
    )
    assert seconds_to_us(1557539956.500022) == 1557539956500022
    assert ns_to_us(1500) == 2 and ns_to_us(-1500) == -1
    assert ns_to_us(np.array([1_557_539_956_500_022_499], dtype=np.int64))[0] == 1_557_539_956_500_022
    with pytest.raises(InvalidInputError, match="t_ns must be integer nanoseconds"):
        ns_to_us(1.5)


@given(st.floats(-1e4, 1e4, allow_nan=False))
def test_wrap_angle_range(a):
    from calibration import wrap_angle

    w = wrap_angle(a)
    assert -np.pi <= w < np.pi
    assert abs(np.cos(w) - np.cos(a)) < 1e-6 and abs(np.sin(w) - np.sin(a)) < 1e-6
