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


#: Head of every PTX script: skip without NVVM, then the numba types the signatures use.
_PTX_PREAMBLE = """
import sys
from numba import cuda
try:
    from numba.cuda.cudadrv import nvvm
    nvvm.NVVM()
except Exception as exc:  # no NVVM: report and let the test skip
    print("NO_NVVM", exc)
    sys.exit(0)
import numba
f32, f64, i32, i64, u8, u64, b1 = (
    numba.float32, numba.float64, numba.int32, numba.int64, numba.uint8, numba.uint64, numba.boolean
)
A = lambda t, n: numba.types.Array(t, n, "C")
"""


def run_ptx_script(body: str) -> None:
    """Run ``body`` (``cuda.compile_ptx`` calls ending in ``print("PTX_OK")``) with the real CUDA target.

    In a fresh interpreter with the simulator off (no GPU is needed to compile, NVVM is); skips the
    calling test when NVVM is not installed.
    """
    import os
    import subprocess
    import sys
    import textwrap

    import pytest

    script = _PTX_PREAMBLE + textwrap.dedent(body)
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=root, capture_output=True, text=True, timeout=600
    )
    if "NO_NVVM" in proc.stdout:
        pytest.skip(f"NVVM not installed (pip install 'numba-cuda[cu12]'): {proc.stdout.strip()[:200]}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PTX_OK" in proc.stdout
