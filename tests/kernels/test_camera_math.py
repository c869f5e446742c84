"""Scalar camera functions (kernels._math.camera) compiled with numba.njit vs the NumPy oracle."""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np
import pytest

from calibration import CameraModel, camera_from_opencv
from calibration.camera_examples import example_cameras
from kernels._math import camera as km
from kernels._math import fastmath
from kernels._math.retarget import retarget

COMPILED = retarget(km.DEVICE_FUNCTIONS, numba.njit(inline="always"))


def _make_loop(func):  # type: ignore[no-untyped-def]
    @numba.njit
    def loop(intr, pts):  # type: ignore[no-untyped-def]
        n = pts.shape[0]
        uv = np.empty((n, 2))
        ok = np.empty(n, dtype=np.bool_)
        for i in range(n):
            u, v, o = func(intr, pts[i, 0], pts[i, 1], pts[i, 2])
            uv[i, 0] = u
            uv[i, 1] = v
            ok[i] = o
        return uv, ok

    return loop


LOOPS = {mid: _make_loop(COMPILED[f.__name__]) for mid, f in km.PROJECT_FUNCTIONS.items()}


@numba.njit
def _switch_loop(model_id, intr, pts):  # type: ignore[no-untyped-def]
    n = pts.shape[0]
    out = np.empty((n, 4))
    for i in range(n):
        u, v, o = COMPILED_SWITCH(model_id, intr, pts[i, 0], pts[i, 1], pts[i, 2])
        out[i, 0] = u
        out[i, 1] = v
        out[i, 2] = o
        out[i, 3] = COMPILED_DEPTH(model_id, pts[i, 0], pts[i, 1], pts[i, 2])
    return out


# The switch inlines every model when compiled with inline="always" (about 8 s to compile); the
# plain njit build compiles in about 3 s and tests the same code.
_PLAIN = retarget(km.DEVICE_FUNCTIONS, numba.njit)
COMPILED_SWITCH = _PLAIN["project_point"]
COMPILED_DEPTH = _PLAIN["point_depth"]
CAMERAS = example_cameras()


def _random_points(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n, 3)) * rng.uniform(0.2, 60.0, size=(n, 1))


def test_contract_constants() -> None:
    assert km.MODEL_IDS == tuple(range(len(km.MODEL_IDS)))
    assert set(km.MODEL_NAMES) == set(km.MODEL_IDS) == set(km.PROJECT_FUNCTIONS)
    assert km.I_P0 + km.MAX_PARAMS <= km.INTR_SIZE
    assert (
        len(
            {
                km.I_FX,
                km.I_FY,
                km.I_CX,
                km.I_CY,
                km.I_SKEW,
                km.I_WIDTH,
                km.I_HEIGHT,
                km.I_MAX_R2,
                km.I_MAX_THETA,
            }
        )
        == 9
    )
    for name, cam in CAMERAS.items():
        assert km.MODEL_NAMES[cam.kernel_model_id] == name


def test_fast_atan2_matches_libm() -> None:
    rng = np.random.default_rng(7)
    ys = np.concatenate([rng.normal(size=5000) * 10.0 ** rng.uniform(-8, 8, 5000), [0.0, -0.0, 1, -1]])
    xs = np.concatenate([rng.normal(size=5000) * 10.0 ** rng.uniform(-8, 8, 5000), [0.0, 1.0, 0, 0]])
    jit = COMPILED["fast_atan2"]
    for y, x in zip(ys, xs, strict=True):
        ref = math.atan2(y, x)
        assert abs(fastmath.fast_atan2(y, x) - ref) <= 5e-14 * max(1.0, abs(ref)) or (
            y == 0.0 and abs(abs(ref) - abs(fastmath.fast_atan2(y, x))) <= 5e-14
        )
        assert abs(jit(y, x) - fastmath.fast_atan2(y, x)) <= 1e-15


def test_fast_tan_matches_libm_to_a_few_ulp() -> None:
    rng = np.random.default_rng(8)
    half_pi = np.nextafter(math.pi / 2, 0.0)
    xs = np.concatenate([rng.uniform(-half_pi, half_pi, 5000), half_pi - 10.0 ** rng.uniform(-12, 0, 500)])
    xs = np.concatenate([xs, -xs[-500:], [0.0, -0.0, math.pi / 4, np.nextafter(math.pi / 4, 1.0), half_pi]])
    jit = COMPILED["fast_tan"]
    for x in xs:
        ref = math.tan(x)
        assert abs(fastmath.fast_tan(x) - ref) <= 4 * np.spacing(abs(ref)), x
        assert jit(x) == fastmath.fast_tan(x)


@pytest.mark.parametrize("name", list(CAMERAS))
def test_scalar_matches_oracle(name: str) -> None:
    cam = CAMERAS[name]
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    pts = _random_points(rng, 20000)
    uv, _, valid = cam.project(pts)
    kuv, kok = LOOPS[cam.kernel_model_id](cam.kernel_intrinsics, pts)
    assert valid.sum() > 1000
    np.testing.assert_array_equal(kok, valid)
    assert np.abs(kuv[valid] - uv[valid]).max() <= 1e-6
    assert np.isfinite(kuv).all()


