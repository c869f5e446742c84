"""Angle wrapping and time-unit conversions (docs/CONVENTIONS.md §4–5).

Inside fusionlabel time is int64 microseconds and angles are radians wrapped to [-pi, pi). Foreign
seconds and nanoseconds are converted here, once, at the reader's boundary.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError

__all__ = ["ns_to_us", "seconds_to_us", "wrap_angle"]


def wrap_angle(angle: npt.ArrayLike) -> Any:
    """Wrap angles [rad] to [-pi, pi); a result that rounds to +pi is mapped onto -pi.

    Parameters
    ----------
    angle : float or ndarray
        Angles [rad].

    Returns
    -------
    float or ndarray of float64
        Wrapped angles, same shape.
    """
    a = np.asarray(angle, dtype=np.float64)
    out = np.mod(a + np.pi, 2.0 * np.pi) - np.pi
    out = np.where(out >= np.pi, out - 2.0 * np.pi, out)
    return float(out) if out.ndim == 0 else out


def seconds_to_us(t_s: npt.ArrayLike) -> Any:
    """Seconds (float) to int64 microseconds, rounded to the nearest µs (never truncated).

    Examples
    --------
    >>> seconds_to_us(1557539956.500022)
    1557539956500022
    """
    a = np.asarray(t_s, dtype=np.float64)
    if a.size and not np.isfinite(a).all():
        raise InvalidInputError(f"t_s must be finite seconds, got {a.ravel()[~np.isfinite(a.ravel())][0]!r}")
    out = np.rint(a * 1e6).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def ns_to_us(t_ns: npt.ArrayLike) -> Any:
    """Integer nanoseconds to int64 microseconds, rounding half up, in integer arithmetic (no float64).

    Examples
    --------
    >>> ns_to_us(1500), ns_to_us(-1500)
    (2, -1)
    """
    a = np.asarray(t_ns)
    if a.dtype.kind not in "iu":
        raise InvalidInputError(f"t_ns must be integer nanoseconds, got dtype {a.dtype}")
    out = (a.astype(np.int64) + 500) // 1000
    return int(out) if out.ndim == 0 else out
