"""Per-element camera projection math shared by the CPU and CUDA kernels.

Plain scalar functions: ``math``, scalars, tuples and 1-D array indexing only (no numpy calls, no
allocation, no exceptions, no numba import), so that ``kernels/cpu.py`` can wrap each one in
``numba.njit(inline="always")`` and ``kernels/cuda.py`` in ``numba.cuda.jit(device=True)``.

Conventions
-----------
* Input points are in the camera **optical** frame (x right, y down, z forward) [m], float64 or,
  for the float32 build (``retarget(..., real=numpy.float32)``, every float constant retyped),
  float32 with float32 intrinsics: the same source then computes in single precision.
* Every ``project_<model>(intr, x, y, z)`` returns ``(u, v, ok)``: pixel coordinates (float64)
  and ``ok`` (bool), True when the point lies inside the model's valid domain (in front of a pinhole
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

Compiling: the functions call each other (and :func:`kernels._math.fastmath.fast_atan2`), so compile
them as a group, e.g. ``retarget(DEVICE_FUNCTIONS, numba.njit(inline="always"))`` (see
:mod:`kernels._math.retarget`), then use ``compiled["project_kannala_brandt"]`` etc.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kernels._math.fastmath import DEVICE_FUNCTIONS as _FASTMATH
from kernels._math.fastmath import fast_atan2, fast_tan

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

#: Valid domain of the cylindrical model: sqrt(X^2 + Z^2) > CYL_AXIS_EPS * |Y| (off the axis).
CYL_AXIS_EPS = 1e-9


def in_image(intr: Intr, u: float, v: float) -> bool:
    """Return True when pixel ``(u, v)`` lies in ``0 <= u < width`` and ``0 <= v < height``."""
    return bool((u >= 0.0) & (u < intr[I_WIDTH]) & (v >= 0.0) & (v < intr[I_HEIGHT]))


def point_depth(model_id: int, x: float, y: float, z: float) -> float:
    """Depth reported for a point [m]: ``z`` for brown_conrady, the range ``|X|`` otherwise."""
    if model_id == BROWN_CONRADY:
        return z
    return math.sqrt(x * x + y * y + z * z)


def to_pixel(intr: Intr, xd: float, yd: float) -> tuple[float, float]:
    """Map distorted normalised coordinates to pixels: ``u = fx xd + skew yd + cx``, ``v = fy yd + cy``."""
    u = intr[I_FX] * xd + intr[I_SKEW] * yd + intr[I_CX]
    v = intr[I_FY] * yd + intr[I_CY]
    return u, v


def project_brown_conrady(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """OpenCV pinhole with rational radial (k1..k6) and tangential (p1, p2) distortion.

    Valid: ``z > 0`` and ``r^2 < intr[I_MAX_R2]`` (``r * radial(r)`` still increasing).
    """
    p = I_P0
    front = z > 0.0
    iz = 1.0 / (z if front else 1.0)  # one division per point
    a = x * iz
    b = y * iz
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
    u, v = to_pixel(intr, xd, yd)
    return u, v, ok


def project_kannala_brandt(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """OpenCV fisheye (Kannala–Brandt): ``theta_d = theta (1 + k1 t^2 + k2 t^4 + k3 t^6 + k4 t^8)``.

    ``theta = atan2(rho, z)``, so fields of view beyond 180 degrees work. Valid:
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
    u, v = to_pixel(intr, scale * x, scale * y)
    return u, v, ok


