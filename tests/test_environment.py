"""Guards on the test environment itself."""

import ctypes

import numba


def _gpu_present() -> bool:
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    count = ctypes.c_int(0)
    return lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0


def test_cuda_simulator_is_on_without_a_gpu():
    """Regression: a pytest ``filterwarnings`` entry naming a numba class imported numba before
    tests/conftest.py set NUMBA_ENABLE_CUDASIM, so every CUDA simulator test skipped silently."""
    if not _gpu_present():
        assert numba.core.config.ENABLE_CUDASIM, "CUDA kernels would not be tested: simulator is off"
