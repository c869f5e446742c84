"""The footprint kernel against a slow NumPy oracle (float64 camera reference), on CPU and CUDA."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.camera import CameraModel
from calibration.se3 import OPTICAL_FROM_FORWARD
from kernels.device import cuda_status
from kernels.errors import InvalidInputError
from kernels.footprint import FLAG_CLIPPED, FLAG_FACING, FLAG_IN_IMAGE, FLAG_VALID, sample_footprints

# Optical frame of a camera looking along +x of a z-up frame: x right = -y, y down = -z, z fwd = +x.
_LOOK_X = np.eye(4)
_LOOK_X[:3, :3] = OPTICAL_FROM_FORWARD

PINHOLE = CameraModel(
    "brown_conrady", 640, 480, 500.0, 500.0, 320.0, 240.0, 0.0, (-0.06, 0.012, 0, 0, 0, 0, 0, 0)
)
FISHEYE = CameraModel("fisheye", 640, 480, 185.0, 185.0, 320.0, 240.0, 0.0, (0.02, -0.004, 0.0005, -3e-05))


def _unit_edges(k: int) -> np.ndarray:
    out = []
    for e in range(12):
        axis, j = divmod(e, 4)
        s1, s2 = 2.0 * (j & 1) - 1.0, 2.0 * ((j >> 1) & 1) - 1.0
        for i in range(k):
            a = 2.0 * i / (k - 1) - 1.0
            p = [s1, s2]
            p.insert(axis, a)
            out.append(p)
    return np.array(out)


def _oracle(box: np.ndarray, cam: CameraModel, m: np.ndarray, k: int, near: float) -> tuple[np.ndarray, ...]:
    """Edge samples of one box: (uv, valid, clipped) with the same clipping rule, in NumPy float64."""
    c, s = np.cos(box[6]), np.sin(box[6])
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])

    def at(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = (unit * box[3:6] / 2) @ rot.T + box[:3]
        pc = p @ m[:3, :3].T + m[:3, 3]
        uv, depth, ok = cam.project(pc)
        return uv, ok & (depth >= near)

    unit = _unit_edges(k)
    uv, ok = at(unit)
    clipped = np.zeros(len(unit), bool)
    uv_out = uv.copy()
    for i in np.flatnonzero(~ok):
        e, j = divmod(i, k)
        good = None
        for n in (j - 1, j + 1):
            if 0 <= n < k and ok[e * k + n]:
                good = n / (k - 1)
                break
        if good is None:
            continue
        bad = j / (k - 1)
        axis = e // 4
        for _ in range(40):
            mid = 0.5 * (good + bad)
            u = unit[i].copy()
            u[axis] = 2 * mid - 1
            if at(u[None])[1][0]:
                good = mid
            else:
                bad = mid
        u = unit[i].copy()
        u[axis] = 2 * good - 1
        uv_out[i] = at(u[None])[0][0]
        clipped[i] = True
    return uv_out, ok | clipped, clipped


@pytest.mark.parametrize("cam", [PINHOLE, FISHEYE], ids=["pinhole", "fisheye"])
def test_edges_match_numpy_oracle(cam: CameraModel) -> None:
    rng = np.random.default_rng(3)
    boxes = np.column_stack(
        [
            rng.uniform(-2, 12, 6),
            rng.uniform(-6, 6, 6),
            rng.uniform(-1, 1, 6),
            rng.uniform(2, 5, 6),
            rng.uniform(1.5, 2.5, 6),
            rng.uniform(1.2, 2, 6),
            rng.uniform(-3, 3, 6),
        ]
    ).astype(np.float32)
    k = 9
    res = sample_footprints(boxes, [cam], _LOOK_X[None], np.zeros(6, np.int64), edge_samples=k, face_grid=2)
    n_e = 12 * k
    for j in range(6):
        uv, valid, clipped = _oracle(boxes[j].astype(np.float64), cam, _LOOK_X, k, 0.1)
        flags = res.flags[j, :n_e]
        np.testing.assert_array_equal((flags & FLAG_VALID) > 0, valid)
        np.testing.assert_array_equal((flags & FLAG_CLIPPED) > 0, clipped)
        plain = valid & ~clipped
        got = np.column_stack([res.u[j, :n_e], res.v[j, :n_e]])
        np.testing.assert_allclose(got[plain], uv[plain], atol=2e-3, rtol=1e-5)
        # clipped samples sit on the near limit (pinhole: z = near; fisheye: range = near)
        if clipped.any():
            np.testing.assert_allclose(res.depth[j, :n_e][clipped], 0.1, atol=1e-4)


def test_pinhole_box_straddling_the_camera_is_clipped_at_the_near_plane() -> None:
    box = np.array([[1.0, 0.0, 0.0, 6.0, 2.0, 1.5, 0.0]], np.float32)  # spans x in [-2, 4]
    res = sample_footprints(box, [PINHOLE], _LOOK_X[None], [0], edge_samples=16, face_grid=3)
    flags = res.flags[0]
    assert ((flags & FLAG_CLIPPED) > 0).sum() == 4  # each length edge crosses the near plane once
    z = res.points_cam[0, :, 2]
    assert np.all(z[(flags & FLAG_VALID) > 0] >= 0.1 - 1e-5)
    assert ((flags & FLAG_IN_IMAGE) > 0).any()


def test_fisheye_edges_curve() -> None:
    """A long wall-like box beside a fisheye: the projected straight edge bows away from its chord."""
    box = np.array([[0.0, 0.0, 4.0, 1.0, 12.0, 0.5, 0.0]], np.float32)  # long along y, 4 m ahead
    res = sample_footprints(box, [FISHEYE], _LOOK_X[None], [0], edge_samples=25, face_grid=1)
    edge = 4 + 2  # an edge along box y (axis 1)
    u, v = res.u[0, edge * 25 : edge * 25 + 25], res.v[0, edge * 25 : edge * 25 + 25]
    p0, p1 = np.array([u[0], v[0]]), np.array([u[-1], v[-1]])
    d = p1 - p0
    dist = np.abs(d[0] * (v - p0[1]) - d[1] * (u - p0[0])) / np.linalg.norm(d)
    assert dist.max() > 10.0  # px off the straight chord


def test_facing_faces() -> None:
    box = np.array([[10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0]], np.float32)
    res = sample_footprints(box, [PINHOLE], _LOOK_X[None], [0], edge_samples=2, face_grid=1)
    facing = (res.flags[0, 24:] & FLAG_FACING) > 0
    # faces -x, +x, -y, +y, -z, +z; the camera (origin) lies within the box's y and z extents: only -x
    np.testing.assert_array_equal(facing, [True, False, False, False, False, False])


def test_bad_inputs_name_the_argument() -> None:
    box = np.zeros((1, 7), np.float32)
    with pytest.raises(InvalidInputError, match="camera_index"):
        sample_footprints(box, [PINHOLE], _LOOK_X[None], [1])
    with pytest.raises(InvalidInputError, match="edge_samples"):
        sample_footprints(box, [PINHOLE], _LOOK_X[None], [0], edge_samples=1)
    with pytest.raises(InvalidInputError, match="near_m"):
        sample_footprints(box, [PINHOLE], _LOOK_X[None], [0], near_m=0.0)
    with pytest.raises(InvalidInputError, match="boxes"):
        sample_footprints(np.full((1, 7), np.nan, np.float32), [PINHOLE], _LOOK_X[None], [0])


@pytest.mark.skipif(not cuda_status().available, reason="no CUDA device and the CUDA simulator is off")
def test_cuda_matches_cpu() -> None:
    rng = np.random.default_rng(5)
    boxes = np.column_stack(
        [
            rng.uniform(-1, 10, 3),
            rng.uniform(-4, 4, 3),
            rng.uniform(-1, 1, 3),
            np.full(3, 4.0),
            np.full(3, 2.0),
            np.full(3, 1.5),
            rng.uniform(-3, 3, 3),
        ]
    ).astype(np.float32)
    mats = np.stack([_LOOK_X, _LOOK_X])
    idx = np.array([0, 1, 1])
    kw = {"edge_samples": 4, "face_grid": 1}
    cpu = sample_footprints(boxes, [PINHOLE, FISHEYE], mats, idx, backend="cpu", **kw)
    gpu = sample_footprints(boxes, [PINHOLE, FISHEYE], mats, idx, backend="cuda", **kw)
    np.testing.assert_array_equal(gpu.flags, cpu.flags)
    ok = (cpu.flags & FLAG_VALID) > 0
    np.testing.assert_allclose(gpu.u[ok], cpu.u[ok], atol=1e-3)
    np.testing.assert_allclose(gpu.points_cam, cpu.points_cam, atol=1e-5)
