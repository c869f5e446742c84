"""Fixtures for the kernel tests: a backend fixture running the same assertions on CPU and CUDA.

Without a GPU the root conftest switches numba's CUDA simulator on, so ``"cuda"`` runs the real CUDA
kernels in the simulator (slow: keep inputs to a few thousand points).
"""

from __future__ import annotations

import pytest

from kernels.device import cuda_status


@pytest.fixture(params=["cpu", "cuda"])
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend in turn; CUDA runs in numba's simulator when no GPU is present."""
    if request.param == "cuda" and not cuda_status().available:
        pytest.skip("no CUDA device and numba's CUDA simulator is off")
    return str(request.param)
