"""Motion models and the Kalman predict / update steps, batched over tracks (world frame, z up).

Two models share one observation ``z = [x, y, z, yaw]`` (a detection's centre [m] and heading [rad]):

* :class:`ConstantVelocity` — linear; state ``[x, y, z, yaw, vx, vy, vz, yaw_rate]``.
* :class:`ConstantTurnRate` — CTRV, extended Kalman filter; state ``[x, y, z, yaw, v, yaw_rate, vz]``
  (``v`` the speed along the heading).

``predict`` and ``update`` are separate functions; ``F`` is built from ``dt`` at every step. Process noise:
constant velocity uses the continuous white-noise-acceleration model, per (position, rate) pair with
spectral density ``q``: ``Q = q [[dt³/3, dt²/2], [dt²/2, dt]]``; CTRV uses piecewise-constant
longitudinal, yaw and vertical accelerations (``Q = Σ var · g gᵀ``). Arrays are batched: states
``(T, n)``, covariances ``(T, n, n)``, one row per track. Headings are wrapped with
``calibration.wrap_angle``; the yaw innovation is wrapped too, and an observation that points backwards
(|innovation| > π/2, a front/back confusion of the detector) is turned by π first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from calibration.units import wrap_angle

__all__ = [
    "ConstantTurnRate",
    "ConstantVelocity",
    "MotionModel",
    "kalman_update",
    "update_radial_velocity",
]

F64 = npt.NDArray[np.float64]
YAW = 3
"""Index of the heading in both state layouts and in the observation."""


class MotionModel(Protocol):
    """What the tracker needs from a motion model."""

    @property
    def n(self) -> int:
        """State dimension."""
        ...

    def initial(self, z: F64) -> tuple[F64, F64]:
        """States ``(T, n)`` and covariances ``(T, n, n)`` from first observations ``z`` (T, 4)."""
        ...

    def predict(self, x: F64, p: F64, dt_s: float) -> tuple[F64, F64, F64]:
        """Predicted states, covariances, and the transition Jacobians ``F`` (T, n, n), after ``dt_s``."""
        ...

    def velocity(self, x: F64) -> F64:
        """Velocities over ground (T, 3) [m/s] of states ``x``."""
        ...

    def velocity_jacobian(self, x: F64) -> F64:
        """``d velocity / d state``, (T, 3, n)."""
        ...


def _white_noise(dt: float, q: float) -> F64:
    return q * np.array([[dt**3 / 3.0, dt**2 / 2.0], [dt**2 / 2.0, dt]])


@dataclass(frozen=True, slots=True)
class ConstantVelocity:
    """Constant velocity in x, y, z and constant yaw rate.

    State ``[x, y, z, yaw, vx, vy, vz, yaw_rate]`` [m, rad, m/s, rad/s]; transition
    ``F = [[I4, dt·I4], [0, I4]]``.

    Parameters
    ----------
    accel_xy : float
        Horizontal acceleration spectral density [m²/s³].
    accel_z : float
        Vertical acceleration spectral density [m²/s³].
    yaw_accel : float
        Yaw acceleration spectral density [rad²/s³].
    init_speed_std : float
        Prior standard deviation of the unknown initial velocity [m/s].
    obs_std : tuple of 4 float
        Standard deviation of a fresh track's position and heading [m, m, m, rad].
    """

    accel_xy: float = 1.5
    accel_z: float = 0.1
    yaw_accel: float = 0.5
    init_speed_std: float = 10.0
    obs_std: tuple[float, float, float, float] = (0.3, 0.3, 0.3, 0.3)
    n: int = 8

    def initial(self, z: F64) -> tuple[F64, F64]:
        """Zero velocity, broad velocity prior (see :class:`MotionModel`)."""
        t = z.shape[0]
        x = np.zeros((t, 8))
        x[:, :4] = z
        d = np.array([*np.square(self.obs_std), *[self.init_speed_std**2] * 2, 0.25, 0.5])
        return x, np.broadcast_to(np.diag(d), (t, 8, 8)).copy()

    def transition(self, dt_s: float) -> F64:
        """``F`` (8, 8) for a step of ``dt_s`` seconds."""
        f = np.eye(8)
        f[:4, 4:] = dt_s * np.eye(4)
        return f

    def noise(self, dt_s: float) -> F64:
        """``Q`` (8, 8) for a step of ``dt_s`` seconds (pairs (x, vx), (y, vy), (z, vz), (yaw, yaw_rate))."""
        dens = np.array([self.accel_xy, self.accel_xy, self.accel_z, self.yaw_accel])
        q = np.zeros((8, 8))
        i = np.arange(4)
        q[i, i] = dens * dt_s**3 / 3.0
        q[i, i + 4] = q[i + 4, i] = dens * dt_s**2 / 2.0
        q[i + 4, i + 4] = dens * dt_s
        return q

    def predict(self, x: F64, p: F64, dt_s: float) -> tuple[F64, F64, F64]:
        """Predict every track ``dt_s`` seconds ahead (see :class:`MotionModel`)."""
        f = self.transition(dt_s)
        xp = x @ f.T
        xp[:, YAW] = wrap_angle(xp[:, YAW])
        pp = f @ p @ f.T + self.noise(dt_s)
        return xp, pp, np.broadcast_to(f, p.shape)

    def velocity(self, x: F64) -> F64:
        """``(vx, vy, vz)`` (see :class:`MotionModel`)."""
        return np.asarray(x[:, 4:7])

    def velocity_jacobian(self, x: F64) -> F64:
        """Constant selection of the velocity block (see :class:`MotionModel`)."""
        j = np.zeros((x.shape[0], 3, 8))
        j[:, :, 4:7] = np.eye(3)
        return j


@dataclass(frozen=True, slots=True)
class ConstantTurnRate:
    """Constant turn rate and velocity (CTRV), extended Kalman filter.

    State ``[x, y, z, yaw, v, yaw_rate, vz]`` [m, rad, m/s, rad/s, m/s]. Over ``dt`` with ``w = yaw_rate``:
    ``x += v/w (sin(yaw + w dt) - sin yaw)``, ``y += v/w (cos yaw - cos(yaw + w dt))`` (for ``|w| < 1e-4``
    a straight step along the midpoint heading ``yaw + w dt / 2``), ``yaw += w dt``, ``z += vz dt``.
    ``F`` is the Jacobian at the prior state.

    Parameters
    ----------
    accel : float
        Variance of the longitudinal acceleration [m²/s⁴] (piecewise constant over a step).
    yaw_accel : float
        Variance of the yaw acceleration [rad²/s⁴].
    accel_z : float
        Variance of the vertical acceleration [m²/s⁴].
    init_speed_std : float
        Prior standard deviation of the initial speed [m/s].
    obs_std : tuple of 4 float
        Standard deviation of a fresh track's position and heading [m, m, m, rad].
    """

    accel: float = 4.0
    yaw_accel: float = 0.5
    accel_z: float = 0.1
    init_speed_std: float = 10.0
    obs_std: tuple[float, float, float, float] = (0.3, 0.3, 0.3, 0.3)
    n: int = 7

    def initial(self, z: F64) -> tuple[F64, F64]:
        """Zero speed, broad speed prior (see :class:`MotionModel`)."""
        t = z.shape[0]
        x = np.zeros((t, 7))
        x[:, :4] = z
        d = np.array([*np.square(self.obs_std), self.init_speed_std**2, 0.5, 0.25])
        return x, np.broadcast_to(np.diag(d), (t, 7, 7)).copy()

    def predict(self, x: F64, p: F64, dt_s: float) -> tuple[F64, F64, F64]:
        """Predict every track ``dt_s`` seconds ahead (see :class:`MotionModel`)."""
        yaw, v, w = x[:, YAW], x[:, 4], x[:, 5]
        turn = np.abs(w) > 1e-4
        ws = np.where(turn, w, 1.0)
        y1 = yaw + w * dt_s
        s0, c0, s1, c1 = np.sin(yaw), np.cos(yaw), np.sin(y1), np.cos(y1)
        # Nearly straight: heading at the step's midpoint (error O(w^2 dt^3), smooth in w at 0).
        sm, cm = np.sin(yaw + w * dt_s / 2), np.cos(yaw + w * dt_s / 2)
        dx = np.where(turn, v / ws * (s1 - s0), v * cm * dt_s)
        dy = np.where(turn, v / ws * (c0 - c1), v * sm * dt_s)
        xp = x.copy()
        xp[:, 0] += dx
        xp[:, 1] += dy
        xp[:, 2] += x[:, 6] * dt_s
        xp[:, YAW] = wrap_angle(y1)
        f = np.broadcast_to(np.eye(7), (x.shape[0], 7, 7)).copy()
        f[:, 0, 3] = np.where(turn, v / ws * (c1 - c0), -v * sm * dt_s)
        f[:, 1, 3] = np.where(turn, v / ws * (s1 - s0), v * cm * dt_s)
        f[:, 0, 4] = np.where(turn, (s1 - s0) / ws, cm * dt_s)
        f[:, 1, 4] = np.where(turn, (c0 - c1) / ws, sm * dt_s)
        f[:, 0, 5] = np.where(turn, v * dt_s * c1 / ws - v * (s1 - s0) / ws**2, -0.5 * v * sm * dt_s**2)
        f[:, 1, 5] = np.where(turn, v * dt_s * s1 / ws - v * (c0 - c1) / ws**2, 0.5 * v * cm * dt_s**2)
        f[:, 3, 5] = dt_s
        f[:, 2, 6] = dt_s
        # Piecewise-constant accelerations (longitudinal, yaw, vertical): Q = sum of var * g g^T.
        t = x.shape[0]
        g_long = np.zeros((t, 7))
        g_long[:, 0], g_long[:, 1], g_long[:, 4] = c0 * dt_s**2 / 2, s0 * dt_s**2 / 2, dt_s
        g_yaw = np.zeros(7)
        g_yaw[3], g_yaw[5] = dt_s**2 / 2, dt_s
        g_z = np.zeros(7)
        g_z[2], g_z[6] = dt_s**2 / 2, dt_s
        qt = self.accel * np.einsum("ti,tj->tij", g_long, g_long)
        qt += self.yaw_accel * np.outer(g_yaw, g_yaw) + self.accel_z * np.outer(g_z, g_z)
        pp = f @ p @ np.swapaxes(f, 1, 2) + qt
        return xp, pp, f

    def velocity(self, x: F64) -> F64:
        """``(v cos yaw, v sin yaw, vz)`` (see :class:`MotionModel`)."""
        return np.stack([x[:, 4] * np.cos(x[:, YAW]), x[:, 4] * np.sin(x[:, YAW]), x[:, 6]], axis=1)

    def velocity_jacobian(self, x: F64) -> F64:
        """Jacobian of :meth:`velocity` (see :class:`MotionModel`)."""
        j = np.zeros((x.shape[0], 3, 7))
        c, s, v = np.cos(x[:, YAW]), np.sin(x[:, YAW]), x[:, 4]
        j[:, 0, 3], j[:, 0, 4] = -v * s, c
        j[:, 1, 3], j[:, 1, 4] = v * c, s
        j[:, 2, 6] = 1.0
        return j


def kalman_update(x: F64, p: F64, z: F64, r: F64) -> tuple[F64, F64, F64]:
    """Update states with observations ``z = [x, y, z, yaw]`` (``H = [I4, 0]``, the same for both models).

    Parameters
    ----------
    x : ndarray of shape (T, n), float64
        Predicted states.
    p : ndarray of shape (T, n, n), float64
        Predicted covariances.
    z : ndarray of shape (T, 4), float64
        Observed centres [m] and headings [rad], world frame.
    r : ndarray of shape (4, 4) or (T, 4, 4), float64
        Observation noise covariance.

    Returns
    -------
    x, p : ndarray
        Updated states and covariances (new arrays).
    flipped : ndarray of shape (T,), bool
        Where the observed heading was turned by π to agree with the state.
    """
    innov = z - x[:, :4]
    d_yaw = np.asarray(wrap_angle(innov[:, YAW]))
    flipped = np.abs(d_yaw) > np.pi / 2
    innov[:, YAW] = np.asarray(wrap_angle(d_yaw + np.where(flipped, np.pi, 0.0)))
    s = p[:, :4, :4] + r
    # gain = P H^T S^-1 with H = [I, 0]: P[:, :, :4] S^-1, from S^T K^T = (P H^T)^T.
    gain = np.swapaxes(np.linalg.solve(np.swapaxes(s, 1, 2), np.swapaxes(p[:, :, :4], 1, 2)), 1, 2)
    xn = x + np.einsum("tij,tj->ti", gain, innov)
    xn[:, YAW] = wrap_angle(xn[:, YAW])
    pn = p - gain @ p[:, :4, :]
    pn = 0.5 * (pn + np.swapaxes(pn, 1, 2))
    return xn, pn, flipped


def update_radial_velocity(
    model: MotionModel, x: F64, p: F64, direction: F64, radial_velocity_mps: F64, std_mps: float
) -> tuple[F64, F64]:
    """Update states with radar radial velocities of points inside the tracks' boxes.

    Parameters
    ----------
    model : MotionModel
        The model the states belong to.
    x : ndarray of shape (T, n), float64
        States.
    p : ndarray of shape (T, n, n), float64
        Covariances.
    direction : ndarray of shape (T, 3), float64
        Unit line-of-sight vectors from the radar to the object, world frame.
    radial_velocity_mps : ndarray of shape (T,), float64
        Ego-motion-compensated range rates [m/s] (over ground; positive = moving away), e.g. the median
        of the radar points in the box.
    std_mps : float
        Standard deviation of one radial velocity [m/s].

    Returns
    -------
    x, p : ndarray
        Updated states and covariances.
    """
    jac = model.velocity_jacobian(x)  # (T, 3, n)
    h = np.einsum("tk,tkn->tn", direction, jac)  # (T, n)
    pred = np.einsum("tk,tk->t", direction, model.velocity(x))
    ph = np.einsum("tij,tj->ti", p, h)
    s = np.einsum("ti,ti->t", h, ph) + std_mps**2
    gain = ph / s[:, None]
    xn = x + gain * (radial_velocity_mps - pred)[:, None]
    xn[:, YAW] = wrap_angle(xn[:, YAW])
    pn = p - np.einsum("ti,tj->tij", gain, ph)
    return xn, 0.5 * (pn + np.swapaxes(pn, 1, 2))
