"""Shared helpers of the kernel tests (imported by name: tests/kernels is on sys.path)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.trajectory import Trajectory


def random_trajectory(rng: np.random.Generator, count: int = 12, step_us: int = 50_000) -> Trajectory:
    """A wiggly ``world_from_ego`` trajectory with yaw, pitch and roll, starting at t = 1 s."""
    ts = 1_000_000 + np.arange(count, dtype=np.int64) * step_us
    angles = np.cumsum(rng.normal(0.0, [0.08, 0.02, 0.02], (count, 3)), axis=0)
    quat = Rotation.from_euler("zyx", angles).as_quat()[:, [3, 0, 1, 2]]
    trans = np.cumsum(rng.normal(0.0, 0.7, (count, 3)), axis=0) + [120.0, -40.0, 3.0]
    return Trajectory(ts, trans, quat)


def rigid(rng: np.random.Generator, scale: float = 2.0) -> np.ndarray:
    """A random rigid 4x4 transform."""
    m = np.eye(4)
    m[:3, :3] = Rotation.random(random_state=int(rng.integers(1 << 31))).as_matrix()
    m[:3, 3] = rng.normal(0.0, scale, 3)
    return m
