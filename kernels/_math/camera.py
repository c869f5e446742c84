"""Per-element camera projection math shared by the CPU and CUDA kernels.

Plain scalar functions: ``math``, scalars, tuples and 1-D array indexing only (no numpy calls, no
allocation, no exceptions, no numba import), so that ``kernels/cpu.py`` can wrap each one in
``numba.njit(inline="always")`` and ``kernels/cuda.py`` in ``numba.cuda.jit(device=True)``.

Conventions
-----------
* Input points are in the camera **optical** frame (x right, y down, z forward) [m], float64.
* Every ``project_<model>(intr: Intr, x, y, z)`` returns ``(u, v, ok)``: pixel coordinates (float64) and
  ``ok`` (bool), True when the point lies inside the model's valid domain (in front of a pinhole
  camera; inside the monotonic range of the distortion). When ``ok`` is False, ``u, v`` are finite
  placeholders (never NaN for finite input) and must be ignored. The in-image test is separate:
  :func:`in_image`.
* ``intr`` is the packed float64 array of length :data:`INTR_SIZE` built by
  ``calibration.CameraModel.kernel_intrinsics``; the monotonic limits (:data:`I_MAX_R2`,
  :data:`I_MAX_THETA`) are computed once on the host, so the scalar code only compares.
* Pixels: ``u = fx * x_d + skew * y_d + cx``, ``v = fy * y_d + cy``.
* Depth (see :func:`point_depth`): ``z`` for ``brown_conrady`` (pinhole-like), the Euclidean range
  ``|X|`` for every other model (their valid domain can extend behind the ``z = 0`` plane).

The slow, independent float64 NumPy oracle of the same equations lives in ``calibration._reference``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Intr = npt.NDArray[np.float64]

# ---- model ids (append new models at the end; the ids are baked into compiled kernels) ----
BROWN_CONRADY = 0
KANNALA_BRANDT = 1
MEI = 2
MOD_EQUI_FISH = 3
MOD_KANNALA = 4
FTHETA = 5
CYLINDRICAL = 6
EQUIRECTANGULAR = 7
RADTAN_THIN_PRISM = 8

MODEL_IDS = (
    BROWN_CONRADY,
    KANNALA_BRANDT,
    MEI,
    MOD_EQUI_FISH,
    MOD_KANNALA,
    FTHETA,
    CYLINDRICAL,
    EQUIRECTANGULAR,
    RADTAN_THIN_PRISM,
)
#: Kernel model id -> SFS distortion model name.
MODEL_NAMES = {
    BROWN_CONRADY: "brown_conrady",
    KANNALA_BRANDT: "fisheye",
    MEI: "omnidirectional",
    MOD_EQUI_FISH: "mod_equi_fish",
    MOD_KANNALA: "mod_kannala",
    FTHETA: "ftheta",
    CYLINDRICAL: "cylindrical",
    EQUIRECTANGULAR: "equirectangular",
    RADTAN_THIN_PRISM: "fisheye_rad_tan_prism",
}

# ---- packed intrinsics layout (float64, length INTR_SIZE) ----
I_FX = 0
I_FY = 1
I_CX = 2
I_CY = 3
I_SKEW = 4
I_WIDTH = 5
I_HEIGHT = 6
#: Upper bound (exclusive) of r^2 = (X/Z)^2 + (Y/Z)^2 where the radial map is increasing
#: (brown_conrady; omnidirectional on its unit-sphere plane). May be +inf.
I_MAX_R2 = 7
#: Upper bound (exclusive) of the angle from the optical axis [rad] of the valid domain
#: (theta-based models; omnidirectional's xi limit). At most pi.
I_MAX_THETA = 8
#: First model parameter; parameters follow in the SFS order (see ``calibration.CameraModel``):
#: brown_conrady k1,k2,p1,p2,k3,k4,k5,k6 | fisheye k1..k4 | omnidirectional k1,k2,k3,k4,p1,p2,xi |
#: mod_equi_fish k1..k4 (k1 unused) | mod_kannala k1..k4 | ftheta k1..k5 | cylindrical, equirectangular
#: none | fisheye_rad_tan_prism k1..k6,p1,p2,s1..s4.
I_P0 = 9
#: Most parameters any model has (fisheye_rad_tan_prism).
MAX_PARAMS = 12
INTR_SIZE = 24

_PI = math.pi
_HALF_PI = 0.5 * math.pi
_QUARTER_PI = 0.25 * math.pi
_TAN_PI_8 = 0.41421356237309503

# atan(t) / t = P(t^2) on |t| <= tan(pi/8): least-squares Chebyshev fit computed for this project
# (max |atan error| 2.7e-14 rad, i.e. < 1e-9 px for any realistic focal length).
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
    """Arctangent of ``t`` in [0, 1] by range reduction and a polynomial (no libm call).

    Branch-free (selects only) so that numba can vectorise loops that call it.
    """
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
    """``math.atan2(y, x)`` to about 3e-14 rad without a libm call (returns 0 for (0, 0))."""
    ay = abs(y)
    ax = abs(x)
    hi = ay if ay > ax else ax
    lo = ax if ay > ax else ay
    t = lo / hi if hi > 0.0 else 0.0
    a = atan_unit(t)
    a = _HALF_PI - a if ay > ax else a
    a = _PI - a if x < 0.0 else a
    return -a if y < 0.0 else a


def in_image(intr: Intr, u: float, v: float) -> bool:
    """Return True when pixel ``(u, v)`` lies in ``0 <= u < width`` and ``0 <= v < height``."""
    return (u >= 0.0) & (u < intr[I_WIDTH]) & (v >= 0.0) & (v < intr[I_HEIGHT])


def point_depth(model_id: int, x: float, y: float, z: float) -> float:
    """Depth reported for a point: ``z`` for brown_conrady, the range ``|X|`` [m] otherwise."""
    if model_id == BROWN_CONRADY:
        return z
    return math.sqrt(x * x + y * y + z * z)


def _to_pixel(intr: Intr, xd: float, yd: float) -> tuple[float, float]:
    u = intr[I_FX] * xd + intr[I_SKEW] * yd + intr[I_CX]
    v = intr[I_FY] * yd + intr[I_CY]
    return u, v


def project_brown_conrady(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """OpenCV pinhole with rational radial (k1..k6) and tangential (p1, p2) distortion.

    Valid: ``z > 0`` and ``r^2 < intr[I_MAX_R2]`` (the radial map ``r * radial(r)`` is increasing).
    """
    p = I_P0
    front = z > 0.0
    zs = z if front else 1.0
    a = x / zs
    b = y / zs
    r2 = a * a + b * b
    ok = front & (r2 < intr[I_MAX_R2])
    a = a if ok else 0.0
    b = b if ok else 0.0
    r2 = r2 if ok else 0.0
    num = 1.0 + r2 * (intr[p] + r2 * (intr[p + 1] + r2 * intr[p + 4]))
    den = 1.0 + r2 * (intr[p + 5] + r2 * (intr[p + 6] + r2 * intr[p + 7]))
    radial = num / den
    p1 = intr[p + 2]
    p2 = intr[p + 3]
    ab = a * b
    xd = a * radial + 2.0 * p1 * ab + p2 * (r2 + 2.0 * a * a)
    yd = b * radial + p1 * (r2 + 2.0 * b * b) + 2.0 * p2 * ab
    u, v = _to_pixel(intr: Intr, xd, yd)
    return u, v, ok


def project_kannala_brandt(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """OpenCV fisheye (Kannala–Brandt): ``theta_d = theta (1 + k1 t^2 + k2 t^4 + k3 t^6 + k4 t^8)``.

    ``theta = atan2(rho, z)`` so fields of view beyond 180 degrees work. Valid:
    ``theta < intr[I_MAX_THETA]`` (``theta_d`` still increasing).
    """
    p = I_P0
    rho = math.sqrt(x * x + y * y)
    theta = fast_atan2(rho, z)
    ok = theta < intr[I_MAX_THETA]
    theta = theta if ok else 0.0
    t2 = theta * theta
    thd = theta * (1.0 + t2 * (intr[p] + t2 * (intr[p + 1] + t2 * (intr[p + 2] + t2 * intr[p + 3]))))
    scale = thd / rho if rho > 0.0 else 0.0
    u, v = _to_pixel(intr: Intr, scale * x, scale * y)
    return u, v, ok


def project_point(model_id: int, intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Project with the model ``model_id`` (a switch for kernels that take the id at run time).

    An unknown id returns ``ok = False``.
    """
    if model_id == BROWN_CONRADY:
        return project_brown_conrady(intr: Intr, x, y, z)
    if model_id == KANNALA_BRANDT:
        return project_kannala_brandt(intr: Intr, x, y, z)
    return 0.0, 0.0, False
