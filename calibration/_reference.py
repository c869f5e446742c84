"""Slow, obviously-correct float64 NumPy oracle of every camera model (project and unproject).

Written straight from the equations in ``docs`` / ``camera-models.md`` and independently of the
scalar kernel functions in :mod:`kernels._math.camera`, so that the two check each other. Only the
precomputed monotonic limits (:func:`calibration._camera_specs.model_limits`) are shared.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


def _radial_xy(points: F64) -> tuple[F64, F64, F64, F64, F64]:
    """Return X, Y, Z, rho = |(X, Y)| and theta = angle from the optical axis [rad]."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    rho = np.hypot(x, y)
    return x, y, z, rho, np.arctan2(rho, z)


def _direction(x: F64, y: F64, rho: F64) -> tuple[F64, F64]:
    """Unit direction of (x, y) in the image plane; (0, 0) on the optical axis."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.where(rho > 0, x / rho, 0.0)
        cy = np.where(rho > 0, y / rho, 0.0)
    return cx, cy


def _tangential(x: F64, y: F64, p1: float, p2: float) -> tuple[F64, F64]:
    """OpenCV tangential terms (x: 2 p1 x y + p2 (r^2 + 2 x^2); y: p1 (r^2 + 2 y^2) + 2 p2 x y)."""
    r2 = x * x + y * y
    return 2 * p1 * x * y + p2 * (r2 + 2 * x * x), p1 * (r2 + 2 * y * y) + 2 * p2 * x * y


def _bc_distort(x: F64, y: F64, pr: tuple[float, ...]) -> tuple[F64, F64]:
    """Brown–Conrady on the normalised plane, parameters k1,k2,p1,p2,k3,k4,k5,k6."""
    k1, k2, p1, p2, k3, k4, k5, k6 = pr
    r2 = x * x + y * y
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    tx, ty = _tangential(x, y, p1, p2)
    return x * radial + tx, y * radial + ty


def _omni_distort(x: F64, y: F64, pr: tuple[float, ...]) -> tuple[F64, F64]:
    """Radial 1 + k1 r^2 + k2 r^4 + k3 r^6 + k4 r^8 plus tangential, on Mei's plane."""
    k1, k2, k3, k4, p1, p2 = pr[:6]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2**2 + k3 * r2**3 + k4 * r2**4
    tx, ty = _tangential(x, y, p1, p2)
    return x * radial + tx, y * radial + ty


def _prism_distort(xr: F64, yr: F64, pr: tuple[float, ...]) -> tuple[F64, F64]:
    """Tangential (OpenCV p1, p2 convention) plus thin prism on the radially distorted plane."""
    p1, p2, s1, s2, s3, s4 = pr[6:12]
    r2 = xr * xr + yr * yr
    tx, ty = _tangential(xr, yr, p1, p2)
    return xr + tx + s1 * r2 + s2 * r2**2, yr + ty + s3 * r2 + s4 * r2**2


def radial_function(model: str, pr: tuple[float, ...]) -> Callable[[F64], F64]:
    """Image radius on the normalised plane as a function of theta [rad] for theta-based models."""
    if model == "fisheye":
        k1, k2, k3, k4 = pr
        return lambda t: t * (1 + k1 * t**2 + k2 * t**4 + k3 * t**6 + k4 * t**8)
    if model == "mod_equi_fish":
        _, k2, k3, k4 = pr
        return lambda t: t * (1 + k2 * t**2 + k3 * t**3 + k4 * t**4)
    if model == "mod_kannala":
        k1, k2, k3, k4 = pr

        def mod_kannala(t: F64) -> F64:
            phi = np.arctan(t)
            return np.tan(phi * (1 + k1 * phi**2 + k2 * phi**4 + k3 * phi**6 + k4 * phi**8))

        return mod_kannala
    if model == "ftheta":

        def ftheta(t: F64) -> F64:
            return np.asarray(np.polynomial.polynomial.polyval(t, (0.0, *pr)), dtype=np.float64)

        return ftheta
    if model == "fisheye_rad_tan_prism":
        ks = pr[:6]
        return lambda t: t * (1 + sum(k * t ** (2 * i + 2) for i, k in enumerate(ks)))
    raise ValueError(f"model {model!r} has no theta radial function")


