"""Camera model table, monotonic validity limits and kernel intrinsics packing (host side).

The limits are computed once per calibration from the model's equations (roots of the derivative
of the radial map), so both the NumPy oracle (:mod:`calibration._reference`) and the scalar kernel
functions (:mod:`kernels._math.camera`) only compare against them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.polynomial import polynomial as P

from kernels._math import camera as km

__all__ = ["R2_CAP", "SPECS", "ModelSpec", "model_limits", "pack_intrinsics"]

#: Largest squared normalised radius ever valid on a pinhole-like plane (r = 1000, 89.94 degrees
#: off-axis for brown_conrady): keeps the search for the monotonic range on a bounded interval.
R2_CAP = 1e6


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Static description of one camera model.

    Attributes
    ----------
    name : str
        SFS distortion model name.
    kernel_id : int
        Integer id used by the kernels (``kernels._math.camera``).
    param_names : tuple of str
        Names of ``CameraModel.params`` in order (the SFS order).
    range_depth : bool
        True when the reported depth is the range ``|X|`` [m]; False for ``z`` [m].
    """

    name: str
    kernel_id: int
    param_names: tuple[str, ...]
    range_depth: bool


_K4 = ("k1", "k2", "k3", "k4")
SPECS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        ModelSpec(
            "brown_conrady",
            km.BROWN_CONRADY,
            ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
            False,
        ),
        ModelSpec("fisheye", km.KANNALA_BRANDT, _K4, True),
        ModelSpec("omnidirectional", km.MEI, ("k1", "k2", "k3", "k4", "p1", "p2", "xi"), True),
        ModelSpec("mod_equi_fish", km.MOD_EQUI_FISH, _K4, True),
        ModelSpec("mod_kannala", km.MOD_KANNALA, _K4, True),
        ModelSpec("ftheta", km.FTHETA, ("k1", "k2", "k3", "k4", "k5"), True),
        ModelSpec("cylindrical", km.CYLINDRICAL, (), True),
        ModelSpec("equirectangular", km.EQUIRECTANGULAR, (), True),
        ModelSpec(
            "fisheye_rad_tan_prism",
            km.RADTAN_THIN_PRISM,
            ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2", "s1", "s2", "s3", "s4"),
            True,
        ),
    )
}


def _first_positive_root(coeffs: npt.ArrayLike, hi: float) -> float:
    """First t in (0, hi) where the polynomial with ascending ``coeffs`` stops being positive.

    Returns ``hi`` if it stays positive, 0 if it is not positive at 0. The polynomial is
    rescaled to ``w = t / hi`` in [0, 1]. Candidates come from the companion matrix roots
    (near-real ones) and from a dense linear + geometric sign scan; sign changes are polished by
    bisection. A double root that only touches zero also counts (conservative).
    """
    c = np.asarray(coeffs, dtype=np.float64)
    c = c * hi ** np.arange(c.size, dtype=np.float64)
    if not c[0] > 0:
        return 0.0
    c = c / np.abs(c).max()
    nz = np.nonzero(np.abs(c) > 1e-13)[0]
    c = c[: nz[-1] + 1]
    best = 1.0
    if c.size > 1:
        roots = P.polyroots(c)
        near_real = np.abs(roots.imag) <= 1e-7 * (1.0 + np.abs(roots.real))
        best = min([best] + [float(r) for r in roots.real[near_real] if 0.0 < r < 1.0])
    w = np.union1d(np.linspace(0.0, 1.0, 20001), np.geomspace(1e-12, 1.0, 20001))
    bad = np.nonzero(P.polyval(w, c) <= 0.0)[0]
    if bad.size and w[bad[0]] <= best:
        lo, hi_w = float(w[bad[0] - 1]), float(w[bad[0]])
    else:
        lo, hi_w = best * (1 - 1e-6), min(best * (1 + 1e-6), 1.0)
    if P.polyval(lo, c) > 0 >= P.polyval(hi_w, c):
        for _ in range(60):
            mid = 0.5 * (lo + hi_w)
            if P.polyval(mid, c) > 0:
                lo = mid
            else:
                hi_w = mid
        best = lo
    return best * hi


def _poly_derivative_of_odd(coeffs_even: list[float]) -> list[float]:
    """For ``f(t) = t * sum_i c_i t^(2i)`` return ascending coefficients of ``f'`` in ``s = t^2``."""
    return [(2 * i + 1) * c for i, c in enumerate(coeffs_even)]


