"""Input checks shared by every public entry point (kernels, calibration, engine).

Each check names the argument and the offending value, so a caller reading the message knows what
to fix. Checks run once at the boundary; the kernels behind them trust their inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError, InvalidTypeError

__all__ = [
    "as_array",
    "check_finite",
    "check_rigid_transform",
    "check_sorted",
    "check_unit_quaternions",
    "describe_bad",
]


def describe_bad(values: npt.NDArray[Any], bad: npt.NDArray[np.bool_]) -> str:
    """Describe the first offending element of ``values`` flagged by the mask ``bad``.

    Parameters
    ----------
    values : ndarray
        The array that was checked.
    bad : ndarray of bool, same shape as ``values`` (or its leading dimensions)
        True where the check failed.

    Returns
    -------
    str
        ``"at index (i, j) value v (k offending)"``.
    """
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"at index {idx if len(idx) > 1 else idx[0]} value {values[idx]!r} ({int(bad.sum())} offending)"


def as_array(
    name: str,
    value: Any,
    dtype: npt.DTypeLike,
    shape: Sequence[int | None],
    *,
    finite: bool = True,
    cast: bool = True,
) -> npt.NDArray[Any]:
    """Return ``value`` as a C-contiguous array of ``dtype`` and ``shape``, or raise naming ``name``.

    Parameters
    ----------
    name : str
        Argument or field name used in error messages.
    value : array_like
        The input.
    dtype : dtype
        Required dtype. Integer inputs are accepted for float dtypes; floats are never silently
        truncated to integers.
    shape : sequence of int or None
        Required shape; ``None`` matches any length.
    finite : bool
        Reject NaN and infinities (float dtypes only).
    cast : bool
        Convert other numeric dtypes; when False a different dtype is an error.

    Returns
    -------
    ndarray
        The array; no copy when it already has the right dtype and layout (memory maps stay maps).
    """
    want = np.dtype(dtype)
    if value is None:
        raise InvalidTypeError(f"{name} is required, got None")
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise InvalidTypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.dtype != want:
        if not cast:
            raise InvalidTypeError(f"{name} must have dtype {want}, got {arr.dtype}")
        if want.kind in "iu" and arr.dtype.kind == "f":
            if arr.size and not np.all(np.isfinite(arr)):
                raise InvalidInputError(f"{name} must be finite integers, got non-finite values")
            if arr.size and not np.array_equal(arr, np.round(arr)):
                raise InvalidTypeError(f"{name} must hold integers, got non-integer floats")
        arr = arr.astype(want)
    if arr.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, arr.shape, strict=True)):
        want_shape = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise InvalidInputError(f"{name} must have shape {want_shape}, got {arr.shape}")
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    if finite and want.kind == "f":
        check_finite(name, arr)
    return arr


def check_finite(name: str, arr: npt.NDArray[Any]) -> None:
    """Raise when ``arr`` holds NaN or infinity, naming ``name`` and the first bad element."""
    if arr.size and not np.isfinite(arr).all():
        raise InvalidInputError(f"{name} must be finite: {describe_bad(arr, ~np.isfinite(arr))}")


def check_sorted(name: str, arr: npt.NDArray[Any], *, strict: bool = True) -> None:
    """Raise when the 1-D ``arr`` is not (strictly) increasing, naming the first step out of order."""
    if arr.size < 2:
        return
    step = np.diff(arr)
    bad = step <= 0 if strict else step < 0
    if bad.any():
        i = int(np.argmax(bad))
        kind = "strictly increasing" if strict else "non-decreasing"
        raise InvalidInputError(f"{name} must be {kind}: element {i + 1} ({arr[i + 1]!r}) follows {arr[i]!r}")


def check_unit_quaternions(name: str, q: npt.NDArray[np.float64], atol: float = 1e-6) -> None:
    """Raise when any row of the (..., 4) array ``q`` is not a unit quaternion within ``atol``."""
    norm = np.linalg.norm(q, axis=-1)
    bad = np.abs(norm - 1.0) > atol
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
        row = q[idx] if q.ndim > 1 else q
        raise InvalidInputError(
            f"{name} must hold unit quaternions (w, x, y, z): row {idx if q.ndim > 1 else 0} "
            f"= {np.asarray(row).tolist()} has norm {float(np.atleast_1d(norm)[idx]):.9g}"
        )


def check_poses(
    prefix: str, timestamps_us: Any, translations: Any, quaternions_wxyz: Any
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Validate a pose sequence once and return it as arrays.

    Parameters
    ----------
    prefix : str
        Prepended to the field names in errors (``"trajectory."`` gives ``trajectory.timestamps_us``).
    timestamps_us : array_like
        (T,) int64, strictly increasing [µs], T >= 1.
    translations : array_like
        (T, 3) float64, finite [m].
    quaternions_wxyz : array_like
        (T, 4) float64 unit quaternions (w, x, y, z).

    Returns
    -------
    tuple of ndarray
        ``(timestamps_us, translations, quaternions_wxyz)`` as int64 / float64 arrays.
    """
    t = as_array(f"{prefix}timestamps_us", timestamps_us, np.int64, (None,))
    if t.size == 0:
        raise InvalidInputError(f"{prefix}timestamps_us must hold at least one pose, got 0")
    check_sorted(f"{prefix}timestamps_us", t)
    p = as_array(f"{prefix}translations", translations, np.float64, (t.size, 3))
    q = as_array(f"{prefix}quaternions_wxyz", quaternions_wxyz, np.float64, (t.size, 4))
    check_unit_quaternions(f"{prefix}quaternions_wxyz", q)
    return t, p, q


def check_rigid_transform(name: str, matrix: npt.NDArray[np.float64], atol: float = 1e-6) -> None:
    """Raise unless the (4, 4) ``matrix`` is rigid: orthonormal rotation, det +1, last row 0 0 0 1."""
    rot = matrix[:3, :3]
    err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    if err > atol or np.linalg.det(rot) <= 0.0:
        raise InvalidInputError(
            f"{name} must be a rigid transform: rotation block is not orthonormal with det +1 "
            f"(|R^T R - I| = {err:.3g}, det = {float(np.linalg.det(rot)):.6g})"
        )
    if not np.array_equal(matrix[3], [0.0, 0.0, 0.0, 1.0]):
        raise InvalidInputError(f"{name} must have last row [0, 0, 0, 1], got {matrix[3].tolist()}")
