"""The compiled ICP of the motion snap (tracking._icp) against its NumPy + kd-tree reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from calibration.se3 import quat_wxyz_to_yaw
from engine import open_log
from engine.service import PoseFrame
from engine.tracks import sweep_points
from tracking import _icp
from tracking.snap_motion import (
    MotionSnapConfig,
    Registration,
    _local,
    _normals,
    _register,
    _register_reference,
    _Target,
)

CFG = MotionSnapConfig()


def _both(src: np.ndarray, dst: np.ndarray, cfg: MotionSnapConfig = CFG) -> tuple[Registration, Registration]:
    target = _Target.of(np.ascontiguousarray(dst, dtype=np.float64), cfg)
    fast = _register(np.ascontiguousarray(src, dtype=np.float64), target, cfg)
    ref = _register_reference(
        src.astype(np.float64), target.points, cKDTree(target.points), target.normals, cfg
    )
    return fast, ref


def _assert_same(fast: Registration, ref: Registration, atol: float = 1e-9) -> None:
    """Equal up to summation order (``atol`` on the move; ill-conditioned random sets amplify rounding)."""
    np.testing.assert_allclose(fast.move, ref.move, rtol=0, atol=atol)
    np.testing.assert_allclose(fast.information, ref.information, rtol=1e-9, atol=1e-12)
    assert fast.inlier_fraction == pytest.approx(ref.inlier_fraction, abs=1e-12)
    if np.isfinite(ref.rms_m):
        assert fast.rms_m == pytest.approx(ref.rms_m, rel=1e-9, abs=1e-12)
    else:
        assert not np.isfinite(fast.rms_m)


def _car_surface(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rear, side and roof of a 4.6 x 1.9 x 1.6 m box in its frame, 1 cm noise."""
    k = max(n // 3, 1)
    rear = np.column_stack([np.full(k, -2.25), rng.uniform(-0.9, 0.9, k), rng.uniform(-0.6, 0.7, k)])
    side = np.column_stack([rng.uniform(-2.3, 2.3, k), np.full(k, 0.9), rng.uniform(-0.6, 0.6, k)])
    roof = np.column_stack([rng.uniform(-1.0, 1.0, k), rng.uniform(-0.8, 0.8, k), np.full(k, 0.8)])
    pts = np.concatenate([rear, side, roof])
    return pts + rng.normal(0.0, 0.01, pts.shape)


def _moved(pts: np.ndarray, dx: float, dy: float, dz: float, dyaw: float) -> np.ndarray:
    c, s = np.cos(dyaw), np.sin(dyaw)
    return pts @ np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) + [dx, dy, dz]