def project(
    model: str, pr: tuple[float, ...], limits: tuple[float, float], points: F64
) -> tuple[F64, F64, F64, Mask]:
    """Return ``(x_d, y_d, depth, valid)`` on the distorted normalised plane (before fx, cx)."""
    max_r2, max_theta = limits
    x, y, z, rho, theta = _radial_xy(points)
    rng = np.sqrt(x * x + y * y + z * z)
    with np.errstate(all="ignore"):
        if model == "brown_conrady":
            xn, yn = x / z, y / z
            valid = (z > 0) & (xn * xn + yn * yn < max_r2)
            xd, yd = _bc_distort(xn, yn, pr)
            return xd, yd, z, valid
        if model == "omnidirectional":
            xi = pr[6]
            xm, ym = x / (z + xi * rng), y / (z + xi * rng)
            valid = (theta < max_theta) & (z + xi * rng > 0) & (xm * xm + ym * ym < max_r2)
            xd, yd = _omni_distort(xm, ym, pr)
            return xd, yd, rng, valid
        if model == "cylindrical":
            h = np.sqrt(x * x + z * z)
            valid = h > 1e-9 * np.abs(y)
            return np.arctan2(x, z), y / h, rng, valid
        if model == "equirectangular":
            h = np.sqrt(x * x + z * z)
            return np.arctan2(x, z), np.arcsin(y / rng), rng, h > 0
        rd = radial_function(model, pr)(theta)
        dx, dy = _direction(x, y, rho)
        valid = theta < max_theta
        if model == "fisheye_rad_tan_prism":
            xd, yd = _prism_distort(rd * dx, rd * dy, pr)
            return xd, yd, rng, valid
        return rd * dx, rd * dy, rng, valid


def _invert_increasing(f: Callable[[F64], F64], target: F64, hi: float) -> tuple[F64, Mask]:
    """Solve ``f(t) = target`` for t in [0, hi) by bisection, f increasing on [0, hi).

    Returns the solution and a mask that is False where ``target`` is beyond ``f``'s range.
    """
    lo_t = np.zeros_like(target)
    hi_t = np.full_like(target, hi)
    for _ in range(200):
        mid = 0.5 * (lo_t + hi_t)
        below = f(mid) < target
        lo_t = np.where(below, mid, lo_t)
        hi_t = np.where(below, hi_t, mid)
    t = 0.5 * (lo_t + hi_t)
    with np.errstate(all="ignore"):
        ok = (np.abs(f(t) - target) <= 1e-10 * np.maximum(1.0, np.abs(target))) & (t < hi)
    return t, ok


def _newton_2d(
    fun: Callable[[F64, F64], tuple[F64, F64]], x: F64, y: F64, tx: F64, ty: F64
) -> tuple[F64, F64, Mask]:
    """Solve ``fun(x, y) = (tx, ty)`` from a start point by Newton with a central-difference Jacobian."""
    h = 1e-7
    for _ in range(30):
        fx, fy = fun(x, y)
        ex, ey = fx - tx, fy - ty
        ax, ay = fun(x + h, y)
        bx, by = fun(x - h, y)
        cx_, cy_ = fun(x, y + h)
        dx_, dy_ = fun(x, y - h)
        j11, j21 = (ax - bx) / (2 * h), (ay - by) / (2 * h)
        j12, j22 = (cx_ - dx_) / (2 * h), (cy_ - dy_) / (2 * h)
        det = j11 * j22 - j12 * j21
        with np.errstate(all="ignore"):
            x = x - (j22 * ex - j12 * ey) / det
            y = y - (-j21 * ex + j11 * ey) / det
    fx, fy = fun(x, y)
    with np.errstate(invalid="ignore"):
        ok = np.hypot(fx - tx, fy - ty) <= 1e-11 * np.maximum(1.0, np.hypot(tx, ty))
    return x, y, ok


