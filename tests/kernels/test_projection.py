"""Projection kernels against the float64 NumPy oracle (CameraModel.project), on CPU and CUDA."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_helpers import random_trajectory, rigid

import kernels
from calibration.camera import CameraModel
from calibration.camera_examples import example_cameras
from kernels.errors import InvalidInputError, InvalidTypeError

CAMERAS = example_cameras()


def _points(rng: np.random.Generator, n: int) -> np.ndarray:
    """Directions over the whole sphere (front-weighted) at 0.5-40 m."""
    d = rng.normal(size=(n, 3))
    d[:, 2] += 1.0
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return (d * rng.uniform(0.5, 40.0, (n, 1))).astype(np.float32)


def oracle(camera: CameraModel, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference pixels and validity (model domain and inside the image) in float64."""
    uv, _, valid = camera.project(points.astype(np.float64))[:3]
    inside = (
        valid & (uv[:, 0] >= 0) & (uv[:, 0] < camera.width) & (uv[:, 1] >= 0) & (uv[:, 1] < camera.height)
    )
    return uv, inside


@pytest.mark.parametrize("model", sorted(CAMERAS))
def test_project_points_matches_oracle(model: str) -> None:
    cam = CAMERAS[model]
    pts = _points(np.random.default_rng(1), 20_000)
    uv, depth, valid = kernels.project_points(pts, cam)
    ref_uv, ref_valid = oracle(cam, pts)
    # float32 pixels: points within 1e-3 px of the image border may round to the other side
    edge = (np.abs(ref_uv[:, 0]) < 1e-3) | (np.abs(ref_uv[:, 0] - cam.width) < 1e-3)
    edge |= (np.abs(ref_uv[:, 1]) < 1e-3) | (np.abs(ref_uv[:, 1] - cam.height) < 1e-3)
    assert uv.dtype == np.float32 and depth.dtype == np.float32 and valid.dtype == np.bool_
    assert np.array_equal(valid[~edge], ref_valid[~edge])
    assert valid.sum() > 100
    np.testing.assert_allclose(uv[valid], ref_uv[valid], atol=1e-3, rtol=0)  # float32 output rounding
    p = pts[valid].astype(np.float64)
    want_depth = p[:, 2] if model == "brown_conrady" else np.linalg.norm(p, axis=1)
    np.testing.assert_allclose(depth[valid], want_depth, rtol=1e-6)


def test_points_behind_pinhole_are_never_valid() -> None:
    cam = CameraModel.pinhole(1920, 1080, 1000.0, 1000.0, 960.0, 540.0)
    pts = _points(np.random.default_rng(2), 5000)
    pts[:, 2] = -np.abs(pts[:, 2])
    _, _, valid = kernels.project_points(pts, cam)
    assert not valid.any()


def test_cuda_simulator_matches_cpu_for_every_model() -> None:
    """One scalar source, two targets: same masks and <= 1e-5 relative difference."""
    if not kernels.cuda_status().available:
        pytest.skip("no CUDA device and numba's CUDA simulator is off")
    rng = np.random.default_rng(3)
    pts = _points(rng, 300)
    cams = list(CAMERAS.values())
    t = np.stack([rigid(rng, 0.5) for _ in cams])
    a = kernels.project_to_cameras(pts, cams, t, backend="cpu", depth_image=True)
    b = kernels.project_to_cameras(pts, cams, t, backend="cuda", depth_image=True)
    assert isinstance(a, kernels.DenseProjection) and isinstance(b, kernels.DenseProjection)
    assert np.array_equal(a.valid, b.valid)
    for name in ("u", "v", "depth"):
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(y[a.valid], x[a.valid], rtol=1e-5, atol=1e-5)
    # float32 math: the simulator runs the device functions in Python (partly float64), so depths
    # may differ in the last bit; the same pixels must be hit
    np.testing.assert_allclose(b.depth_image, a.depth_image, rtol=1e-5, atol=0)


def test_project_points_cuda_backend(backend: str) -> None:
    cam = CAMERAS["fisheye"]
    pts = _points(np.random.default_rng(4), 2000)
    uv, depth, valid = kernels.project_points(pts, cam, backend=backend)
    ref_uv, ref_valid = oracle(cam, pts)
    assert np.array_equal(valid, ref_valid)
    np.testing.assert_allclose(uv[valid], ref_uv[valid], atol=1e-3)