@pytest.mark.parametrize("seed", range(6))
def test_same_registration_as_the_reference_on_car_surfaces(seed: int) -> None:
    rng = np.random.default_rng(seed)
    dst = _car_surface(rng, int(rng.integers(30, 1500)))
    src = _moved(_car_surface(rng, int(rng.integers(30, 1500))), *rng.normal(0, [0.1, 0.1, 0.03, 0.03]))
    fast, ref = _both(src, dst)
    assert np.isfinite(ref.rms_m)
    _assert_same(fast, ref)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n_src=st.integers(3, 60),
    n_dst=st.integers(3, 60),
    spread=st.floats(0.05, 3.0),
    offset=st.floats(-1.0, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_same_registration_on_small_random_sets(
    n_src: int, n_dst: int, spread: float, offset: float, seed: int
) -> None:
    """Few points, sets barely overlapping or not at all (then both fail the same way).

    Random clouds give nearly singular normal equations (the solve is regularised by 1e-9), where a
    different summation order moves the result by up to ~1e-8 m: compared at 1e-6.
    """
    rng = np.random.default_rng(seed)
    dst = rng.uniform(-spread, spread, (n_dst, 3))
    src = rng.uniform(-spread, spread, (n_src, 3)) + [offset, 0.0, 0.0]
    fast, ref = _both(src, dst)
    _assert_same(fast, ref, atol=1e-6)


def test_exact_duplicate_target_points_tie_without_changing_the_result() -> None:
    """Duplicated target points (same normal) are equidistant: either index gives the same residual."""
    rng = np.random.default_rng(11)
    dst = _car_surface(rng, 300)
    dst = np.concatenate([dst, dst[::3]])
    src = _moved(_car_surface(rng, 300), 0.05, -0.02, 0.0, 0.01)
    fast, ref = _both(src, dst)
    _assert_same(fast, ref)


def test_grid_holds_every_point_once_in_its_cell() -> None:
    rng = np.random.default_rng(2)
    pts = rng.uniform(-3, 3, (500, 3))
    lo, dims, start, order = _icp.grid_build(pts, 0.5)
    assert start[-1] == 500 and np.array_equal(np.sort(order), np.arange(500))
    cells = np.minimum(((pts - lo) / 0.5).astype(np.int64), dims - 1)
    keys = (cells[:, 0] * dims[1] + cells[:, 1]) * dims[2] + cells[:, 2]
    for k in np.unique(keys):
        assert np.array_equal(order[start[k] : start[k + 1]], np.flatnonzero(keys == k))


def test_far_flung_target_falls_back_to_the_reference() -> None:
    """A grid over kilometres would be too large: the kd-tree reference runs instead, same answer."""
    rng = np.random.default_rng(5)
    dst = _car_surface(rng, 200)
    dst[0] = [5000.0, -5000.0, 300.0]  # one stray point stretches the grid beyond MAX_CELLS
    target = _Target.of(dst, CFG)
    assert target.grid[2].shape[0] == 0
    src = _moved(_car_surface(rng, 200), 0.05, 0.0, 0.0, 0.0)
    fast = _register(src, target, CFG)
    ref = _register_reference(src, dst, cKDTree(dst), _normals(dst, CFG.normal_neighbours), CFG)
    _assert_same(fast, ref)


def test_same_registration_on_real_pandaset_objects(sample_dir: Path) -> None:
    """Every labelled object with >= 30 points in two consecutive sweeps of the bundled excerpt."""
    log = open_log(sample_dir)
    lidar = next(iter(log.lidar))
    times = log.lidar[lidar].timestamps_us
    clouds = [sweep_points(log, lidar, i, PoseFrame.WORLD).astype(np.float64) for i in range(2)]
    compared = 0
    for track in log.annotations.tracks:
        at = [np.flatnonzero(track.timestamps_us == t) for t in times[:2]]
        if any(a.size == 0 for a in at):
            continue
        local = []
        for cloud, a in zip(clouds, at, strict=True):
            yaw = quat_wxyz_to_yaw(track.rotations_wxyz[a[0]])
            local.append(_local(track.centers[a[0]], float(yaw), track.sizes[a[0]], cloud, CFG))
        if min(p.shape[0] for p in local) < 30:
            continue
        fast, ref = _both(local[1], local[0])
        _assert_same(fast, ref)
        compared += 1
    assert compared >= 10


def _angle_to(n: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Angle [rad] between unit normals, up to sign."""
    return np.arccos(np.clip(np.abs(np.einsum("ij,ij->i", n, ref)), 0.0, 1.0))


@pytest.mark.parametrize("seed", range(4))
def test_normals_match_the_eigh_reference_on_surfaces(seed: int) -> None:
    """Neighbourhoods on a car surface (well-defined planes): same normals as kd-tree + eigh."""
    rng = np.random.default_rng(seed)
    pts = _car_surface(rng, int(rng.integers(50, 1500)))
    target = _Target.of(pts, CFG)
    ref = _normals(target.points, CFG.normal_neighbours)
    np.testing.assert_allclose(np.linalg.norm(target.normals, axis=1), 1.0, atol=1e-12)
    # where the smallest eigenvalue is well separated the normal is defined; there it must agree
    k = min(CFG.normal_neighbours, pts.shape[0])
    _, idx = cKDTree(target.points).query(target.points, k=k)
    nb = target.points[idx] - target.points[idx].mean(axis=1, keepdims=True)
    lam = np.linalg.eigvalsh(np.einsum("nki,nkj->nij", nb, nb))
    defined = lam[:, 1] > 1e-3 * lam[:, 2] + 10 * lam[:, 0]
    assert defined.mean() > 0.5
    assert _angle_to(target.normals[defined], ref[defined]).max() < 1e-6


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 80),
    spread=st.floats(0.01, 5.0),
    k=st.integers(1, 12),
    seed=st.integers(0, 2**31 - 1),
)
def test_k_nearest_equal_the_kd_tree(n: int, spread: float, k: int, seed: int) -> None:
    """The ring search returns cKDTree's k nearest distances (cells smaller and larger than the cloud)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-spread, spread, (n, 3))
    queries = rng.uniform(-2 * spread, 2 * spread, (20, 3))
    k = min(k, n)
    for cell in (0.1, 1.0):
        grid = _icp.grid_build(pts, cell)
        want = cKDTree(pts).query(queries, k=k)[0].reshape(len(queries), k)
        for q, w in zip(queries, want, strict=True):
            best_d, best_j = np.empty(k), np.empty(k, np.int64)
            _icp._knn(q[0], q[1], q[2], pts, grid, cell, np.inf, best_d, best_j, False)
            np.testing.assert_allclose(np.sqrt(best_d), w, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(np.linalg.norm(pts[best_j] - q, axis=1), w, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(values=st.lists(st.floats(-10, 10), min_size=6, max_size=6))
def test_least_axis_is_an_eigenvector_of_the_smallest_eigenvalue(values: list[float]) -> None:
    a00, a01, a02, a11, a12, a22 = values
    a = np.array([[a00, a01, a02], [a01, a11, a12], [a02, a12, a22]])
    v = np.array(_icp._least_axis(a00, a01, a02, a11, a12, a22))
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-12)
    lam = np.linalg.eigvalsh(a)
    scale = max(np.abs(a).max(), 1e-300)
    # a v = λ_min v up to rounding relative to the matrix's scale (any unit vector when isotropic)
    if np.abs(a).max() == 0.0 or lam[2] - lam[0] < 1e-9 * scale:
        return
    assert np.linalg.norm(a @ v - lam[0] * v) < 1e-7 * scale * max(1.0, scale / (lam[1] - lam[0] + 1e-300))
