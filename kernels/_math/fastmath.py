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
_HALF_PI_LO = 6.123233995736766e-17  # pi/2 - float(pi/2)
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


def _atan_reduced(r: float) -> float:
    """Arctangent of ``r`` in [-tan(pi/8), tan(pi/8)] [rad] by the polynomial."""
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
    return r * p


def atan_unit(t: float) -> float:
    """Arctangent of ``t`` in [0, 1] [rad]: range reduction at tan(pi/8) and a polynomial."""
    big = t > _TAN_PI_8
    r = (t - 1.0) / (t + 1.0) if big else t
    a = _atan_reduced(r)
    return a + _QUARTER_PI if big else a


def fast_atan2(y: float, x: float) -> float:
    """``math.atan2(y, x)`` [rad] to about 3e-14 rad, in [-pi, pi]; 0 for (0, 0).

    One division: with ``lo <= hi`` the magnitudes of ``x`` and ``y``, the reduced argument is
    ``lo / hi`` or, above tan(pi/8), ``(lo - hi) / (lo + hi)`` (= ``(t - 1) / (t + 1)``).
    """
    ay = abs(y)
    ax = abs(x)
    steep = ay > ax
    hi = ay if steep else ax
    lo = ax if steep else ay
    big = lo > _TAN_PI_8 * hi
    num = lo - hi if big else lo
    den = lo + hi if big else hi
    r = num / den if den > 0.0 else 0.0
    a = _atan_reduced(r)
    a = a + _QUARTER_PI if big else a
    a = _HALF_PI - a if steep else a
    a = _PI - a if x < 0.0 else a
    return -a if y < 0.0 else a


def _sin_cos_quarter(y: float) -> tuple[float, float]:
    """``(sin y, cos y)`` for ``|y| <= pi/4`` by their Taylor series to y^15 / y^16 (error < 1e-16)."""
    y2 = y * y
    s = 1.0 / 1307674368000.0  # 1/15!
    s = s * -y2 + 1.0 / 6227020800.0  # 1/13!
    s = s * -y2 + 1.0 / 39916800.0  # 1/11!
    s = s * -y2 + 1.0 / 362880.0  # 1/9!
    s = s * -y2 + 1.0 / 5040.0  # 1/7!
    s = s * -y2 + 1.0 / 120.0  # 1/5!
    s = s * -y2 + 1.0 / 6.0  # 1/3!
    s = s * -y2 + 1.0
    c = 1.0 / 20922789888000.0  # 1/16!
    c = c * -y2 + 1.0 / 87178291200.0  # 1/14!
    c = c * -y2 + 1.0 / 479001600.0  # 1/12!
    c = c * -y2 + 1.0 / 3628800.0  # 1/10!
    c = c * -y2 + 1.0 / 40320.0  # 1/8!
    c = c * -y2 + 1.0 / 720.0  # 1/6!
    c = c * -y2 + 1.0 / 24.0  # 1/4!
    c = c * -y2 + 0.5
    c = c * -y2 + 1.0
    return y * s, c


def fast_tan(x: float) -> float:
    """``math.tan(x)`` for ``|x| < pi/2`` to a few ulp (no libm call); undefined beyond.

    Above pi/4 it uses ``tan(x) = cot(pi/2 - x)``, so both series run on ``[0, pi/4]``.
    """
    a = abs(x)
    big = a > _QUARTER_PI
    y = (_HALF_PI - a) + _HALF_PI_LO if big else a  # two-part pi/2: exact reduction near pi/2
    s, c = _sin_cos_quarter(y)
    t = c / s if big else s / c
    return -t if x < 0.0 else t


DEVICE_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    _atan_reduced,
    atan_unit,
    fast_atan2,
    _sin_cos_quarter,
    fast_tan,
)
