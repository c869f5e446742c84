"""GPU detection never raises, and the simulator counts as a CUDA backend for tests."""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels import device
from kernels.dispatch import Backend, place
from kernels.errors import InvalidInputError


def test_cuda_status_is_consistent() -> None:
    status = kernels.cuda_status()
    assert status.driver_devices >= 0
    if status.simulator:
        assert status.available
    if status.driver_devices == 0:
        assert not status.cupy and not status.torch_cuda
        assert status.available == status.simulator


def test_driver_probe_without_library_returns_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(device.ctypes, "CDLL", missing)
    assert device._driver_device_count() == 0


def test_placement_rules() -> None:
    pts = np.zeros((3, 3), np.float32)
    assert place("auto", {"points": pts}).backend is Backend.CPU
    assert place("cpu", {"points": pts}).backend is Backend.CPU
    if kernels.cuda_status().available:
        p = place("cuda", {"points": pts})
        assert p.backend is Backend.CUDA and not p.on_device


def test_torch_cpu_tensors_are_host_data() -> None:
    torch = pytest.importorskip("torch")
    pts = torch.zeros((5, 3), dtype=torch.float32)
    cam = __import__("calibration.camera_examples", fromlist=["x"]).example_cameras()["fisheye"]
    uv, depth, valid = kernels.project_points(pts, cam)
    assert isinstance(uv, np.ndarray) and uv.shape == (5, 2)


def test_device_arrays_with_cpu_backend_are_refused() -> None:
    class FakeDevice:
        __cuda_array_interface__ = {"shape": (2, 3), "typestr": "<f4", "data": (0, False), "version": 3}

    with pytest.raises(InvalidInputError, match="points lives on a CUDA device; backend='cpu'"):
        place("cpu", {"points": FakeDevice()})
    with pytest.raises(
        InvalidInputError, match="points lives on a CUDA device but time_offset_us on the host"
    ):
        place("auto", {"points": FakeDevice(), "time_offset_us": np.zeros(2)})