def test_multi_camera_dense_compact_and_depth_image(backend: str) -> None:
    rng = np.random.default_rng(5)
    n = 1500
    pts = (rng.normal(size=(n, 3)) * 8).astype(np.float32)
    cams = [CAMERAS["brown_conrady"], CAMERAS["fisheye"], CAMERAS["omnidirectional"]]
    t = np.stack([rigid(rng, 0.3) for _ in cams])
    dense = kernels.project_to_cameras(pts, cams, t, depth_image=True, backend=backend)
    compact = kernels.project_to_cameras(pts, cams, t, output="compact", backend=backend)
    assert isinstance(dense, kernels.DenseProjection) and isinstance(compact, kernels.CompactProjection)
    h = max(c.height for c in cams)
    w = max(c.width for c in cams)
    assert dense.u.shape == (3, n) and dense.depth_image.shape == (3, h, w)
    zbuf = np.full((3, h, w), np.inf, np.float32)
    for c, cam in enumerate(cams):
        p_cam = pts.astype(np.float64) @ t[c, :3, :3].T + t[c, :3, 3]
        ref_uv, ref_valid = oracle(cam, p_cam)
        assert np.array_equal(dense.valid[c], ref_valid)
        np.testing.assert_allclose(dense.u[c][ref_valid], ref_uv[ref_valid, 0], atol=1e-3)
        # nearest-depth oracle: np.minimum.at over floor(u), floor(v)
        m = dense.valid[c]
        col = np.minimum(np.floor(dense.u[c][m]).astype(int), cam.width - 1)
        row = np.minimum(np.floor(dense.v[c][m]).astype(int), cam.height - 1)
        np.minimum.at(zbuf[c], (row, col), dense.depth[c][m])
    np.testing.assert_array_equal(dense.depth_image, zbuf)
    ci, pi = np.nonzero(dense.valid)
    assert np.array_equal(compact.camera_index, ci) and np.array_equal(compact.point_index, pi)
    np.testing.assert_array_equal(compact.u, dense.u[ci, pi])
    np.testing.assert_array_equal(compact.depth, dense.depth[ci, pi])


def test_camera_from_points_at_capture_time() -> None:
    """A world point expressed in ego(t_ref) lands where the camera at t_c sees it (oracle: matrices)."""
    rng = np.random.default_rng(6)
    traj = random_trajectory(rng)
    cam_from_ego = np.stack([np.linalg.inv(rigid(rng)) for _ in range(4)])
    times = traj.start_us + rng.integers(0, 500_000, 4)
    ref = traj.start_us + 250_000
    got = kernels.camera_from_points_at(cam_from_ego, times, traj, ref_time_us=ref)
    w_ref = traj.matrices_at(ref)[0]
    for c in range(4):
        want = cam_from_ego[c] @ np.linalg.inv(traj.matrices_at(int(times[c]))[0]) @ w_ref
        np.testing.assert_allclose(got[c], want, atol=1e-9)
    world = kernels.camera_from_points_at(cam_from_ego, times, traj, ref_time_us=ref, frame="world")
    want = cam_from_ego[0] @ np.linalg.inv(traj.matrices_at(int(times[0]))[0])
    np.testing.assert_allclose(world[0], want, atol=1e-9)
    with pytest.raises(InvalidInputError, match="capture_time_us value .* outside the trajectory"):
        kernels.camera_from_points_at(cam_from_ego, times + 10_000_000, traj, ref_time_us=ref)


class _FakeCamera:
    def __init__(self, model_id: object, intr: np.ndarray) -> None:
        self.kernel_model_id = model_id
        self.kernel_intrinsics = intr


def test_bad_inputs_name_the_argument() -> None:
    cam = CAMERAS["brown_conrady"]
    pts = np.zeros((4, 3), np.float32)
    with pytest.raises(InvalidInputError, match=r"points must have shape \(N, 3\), got \(4, 2\)"):
        kernels.project_points(pts[:, :2], cam)
    with pytest.raises(InvalidTypeError, match="points must be numeric"):
        kernels.project_points(np.array([["a", "b", "c"]]), cam)
    with pytest.raises(InvalidTypeError, match=r"cameras\[0\] must have kernel_model_id"):
        kernels.project_points(pts, object())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"cameras\[0\].kernel_model_id 99"):
        kernels.project_points(pts, _FakeCamera(99, cam.kernel_intrinsics))
    with pytest.raises(InvalidInputError, match=r"cameras\[0\].kernel_intrinsics must be float64"):
        kernels.project_points(pts, _FakeCamera(0, np.zeros(3)))
    with pytest.raises(InvalidInputError, match=r"camera_from_points must have shape \(2, 4, 4\)"):
        kernels.project_to_cameras(pts, [cam, cam], np.eye(4)[None])
    with pytest.raises(InvalidInputError, match=r"camera_from_points\[1\] must be a rigid transform"):
        kernels.project_to_cameras(pts, [cam, cam], np.stack([np.eye(4), np.diag([1.0, 1, -1, 1])]))
    with pytest.raises(InvalidInputError, match="unknown output 'sparse'"):
        kernels.project_to_cameras(pts, [cam], np.eye(4)[None], output="sparse")
    with pytest.raises(InvalidTypeError, match="cameras must be a sequence"):
        kernels.project_to_cameras(pts, cam, np.eye(4)[None])  # type: ignore[arg-type]


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([math.nan, math.inf, -math.inf]), st.integers(0, 7), st.integers(0, 2))
def test_non_finite_points_are_rejected(bad: float, row: int, col: int) -> None:
    pts = np.ones((8, 3), np.float32)
    pts[row, col] = bad
    with pytest.raises(InvalidInputError, match=rf"points must be finite: at index \({row}, {col}\)"):
        kernels.project_points(pts, CAMERAS["fisheye"])


def test_empty_inputs() -> None:
    uv, depth, valid = kernels.project_points(np.empty((0, 3), np.float32), CAMERAS["fisheye"])
    assert uv.shape == (0, 2) and depth.shape == (0,) and valid.shape == (0,)
    res = kernels.project_to_cameras(np.zeros((5, 3), np.float32), [], np.empty((0, 4, 4)))
    assert isinstance(res, kernels.DenseProjection) and res.u.shape == (0, 5)