@pytest.mark.parametrize("name", list(CAMERAS))
def test_switch_and_depth_match(name: str) -> None:
    cam = CAMERAS[name]
    pts = _random_points(np.random.default_rng(3), 2000)
    uv, depth, valid = cam.project(pts)
    out = _switch_loop(cam.kernel_model_id, cam.kernel_intrinsics, pts)
    np.testing.assert_array_equal(out[:, 2].astype(bool), valid)
    np.testing.assert_allclose(out[valid, :2], uv[valid], atol=1e-6, rtol=0)
    np.testing.assert_allclose(out[:, 3], depth, rtol=1e-15)


def test_unknown_model_id_is_invalid() -> None:
    intr = CAMERAS["fisheye"].kernel_intrinsics
    out = _switch_loop(99, intr, np.array([[0.0, 0.0, 1.0]]))
    assert out[0, 2] == 0.0


@pytest.mark.parametrize("name", list(CAMERAS))
def test_placeholders_never_nan(name: str) -> None:
    """Invalid points (behind, on the axis, at the origin, extreme) still give finite u, v."""
    cam = CAMERAS[name]
    special = np.array(
        [
            [0, 0, 0],
            [0, 0, -1],
            [0, 0, 1],
            [1, 0, 0],
            [0, 1, 0],
            [0, -1, 0],
            [1e-300, 0, 1e-300],
            [1e12, -1e12, 1e-12],
            [3, 4, -1e-320],
            [0, 5, 0],
            [-1, 0, -1e-9],
        ],
        dtype=np.float64,
    )
    kuv, kok = LOOPS[cam.kernel_model_id](cam.kernel_intrinsics, special)
    assert np.isfinite(kuv).all()
    _, _, valid = cam.project(special)
    np.testing.assert_array_equal(kok, valid)


def test_in_image_half_open() -> None:
    cam = CameraModel.pinhole(640, 480, 500.0, 500.0, 320.0, 240.0)
    f = COMPILED["in_image"]
    intr = cam.kernel_intrinsics
    assert f(intr, 0.0, 0.0) and f(intr, 639.999, 479.999)
    assert not f(intr, 640.0, 10.0) and not f(intr, 10.0, 480.0)
    assert not f(intr, -1e-9, 10.0) and not f(intr, 10.0, -1e-9)


def _points_in_front(rng: np.random.Generator, n: int, max_theta: float) -> np.ndarray:
    theta = np.arccos(rng.uniform(math.cos(max_theta), 1.0, n))
    phi = rng.uniform(-math.pi, math.pi, n)
    dist = rng.uniform(0.3, 80.0, n)
    return (
        np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1) * dist[:, None]
    )


@pytest.mark.parametrize(
    "dist",
    [
        [-0.28, 0.07, 0.0],
        [-0.3, 0.1, 0.001, -0.002, -0.02],
        [0.2, -0.05, 0.0012, -0.0009, 0.01, 0.25, -0.03, 0.006],
    ],
)
def test_brown_conrady_scalar_and_oracle_match_opencv(dist: list[float]) -> None:
    d = np.array(dist + [0.0] * (4 - len(dist)) if len(dist) < 4 else dist)
    k = np.array([[1210.0, 0.0, 963.5], [0.0, 1206.0, 601.2], [0.0, 0.0, 1.0]])
    cam = camera_from_opencv(k, d, 1920, 1200)
    pts = _points_in_front(np.random.default_rng(11), 100_000, 0.98 * cam.max_theta)
    ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), k, d)
    ref = ref[:, 0, :]
    uv, _, valid = cam.project(pts)
    kuv, kok = LOOPS[km.BROWN_CONRADY](cam.kernel_intrinsics, pts)
    assert valid.all() and kok.all()
    assert np.abs(uv - ref).max() <= 1e-3
    assert np.abs(kuv - ref).max() <= 1e-3


def test_kannala_brandt_scalar_and_oracle_match_opencv_fisheye() -> None:
    k = np.array([[285.7, 0.0, 639.1], [0.0, 286.2, 481.9], [0.0, 0.0, 1.0]])
    d = np.array([0.041, -0.0091, 0.0027, -0.00051])
    cam = camera_from_opencv(k, d, 1280, 960, model="fisheye")
    pts = _points_in_front(np.random.default_rng(12), 100_000, min(cam.max_theta, math.radians(89.5)))
    ref, _ = cv2.fisheye.projectPoints(pts[:, None, :], np.zeros(3), np.zeros(3), k, d)
    ref = ref[:, 0, :]
    uv, _, valid = cam.project(pts)
    kuv, kok = LOOPS[km.KANNALA_BRANDT](cam.kernel_intrinsics, pts)
    assert valid.all() and kok.all()
    assert np.abs(uv - ref).max() <= 1e-3
    assert np.abs(kuv - ref).max() <= 1e-3


def test_retarget_pure_python_matches_compiled() -> None:
    """retarget with an identity wrap gives plain Python functions with the same results."""
    plain = retarget(km.DEVICE_FUNCTIONS, lambda f: f)
    cam = CAMERAS["omnidirectional"]
    pts = _random_points(np.random.default_rng(5), 200)
    kuv, kok = LOOPS[km.MEI](cam.kernel_intrinsics, pts)
    for i, p in enumerate(pts):
        u, v, ok = plain["project_point"](km.MEI, cam.kernel_intrinsics, *p)
        assert ok == kok[i]
        assert (u, v) == pytest.approx(tuple(kuv[i]), abs=1e-9)
