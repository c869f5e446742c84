"""Keyframe interpolation: endpoints, continuity, ±π wrap, long gaps, frames, policies, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration import Extrapolation, Trajectory, wrap_angle, yaw_to_quat_wxyz
from kernels.errors import InvalidInputError
from tracking import (
    CuboidPath,
    OutOfRange,
    PoseFrame,
    PositionMethod,
    hermite_tangents,
    interpolate,
    to_ego,
    to_world,
)

S = 1_000_000  # µs per second


def _path(times_s: list[float], xy: list[tuple[float, float]], yaws: list[float]) -> CuboidPath:
    boxes = [[x, y, 0.8, 4.5, 1.9, 1.6, yaw] for (x, y), yaw in zip(xy, yaws, strict=True)]
    return CuboidPath.from_boxes(np.rint(np.asarray(times_s) * S).astype(np.int64), boxes)


def _angle(q1: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Rotation angle between quaternion rows (sign-invariant)."""
    return 2 * np.arccos(np.clip(np.abs(np.sum(q1 * q2, axis=-1)), 0, 1))


def _random_path(rng: np.random.Generator, k: int) -> CuboidPath:
    t = np.cumsum(rng.integers(50_000, 2_000_000, k))
    q = rng.normal(size=(k, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return CuboidPath(t, rng.normal(scale=20, size=(k, 3)), rng.uniform(0.5, 6, (k, 3)), q)


def _ego_trajectory() -> Trajectory:
    """An ego driving a left curve at 10 m/s for 20 s."""
    t = np.arange(0, 21) * S
    yaw = 0.05 * np.arange(21)
    p = np.stack([10 * np.arange(21.0), 0.3 * np.arange(21.0) ** 2, np.zeros(21)], axis=1)
    return Trajectory(t, p, yaw_to_quat_wxyz(yaw), Extrapolation.RAISE)


class TestEndpoints:
    def test_exact_at_both_ends_of_a_segment(self) -> None:
        """interp(t0) == a and interp(t1) == b, bit for bit, for both position methods."""
        kf = _path([0.0, 1.0, 2.5], [(0, 0), (8, 1), (15, 5)], [0.1, 0.3, 0.9])
        for method in PositionMethod:
            out = interpolate(kf, kf.timestamps_us, method=method)
            np.testing.assert_array_equal(out.centers, kf.centers)
            np.testing.assert_array_equal(out.rotations_wxyz, kf.rotations_wxyz)
            np.testing.assert_array_equal(out.sizes, kf.sizes)

    def test_keyframe_quaternion_returned_as_stored(self) -> None:
        """A keyframe stored as -q comes back as -q (stored values are kept as given)."""
        kf = _path([0.0, 1.0], [(0, 0), (1, 0)], [0.0, 0.2])
        neg = CuboidPath(kf.timestamps_us, kf.centers, kf.sizes, -kf.rotations_wxyz)
        out = interpolate(neg, kf.timestamps_us)
        np.testing.assert_array_equal(out.rotations_wxyz, -kf.rotations_wxyz)

    def test_alpha_weights_near_ends(self) -> None:
        """One microsecond inside the segment is within a hair of the keyframe (alpha ~ 0 and ~ 1)."""
        kf = _path([0.0, 1.0], [(0, 0), (10, 0)], [0.0, 1.0])
        out = interpolate(kf, [1, S - 1])
        np.testing.assert_allclose(out.centers[0], kf.centers[0], atol=1e-4)
        np.testing.assert_allclose(out.centers[1], kf.centers[1], atol=1e-4)
        assert _angle(out.rotations_wxyz[0], kf.rotations_wxyz[0]) < 1e-5
        assert _angle(out.rotations_wxyz[1], kf.rotations_wxyz[1]) < 1e-5

    def test_two_keyframes_hermite_is_linear(self) -> None:
        kf = _path([0.0, 2.0], [(0, 0), (10, 4)], [0.0, 0.0])
        out = interpolate(kf, [S // 2, S, 3 * S // 2])
        np.testing.assert_allclose(out.centers[:, :2], [[2.5, 1.0], [5.0, 2.0], [7.5, 3.0]], atol=1e-9)


class TestShape:
    def test_constant_velocity_is_reproduced_exactly(self) -> None:
        """Evenly or unevenly spaced keyframes on a straight constant-speed line stay on it."""
        times = [0.0, 0.3, 1.0, 2.2, 2.5]
        kf = _path(times, [(7 * t, -2 * t) for t in times], [0.0] * 5)
        q = np.linspace(0, 2.5 * S, 41).astype(np.int64)
        out = interpolate(kf, q)
        np.testing.assert_allclose(out.centers[:, 0], 7 * q / S, atol=1e-9)
        np.testing.assert_allclose(out.centers[:, 1], -2 * q / S, atol=1e-9)

    def test_circle_beats_linear(self) -> None:
        """On a circular arc sampled every second, Hermite centres are far closer than straight lines."""
        r, w = 20.0, 0.3
        times = np.arange(0, 6.0)
        kf = _path(list(times), [(r * np.sin(w * t), r - r * np.cos(w * t)) for t in times], list(w * times))
        tq = np.linspace(0, 5, 101)
        truth = np.stack([r * np.sin(w * tq), r - r * np.cos(w * tq)], axis=1)
        err = {
            m: np.linalg.norm(
                interpolate(kf, (tq * S).astype(np.int64), method=m).centers[:, :2] - truth, axis=1
            )
            for m in PositionMethod
        }
        assert err[PositionMethod.HERMITE].max() < 0.3 * err[PositionMethod.LINEAR].max()

    def test_parked_stretch_does_not_overshoot(self) -> None:
        """Stop-and-go: between two equal keyframes the box stays put (tangent limited to zero)."""
        kf = _path([0, 1, 2, 3], [(0, 0), (10, 0), (10, 0), (20, 0)], [0, 0, 0, 0])
        out = interpolate(kf, np.linspace(S, 2 * S, 11).astype(np.int64))
        np.testing.assert_allclose(out.centers[:, 0], 10.0, atol=1e-12)

    def test_no_backward_motion_when_decelerating(self) -> None:
        times = [0.0, 1.0, 2.0, 3.0]
        kf = _path(times, [(0, 0), (10, 0), (10.5, 0), (10.6, 0)], [0.0] * 4)
        x = interpolate(kf, np.linspace(0, 3 * S, 301).astype(np.int64)).centers[:, 0]
        assert np.all(np.diff(x) >= -1e-12)

    def test_continuity_of_position_and_velocity(self) -> None:
        """C1: left and right finite differences agree at inner keyframes; no jumps anywhere."""
        rng = np.random.default_rng(3)
        kf = _random_path(rng, 6)
        t = kf.timestamps_us
        for ti in t[1:-1]:
            d = 10
            p = interpolate(kf, [ti - 2 * d, ti - d, ti, ti + d, ti + 2 * d]).centers
            v_left, v_right = (p[2] - p[0]) / (2 * d), (p[4] - p[2]) / (2 * d)
            np.testing.assert_allclose(v_left, v_right, atol=1e-5 * max(1.0, np.abs(v_left).max()))
        dense = interpolate(kf, np.arange(t[0], t[-1], 1_000)).centers
        max_speed = np.abs(hermite_tangents((t - t[0]) * 1e-6, kf.centers)).max() * 5 + 1
        assert np.abs(np.diff(dense, axis=0)).max() < max_speed * 1e-3

    def test_sizes_lerp_and_constant(self) -> None:
        kf = CuboidPath([0, S], [[0, 0, 0], [1, 0, 0]], [[4, 2, 1], [5, 2, 1]], yaw_to_quat_wxyz([0.0, 0.0]))
        out = interpolate(kf, [S // 4])
        np.testing.assert_allclose(out.sizes[0], [4.25, 2, 1])


class TestRotation:
    @pytest.mark.parametrize("y0", np.linspace(-np.pi, np.pi, 13))
    @pytest.mark.parametrize("dy", [-2.5, -0.4, 0.0, 0.4, 2.5])
    def test_yaw_sweep_takes_the_short_arc(self, y0: float, dy: float) -> None:
        """Angle sweep: the midpoint yaw is y0 + dy/2 for any start, including across ±π."""
        kf = _path([0.0, 1.0], [(0, 0), (1, 0)], [y0, y0 + dy])
        mid = interpolate(kf, [S // 2]).yaws[0]
        assert abs(wrap_angle(mid - (y0 + dy / 2))) < 1e-9

    def test_wrap_around_pi(self) -> None:
        """Regression (CVAT export once missed it): 3.1 -> -3.1 passes through ±π, not through 0."""
        kf = _path([0.0, 1.0], [(0, 0), (1, 0)], [3.1, -3.1])
        yaws = interpolate(kf, np.linspace(0, S, 11).astype(np.int64)).yaws
        assert np.all(np.abs(yaws) > 3.09)
        assert np.all(np.abs(np.diff(np.unwrap(yaws))) < 0.0201)

    def test_unit_quaternions_and_continuous_sign(self) -> None:
        rng = np.random.default_rng(11)
        kf = _random_path(rng, 8)
        q = interpolate(kf, np.arange(kf.timestamps_us[0], kf.timestamps_us[-1], 20_000)).rotations_wxyz
        np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-12)
        dots = np.sum(q[1:] * q[:-1], axis=1)
        assert np.all(dots > 0.9)  # sign-aligned along the track: no jumps from q to -q


class TestGapsAndRange:
    def test_long_gap_stays_bounded(self) -> None:
        """A 10-minute gap beside 0.1 s gaps: no swing far outside the keyframes (tangent cap)."""
        kf = _path([0.0, 0.1, 600.0, 600.1], [(0, 0), (1, 0), (30, 40), (30.1, 40)], [0.0, 0.0, 1.0, 1.0])
        c = interpolate(kf, np.linspace(0, 600.1 * S, 2001).astype(np.int64)).centers
        d = np.linalg.norm(c[:, :2] - [1.0, 0.0], axis=1)
        assert d.max() < 2 * np.hypot(29, 40)

    def test_large_absolute_timestamps(self) -> None:
        """Unix-epoch µs timestamps (1.5e15) lose no precision."""
        t0 = 1_557_539_956_500_022
        kf = CuboidPath.from_boxes([t0, t0 + S], [[0, 0, 0, 4, 2, 1, 0], [10, 0, 0, 4, 2, 1, 0]])
        out = interpolate(kf, [t0 + 1, t0 + S // 2])
        np.testing.assert_allclose(out.centers[:, 0], [1e-5, 5.0], atol=1e-9)

    def test_out_of_range_raises_by_default(self) -> None:
        kf = _path([1.0, 2.0], [(0, 0), (1, 0)], [0.0, 0.0])
        with pytest.raises(InvalidInputError, match=r"timestamps_us value 0 lies outside the keyframe range"):
            interpolate(kf, [0, S])

    def test_out_of_range_hold(self) -> None:
        kf = _path([1.0, 2.0], [(0, 0), (1, 0)], [0.0, 0.5])
        out = interpolate(kf, [0, 3 * S], out_of_range=OutOfRange.HOLD)
        np.testing.assert_array_equal(out.centers, kf.centers)
        np.testing.assert_array_equal(out.rotations_wxyz, kf.rotations_wxyz)

    def test_single_keyframe(self) -> None:
        kf = _path([1.0], [(3, 4)], [0.5])
        np.testing.assert_array_equal(interpolate(kf, [S]).centers, kf.centers)
        held = interpolate(kf, [0, 5 * S], out_of_range=OutOfRange.HOLD)
        np.testing.assert_array_equal(held.centers, np.repeat(kf.centers, 2, 0))
        with pytest.raises(InvalidInputError, match="outside the keyframe range"):
            interpolate(kf, [0])


class TestFrames:
    def test_static_object_in_ego_frame(self) -> None:
        """A parked car labelled in the ego frame stays parked in the world at every query."""
        traj = _ego_trajectory()
        world_kf = _path([0.0, 4.0, 9.0], [(50, 10)] * 3, [0.7] * 3)
        ego_kf = to_ego(world_kf, traj)
        tq = np.arange(0, 9 * S, 250_000)
        world = interpolate(ego_kf, tq, world_from_ego=traj, output_frame=PoseFrame.WORLD)
        np.testing.assert_allclose(world.centers[:, :2], np.tile([50.0, 10.0], (len(tq), 1)), atol=1e-9)
        np.testing.assert_allclose(world.yaws, 0.7, atol=1e-9)
        ego = interpolate(ego_kf, tq, world_from_ego=traj)
        assert ego.frame is PoseFrame.EGO
        np.testing.assert_allclose(to_world(ego, traj).centers, world.centers, atol=1e-9)

    def test_ego_keyframes_exact(self) -> None:
        traj = _ego_trajectory()
        ego_kf = to_ego(_path([0.0, 3.0], [(50, 10), (60, 12)], [0.7, 0.8]), traj)
        out = interpolate(ego_kf, ego_kf.timestamps_us, world_from_ego=traj)
        np.testing.assert_array_equal(out.centers, ego_kf.centers)
        np.testing.assert_array_equal(out.rotations_wxyz, ego_kf.rotations_wxyz)

    def test_round_trip_world_ego(self) -> None:
        traj = _ego_trajectory()
        kf = _path([0.0, 3.0, 7.5], [(50, 10), (60, 12), (70, 20)], [0.7, 0.8, 1.5])
        back = to_world(to_ego(kf, traj), traj)
        np.testing.assert_allclose(back.centers, kf.centers, atol=1e-9)
        assert _angle(back.rotations_wxyz, kf.rotations_wxyz).max() < 1e-9

    def test_ego_without_trajectory_names_the_argument(self) -> None:
        kf = CuboidPath.from_boxes([0, S], np.zeros((2, 7)) + [0, 0, 0, 1, 1, 1, 0], frame=PoseFrame.EGO)
        with pytest.raises(InvalidInputError, match="world_from_ego is required"):
            interpolate(kf, [S // 2])


class TestErrors:
    def test_unsorted_queries(self) -> None:
        kf = _path([0.0, 1.0], [(0, 0), (1, 0)], [0.0, 0.0])
        with pytest.raises(InvalidInputError, match=r"timestamps_us must be strictly increasing: element 1"):
            interpolate(kf, [10, 5])

    def test_bad_keyframes(self) -> None:
        with pytest.raises(InvalidInputError, match=r"timestamps_us must be strictly increasing"):
            CuboidPath.from_boxes([5, 5], np.ones((2, 7)))
        with pytest.raises(InvalidInputError, match=r"sizes must be > 0: row 1"):
            CuboidPath.from_boxes([0, 1], [[0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, -1, 1, 0]])
        with pytest.raises(InvalidInputError, match=r"rotations_wxyz must hold unit quaternions"):
            CuboidPath([0], [[0, 0, 0]], [[1, 1, 1]], [[1.0, 1.0, 0.0, 0.0]])
        with pytest.raises(InvalidInputError, match=r"centers must be finite"):
            CuboidPath([0], [[np.nan, 0, 0]], [[1, 1, 1]], [[1.0, 0.0, 0.0, 0.0]])
        with pytest.raises(InvalidInputError, match=r"centers must have shape \(1, 3\)"):
            CuboidPath([0], [[0, 0]], [[1, 1, 1]], [[1.0, 0.0, 0.0, 0.0]])

    def test_unknown_policy(self) -> None:
        kf = _path([0.0, 1.0], [(0, 0), (1, 0)], [0.0, 0.0])
        with pytest.raises(InvalidInputError, match="unknown out_of_range 'hold'"):
            interpolate(kf, [0], out_of_range="hold")  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="unknown method 'cubic'"):
            interpolate(kf, [0], method="cubic")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    k=st.integers(1, 7),
    n=st.integers(1, 40),
    method=st.sampled_from(list(PositionMethod)),
)
def test_properties(seed: int, k: int, n: int, method: PositionMethod) -> None:
    """Any keyframes: unit quaternions, exact keyframes, bounded centres, sizes within keyframe range."""
    rng = np.random.default_rng(seed)
    kf = _random_path(rng, k)
    t = kf.timestamps_us
    q = np.unique(np.concatenate([rng.integers(t[0], t[-1] + 1, n), t]))
    out = interpolate(kf, q, method=method)
    np.testing.assert_allclose(np.linalg.norm(out.rotations_wxyz, axis=1), 1.0, atol=1e-12)
    at = np.searchsorted(q, t)
    np.testing.assert_array_equal(out.centers[at], kf.centers)
    np.testing.assert_array_equal(out.rotations_wxyz[at], kf.rotations_wxyz)
    lo, hi = kf.centers.min(0), kf.centers.max(0)
    span = np.maximum(hi - lo, 1e-9)
    assert np.all(out.centers >= lo - 1.5 * span) and np.all(out.centers <= hi + 1.5 * span)
    assert np.all(out.sizes >= kf.sizes.min(0) - 1e-12) and np.all(out.sizes <= kf.sizes.max(0) + 1e-12)
    # Rotation within each segment lies between its keyframes: angle to both <= their separation.
    if k > 1:
        i = np.clip(np.searchsorted(t, q, side="right") - 1, 0, k - 2)
        sep = _angle(kf.rotations_wxyz[i], kf.rotations_wxyz[i + 1])
        assert np.all(_angle(out.rotations_wxyz, kf.rotations_wxyz[i]) <= sep + 1e-9)
        assert np.all(_angle(out.rotations_wxyz, kf.rotations_wxyz[i + 1]) <= sep + 1e-9)


@pytest.mark.parametrize("frame", [PoseFrame.WORLD, PoseFrame.EGO])
def test_unchecked_output_is_a_valid_read_only_path(frame: PoseFrame) -> None:
    """The interpolator builds its result without re-validation: it must still pass every check."""
    rng = np.random.default_rng(11)
    kf = _random_path(rng, 9)
    ego = Trajectory(kf.timestamps_us, rng.normal(size=(9, 3)), np.tile([1.0, 0, 0, 0], (9, 1)))
    kf = to_ego(kf, ego) if frame is PoseFrame.EGO else kf
    query = np.linspace(kf.timestamps_us[0], kf.timestamps_us[-1], 40).astype(np.int64)
    query = np.unique(np.concatenate([query, kf.timestamps_us[::2]]))
    out = interpolate(kf, query, world_from_ego=ego)
    assert query.flags.writeable  # the caller's array is copied, not frozen
    checked = CuboidPath(out.timestamps_us, out.centers, out.sizes, out.rotations_wxyz, out.confidence, frame)
    for name in ("timestamps_us", "centers", "sizes", "rotations_wxyz", "confidence"):
        arr = getattr(out, name)
        assert not arr.flags.writeable, name
        np.testing.assert_array_equal(arr, getattr(checked, name), err_msg=name)
        assert arr.dtype == getattr(checked, name).dtype, name
    assert out.frame is frame


def test_overflowing_keyframes_raise() -> None:
    kf = CuboidPath.from_boxes(
        [0, S, 2 * S], [[-1.7e308, 0, 0, 4, 2, 1, 0], [1.7e308, 0, 0, 4, 2, 1, 0], [0, 0, 0, 4, 2, 1, 0]]
    )
    with np.errstate(over="ignore"), pytest.raises(InvalidInputError, match="centers overflowed"):
        interpolate(kf, [S // 3, S // 2], method=PositionMethod.LINEAR)