def _sphere(theta: F64, dx: F64, dy: F64) -> F64:
    return np.stack([np.sin(theta) * dx, np.sin(theta) * dy, np.cos(theta)], axis=1)


def unproject(
    model: str, pr: tuple[float, ...], limits: tuple[float, float], xd: F64, yd: F64
) -> tuple[F64, Mask]:
    """Invert :func:`project` from the distorted normalised plane: unit rays (N, 3) and validity."""
    max_r2, max_theta = limits
    with np.errstate(all="ignore"):
        if model == "brown_conrady":
            alpha_hi = np.arctan(np.sqrt(max_r2)) if np.isfinite(max_r2) else 0.5 * np.pi
            k1, k2, _, _, k3, k4, k5, k6 = pr

            def f_alpha(a: F64) -> F64:
                r = np.tan(a)
                s = r * r
                return r * (1 + k1 * s + k2 * s**2 + k3 * s**3) / (1 + k4 * s + k5 * s**2 + k6 * s**3)

            # Radial-only inverse as the start (clamped to the valid range), then full 2-D Newton.
            alpha, _ = _invert_increasing(f_alpha, np.hypot(xd, yd), alpha_hi)
            dx, dy = _direction(xd, yd, np.hypot(xd, yd))
            r0 = np.tan(alpha)
            xn, yn, ok = _newton_2d(lambda a, b: _bc_distort(a, b, pr), r0 * dx, r0 * dy, xd, yd)
            ok = ok & (xn * xn + yn * yn < max_r2)
            rays = np.stack([xn, yn, np.ones_like(xn)], axis=1)
            return rays / np.linalg.norm(rays, axis=1, keepdims=True), ok
        if model == "omnidirectional":
            xi = pr[6]
            s_hi = np.sqrt(max_r2) if np.isfinite(max_r2) else 1e6
            f_r = lambda r: r * (1 + pr[0] * r**2 + pr[1] * r**4 + pr[2] * r**6 + pr[3] * r**8)  # noqa: E731
            r0, _ = _invert_increasing(f_r, np.hypot(xd, yd), s_hi)
            dx, dy = _direction(xd, yd, np.hypot(xd, yd))
            xm, ym, ok = _newton_2d(lambda a, b: _omni_distort(a, b, pr), r0 * dx, r0 * dy, xd, yd)
            rm2 = xm * xm + ym * ym
            # Inverse of Mei's map: the unit-sphere point is (lam xm, lam ym, lam - xi).
            lam = (xi + np.sqrt(1 + (1 - xi * xi) * rm2)) / (1 + rm2)
            rays = np.stack([lam * xm, lam * ym, lam - xi], axis=1)
            theta = np.arctan2(np.hypot(rays[:, 0], rays[:, 1]), rays[:, 2])
            ok = ok & (rm2 < max_r2) & (theta < max_theta) & np.isfinite(lam)
            return rays, ok
        if model == "cylindrical":
            rays = np.stack([np.sin(xd), yd, np.cos(xd)], axis=1)
            rays = rays / np.linalg.norm(rays, axis=1, keepdims=True)
            return rays, np.abs(xd) <= np.pi
        if model == "equirectangular":
            rays = np.stack([np.cos(yd) * np.sin(xd), np.sin(yd), np.cos(yd) * np.cos(xd)], axis=1)
            return rays, (np.abs(xd) <= np.pi) & (np.abs(yd) < 0.5 * np.pi)
        ok_tan = np.ones(xd.shape, dtype=bool)
        if model == "fisheye_rad_tan_prism":
            xd, yd, ok_tan = _newton_2d(lambda a, b: _prism_distort(a, b, pr), xd, yd, xd, yd)
        rd = np.hypot(xd, yd)
        theta, ok = _invert_increasing(radial_function(model, pr), rd, max_theta)
        dx, dy = _direction(xd, yd, rd)
        return _sphere(theta, dx, dy), ok & ok_tan & (theta < max_theta)
