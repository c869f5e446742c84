"""Motion snap: interpolated cuboids corrected by registering the object's points frame to frame."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.errors import InvalidInputError
from tracking import (
    CuboidPath,
    MotionSnapConfig,
    SnapReference,
    interpolate,
    register_points,
    snap_by_motion,
)

SIZE = np.array([4.6, 1.9, 1.6])


def _surface(rng: np.random.Generator, n: int = 600) -> np.ndarray:
    """A fresh sample of an L-shaped car surface in its box frame: rear, left side, a bonnet step, roof."""
    half = SIZE / 2
    k = n // 4
    rear = np.column_stack(
        [np.full(k, -half[0] + 0.05), rng.uniform(-0.85, 0.85, k), rng.uniform(-0.4, 0.6, k)]
    )
    side = np.column_stack([rng.uniform(-2.2, 2.2, k), np.full(k, half[1] - 0.05), rng.uniform(-0.4, 0.5, k)])
    bonnet = np.column_stack([rng.uniform(1.0, 2.2, k), rng.uniform(-0.8, 0.8, k), np.full(k, 0.1)])
    front = np.column_stack([np.full(k, 1.0), rng.uniform(-0.8, 0.8, k), rng.uniform(0.1, 0.7, k)])
    pts = np.concatenate([rear, side, bonnet, front])
    return pts + rng.normal(0.0, 0.01, pts.shape)


def _world(local: np.ndarray, pose: np.ndarray) -> np.ndarray:
    x, y, z, yaw = pose
    c, s = np.cos(yaw), np.sin(yaw)
    out = np.column_stack(
        [x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1], z + local[:, 2]]
    )
    return out.astype(np.float32)


def _curved_track(n: int = 41) -> tuple[np.ndarray, np.ndarray]:
    """4 s at 10 Hz on an arc of radius 20 m, speed 4 -> 10 m/s and back (accelerations the spline misses)."""
    t = np.arange(n) * 100_000
    ts = t * 1e-6
    s = 4.0 * ts + 1.5 * ts**2 - 0.25 * ts**3 + 0.15 * np.sin(5.0 * ts)  # arc length [m]
    theta = s / 20.0
    poses = np.column_stack([20.0 * np.sin(theta), 20.0 * (1.0 - np.cos(theta)), np.full(n, 0.8), theta])
    return t, poses


def _path(t: np.ndarray, poses: np.ndarray) -> CuboidPath:
    boxes = np.column_stack([poses[:, :3], np.tile(SIZE, (len(t), 1)), poses[:, 3]])
    return CuboidPath.from_boxes(t, boxes)


def _scene(seed: int = 0, k: int = 10):
    rng = np.random.default_rng(seed)
    t, poses = _curved_track()
    truth = _path(t, poses)
    sweeps = [_world(_surface(rng), p) for p in poses]
    keep = list(range(0, len(t), k))
    query = np.setdiff1d(np.arange(len(t)), keep)
    kf = truth.take(keep)
    ref = SnapReference(kf, [sweeps[i] for i in keep])
    guess = interpolate(kf, t[query])
    return truth, sweeps, keep, query, ref, guess


def _oracle_errors(truth: CuboidPath, guess: CuboidPath, rows: np.ndarray) -> np.ndarray:
    """Numpy oracle: Euclidean centre error of ``guess`` against the true poses."""
    return np.sqrt(((guess.centers - truth.centers[rows]) ** 2).sum(axis=1))


def test_register_points_recovers_a_known_move() -> None:
    rng = np.random.default_rng(3)
    target = _surface(rng)
    source = _surface(rng)  # a new sample of the same surfaces, then moved away
    yaw, shift = -0.03, np.array([0.08, -0.05, 0.02])
    c, s = np.cos(yaw), np.sin(yaw)
    moved = source @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) + shift
    reg = register_points(moved, target)
    # Undo: R(-yaw)(p - shift) = R(-yaw) p - R(-yaw) shift.
    ci, si = np.cos(-yaw), np.sin(-yaw)
    expect_t = -np.array([ci * shift[0] - si * shift[1], si * shift[0] + ci * shift[1]])
    assert reg.move[3] == pytest.approx(-yaw, abs=3e-3)
    np.testing.assert_allclose(reg.move[:2], expect_t, atol=0.01)
    assert reg.inlier_fraction > 0.9
    assert reg.rms_m < 0.03
    assert np.all(np.linalg.eigvalsh(reg.information) > 0)


def test_flat_side_leaves_its_direction_unconstrained() -> None:
    rng = np.random.default_rng(4)
    wall = np.column_stack([rng.uniform(-2, 2, 400), np.zeros(400), rng.uniform(0, 1, 400)])
    reg = register_points(wall + [0.0, 0.0, 0.0], wall[::-1].copy())
    assert reg.information[0, 0] < 1e-3 * reg.information[1, 1]


def test_beats_hermite_between_sparse_keyframes() -> None:
    truth, sweeps, keep, query, ref, guess = _scene()
    res = snap_by_motion(guess, [sweeps[i] for i in query], ref)
    before = _oracle_errors(truth, guess, query)
    after = _oracle_errors(truth, res.path, query)
    assert before.mean() > 0.05  # the spline really misses the motion
    assert after.mean() < 0.5 * before.mean()
    assert after.max() < before.max()
    assert res.snapped.all()
    yaw_err = np.abs(np.angle(np.exp(1j * (res.path.yaws - truth.yaws[query]))))
    yaw_before = np.abs(np.angle(np.exp(1j * (guess.yaws - truth.yaws[query]))))
    assert yaw_err.mean() <= yaw_before.mean() + 1e-3
    # z, size and the sequence of timestamps are untouched
    np.testing.assert_array_equal(res.path.centers[:, 2], guess.centers[:, 2])
    np.testing.assert_array_equal(res.path.sizes, guess.sizes)
    np.testing.assert_array_equal(res.path.timestamps_us, guess.timestamps_us)


def test_exact_at_keyframes() -> None:
    truth, sweeps, keep, query, ref, _ = _scene(seed=1)
    full = interpolate(ref.keyframes, truth.timestamps_us)
    res = snap_by_motion(full, sweeps, ref)
    np.testing.assert_array_equal(res.path.centers[keep], truth.centers[keep])
    np.testing.assert_array_equal(res.path.rotations_wxyz[keep], truth.rotations_wxyz[keep])
    assert (
        _oracle_errors(truth, res.path, np.arange(len(truth))).mean()
        < _oracle_errors(truth, full, np.arange(len(truth))).mean()
    )


def test_no_points_falls_back_to_interpolation() -> None:
    truth, sweeps, keep, query, ref, guess = _scene(seed=2)
    empty = np.zeros((0, 3), np.float32)
    res = snap_by_motion(guess, [empty] * len(query), ref)
    np.testing.assert_array_equal(res.path.centers, guess.centers)
    np.testing.assert_allclose(res.path.rotations_wxyz, guess.rotations_wxyz, atol=1e-12)
    assert not res.snapped.any()
    assert not res.needs_keyframe.any()
    assert np.isnan(res.residual_m).all()
    # Points only in the first half of the track: the second half stays interpolated.
    half = [sweeps[i] if i < 20 else empty for i in query]
    res = snap_by_motion(guess, half, ref)
    late = query > 21
    np.testing.assert_array_equal(res.path.centers[late], guess.centers[late])
    assert res.snapped[query < 20].all() and not res.snapped[late].any()


def test_outlier_registration_is_refused() -> None:
    truth, sweeps, keep, query, ref, guess = _scene(seed=5)
    pts = [sweeps[i] for i in query]
    rng = np.random.default_rng(9)
    j = 4  # a cuboid whose sweep shows clutter only: scattered points inside its box
    box = guess.take([j])
    pts[j] = (box.centers[0] + rng.uniform(-1.0, 1.0, (300, 3)) * [2.3, 0.95, 0.4]).astype(np.float32)
    res = snap_by_motion(guess, pts, ref)
    assert not res.snapped[j]
    assert res.needs_keyframe[j]
    after = _oracle_errors(truth, res.path, query)
    before = _oracle_errors(truth, guess, query)
    assert after.mean() < before.mean()


def test_validation() -> None:
    truth, sweeps, keep, query, ref, guess = _scene()
    with pytest.raises(InvalidInputError):
        snap_by_motion(guess, sweeps[:3], ref)
    with pytest.raises(InvalidInputError):
        snap_by_motion(guess, [sweeps[i] for i in query], SnapReference(ref.keyframes, sweeps[:1]))
    with pytest.raises(InvalidInputError):
        MotionSnapConfig(step_std_m=0.0)


@pytest.mark.parametrize(("n", "seed"), [(38, 1), (33, 0), (23, 1)])
def test_gap_with_one_unknown_frame(n: int, seed: int) -> None:
    """Keyframes every 5th frame plus the last: the last gap holds one cuboid, fewer unknowns than the
    smoothing terms (these cases raised 'Singular matrix' before the basis was cut to the gap's size)."""
    rng = np.random.default_rng(seed)
    t, poses = _curved_track(n)
    truth = _path(t, poses)
    sweeps = [_world(_surface(rng), p) for p in poses]
    keep = sorted({*range(0, n, 5), n - 1})
    kf = truth.take(keep)
    full = interpolate(kf, t)
    res = snap_by_motion(full, sweeps, SnapReference(kf, [sweeps[i] for i in keep]))
    assert np.isfinite(res.path.centers).all()
    rows = np.arange(n)
    assert _oracle_errors(truth, res.path, rows).mean() < 0.6 * _oracle_errors(truth, full, rows).mean()
