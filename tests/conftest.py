"""Root test configuration.

* Without a CUDA driver, numba's CUDA simulator is switched on **before numba is imported**, so one
  pytest process runs the njit CPU kernels natively and the CUDA kernels in the simulator.
* ``pandaset_dir`` points at the real PandaSet excerpt in ``../shared`` and skips with a reason when absent;
  ``sample_dir`` is the small excerpt bundled in ``data/samples`` (always present).
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest


def _cuda_driver_present() -> bool:
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


HAS_GPU = _cuda_driver_present()
if not HAS_GPU:
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
os.environ.setdefault("NUMBA_THREADING_LAYER", "omp")

REPO = Path(__file__).resolve().parents[1]
SHARED_PANDASET = Path(
    os.environ.get("FUSIONLABEL_PANDASET", REPO.parent / "shared" / "data" / "pandaset_seq002")
)
SAMPLE_DIR = REPO / "data" / "samples" / "pandaset_seq002"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip tests marked ``gpu`` when no CUDA GPU exists, saying so."""
    if HAS_GPU:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU: no libcuda driver with a device on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def pandaset_dir() -> Path:
    """The full PandaSet excerpt (50 sweeps) from ../shared; skips when that folder is absent."""
    if not (SHARED_PANDASET / "lidar").is_dir():
        pytest.skip(
            f"PandaSet excerpt not found at {SHARED_PANDASET} (set FUSIONLABEL_PANDASET to point at it)"
        )
    return SHARED_PANDASET


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The bundled PandaSet sample in data/samples (a few sweeps, shipped with the repository)."""
    return SAMPLE_DIR
