"""Public projection: points into one camera, or N points into C cameras in one call.

Outputs per camera and point: pixel ``(u, v)``, ``depth`` (``z`` for brown_conrady, the range
``|X|`` for the other models, see :func:`kernels._math.camera.point_depth`) and ``valid`` = inside the
model's valid domain **and** inside the image (``0 <= u < width``, ``0 <= v < height``). Where
``valid`` is False, ``u``, ``v`` and ``depth`` are finite placeholders to ignore.

Precision: by default the arithmetic is float32 end to end (inputs and outputs are float32 anyway):
measured max error vs OpenCV's float64 ``projectPoints`` / ``fisheye.projectPoints`` <= 3.9e-4 px
in images up to 2000 px wide and 5.2e-4 px at 3000 px (budget 1e-3 px; ``tests/kernels/
test_projection_precision.py``). ``precision="float64"`` computes in double precision (about 1.5x
slower on the CPU). Either way the inputs are float32: points far from the origin (a UTM-scale
world frame) are already quantised (8 mm at 100 km), so project from a local frame.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from kernels._math import camera as cam_math
from kernels.dispatch import Backend, Placement, place
from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.motion import pack_rigid
from kernels.validation import as_array, check_finite

__all__ = [
    "CompactProjection",
    "DenseProjection",
    "KernelCamera",
    "Output",
    "Precision",
    "project_points",
    "project_to_cameras",
]


class KernelCamera(Protocol):
    """What the kernels need from a camera (``calibration.CameraModel`` satisfies it)."""

    @property
    def kernel_model_id(self) -> int:
        """Model id, one of :data:`kernels._math.camera.MODEL_IDS`."""

    @property
    def kernel_intrinsics(self) -> npt.NDArray[np.float64]:
        """Packed intrinsics, float64 (INTR_SIZE,), layout of :mod:`kernels._math.camera`."""


class Output(enum.Enum):
    """Shape of multi-camera results."""

    DENSE = "dense"
    """(C, N) arrays for every camera and point."""
    COMPACT = "compact"
    """Only the valid (camera, point) pairs."""

    @classmethod
    def parse(cls, value: str | Output) -> Output:
        """Parse ``"dense"`` or ``"compact"``, raising with the accepted names otherwise."""
        if isinstance(value, Output):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown output {value!r}; expected one of {[o.value for o in cls]}"
            ) from None


class Precision(enum.Enum):
    """Arithmetic precision of the projection kernels (inputs and outputs are float32 either way)."""

    SINGLE = "float32"
    """float32 arithmetic (default): <= ~5e-4 px vs float64 up to 3000 px images, fastest."""
    DOUBLE = "float64"
    """float64 arithmetic."""

    @classmethod
    def parse(cls, value: str | Precision) -> Precision:
        """Parse ``"float32"`` or ``"float64"``, raising with the accepted names otherwise."""
        if isinstance(value, Precision):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown precision {value!r}; expected one of {[p.value for p in cls]}"
            ) from None


def _kernel_real(values: npt.NDArray[np.float64], precision: Precision) -> npt.NDArray[Any]:
    """``values`` (..., K) as the kernels' arithmetic type, C-contiguous.

    For float32, intrinsics' monotonic limits (``I_MAX_R2``, ``I_MAX_THETA``) are rounded toward
    zero, so that no point beyond the float64 limit becomes valid by rounding.
    """
    if precision is Precision.DOUBLE:
        return np.ascontiguousarray(values, dtype=np.float64)
    out = np.ascontiguousarray(values, dtype=np.float32)
    if values.shape[-1] == cam_math.INTR_SIZE:
        for i in (cam_math.I_MAX_R2, cam_math.I_MAX_THETA):
            lim = out[..., i]
            up = lim.astype(np.float64) > values[..., i]
            lim[up] = np.nextafter(lim[up], np.float32(0))
    return out


@dataclass(frozen=True, slots=True)
class DenseProjection:
    """Every point in every camera (arrays on the device of the input points).

    Attributes
    ----------
    u, v : array of shape (C, N), float32 [px]
    depth : array of shape (C, N), float32 [m]
    valid : array of shape (C, N), bool
    depth_image : array of shape (C, H, W), float32 [m], or None
        Nearest ``depth`` per pixel ``(floor(v), floor(u))`` over valid points, +inf where none
        (``H``, ``W`` the largest image size; pixels beyond a smaller camera stay +inf).
    """

    u: Any
    v: Any
    depth: Any
    valid: Any
    depth_image: Any = None


@dataclass(frozen=True, slots=True)
class CompactProjection:
    """Only the valid (camera, point) pairs, ordered by camera then point.

    Attributes
    ----------
    camera_index : array of shape (K,), int64
    point_index : array of shape (K,), int64
    u, v, depth : array of shape (K,), float32
    depth_image : array of shape (C, H, W), float32, or None
        As in :class:`DenseProjection`.
    """

    camera_index: Any
    point_index: Any
    u: Any
    v: Any
    depth: Any
    depth_image: Any = None


def _camera_arrays(cameras: Sequence[KernelCamera]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    ids = np.empty(len(cameras), np.int64)
    intr = np.empty((len(cameras), cam_math.INTR_SIZE))
    for c, camera in enumerate(cameras):
        try:
            mid, k = camera.kernel_model_id, camera.kernel_intrinsics
        except AttributeError as exc:
            raise InvalidTypeError(
                f"cameras[{c}] must have kernel_model_id and kernel_intrinsics, got {type(camera).__name__}"
            ) from exc
        if (
            isinstance(mid, bool)
            or not isinstance(mid, int | np.integer)
            or int(mid) not in cam_math.MODEL_IDS
        ):
            raise InvalidInputError(
                f"cameras[{c}].kernel_model_id {mid!r} is not one of {cam_math.MODEL_IDS}"
            )
        k = np.asarray(k, dtype=np.float64)
        if k.shape != (cam_math.INTR_SIZE,) or np.isnan(k).any():
            raise InvalidInputError(
                f"cameras[{c}].kernel_intrinsics must be float64 ({cam_math.INTR_SIZE},) without NaN, "
                f"got shape {k.shape}"
            )
        w, h = k[cam_math.I_WIDTH], k[cam_math.I_HEIGHT]
        if not (np.isfinite(w) and np.isfinite(h) and w >= 1 and h >= 1):
            raise InvalidInputError(f"cameras[{c}] image size must be positive, got {w} x {h}")
        ids[c], intr[c] = int(mid), k
    return ids, intr


def _run(
    placement: Placement,
    points: Any,
    rts: Any,
    ids: Any,
    intr: Any,
    outs: tuple[Any, ...],
    precision: Precision,
) -> None:
    """Launch one projection kernel per camera model present."""
    n = points.shape[0]
    prec = precision.value
    rts, intr = _kernel_real(rts, precision), _kernel_real(intr, precision)
    if placement.backend is Backend.CPU:
        from kernels import cpu

        for mid in np.unique(ids):
            cams = np.flatnonzero(ids == mid).astype(np.int64)
            cpu.project_kernel(int(mid), prec)(points, rts, intr, cams, *outs)
        return
    from kernels import cuda

    d_rts, d_intr = placement.small(rts), placement.small(intr)
    for mid in np.unique(ids):
        cams = placement.small(np.flatnonzero(ids == mid).astype(np.int64))
        cuda.project_kernel(int(mid), prec)[cuda.launch_config(n)](points, d_rts, d_intr, cams, *outs)


def _depth_image(placement: Placement, intr: Any, outs: tuple[Any, ...]) -> Any:
    sizes = np.ceil(intr[:, [cam_math.I_WIDTH, cam_math.I_HEIGHT]]).astype(np.int64)
    shape = (intr.shape[0], int(sizes[:, 1].max()), int(sizes[:, 0].max()))
    owner, buf = placement.empty(shape, np.float32, fill=np.inf)
    if placement.backend is Backend.CPU:
        from kernels import cpu

        cpu.depth_buffer(*outs, sizes, buf)
    else:
        from kernels import cuda

        cuda.depth_buffer[cuda.launch_config(outs[0].size)](*outs, placement.small(sizes), buf)
    return placement.result(owner)


def project_to_cameras(
    points: Any,
    cameras: Sequence[KernelCamera],
    camera_from_points: Any,
    *,
    output: str | Output = "dense",
    depth_image: bool = False,
    precision: str | Precision = "float32",
    backend: str | Backend = "auto",
) -> DenseProjection | CompactProjection:
    """Project N points into C cameras in one call.

    Parameters
    ----------
    points : array of shape (N, 3), float32 [m]
        Points in a common frame (ego or world); NumPy, or a CUDA array to run on the GPU.
    cameras : sequence of KernelCamera
        Camera models (any object with ``kernel_model_id`` and ``kernel_intrinsics``).
    camera_from_points : array_like of shape (C, 4, 4), float64
        Rigid transform from the points' frame into each camera's optical frame (see
        :func:`kernels.camera_from_points_at` to include each camera's capture time).
    output : {"dense", "compact"}
        All (C, N) results, or only the valid pairs.
    depth_image : bool
        Also return the nearest depth per pixel of every camera.
    precision : {"float32", "float64"}
        Arithmetic precision (see :class:`Precision`; float32 meets 1e-3 px).
    backend : {"auto", "cpu", "cuda"}
        Where to run (see :mod:`kernels.dispatch`).

    Returns
    -------
    DenseProjection or CompactProjection
    """
    mode = Output.parse(output)
    prec = Precision.parse(precision)
    if isinstance(cameras, str) or not isinstance(cameras, Sequence):
        raise InvalidTypeError(f"cameras must be a sequence of cameras, got {type(cameras).__name__}")
    placement = place(backend, {"points": points})
    pts = placement.host("points", points, np.float32, (None, 3))
    ids, intr = _camera_arrays(cameras)
    rts = pack_rigid("camera_from_points", camera_from_points, len(cameras))
    n, c = pts.shape[0], len(cameras)
    owners, outs = zip(
        *(placement.empty((c, n), dt) for dt in (np.float32, np.float32, np.float32, np.bool_)), strict=True
    )
    if n and c:
        _run(placement, pts, rts, ids, intr, outs, prec)
    image = _depth_image(placement, intr, outs) if depth_image and c else None
    u, v, depth, valid = (placement.result(o) for o in owners)
    if mode is Output.DENSE:
        return DenseProjection(u, v, depth, valid, image)
    cam_i, pt_i = _nonzero(placement, valid)
    return CompactProjection(cam_i, pt_i, u[cam_i, pt_i], v[cam_i, pt_i], depth[cam_i, pt_i], image)


def _nonzero(placement: Placement, valid: Any) -> tuple[Any, Any]:
    if placement.on_device and placement.library == "torch":
        import torch

        idx = torch.nonzero(valid, as_tuple=True)
        return idx[0], idx[1]
    if placement.on_device and placement.library == "cupy":
        import cupy

        return cupy.nonzero(valid)  # type: ignore[no-any-return]
    host = valid if isinstance(valid, np.ndarray) else valid.copy_to_host()
    cam_i, pt_i = np.nonzero(host)
    return cam_i.astype(np.int64), pt_i.astype(np.int64)


def project_points(
    points: Any,
    camera: KernelCamera,
    *,
    precision: str | Precision = "float32",
    backend: str | Backend = "auto",
) -> tuple[Any, Any, Any]:
    """Project points given in one camera's optical frame.

    Parameters
    ----------
    points : array of shape (N, 3), float32, camera optical frame (x right, y down, z forward) [m]
        NumPy, or a CUDA array (CuPy, torch) to run on the GPU.
    camera : KernelCamera
        The camera model (e.g. from ``calibration.camera_from_opencv``).
    precision : {"float32", "float64"}
        Arithmetic precision (see :class:`Precision`; float32 meets 1e-3 px).
    backend : {"auto", "cpu", "cuda"}
        Where to run (see :mod:`kernels.dispatch`).

    Returns
    -------
    uv : array of shape (N, 2), float32 [px]
    depth : array of shape (N,), float32 [m]
    valid : array of shape (N,), bool
        In the model's valid domain and inside the image.

    See Also
    --------
    project_to_cameras : many cameras, with extrinsics, in one call.
    """
    prec = Precision.parse(precision)
    placement = place(backend, {"points": points})
    if placement.backend is Backend.CPU:
        return _project_rows_cpu(points, camera, prec)
    res = project_to_cameras(points, [camera], np.eye(4)[None], precision=prec, backend=backend)
    if not isinstance(res, DenseProjection):  # pragma: no cover - dense is the default output
        raise TypeError("project_to_cameras returned compact output")
    if _is_torch(res.u):
        import torch

        return torch.stack((res.u[0], res.v[0]), dim=1), res.depth[0], res.valid[0]
    if _library_of(res.u) == "numba":  # plain numba device arrays: interleave on the host
        from numba import cuda

        uv_host = np.stack((res.u.copy_to_host()[0], res.v.copy_to_host()[0]), axis=1)
        return cuda.to_device(uv_host), res.depth[0], res.valid[0]
    xp = _array_module(res.u)
    uv = xp.empty((res.u.shape[1], 2), np.float32)
    uv[:, 0] = res.u[0]
    uv[:, 1] = res.v[0]
    return uv, res.depth[0], res.valid[0]


def _project_rows_cpu(
    points: Any, camera: KernelCamera, precision: Precision
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """One camera on the CPU: fused kernel over ``(N, 3)`` rows, finiteness checked inside it."""
    from kernels import cpu

    pts = as_array("points", points, np.float32, (None, 3), finite=False)
    ids, intr = _camera_arrays([camera])
    n = pts.shape[0]
    uv = np.empty((n, 2), np.float32)
    depth = np.empty(n, np.float32)
    valid = np.empty(n, np.bool_)
    kernel = cpu.project_rows_kernel(int(ids[0]), precision.value)
    if n and kernel(pts, _kernel_real(intr[0], precision), uv, depth, valid):
        check_finite("points", pts)  # raises, naming the first offending element
    return uv, depth, valid


def _library_of(value: Any) -> str:
    return type(value).__module__.split(".")[0]


def _is_torch(value: Any) -> bool:
    return _library_of(value) == "torch"


def _array_module(value: Any) -> Any:
    if type(value).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np
