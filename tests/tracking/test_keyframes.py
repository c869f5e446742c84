"""Sparse keyframes of dense paths: interpolating them reproduces the path within tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration.units import wrap_angle
from kernels.errors import InvalidInputError
from tracking import (
    CuboidPath,
    Detections,
    KeyframeTolerance,
    OfflineConfig,
    PositionMethod,
    interpolate,
    keyframe_errors,
    keyframe_indices,
    keyframes_from_path,
    refine_offline,
)

T = np.arange(200, dtype=np.int64) * 100_000


def _path(centers: np.ndarray, yaws: np.ndarray) -> CuboidPath:
    b = np.zeros((len(centers), 7))
    b[:, :3], b[:, 3:6], b[:, 6] = centers, [4.5, 1.9, 1.6], yaws
    return CuboidPath.from_boxes(T[: len(centers)], b)


def _check_within(path: CuboidPath, kf: CuboidPath, tol: KeyframeTolerance) -> None:
    back = interpolate(kf, path.timestamps_us)
    assert np.linalg.norm(back.centers - path.centers, axis=1).max() <= tol.center_tol_m + 1e-9
    assert np.abs(wrap_angle(back.yaws - path.yaws)).max() <= tol.yaw_tol_rad + 1e-9
    assert np.abs(back.sizes - path.sizes).max() <= tol.size_tol_m + 1e-9


def test_turning_and_braking_path_is_reproduced_with_few_keyframes() -> None:
    s = np.linspace(0, 1, 200)
    yaw = wrap_angle(2.8 + 2.0 * s**2)  # turns through +-pi
    speed = 10 * (1 - s) ** 2
    xy = np.cumsum(np.stack([np.cos(yaw), np.sin(yaw)], 1) * speed[:, None] * 0.1, axis=0)
    path = _path(np.column_stack([xy, np.zeros(200)]), yaw)
    tol = KeyframeTolerance(center_tol_m=0.05, yaw_tol_rad=0.01)
    idx = keyframe_indices(path, tol)
    assert idx[0] == 0 and idx[-1] == 199 and np.all(np.diff(idx) > 0)
    assert 3 <= idx.size <= 25
    kf = keyframes_from_path(path, tol)
    np.testing.assert_array_equal(kf.timestamps_us, path.timestamps_us[idx])
    _check_within(path, kf, tol)
    # Each removal-pass survivor is needed: removing any inner keyframe breaks the tolerance.
    for j in range(1, idx.size - 1):
        c, a, _ = keyframe_errors(path, path.take(np.delete(idx, j)))
        assert max(c.max() / tol.center_tol_m, a.max() / tol.yaw_tol_rad) > 1.0


def test_parked_and_constant_velocity_paths_need_two_keyframes() -> None:
    parked = _path(np.tile([5.0, -3.0, 0.8], (200, 1)), np.full(200, 1.2))
    assert keyframe_indices(parked).tolist() == [0, 199]
    line = _path(np.column_stack([0.7 * np.arange(200), np.zeros(200), np.zeros(200)]), np.zeros(200))
    assert keyframe_indices(line).tolist() == [0, 199]
    assert keyframe_indices(parked.take([3])).tolist() == [0]


def test_linear_method_needs_more_keyframes_on_a_curve() -> None:
    a = np.linspace(0, np.pi, 200)
    path = _path(np.column_stack([20 * np.sin(a), 20 * (1 - np.cos(a)), np.zeros(200)]), a)
    hermite = keyframe_indices(path)
    linear = keyframe_indices(path, method=PositionMethod.LINEAR)
    assert hermite.size < linear.size
    c, _, _ = keyframe_errors(path, path.take(linear), PositionMethod.LINEAR)
    assert c.max() <= 0.05 + 1e-9


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.02, 0.5), st.floats(0.005, 0.1))
def test_random_smooth_paths_stay_within_tolerance(seed: int, ctol: float, ytol: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 120))
    acc = rng.normal(0, 2, (n, 2))
    vel = np.cumsum(acc * 0.1, axis=0) + rng.normal(0, 5, 2)
    xy = np.cumsum(vel * 0.1, axis=0)
    yaw = wrap_angle(np.cumsum(rng.normal(0, 0.05, n)) + rng.uniform(-np.pi, np.pi))
    path = _path(np.column_stack([xy, rng.normal(0, 0.02, n)]), yaw)
    tol = KeyframeTolerance(center_tol_m=ctol, yaw_tol_rad=ytol)
    kf = keyframes_from_path(path, tol)
    assert 2 <= len(kf) <= n
    _check_within(path, kf, tol)


def test_bad_tolerance_and_method() -> None:
    with pytest.raises(InvalidInputError, match="center_tol_m must be finite and > 0"):
        KeyframeTolerance(center_tol_m=0.0)
    with pytest.raises(InvalidInputError, match="unknown method"):
        keyframe_indices(_path(np.zeros((3, 3)), np.zeros(3)), method="cubic")  # type: ignore[arg-type]


def test_offline_tracks_carry_keyframes() -> None:
    rng = np.random.default_rng(4)
    frames = []
    for f in range(60):
        b = np.array(
            [[2.0 * f * 0.1 * 5, 0.0, 0.0, 4.5, 1.9, 1.6, 0.0], [30.0, 8.0, 0.0, 4.5, 1.9, 1.6, 1.0]]
        )
        b[:, :2] += rng.normal(0, 0.1, (2, 2))
        frames.append(Detections(f * 100_000, b))
    tracks = refine_offline(frames, OfflineConfig())
    assert len(tracks) == 2
    for tr in tracks:
        path = tr.smoothed.path
        assert len(tr.keyframes) < len(path) // 4
        _check_within(path, tr.keyframes, OfflineConfig().keyframes)
    parked = [tr for tr in tracks if tr.smoothed.parked]
    assert len(parked) == 1 and len(parked[0].keyframes) == 2


def test_internal_scoring_matches_keyframe_errors() -> None:
    from tracking.keyframes import _score

    rng = np.random.default_rng(8)
    a = np.linspace(0, 2.5, 200)
    path = _path(np.column_stack([15 * np.sin(a), 15 * (1 - np.cos(a)), rng.normal(0, 0.01, 200)]), a)
    idx = np.array([0, 30, 77, 140, 199])
    tol = KeyframeTolerance(center_tol_m=0.1, yaw_tol_rad=0.02, size_tol_m=0.05)
    for method in PositionMethod:
        c, r, s = keyframe_errors(path, path.take(idx), method)
        ref = np.maximum(np.maximum(c / 0.1, r / 0.02), s / 0.05)
        np.testing.assert_allclose(_score(path, idx, tol, method), ref, atol=1e-9)
        np.testing.assert_allclose(_score(path, idx, tol, method, 30, 140), ref[30:141], atol=1e-9)
