"""Snapping cuboids to lidar points: recovery of a perturbed box, bounds, heading-flip guard, flags."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import wrap_angle
from kernels.errors import InvalidInputError
from tracking import CuboidPath, SnapConfig, SnapReference, snap_to_points


def _visible_faces(box: np.ndarray, rng: np.random.Generator, n: int = 300) -> np.ndarray:
    """Points on the sides of ``box`` that face a sensor at the origin, plus ground and clutter."""
    x, y, z, length, width, height, yaw = box
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, -s], [s, c]])
    pts = []
    for axis, sign in ((0, 1), (0, -1), (1, 1), (1, -1)):
        normal_local = np.zeros(2)
        normal_local[axis] = sign
        half = np.array([length, width]) / 2
        centre = np.array([x, y]) + rot @ (normal_local * half)
        if np.dot(rot @ normal_local, -centre) <= 0:
            continue
        along = rng.uniform(-1, 1, n) * half[1 - axis]
        local = np.zeros((n, 2))
        local[:, axis] = sign * half[axis]
        local[:, 1 - axis] = along
        xy = local @ rot.T + [x, y] + rng.normal(scale=0.02, size=(n, 2))
        zz = rng.uniform(z - height / 2 + 0.3, z + height / 2, n)
        pts.append(np.column_stack([xy, zz]))
    ground = np.column_stack(
        [rng.uniform(x - 6, x + 6, 400), rng.uniform(y - 6, y + 6, 400), np.full(400, z - height / 2)]
    )
    pts.append(ground)
    return np.concatenate(pts).astype(np.float32)


def _one(box: list[float]) -> CuboidPath:
    return CuboidPath.from_boxes([0], [box])


@pytest.mark.parametrize("yaw", [0.3, 2.0, -2.9, 3.1])
def test_recovers_perturbed_box(yaw: float) -> None:
    rng = np.random.default_rng(5)
    truth = np.array([15.0, 5.0, 0.8, 4.6, 1.9, 1.6, yaw])
    pts = _visible_faces(truth, rng)
    guess = truth + [0.3, -0.25, 0.0, 0, 0, 0, 0.12]
    res = snap_to_points(_one(list(guess)), [pts])
    assert res.snapped[0]
    got = res.path.boxes[0]
    # One visible face (yaw 2.0 seen from the origin) pins the box only weakly along that face.
    assert np.hypot(*(got[:2] - truth[:2])) < 0.12
    assert abs(wrap_angle(got[6] - yaw)) < 0.03
    assert res.residual_m[0] < res.residual_before_m[0]
    assert res.residual_m[0] < 0.05
    assert not res.needs_keyframe[0]
    np.testing.assert_allclose(got[2:6], guess[2:6], atol=1e-5)  # z and size untouched


def test_heading_flip_guard() -> None:
    """The points fit yaw and yaw + pi equally; the snapped heading stays on the interpolated side."""
    rng = np.random.default_rng(1)
    truth = np.array([12.0, -4.0, 0.8, 4.6, 1.9, 1.6, 0.5 + np.pi])
    pts = _visible_faces(truth, rng)
    guess = [12.1, -4.1, 0.8, 4.6, 1.9, 1.6, 0.55]  # interpolated heading points the other way
    res = snap_to_points(_one(guess), [pts])
    assert abs(wrap_angle(res.path.yaws[0] - 0.5)) < 0.05
    assert abs(res.yaw_change_rad[0]) <= SnapConfig().max_yaw_rad


def test_moves_are_bounded_and_flagged() -> None:
    """A truth 2 m away cannot be reached: the move stops at the bound and the frame needs a keyframe."""
    rng = np.random.default_rng(2)
    truth = np.array([20.0, 0.0, 0.8, 4.6, 1.9, 1.6, 0.0])
    pts = _visible_faces(truth, rng)
    cfg = SnapConfig(max_shift_m=0.5)
    res = snap_to_points(_one([20.0, 2.0, 0.8, 4.6, 1.9, 1.6, 0.0]), [pts], cfg)
    assert res.shift_m[0] <= 0.5 * np.sqrt(2) + 1e-9
    assert res.needs_keyframe[0]


def test_too_few_points_leaves_cuboid() -> None:
    path = _one([5.0, 5.0, 0.5, 4, 2, 1.5, 0.2])
    res = snap_to_points(path, [np.zeros((3, 3), np.float32)])
    assert not res.snapped[0] and np.isnan(res.residual_m[0]) and not res.needs_keyframe[0]
    np.testing.assert_array_equal(res.path.centers, path.centers)
    np.testing.assert_array_equal(res.path.rotations_wxyz, path.rotations_wxyz)


def test_errors_name_inputs() -> None:
    path = _one([5.0, 5.0, 0.5, 4, 2, 1.5, 0.2])
    with pytest.raises(InvalidInputError, match=r"points must hold one array per cuboid \(1\), got 2"):
        snap_to_points(path, [np.zeros((0, 3)), np.zeros((0, 3))])
    with pytest.raises(InvalidInputError, match=r"points\[0\] must have shape \(N, 3\)"):
        snap_to_points(path, [np.zeros((4, 2))])
    with pytest.raises(InvalidInputError, match=r"max_yaw_rad must lie in \[0, pi/2\)"):
        SnapConfig(max_yaw_rad=2.0)


def test_keyframe_calibration_keeps_the_labelers_margin() -> None:
    """Labels sit 0.2 m ahead of the points (a labeler's margin): calibrated snapping keeps that margin,
    uncalibrated snapping pulls the box onto the points."""
    rng = np.random.default_rng(7)
    truth = np.array([15.0, 5.0, 0.8, 4.6, 1.9, 1.6, 0.0])  # seen from the origin: back and right faces
    label = truth + [0.2, 0, 0, 0, 0, 0, 0]
    pts = _visible_faces(truth, rng)
    kf = CuboidPath.from_boxes([0, 2_000_000], [label, label])
    ref = SnapReference(kf, [pts, pts])
    query = CuboidPath.from_boxes([1_000_000], [label + [0.35, 0, 0, 0, 0, 0, 0]])  # interpolation off
    cal = snap_to_points(query, [pts], reference=ref)
    raw = snap_to_points(query, [pts])
    assert abs(cal.path.centers[0, 0] - label[0]) < 0.06
    assert abs(raw.path.centers[0, 0] - truth[0]) < 0.06
    on_label = snap_to_points(CuboidPath.from_boxes([1_000_000], [label]), [pts], reference=ref)
    assert on_label.shift_m[0] == 0.0  # already where the labeler would put it: not moved


def test_reference_needs_one_sweep_per_keyframe() -> None:
    kf = CuboidPath.from_boxes([0, 1], [[5.0, 5.0, 0.5, 4, 2, 1.5, 0.2]] * 2)
    with pytest.raises(InvalidInputError, match=r"reference.points must hold one array per keyframe \(2\)"):
        snap_to_points(
            _one([5.0, 5.0, 0.5, 4, 2, 1.5, 0.2]), [np.zeros((0, 3))], reference=SnapReference(kf, [])
        )
