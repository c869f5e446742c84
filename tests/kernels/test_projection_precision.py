"""Float32 projection kernels (the default) against OpenCV's float64 projections, and the precision switch."""

from __future__ import annotations

import math

import cv2
import numba
import numpy as np
import pytest

import kernels
from calibration import camera_from_opencv
from calibration.camera import CameraModel
from calibration.camera_examples import example_cameras
from kernels._math import camera as km
from kernels._math.retarget import retarget
from kernels.errors import InvalidInputError
from kernels.projection import Precision, _kernel_real

N = 100_000
BORDER = 1e-3  # px: float32 pixels this close to the image border may round to the other side


def _points_in_front(rng: np.random.Generator, n: int, max_theta: float) -> np.ndarray:
    """Points within ``max_theta`` of the optical axis at 0.3-80 m, (n, 3) float32."""
    theta = np.arccos(rng.uniform(math.cos(max_theta), 1.0, n))
    phi = rng.uniform(-math.pi, math.pi, n)
    dist = rng.uniform(0.3, 80.0, n)
    d = np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], 1)
    return (d * dist[:, None]).astype(np.float32)


def _check_against_opencv(cam: CameraModel, pts: np.ndarray, ref: np.ndarray, precision: str) -> float:
    """Same validity as OpenCV's in-image test (off the border band); returns the max error [px]."""
    uv, depth, valid = kernels.project_points(pts, cam, precision=precision)
    inside = (ref[:, 0] >= 0) & (ref[:, 0] < cam.width) & (ref[:, 1] >= 0) & (ref[:, 1] < cam.height)
    border = (np.abs(ref[:, 0]) < BORDER) | (np.abs(ref[:, 0] - cam.width) < BORDER)
    border |= (np.abs(ref[:, 1]) < BORDER) | (np.abs(ref[:, 1] - cam.height) < BORDER)
    assert inside.sum() > N // 4
    assert np.array_equal(valid[~border], inside[~border])
    err = float(np.abs(uv[valid].astype(np.float64) - ref[valid]).max())
    assert err <= 1e-3
    return err


# Brown–Conrady: OpenCV's 4, 5 and 8 coefficient forms (focal lengths and centres of a 1920x1200 camera)
BROWN_CONRADY = [
    [-0.28, 0.07, 0.0, 0.0],
    [-0.3, 0.1, 0.001, -0.002, -0.02],
    [0.2, -0.05, 0.0012, -0.0009, 0.01, 0.25, -0.03, 0.006],
]


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("dist", BROWN_CONRADY)
def test_brown_conrady_matches_opencv_in_the_field_of_view(dist: list[float], precision: str) -> None:
    k = np.array([[1210.0, 0.0, 963.5], [0.0, 1206.0, 601.2], [0.0, 0.0, 1.0]])
    d = np.array(dist)
    cam = camera_from_opencv(k, d, 1920, 1200)
    pts = _points_in_front(np.random.default_rng(21), N, min(0.98 * cam.max_theta, math.radians(60)))
    ref = cv2.projectPoints(pts.astype(np.float64), np.zeros(3), np.zeros(3), k, d)[0][:, 0]
    _check_against_opencv(cam, pts, ref, precision)


@pytest.mark.parametrize("precision", ["float32", "float64"])
@pytest.mark.parametrize("size", [(1280, 960, 285.7), (2000, 1500, 700.0), (3000, 2000, 1000.0)])
def test_kannala_brandt_matches_opencv_up_to_3000_px(size: tuple[int, int, float], precision: str) -> None:
    w, h, f = size
    k = np.array([[f, 0.0, w / 2 - 0.9], [0.0, 1.002 * f, h / 2 + 1.9], [0.0, 0.0, 1.0]])
    d = np.array([0.041, -0.0091, 0.0027, -0.00051])
    cam = camera_from_opencv(k, d, w, h, model="fisheye")
    pts = _points_in_front(np.random.default_rng(22), N, min(cam.max_theta, math.radians(89.5)))
    ref = cv2.fisheye.projectPoints(pts.astype(np.float64)[:, None], np.zeros(3), np.zeros(3), k, d)[0][:, 0]
    _check_against_opencv(cam, pts, ref, precision)