def model_limits(name: str, params: tuple[float, ...]) -> tuple[float, float]:
    """Return ``(max_r2, max_theta)``: the exclusive ends of the model's monotonic range.

    Parameters
    ----------
    name : str
        SFS model name (a key of :data:`SPECS`).
    params : tuple of float
        Model parameters in the SFS order.

    Returns
    -------
    max_r2 : float
        Bound on the squared normalised radius (``brown_conrady``: ``(X/Z)^2 + (Y/Z)^2``;
        ``omnidirectional``: on the unit-sphere projection plane), at most :data:`R2_CAP`;
        ``inf`` for models that do not use it.
    max_theta : float
        Bound on the angle from the optical axis [rad], at most pi; pi/2 for ``brown_conrady``.
    """
    inf = math.inf
    if name == "brown_conrady":
        k1, k2, _p1, _p2, k3, k4, k5, k6 = params
        num = [1.0, k1, k2, k3]
        den = [1.0, k4, k5, k6]
        # d/dr [r N(s)/D(s)] has the sign of N D + 2 s (N' D - N D') (s = r^2), while D > 0.
        g = P.polyadd(
            P.polymul(num, den),
            P.polymul([0.0, 2.0], P.polysub(P.polymul(P.polyder(num), den), P.polymul(num, P.polyder(den)))),
        )
        s_max = min(_first_positive_root(g, R2_CAP), _first_positive_root(den, R2_CAP))
        return s_max, 0.5 * math.pi
    if name == "fisheye":
        s_max = _first_positive_root(_poly_derivative_of_odd([1.0, *params]), math.pi**2)
        return inf, math.sqrt(s_max)
    if name == "omnidirectional":
        k1, k2, k3, k4, _p1, _p2, xi = params
        s_max = _first_positive_root(_poly_derivative_of_odd([1.0, k1, k2, k3, k4]), R2_CAP)
        # Mei: m = sin(t) / (cos(t) + xi); needs cos + xi > 0 and dm/dt ~ 1 + xi cos > 0.
        c = xi if xi <= 1.0 else 1.0 / xi
        return s_max, math.acos(-c)
    if name == "mod_equi_fish":
        _k1, k2, k3, k4 = params
        # r_d = t (1 + k2 t^2 + k3 t^3 + k4 t^4); r_d' = 1 + 3 k2 t^2 + 4 k3 t^3 + 5 k4 t^4.
        return inf, _first_positive_root([1.0, 0.0, 3 * k2, 4 * k3, 5 * k4], math.pi)
    if name == "mod_kannala":
        # R = phi (1 + k1 phi^2 + ...), phi = atan(theta) < atan(pi); image r_d = tan(R) needs R < pi/2.
        poly_r = P.polymul([0.0, 1.0], [1.0, 0.0, params[0], 0.0, params[1], 0.0, params[2], 0.0, params[3]])
        phi_end = math.atan(math.pi)
        phi_max = min(
            math.sqrt(_first_positive_root(_poly_derivative_of_odd([1.0, *params]), phi_end**2)),
            _first_positive_root(P.polysub([0.5 * math.pi], poly_r), phi_end),
        )
        return inf, min(math.tan(phi_max), math.pi)
    if name == "ftheta":
        k1, k2, k3, k4, k5 = params
        return inf, _first_positive_root([k1, 2 * k2, 3 * k3, 4 * k4, 5 * k5], math.pi)
    if name in ("cylindrical", "equirectangular"):
        return inf, math.pi
    if name == "fisheye_rad_tan_prism":
        s_max = _first_positive_root(_poly_derivative_of_odd([1.0, *params[:6]]), math.pi**2)
        return inf, math.sqrt(s_max)
    raise ValueError(f"unknown camera model {name!r}; expected one of {sorted(SPECS)}")


def pack_intrinsics(
    name: str,
    width: int,
    height: int,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    skew: float,
    params: tuple[float, ...],
    limits: tuple[float, float],
) -> npt.NDArray[np.float64]:
    """Pack one calibration into the float64 ``(INTR_SIZE,)`` array the kernels read (read-only)."""
    out = np.zeros(km.INTR_SIZE, dtype=np.float64)
    out[km.I_FX], out[km.I_FY], out[km.I_CX], out[km.I_CY] = fx, fy, cx, cy
    out[km.I_SKEW], out[km.I_WIDTH], out[km.I_HEIGHT] = skew, width, height
    out[km.I_MAX_R2], out[km.I_MAX_THETA] = limits
    out[km.I_P0 : km.I_P0 + len(params)] = params
    out.flags.writeable = False
    return out
