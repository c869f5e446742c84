"""The real CUDA path with device-resident inputs (CuPy / torch): results stay on the device."""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from calibration.camera_examples import example_cameras

pytestmark = pytest.mark.gpu


def _points(n: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    p = rng.normal(size=(n, 3)) * 5
    p[:, 2] = np.abs(p[:, 2]) + 0.5
    return p.astype(np.float32)


def test_cupy_inputs_stay_on_device() -> None:
    cupy = pytest.importorskip("cupy")
    cam = example_cameras()["fisheye"]
    pts = _points(100_000)
    uv, depth, valid = kernels.project_points(cupy.asarray(pts), cam)
    assert isinstance(uv, cupy.ndarray) and isinstance(valid, cupy.ndarray)
    ref_uv, ref_depth, ref_valid = kernels.project_points(pts, cam, backend="cpu")
    assert np.array_equal(cupy.asnumpy(valid), ref_valid)
    np.testing.assert_allclose(cupy.asnumpy(uv)[ref_valid], ref_uv[ref_valid], rtol=1e-5, atol=1e-4)


def test_torch_cuda_inputs_stay_on_device() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA build here")
    cams = list(example_cameras().values())
    pts = _points(50_000)
    t = np.repeat(np.eye(4)[None], len(cams), 0)
    res = kernels.project_to_cameras(torch.from_numpy(pts).cuda(), cams, t, depth_image=True)
    assert res.u.is_cuda and res.depth_image.is_cuda
    ref = kernels.project_to_cameras(pts, cams, t, depth_image=True, backend="cpu")
    assert np.array_equal(res.valid.cpu().numpy(), ref.valid)
    np.testing.assert_array_equal(res.depth_image.cpu().numpy(), ref.depth_image)


def test_deskew_on_device_matches_cpu() -> None:
    cupy = pytest.importorskip("cupy")
    from calibration.trajectory import Trajectory

    ts = np.array([0, 100_000, 200_000], np.int64)
    traj = Trajectory(ts, np.c_[ts * 1.5e-5, np.zeros(3), np.zeros(3)], np.tile([1.0, 0, 0, 0], (3, 1)))
    pts = _points(200_000)
    off = np.random.default_rng(1).integers(0, 100_000, pts.shape[0]).astype(np.int32)
    a = kernels.deskew(pts, off, timestamp_us=0, trajectory=traj)
    b = kernels.deskew(cupy.asarray(pts), cupy.asarray(off), timestamp_us=0, trajectory=traj)
    assert isinstance(b, cupy.ndarray)
    np.testing.assert_allclose(cupy.asnumpy(b), a, rtol=1e-5, atol=1e-5)
