"""Face-registration snap: keyframe-calibrated translation of interpolated cuboids."""

from __future__ import annotations

import numpy as np
import pytest

from kernels.errors import InvalidInputError
from tracking import CuboidPath, FaceSnapConfig, SnapReference, interpolate, snap_to_faces

SIZE = (4.6, 1.9, 1.6)


def _object_points(box: np.ndarray, rng: np.random.Generator, n: int = 400) -> np.ndarray:
    """Points of a car-like object (rear face, one side, roof; short of the label by a margin)."""
    x, y, z, length, width, height, yaw = box
    local = np.concatenate(
        [
            np.column_stack([np.full(n // 4, -length / 2 + 0.1), rng.uniform(-0.8, 0.8, n // 4)]),  # rear
            np.column_stack([rng.uniform(-2.1, 2.1, n // 4), np.full(n // 4, width / 2 - 0.1)]),  # side
            np.column_stack([rng.uniform(-1.2, 1.0, n // 2), rng.uniform(-0.8, 0.8, n // 2)]),  # roof
        ]
    )
    local += rng.normal(0, 0.02, local.shape)
    c, s = np.cos(yaw), np.sin(yaw)
    xy = local @ np.array([[c, s], [-s, c]]) + [x, y]
    zz = rng.uniform(z - height / 2 + 0.4, z + height / 2, len(local))
    return np.column_stack([xy, zz]).astype(np.float32)


def _stop_and_go_track() -> tuple[np.ndarray, np.ndarray]:
    """4 s at 10 Hz: cruises at 8 m/s, brakes at 4 m/s² from 1 s to 2.5 s, then cruises at 2 m/s."""
    t = np.arange(41) * 100_000
    ts = t * 1e-6
    tb = np.clip(ts, 1.0, 2.5) - 1.0
    s = 8.0 * ts - 2.0 * tb**2 - 6.0 * np.maximum(ts - 2.5, 0.0)
    yaw = 0.4
    boxes = np.column_stack(
        [
            10 + s * np.cos(yaw),
            5 + s * np.sin(yaw),
            np.full(41, 0.8),
            np.tile(SIZE, (41, 1)),
            np.full(41, yaw),
        ]
    )
    return t, boxes


def test_corrects_interpolation_error_of_a_braking_car() -> None:
    rng = np.random.default_rng(0)
    t, boxes = _stop_and_go_track()
    truth = CuboidPath.from_boxes(t, boxes)
    keep = [0, 10, 20, 30, 40]
    kf = truth.take(keep)
    ref = SnapReference(kf, [_object_points(boxes[i], rng) for i in keep])
    query = np.setdiff1d(np.arange(41), keep)
    guess = interpolate(kf, t[query])
    res = snap_to_faces(guess, [_object_points(boxes[i], rng) for i in query], ref)
    before = np.linalg.norm(guess.centers - truth.take(query).centers, axis=1)
    after = np.linalg.norm(res.path.centers - truth.take(query).centers, axis=1)
    assert before.max() > 0.1
    assert after.mean() < 0.6 * before.mean()
    assert res.snapped.all()
    np.testing.assert_array_equal(res.path.yaws, guess.yaws)  # translation only
    np.testing.assert_array_equal(res.path.sizes, guess.sizes)
    assert np.all(res.shift_m <= np.hypot(0.5, 0.5) + 1e-9)
    assert np.all(res.residual_m <= res.residual_before_m + 1e-12)


def test_exact_interpolation_is_left_alone_and_empty_sweeps_are_skipped() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(11) * 100_000
    boxes = np.column_stack(
        [np.linspace(0, 10, 11), np.zeros(11), np.full(11, 0.8), np.tile(SIZE, (11, 1)), np.zeros(11)]
    )
    truth = CuboidPath.from_boxes(t, boxes)
    kf = truth.take([0, 5, 10])
    ref = SnapReference(kf, [_object_points(boxes[i], rng) for i in (0, 5, 10)])
    query = [1, 2, 3, 4, 6, 7, 8, 9]
    guess = interpolate(kf, t[query])
    pts = [_object_points(boxes[i], rng) for i in query]
    pts[3] = np.zeros((0, 3), np.float32)
    res = snap_to_faces(guess, pts, ref)
    assert not res.snapped[3] and res.n_points[3] == 0
    assert res.snapped.sum() == 7
    # Constant velocity: the keyframes show no acceleration, the blend keeps the interpolation.
    np.testing.assert_array_equal(res.path.centers, guess.centers)


def test_bad_arguments() -> None:
    one = CuboidPath.from_boxes([0, 1], [[0, 0, 0, *SIZE, 0], [1, 0, 0, *SIZE, 0]])
    ref = SnapReference(one, [np.zeros((0, 3), np.float32)] * 2)
    with pytest.raises(InvalidInputError, match="points must hold one array per cuboid"):
        snap_to_faces(one, [], ref)
    with pytest.raises(InvalidInputError, match="reference.points must hold one array per keyframe"):
        snap_to_faces(one, [np.zeros((0, 3))] * 2, SnapReference(one, []))
    with pytest.raises(InvalidInputError, match="quantile must lie in"):
        FaceSnapConfig(quantile=0.6)


def test_queries_at_the_keyframes_including_the_last_one() -> None:
    """A path that includes the keyframe times (the last one too: it raised IndexError) is snapped between
    them and left exactly at them."""
    rng = np.random.default_rng(2)
    t, boxes = _stop_and_go_track()
    truth = CuboidPath.from_boxes(t, boxes)
    keep = [0, 10, 20, 30, 40]
    kf = truth.take(keep)
    ref = SnapReference(kf, [_object_points(boxes[i], rng) for i in keep])
    full = interpolate(kf, t)
    res = snap_to_faces(full, [_object_points(b, rng) for b in boxes], ref)
    assert not res.snapped[-1]
    np.testing.assert_array_equal(res.path.centers[keep], truth.centers[keep])
    between = np.setdiff1d(np.arange(41), keep)
    assert res.snapped[between].all()
