"""Angle wrapping and time-unit conversions (docs/CONVENTIONS.md §4–5).

Inside fusionlabel time is int64 microseconds and angles are radians wrapped to [-pi, pi). Foreign
seconds and nanoseconds are converted here, once, at the reader's boundary.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
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


def seconds_to_us(t_s: npt.ArrayLike | str | Decimal) -> Any:
    """Seconds to int64 microseconds, rounded to the nearest µs (never truncated).

    Floats (scalars or arrays) are rounded with ``rint``. Decimal text (``"1557539956.500022"``) or a
    :class:`~decimal.Decimal` is converted exactly, rounding half-even, which keeps every digit of
    timestamps that float64 cannot hold to the microsecond.

    Examples
    --------
    >>> seconds_to_us(1557539956.500022)
    1557539956500022
    """
    if isinstance(t_s, str | Decimal):
        try:
            return int((Decimal(t_s) * 1_000_000).to_integral_value(rounding=ROUND_HALF_EVEN))
        except InvalidOperation:
            raise InvalidInputError(f"t_s must be decimal seconds, got {t_s!r}") from None
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
