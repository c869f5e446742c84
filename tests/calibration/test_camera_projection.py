"""CameraModel.project / unproject (the NumPy oracle): OpenCV agreement, round trips, validity."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from calibration import CameraModel, camera_from_opencv
from calibration.camera_examples import example_cameras
from kernels.errors import InvalidInputError

CAMERAS = example_cameras()


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between row vectors [rad], accurate for tiny angles."""
    return np.arctan2(np.linalg.norm(np.cross(a, b), axis=1), (a * b).sum(axis=1))


def _directions(rng: np.random.Generator, n: int, max_theta: float) -> np.ndarray:
    """Unit directions uniform on the spherical cap of half-angle max_theta around +z."""
    theta = np.arccos(rng.uniform(math.cos(max_theta), 1.0, n))
    phi = rng.uniform(-math.pi, math.pi, n)
    return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)


def test_brown_conrady_rational_tangential_matches_opencv() -> None:
    k = np.array([[1210.0, 0.0, 963.5], [0.0, 1206.0, 601.2], [0.0, 0.0, 1.0]])
    d = np.array([0.2, -0.05, 0.0012, -0.0009, 0.01, 0.25, -0.03, 0.006])
    cam = camera_from_opencv(k, d, 1920, 1200)
    rng = np.random.default_rng(1)
    pts = _directions(rng, 100_000, 0.98 * cam.max_theta) * rng.uniform(0.3, 80, (100_000, 1))
    ref = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), k, d)[0][:, 0, :]
    uv, depth, valid = cam.project(pts)
    assert valid.all()
    assert np.abs(uv - ref).max() <= 1e-3
    np.testing.assert_array_equal(depth, pts[:, 2])


def test_fisheye_matches_opencv_fisheye() -> None:
    k = np.array([[285.7, 0.0, 639.1], [0.0, 286.2, 481.9], [0.0, 0.0, 1.0]])
    d = np.array([0.041, -0.0091, 0.0027, -0.00051])
    cam = camera_from_opencv(k, d, 1280, 960, model="fisheye")
    rng = np.random.default_rng(2)
    pts = _directions(rng, 100_000, math.radians(89.5)) * rng.uniform(0.3, 80, (100_000, 1))
    ref = cv2.fisheye.projectPoints(pts[:, None, :], np.zeros(3), np.zeros(3), k, d)[0][:, 0, :]
    uv, depth, valid = cam.project(pts)
    assert valid.all()
    assert np.abs(uv - ref).max() <= 1e-3
    np.testing.assert_allclose(depth, np.linalg.norm(pts, axis=1), rtol=1e-15)


@pytest.mark.parametrize("name", list(CAMERAS))
def test_project_unproject_round_trip(name: str) -> None:
    cam = CAMERAS[name]
    rng = np.random.default_rng(3)
    if name in ("cylindrical", "equirectangular"):
        dirs = rng.normal(size=(5000, 3))
        dirs = dirs[np.abs(dirs[:, 1]) < 0.999 * np.linalg.norm(dirs, axis=1)]
    elif name == "brown_conrady":
        dirs = _directions(rng, 5000, math.atan(0.95 * math.tan(cam.max_theta)))
    else:
        dirs = _directions(rng, 5000, 0.95 * cam.max_theta)
    pts = dirs * rng.uniform(0.5, 50, (len(dirs), 1))
    uv, _, valid = cam.project(pts)
    assert valid.all()
    rays, ok = cam.unproject(uv)
    assert ok.all()
    np.testing.assert_allclose(np.linalg.norm(rays, axis=1), 1.0, atol=1e-12)
    assert _angle(rays, pts).max() <= 1e-6


def test_points_behind_pinhole_are_never_valid() -> None:
    """A point behind an undistorted pinhole would land in the image by the formula; it is invalid."""
    cam = CameraModel.pinhole(640, 480, 500.0, 500.0, 320.0, 240.0)
    pts = np.array([[0.1, 0.1, -1.0], [0.0, 0.0, -5.0], [1.0, 0.0, 0.0], [0.1, 0.1, 1.0]])
    uv, depth, valid = cam.project(pts)
    np.testing.assert_array_equal(valid, [False, False, False, True])
    assert np.isnan(uv[:3]).all()
    np.testing.assert_array_equal(depth, pts[:, 2])


def test_brown_conrady_fold_over_is_rejected() -> None:
    """k1 < 0 folds r (1 + k1 r^2) back at r = 1/sqrt(-3 k1); a far-off-axis point that the formula
    maps into the image must be invalid, and pixels beyond the fold radius cannot be unprojected."""
    cam = CameraModel(
        "brown_conrady", 1000, 1000, 500.0, 500.0, 500.0, 500.0, 0.0, (-0.3, 0, 0, 0, 0, 0, 0, 0)
    )
    r_fold = 1 / math.sqrt(0.9)
    assert math.tan(cam.max_theta) == pytest.approx(r_fold, rel=1e-9)
    r = 1.9  # beyond the fold: r (1 + k1 r^2) = -0.158, i.e. about 79 px from the centre
    pt = np.array([[r, 0.0, 1.0]])
    naive_u = 500.0 + 500.0 * r * (1 - 0.3 * r * r)
    assert 0 <= naive_u < 1000
    _, _, valid = cam.project(pt)
    assert not valid[0]
    _, _, inside = cam.project(np.array([[0.99 * r_fold, 0.0, 1.0]]))
    assert inside[0]
    # f(r_fold) = 2/3 r_fold = 0.703 in normalised units: 352 px from the centre.
    rays, ok = cam.unproject(np.array([[500.0 + 340.0, 500.0], [500.0 + 360.0, 500.0]]))
    np.testing.assert_array_equal(ok, [True, False])
    assert np.isnan(rays[1]).all()