@pytest.mark.parametrize("model", ["brown_conrady", "fisheye", "omnidirectional"])
def test_float32_and_float64_agree_with_extrinsics(model: str) -> None:
    """Same masks (off the border band) and <= 1e-3 px between the two precisions, 3 cameras.

    Every model's float32 kernels are checked against the float64 oracle in test_projection.py;
    three models here keep the compile time down (each kernel compiles in seconds).
    """
    rng = np.random.default_rng(23)
    d = rng.normal(size=(5000, 3))
    d[:, 2] += 1.0
    d *= rng.uniform(0.5, 40.0, (5000, 1)) / np.linalg.norm(d, axis=1, keepdims=True)
    pts = d.astype(np.float32)
    cam = example_cameras()[model]
    eye = np.repeat(np.eye(4)[None], 3, axis=0)
    eye[1, :3, 3] = [0.3, -0.1, 0.2]
    c, s = math.cos(0.2), math.sin(0.2)
    eye[2, :3, :3] = [[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]  # yawed about the camera's y axis
    a = kernels.project_to_cameras(pts, [cam] * 3, eye, precision="float32")
    b = kernels.project_to_cameras(pts, [cam] * 3, eye, precision=Precision.DOUBLE)
    assert isinstance(a, kernels.DenseProjection) and isinstance(b, kernels.DenseProjection)
    border = (np.abs(b.u) < BORDER) | (np.abs(b.u - cam.width) < BORDER)
    border |= (np.abs(b.v) < BORDER) | (np.abs(b.v - cam.height) < BORDER)
    assert np.array_equal(a.valid[~border], b.valid[~border]), cam.model
    both = a.valid & b.valid
    assert both.sum() > 1000
    assert np.abs(a.u - b.u)[both].max() <= 1e-3 and np.abs(a.v - b.v)[both].max() <= 1e-3, cam.model
    np.testing.assert_allclose(a.depth[both], b.depth[both], rtol=1e-6)
    uv, _, valid = kernels.project_points(pts, cam)
    assert np.array_equal(valid, a.valid[0]) and np.array_equal(uv[:, 0], a.u[0])


def test_unknown_precision_is_rejected() -> None:
    cam = example_cameras()["fisheye"]
    pts = np.ones((4, 3), np.float32)
    with pytest.raises(InvalidInputError, match="unknown precision 'half'"):
        kernels.project_points(pts, cam, precision="half")
    with pytest.raises(InvalidInputError, match="precision"):
        kernels.project_to_cameras(pts, [cam], np.eye(4)[None], precision="float16")


def test_float32_limits_never_widen_the_valid_domain() -> None:
    for cam in example_cameras().values():
        k64 = cam.kernel_intrinsics
        k32 = _kernel_real(k64, Precision.SINGLE)
        assert k32.dtype == np.float32
        for i in (km.I_MAX_R2, km.I_MAX_THETA):
            assert float(k32[i]) <= k64[i] or (np.isinf(k64[i]) and np.isinf(k32[i]))


def test_retarget_real_float32_keeps_the_math_in_float32() -> None:
    """Every float constant is retyped: float32 arguments give float32 results, nothing promotes."""
    f32 = retarget(km.DEVICE_FUNCTIONS, numba.njit, real=np.float32)
    f64 = retarget(km.DEVICE_FUNCTIONS, numba.njit)
    cam = example_cameras()["fisheye_rad_tan_prism"]
    intr32 = cam.kernel_intrinsics.astype(np.float32)
    for name in ("project_kannala_brandt", "project_brown_conrady", "project_mod_kannala", "project_mei"):
        fn = f32[name]
        fn(intr32, np.float32(0.3), np.float32(-0.2), np.float32(2.0))
        ret = fn.nopython_signatures[-1].return_type
        assert str(ret) == "Tuple(float32, float32, bool)", (name, ret)
        u32 = fn(intr32, np.float32(0.3), np.float32(-0.2), np.float32(2.0))
        u64 = f64[name](cam.kernel_intrinsics, 0.3, -0.2, 2.0)
        assert u32[:2] == pytest.approx(u64[:2], abs=1e-3) and u32[2] == u64[2]


def test_cuda_simulator_float64_matches_cpu() -> None:
    """The float64 build of the device functions also runs (float32 is covered in test_projection.py)."""
    if not kernels.cuda_status().available:
        pytest.skip("no CUDA device and numba's CUDA simulator is off")
    rng = np.random.default_rng(24)
    pts = _points_in_front(rng, 200, 1.4)
    cams = [example_cameras()["brown_conrady"], example_cameras()["fisheye"]]
    t = np.repeat(np.eye(4)[None], 2, axis=0)
    a = kernels.project_to_cameras(pts, cams, t, precision="float64", backend="cpu")
    b = kernels.project_to_cameras(pts, cams, t, precision="float64", backend="cuda")
    assert isinstance(a, kernels.DenseProjection) and isinstance(b, kernels.DenseProjection)
    assert np.array_equal(a.valid, b.valid) and a.valid.sum() > 50
    for name in ("u", "v", "depth"):
        np.testing.assert_allclose(getattr(b, name)[a.valid], getattr(a, name)[a.valid], rtol=1e-5, atol=1e-5)
