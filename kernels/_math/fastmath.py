"""Branch-free elementary functions for kernels (no libm call, so numba can vectorise loops).

Plain scalar functions (see :mod:`kernels._math`): compile them for a target together with their
callers via :func:`kernels._math.retarget.retarget`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

_PI = math.pi
_HALF_PI = 0.5 * math.pi
_QUARTER_PI = 0.25 * math.pi
_TAN_PI_8 = 0.41421356237309503

# atan(t) / t = P(t^2) on |t| <= tan(pi/8): least-squares Chebyshev fit (degree 8 in t^2) computed
# for this project; max |atan error| 2.7e-14 rad (< 1e-9 px for any realistic focal length).
_A0 = 0.9999999999999303
_A1 = -0.3333333332966764
_A2 = 0.1999999952377712
_A3 = -0.14285687975649894
_A4 = 0.11110348414269611
_A5 = -0.0907811211985335
_A6 = 0.07562728897071494
_A7 = -0.05873859077205135
_A8 = 0.030688942350749496


def atan_unit(t: float) -> float:
    """Arctangent of ``t`` in [0, 1] [rad]: range reduction at tan(pi/8) and a polynomial."""
    big = t > _TAN_PI_8
    r = (t - 1.0) / (t + 1.0) if big else t
    s = r * r
    p = _A8
    p = p * s + _A7
    p = p * s + _A6
    p = p * s + _A5
    p = p * s + _A4
    p = p * s + _A3
    p = p * s + _A2
    p = p * s + _A1
    p = p * s + _A0
    a = r * p
    return a + _QUARTER_PI if big else a


def fast_atan2(y: float, x: float) -> float:
    """``math.atan2(y, x)`` [rad] to about 3e-14 rad, in [-pi, pi]; 0 for (0, 0)."""
    ay = abs(y)
    ax = abs(x)
    steep = ay > ax
    hi = ay if steep else ax
    lo = ax if steep else ay
    t = lo / hi if hi > 0.0 else 0.0
    a = atan_unit(t)
    a = _HALF_PI - a if steep else a
    a = _PI - a if x < 0.0 else a
    return -a if y < 0.0 else a


DEVICE_FUNCTIONS: tuple[Callable[..., Any], ...] = (atan_unit, fast_atan2)