def test_fisheye_fold_over_is_rejected() -> None:
    cam = CameraModel("fisheye", 1000, 1000, 300.0, 300.0, 500.0, 500.0, 0.0, (-0.2, 0.0, 0.0, 0.0))
    theta_fold = math.sqrt(1 / 0.6)
    assert cam.max_theta == pytest.approx(theta_fold, rel=1e-9)
    theta = 2.5  # theta_d = -0.625: 187 px left of the centre, inside the image
    pt = np.array([[math.sin(theta), 0.0, math.cos(theta)]])
    _, _, valid = cam.project(pt)
    assert not valid[0]
    _, ok = cam.unproject(np.array([[500.0 + 300.0 * 0.85, 500.0]]))  # beyond theta_d max 0.86
    assert ok[0]
    _, ok = cam.unproject(np.array([[500.0 + 300.0 * 0.87, 500.0]]))
    assert not ok[0]


def test_wide_fisheye_sees_behind_the_image_plane() -> None:
    """theta = atan2(rho, z): a 200 degree Kannala–Brandt lens projects points with z < 0."""
    cam = CameraModel("fisheye", 1000, 1000, 250.0, 250.0, 500.0, 500.0, 0.0, (0.0, 0.0, 0.0, 0.0))
    theta = math.radians(100)
    uv, depth, valid = cam.project(np.array([[2 * math.sin(theta), 0.0, 2 * math.cos(theta)]]))
    assert valid[0]
    assert uv[0, 0] == pytest.approx(500 + 250 * theta)
    assert depth[0] == pytest.approx(2.0)


def test_omnidirectional_xi_limit() -> None:
    """Mei with xi > 1 is only monotonic while cos(theta) > -1/xi."""
    xi = 2.0
    cam = CameraModel("omnidirectional", 800, 800, 300.0, 300.0, 400.0, 400.0, 0.0, (0, 0, 0, 0, 0, 0, xi))
    assert cam.max_theta == pytest.approx(math.acos(-1 / xi))
    ok_t, bad_t = cam.max_theta - 1e-3, cam.max_theta + 1e-3
    pts = np.array([[math.sin(t), 0.0, math.cos(t)] for t in (ok_t, bad_t)])
    _, _, valid = cam.project(pts)
    np.testing.assert_array_equal(valid, [True, False])


def test_equirectangular_and_cylindrical_axes() -> None:
    eq = CAMERAS["equirectangular"]
    uv, _, valid = eq.project(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 1.0]]))
    assert valid.all()
    np.testing.assert_allclose(uv[0], [eq.cx, eq.cy])
    np.testing.assert_allclose(uv[1], [eq.cx + eq.fx * math.pi / 2, eq.cy])
    np.testing.assert_allclose(uv[2], [eq.cx, eq.cy - eq.fy * math.pi / 4])
    cyl = CAMERAS["cylindrical"]
    uv, _, valid = cyl.project(np.array([[0.0, 2.0, 1.0], [0.0, 1.0, 0.0]]))
    np.testing.assert_array_equal(valid, [True, False])
    np.testing.assert_allclose(uv[0], [cyl.cx, cyl.cy + 2 * cyl.fy])


finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(np.float64, st.tuples(st.integers(1, 5), st.just(3)), elements=finite),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(0, 14),
)
def test_project_rejects_non_finite_points(pts: np.ndarray, bad: float, where: int) -> None:
    pts = pts.copy()
    pts.flat[where % pts.size] = bad
    with pytest.raises(InvalidInputError, match="points_cam must be finite"):
        CAMERAS["fisheye"].project(pts)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=3).filter(lambda s: len(s) != 2 or s[1] != 3))
def test_project_rejects_wrong_shapes(shape: list[int]) -> None:
    with pytest.raises(InvalidInputError, match=r"points_cam must have shape \(N, 3\)"):
        CAMERAS["brown_conrady"].project(np.zeros(shape))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([math.nan, math.inf]), st.sampled_from([(0, 0), (1, 1)]))
def test_unproject_rejects_non_finite_pixels(bad: float, where: tuple[int, int]) -> None:
    uv = np.ones((2, 2))
    uv[where] = bad
    with pytest.raises(InvalidInputError, match="uv must be finite"):
        CAMERAS["omnidirectional"].unproject(uv)
    with pytest.raises(InvalidInputError, match=r"uv must have shape \(N, 2\)"):
        CAMERAS["omnidirectional"].unproject(np.ones((3, 3)))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, (20, 3), elements=finite), st.sampled_from(list(CAMERAS)))
def test_project_outputs_are_consistent(pts: np.ndarray, name: str) -> None:
    uv, depth, valid = CAMERAS[name].project(pts)
    assert np.isfinite(uv[valid]).all() and np.isnan(uv[~valid]).all()
    assert np.isfinite(depth).all()
