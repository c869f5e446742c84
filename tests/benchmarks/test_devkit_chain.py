"""The nuScenes devkit's own chain (benchmarks/devkit_chain.py, in its venv) does our NumPy chain's job."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.bench_shared_frame import devkit_chain_time, devkit_python, nuscenes_chain, rig


@pytest.mark.skipif(
    devkit_python() is None,
    reason=".venv-nuscenes missing (the devkit pins numpy<2; `make nuscenes-devkit` creates it)",
)
def test_devkit_chain_keeps_the_same_points_as_the_numpy_chain() -> None:
    """Four non-trivial transforms, one pinhole camera: same points kept, same pixels (float32 storage)."""
    rng = np.random.default_rng(3)
    points = (rng.normal(size=(4000, 3)) * [25.0, 25.0, 2.0]).astype(np.float32)
    cams, cam_from_ego = rig(1, rng)
    cam = cams[0]
    yaw = 0.4
    turn = np.eye(4)
    turn[:2, :2] = [[np.cos(yaw), -np.sin(yaw)], [np.sin(yaw), np.cos(yaw)]]
    turn[:3, 3] = [3.0, -1.0, 0.5]
    back = np.linalg.inv(turn)
    mats = [np.eye(4), turn, back, cam_from_ego[0]]
    got = devkit_chain_time(points, mats, cam.K, cam.width, cam.height, repeat=2)
    assert not isinstance(got, str), got
    timing, facts = got
    assert timing.best > 0
    uv, _, mask = nuscenes_chain(points, mats, cam.K, cam.width, cam.height)
    assert facts["kept"] == int(mask.sum()) > 100
    ours = uv[:, mask].sum(axis=1)
    np.testing.assert_allclose(facts["uv_sum"], ours, rtol=1e-5)