def project_mei(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Mei unified omnidirectional model, then radial (k1..k4) and tangential (p1, p2) distortion.

    ``m = (X, Y) / (Z + xi |X|)``. Valid: ``theta < intr[I_MAX_THETA]`` (``cos theta >
    -min(xi, 1/xi)``) and ``|m|^2 < intr[I_MAX_R2]``.
    """
    p = I_P0
    rho = math.sqrt(x * x + y * y)
    n = math.sqrt(rho * rho + z * z)
    theta = fast_atan2(rho, z)
    d = z + intr[p + 6] * n
    ok = (theta < intr[I_MAX_THETA]) & (d > 0.0)
    ds = d if ok else 1.0
    a = x / ds
    b = y / ds
    r2 = a * a + b * b
    ok = ok & (r2 < intr[I_MAX_R2])
    a = a if ok else 0.0
    b = b if ok else 0.0
    r2 = r2 if ok else 0.0
    radial = 1.0 + r2 * (intr[p] + r2 * (intr[p + 1] + r2 * (intr[p + 2] + r2 * intr[p + 3])))
    p1 = intr[p + 4]
    p2 = intr[p + 5]
    ab = a * b
    xd = a * radial + 2.0 * p1 * ab + p2 * (r2 + 2.0 * a * a)
    yd = b * radial + p1 * (r2 + 2.0 * b * b) + 2.0 * p2 * ab
    u, v = to_pixel(intr, xd, yd)
    return u, v, ok


def project_mod_equi_fish(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Modified equidistant fisheye: ``r_d = theta (1 + k2 t^2 + k3 t^3 + k4 t^4)`` (k1 unused)."""
    p = I_P0
    rho = math.sqrt(x * x + y * y)
    theta = fast_atan2(rho, z)
    ok = theta < intr[I_MAX_THETA]
    t = theta if ok else 0.0
    rd = t * (1.0 + t * t * (intr[p + 1] + t * (intr[p + 2] + t * intr[p + 3])))
    scale = rd / rho if rho > 0.0 else 0.0
    u, v = to_pixel(intr, scale * x, scale * y)
    return u, v, ok


def project_mod_kannala(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Modified Kannala: ``phi = atan(theta)``, ``R = phi (1 + k1 phi^2 + .. + k4 phi^8)``.

    ``r_d = tan(R)``. Valid: ``theta < intr[I_MAX_THETA]`` (``R`` increasing and below pi/2).
    """
    p = I_P0
    rho = math.sqrt(x * x + y * y)
    theta = fast_atan2(rho, z)
    ok = theta < intr[I_MAX_THETA]
    t = theta if ok else 0.0
    phi = fast_atan2(t, 1.0)
    f2 = phi * phi
    big_r = phi * (1.0 + f2 * (intr[p] + f2 * (intr[p + 1] + f2 * (intr[p + 2] + f2 * intr[p + 3]))))
    rd = fast_tan(big_r)
    scale = rd / rho if rho > 0.0 else 0.0
    u, v = to_pixel(intr, scale * x, scale * y)
    return u, v, ok


def project_ftheta(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """F-theta polynomial: ``r_d = k1 t + k2 t^2 + k3 t^3 + k4 t^4 + k5 t^5`` (t = theta)."""
    p = I_P0
    rho = math.sqrt(x * x + y * y)
    theta = fast_atan2(rho, z)
    ok = theta < intr[I_MAX_THETA]
    t = theta if ok else 0.0
    rd = t * (intr[p] + t * (intr[p + 1] + t * (intr[p + 2] + t * (intr[p + 3] + t * intr[p + 4]))))
    scale = rd / rho if rho > 0.0 else 0.0
    u, v = to_pixel(intr, scale * x, scale * y)
    return u, v, ok


def project_cylindrical(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Cylindrical panorama: ``x_d = atan2(X, Z)``, ``y_d = Y / sqrt(X^2 + Z^2)``.

    Valid off the cylinder axis: ``sqrt(X^2 + Z^2) > CYL_AXIS_EPS * |Y|``.
    """
    h = math.sqrt(x * x + z * z)
    ok = h > CYL_AXIS_EPS * abs(y)
    hs = h if ok else 1.0
    u, v = to_pixel(intr, fast_atan2(x, z), y / hs)
    return u, v, ok


def project_equirectangular(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Equirectangular: ``x_d = atan2(X, Z)`` (azimuth), ``y_d = asin(Y / |X|)`` (elevation, down).

    Valid where the azimuth is defined: ``X^2 + Z^2 > 0``.
    """
    h = math.sqrt(x * x + z * z)
    ok = h > 0.0
    u, v = to_pixel(intr, fast_atan2(x, z), fast_atan2(y, h))
    return u, v, ok


def project_radtan_thin_prism(intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Fisheye ``theta_d = theta (1 + k1 t^2 + .. + k6 t^12)``, then tangential and thin prism.

    On ``(x_r, y_r) = theta_d (X, Y) / rho`` with ``r^2 = x_r^2 + y_r^2``:
    ``x_d = x_r + 2 p1 x_r y_r + p2 (r^2 + 2 x_r^2) + s1 r^2 + s2 r^4``,
    ``y_d = y_r + p1 (r^2 + 2 y_r^2) + 2 p2 x_r y_r + s3 r^2 + s4 r^4``.
    Valid: ``theta < intr[I_MAX_THETA]`` (``theta_d`` still increasing).
    """
    p = I_P0
    rho = math.sqrt(x * x + y * y)
    theta = fast_atan2(rho, z)
    ok = theta < intr[I_MAX_THETA]
    t = theta if ok else 0.0
    t2 = t * t
    poly = intr[p + 4] + t2 * intr[p + 5]
    poly = intr[p + 3] + t2 * poly
    poly = intr[p + 2] + t2 * poly
    poly = intr[p + 1] + t2 * poly
    poly = intr[p] + t2 * poly
    thd = t * (1.0 + t2 * poly)
    scale = thd / rho if rho > 0.0 else 0.0
    xr = scale * x
    yr = scale * y
    r2 = xr * xr + yr * yr
    p1 = intr[p + 6]
    p2 = intr[p + 7]
    xd = xr + 2.0 * p1 * xr * yr + p2 * (r2 + 2.0 * xr * xr) + r2 * (intr[p + 8] + r2 * intr[p + 9])
    yd = yr + p1 * (r2 + 2.0 * yr * yr) + 2.0 * p2 * xr * yr + r2 * (intr[p + 10] + r2 * intr[p + 11])
    u, v = to_pixel(intr, xd, yd)
    return u, v, ok


def project_point(model_id: int, intr: Intr, x: float, y: float, z: float) -> tuple[float, float, bool]:
    """Project with the model ``model_id`` (a switch for kernels that take the id at run time).

    An unknown id returns ``ok = False``.
    """
    if model_id == BROWN_CONRADY:
        return project_brown_conrady(intr, x, y, z)
    if model_id == KANNALA_BRANDT:
        return project_kannala_brandt(intr, x, y, z)
    if model_id == MEI:
        return project_mei(intr, x, y, z)
    if model_id == MOD_EQUI_FISH:
        return project_mod_equi_fish(intr, x, y, z)
    if model_id == MOD_KANNALA:
        return project_mod_kannala(intr, x, y, z)
    if model_id == FTHETA:
        return project_ftheta(intr, x, y, z)
    if model_id == CYLINDRICAL:
        return project_cylindrical(intr, x, y, z)
    if model_id == EQUIRECTANGULAR:
        return project_equirectangular(intr, x, y, z)
    if model_id == RADTAN_THIN_PRISM:
        return project_radtan_thin_prism(intr, x, y, z)
    return 0.0, 0.0, False


#: Per-model projection function by model id.
PROJECT_FUNCTIONS: dict[int, Callable[..., tuple[float, float, bool]]] = {
    BROWN_CONRADY: project_brown_conrady,
    KANNALA_BRANDT: project_kannala_brandt,
    MEI: project_mei,
    MOD_EQUI_FISH: project_mod_equi_fish,
    MOD_KANNALA: project_mod_kannala,
    FTHETA: project_ftheta,
    CYLINDRICAL: project_cylindrical,
    EQUIRECTANGULAR: project_equirectangular,
    RADTAN_THIN_PRISM: project_radtan_thin_prism,
}

#: Every scalar function of this module and its callees, for :func:`kernels._math.retarget.retarget`.
DEVICE_FUNCTIONS: tuple[Callable[..., Any], ...] = (
    *_FASTMATH,
    in_image,
    point_depth,
    to_pixel,
    *PROJECT_FUNCTIONS.values(),
    project_point,
)
