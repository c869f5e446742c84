"""Backend choice and array placement for the public kernels.

Rules (one place for every kernel):

* ``backend="auto"``: NumPy (or CPU torch) inputs run on the CPU; inputs exposing
  ``__cuda_array_interface__`` (CuPy arrays, CUDA torch tensors, numba device arrays) run on the GPU
  and the results are allocated by the same library on the same device (nothing is copied back).
* ``backend="cuda"`` with host inputs copies them to the device and the results back to NumPy (used
  by the tests under numba's CUDA simulator). ``backend="cpu"`` with device inputs is an error.
* Device inputs are checked without copying: shape, dtype and C-contiguity from the interface,
  finiteness with a one-pass CUDA count.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.device import cuda_status
from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.validation import as_array

__all__ = ["Backend", "Placement", "cuda_interface", "place"]


class Backend(enum.Enum):
    """Where a kernel runs."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"

    @classmethod
    def parse(cls, value: str | Backend) -> Backend:
        """Parse ``"auto"``, ``"cpu"`` or ``"cuda"``, raising with the accepted names otherwise."""
        if isinstance(value, Backend):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown backend {value!r}; expected one of {[b.value for b in cls]}"
            ) from None


def cuda_interface(value: Any) -> dict[str, Any] | None:
    """The ``__cuda_array_interface__`` dict of ``value``, or None for host data.

    CPU torch tensors define the attribute but raise on access; they count as host data.
    """
    try:
        iface = value.__cuda_array_interface__
    except Exception:  # noqa: BLE001 - absent or refused: host data
        return None
    return iface if isinstance(iface, dict) else None


def _library(value: Any) -> str:
    module = type(value).__module__.split(".")[0]
    return module if module in ("cupy", "torch") else "numba"


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one call runs and where its results go.

    Attributes
    ----------
    backend : Backend
        ``CPU`` or ``CUDA`` (never ``AUTO``).
    on_device : bool
        The inputs already live on a CUDA device: results stay there.
    library : str
        ``"numpy"``, or the device library of the inputs: ``"cupy"``, ``"torch"`` or ``"numba"``.
    like : object
        One device input (to allocate results on the same device); None on the host.
    """

    backend: Backend
    on_device: bool
    library: str
    like: Any = None

    def host(self, name: str, value: Any, dtype: npt.DTypeLike, shape: Sequence[int | None]) -> Any:
        """Validate a data argument and return it ready for this backend's kernel.

        On the CPU: a C-contiguous NumPy array. On CUDA: a numba device array (a zero-copy view of a
        device input, or a copy of a host input).
        """
        if self.on_device:
            return _device_view(name, value, dtype, shape)
        arr = as_array(name, value, dtype, shape)
        if self.backend is Backend.CUDA:
            from numba import cuda

            return cuda.to_device(arr)
        return arr

    def small(self, value: npt.NDArray[Any]) -> Any:
        """A small host parameter array (transforms, intrinsics) ready for the kernel."""
        if self.backend is Backend.CUDA:
            from numba import cuda

            return cuda.to_device(np.ascontiguousarray(value))
        return value

    def empty(
        self, shape: tuple[int, ...], dtype: npt.DTypeLike, fill: float | None = None
    ) -> tuple[Any, Any]:
        """Allocate a result: ``(owner, kernel_view)``; the owner is what the caller gets back."""
        dt = np.dtype(dtype)
        if self.backend is Backend.CPU:
            arr = np.empty(shape, dt) if fill is None else np.full(shape, fill, dt)
            return arr, arr
        from numba import cuda

        if not self.on_device:
            host = np.empty(shape, dt) if fill is None else np.full(shape, fill, dt)
            dev = cuda.to_device(host) if fill is not None else cuda.device_array(shape, dt)
            return dev, dev
        if self.library == "cupy":
            import cupy

            owner = cupy.empty(shape, dt) if fill is None else cupy.full(shape, fill, dt)
        elif self.library == "torch":
            import torch

            tdt = getattr(torch, dt.name)
            owner = torch.empty(shape, dtype=tdt, device=self.like.device)
            if fill is not None:
                owner.fill_(fill)
        else:
            host = np.empty(shape, dt) if fill is None else np.full(shape, fill, dt)
            owner = cuda.to_device(host) if fill is not None else cuda.device_array(shape, dt)
            return owner, owner
        return owner, cuda.as_cuda_array(owner)

    def result(self, owner: Any) -> Any:
        """What the caller receives: device results stay put, host-input CUDA runs copy back."""
        if self.backend is Backend.CUDA and not self.on_device:
            return owner.copy_to_host()
        return owner


def place(backend: str | Backend, data: dict[str, Any]) -> Placement:
    """Choose the backend for a call from ``backend`` and where the data arguments live.

    Parameters
    ----------
    backend : {"auto", "cpu", "cuda"} or Backend
        Requested backend.
    data : dict of str to array
        The per-point arguments by name (device or host; all on the same side).

    Returns
    -------
    Placement
    """
    want = Backend.parse(backend)
    on_dev = {name: cuda_interface(v) is not None for name, v in data.items()}
    if any(on_dev.values()) and not all(on_dev.values()):
        dev = next(n for n, d in on_dev.items() if d)
        host = next(n for n, d in on_dev.items() if not d)
        raise InvalidInputError(f"{dev} lives on a CUDA device but {host} on the host; put both on one side")
    device = bool(on_dev) and all(on_dev.values())
    if device:
        if want is Backend.CPU:
            name = next(iter(data))
            raise InvalidInputError(f"{name} lives on a CUDA device; backend='cpu' needs host arrays")
        like = next(iter(data.values()))
        return Placement(Backend.CUDA, True, _library(like), like)
    if want is Backend.CUDA:
        if not cuda_status().available:
            raise InvalidInputError("backend='cuda' requested but no CUDA device (or simulator) is available")
        return Placement(Backend.CUDA, False, "numpy")
    return Placement(Backend.CPU, False, "numpy")


def _device_view(name: str, value: Any, dtype: npt.DTypeLike, shape: Sequence[int | None]) -> Any:
    """Check a device array against dtype/shape/contiguity/finiteness and return a numba view."""
    from numba import cuda

    from kernels.cuda import count_nonfinite, launch_config

    iface = cuda_interface(value)
    if iface is None:
        raise InvalidTypeError(
            f"{name} must be a CUDA array like the other inputs, got {type(value).__name__}"
        )
    want = np.dtype(dtype)
    got = np.dtype(iface["typestr"])
    if got != want:
        raise InvalidTypeError(f"{name} must have dtype {want} on the device, got {got} (convert it first)")
    dims = tuple(iface["shape"])
    if len(dims) != len(shape) or any(s is not None and s != d for s, d in zip(shape, dims, strict=True)):
        want_shape = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise InvalidInputError(f"{name} must have shape {want_shape}, got {dims}")
    strides = iface.get("strides")
    if strides is not None:
        expect = tuple(int(np.prod(dims[k + 1 :])) * got.itemsize for k in range(len(dims)))
        if tuple(strides) != expect and int(np.prod(dims)) > 1:
            raise InvalidInputError(
                f"{name} must be C-contiguous on the device, got strides {tuple(strides)}"
            )
    view = cuda.as_cuda_array(value)
    if want.kind == "f" and view.size:
        counter = cuda.to_device(np.zeros(1, np.int64))
        flat = view.reshape(view.size)
        count_nonfinite[launch_config(view.size)](flat, counter)
        bad = int(counter.copy_to_host()[0])
        if bad:
            raise InvalidInputError(f"{name} must be finite: {bad} NaN or infinite values on the device")
    return view
