"""Which CUDA backends this process can use, found without ever raising.

The driver is probed first with ``ctypes`` (``cuInit`` + ``cuDeviceGetCount`` on ``libcuda.so.1``,
about 0.5 ms, no CUDA library import); CuPy, numba and torch are then asked separately inside
``try`` blocks because they can disagree (a CuPy wheel imports fine without a driver; numba's CUDA
simulator reports a device that does not exist).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
from dataclasses import dataclass

__all__ = ["CudaStatus", "cuda_status", "simulator_enabled"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CudaStatus:
    """What CUDA support this process has.

    Attributes
    ----------
    driver_devices : int
        Devices the CUDA driver reports (0 without a driver).
    simulator : bool
        numba's CUDA simulator is on (``NUMBA_ENABLE_CUDASIM=1``): CUDA kernels run, slowly, on the
        CPU. Counts as "CUDA available" for the kernels and their tests.
    numba_cuda : bool
        numba can launch CUDA kernels (a real device or the simulator).
    cupy : bool
        CuPy can allocate on a device.
    torch_cuda : bool
        ``torch.cuda.is_available()``.
    """

    driver_devices: int
    simulator: bool
    numba_cuda: bool
    cupy: bool
    torch_cuda: bool

    @property
    def available(self) -> bool:
        """True when the CUDA kernels can run (on a device or in the simulator)."""
        return self.numba_cuda


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is (or will be) on for this process."""
    try:
        from numba.core import config

        return bool(config.ENABLE_CUDASIM)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - never raise from detection
        return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"


def _driver_device_count() -> int:
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        if lib.cuInit(0) != 0 or lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return 0
        return int(count.value)
    except Exception:  # noqa: BLE001 - no driver, no device
        return 0


def _numba_cuda_ok(driver_devices: int, simulator: bool) -> bool:
    if simulator:
        return True
    if driver_devices == 0:
        return False
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception as exc:  # noqa: BLE001
        _log.debug("numba.cuda unavailable: %s", exc)
        return False


def _cupy_ok(driver_devices: int) -> bool:
    if driver_devices == 0:
        return False
    try:
        import cupy

        return bool(cupy.cuda.is_available())
    except Exception as exc:  # noqa: BLE001
        _log.debug("cupy unavailable: %s", exc)
        return False


def _torch_cuda_ok(driver_devices: int) -> bool:
    if driver_devices == 0:
        return False
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception as exc:  # noqa: BLE001
        _log.debug("torch.cuda unavailable: %s", exc)
        return False


@functools.cache
def cuda_status() -> CudaStatus:
    """Probe CUDA support once per process (never raises).

    Returns
    -------
    CudaStatus
        The driver's device count and what numba, CuPy and torch report.
    """
    devices = _driver_device_count()
    sim = simulator_enabled()
    return CudaStatus(
        driver_devices=devices,
        simulator=sim,
        numba_cuda=_numba_cuda_ok(devices, sim),
        cupy=_cupy_ok(devices),
        torch_cuda=_torch_cuda_ok(devices),
    )
