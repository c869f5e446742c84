"""The road and the speed profiles that move the ego and the traffic along it.

The road is a centreline given by its curvature over arc length ``s`` (straights, and turns entered and
left through linear curvature ramps, i.e. clothoids), integrated at 0.5 m. Lanes are parallel curves at a
lateral offset ``d`` (positive to the left of the driving direction of increasing ``s``). A
:class:`Flow` is a smooth speed profile over time (cruise, speed changes, stops; smoothstep transitions,
so acceleration is continuous) with its integral, the distance travelled, on a 10 ms grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["GRID_US", "Flow", "Road", "make_flow", "make_road"]

F64 = npt.NDArray[np.float64]
GRID_US = 10_000
"""Step of the simulator's time grid [µs] (100 Hz)."""


def _smoothstep(n: int) -> F64:
    x = (np.arange(n) + 0.5) / max(n, 1)
    return np.asarray(x * x * (3.0 - 2.0 * x))


@dataclass(frozen=True, slots=True, eq=False)
class Flow:
    """Speed over time on the grid ``t0_us + i * GRID_US``.

    Attributes
    ----------
    t0_us : int
        Time of grid index 0 [µs].
    distance : ndarray of shape (T,), float64
        Distance travelled since ``t0_us`` [m] (trapezoidal integral of ``speed``).
    speed : ndarray of shape (T,), float64
        Speed [m/s], >= 0.
    accel : ndarray of shape (T,), float64
        Acceleration [m/s^2].
    """

    t0_us: int
    distance: F64
    speed: F64
    accel: F64

    def at(self, t_us: npt.ArrayLike) -> tuple[F64, F64, F64]:
        """Distance [m], speed [m/s] and acceleration [m/s^2] at times ``t_us`` (linear interpolation)."""
        f = (np.asarray(t_us, dtype=np.int64) - self.t0_us).astype(np.float64) / GRID_US
        n = self.speed.size
        i = np.clip(np.floor(f).astype(np.int64), 0, n - 2)
        a = f - i
        speed = self.speed[i] + a * (self.speed[i + 1] - self.speed[i])
        # Exact integral of the linear speed within the step keeps distance consistent with speed.
        dist = (
            self.distance[i]
            + a * self.speed[i] * (GRID_US * 1e-6)
            + 0.5 * a * a * (self.speed[i + 1] - self.speed[i]) * (GRID_US * 1e-6)
        )
        accel = self.accel[i] + a * (self.accel[i + 1] - self.accel[i])
        return np.asarray(dist), np.asarray(speed), np.asarray(accel)


def make_flow(
    rng: np.random.Generator,
    t0_us: int,
    n: int,
    v_lo: float,
    v_hi: float,
    stop_prob: float,
    start_speed: float,
) -> Flow:
    """Draw a smooth speed profile of ``n`` grid steps.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness (the profile is a pure function of its state).
    t0_us : int
        Time of the first grid step [µs].
    n : int
        Number of grid steps (>= 2).
    v_lo, v_hi : float
        Range of cruise speeds [m/s].
    stop_prob : float
        Probability that a manoeuvre is a stop (brake to standstill, wait 1-4 s, pull away).
    start_speed : float
        Initial speed [m/s].
    """
    dt = GRID_US * 1e-6
    parts: list[F64] = []
    total, cur = 0, start_speed

    def ramp(v0: float, v1: float, accel: float) -> None:
        nonlocal total, cur
        steps = max(int(1.5 * abs(v1 - v0) / accel / dt), 2)
        parts.append(v0 + (v1 - v0) * _smoothstep(steps))
        total += steps
        cur = v1

    def hold(seconds: float) -> None:
        nonlocal total
        steps = max(int(seconds / dt), 1)
        parts.append(np.full(steps, cur))
        total += steps

    while total < n:
        hold(rng.uniform(1.5, 6.0))
        u = rng.random()
        if u < stop_prob:
            ramp(cur, 0.0, rng.uniform(1.2, 2.8))
            hold(rng.uniform(1.0, 4.0))
            ramp(0.0, rng.uniform(v_lo, v_hi), rng.uniform(1.0, 2.2))
        else:
            ramp(cur, rng.uniform(v_lo, v_hi), rng.uniform(0.6, 1.8))
    speed = np.concatenate(parts)[:n]
    accel = np.gradient(speed, dt)
    dist = np.concatenate([[0.0], np.cumsum(0.5 * (speed[1:] + speed[:-1]) * dt)])
    return Flow(int(t0_us), dist, speed, accel)


@dataclass(frozen=True, slots=True, eq=False)
class Road:
    """A centreline sampled every ``ds`` metres from ``s0``; straight beyond both ends.

    Attributes
    ----------
    s0, ds : float
        Arc length of the first sample and sample spacing [m].
    x, y : ndarray of shape (K,), float64
        World position of the centreline [m].
    heading : ndarray of shape (K,), float64
        Direction of increasing ``s`` [rad], continuous (not wrapped).
    curvature : ndarray of shape (K,), float64
        Signed curvature [1/m], positive turning left.
    """

    s0: float
    ds: float
    x: F64
    y: F64
    heading: F64
    curvature: F64

    @property
    def s_end(self) -> float:
        """Arc length of the last sample [m]."""
        return self.s0 + self.ds * (self.x.size - 1)

    def at(self, s: npt.ArrayLike, d: npt.ArrayLike = 0.0) -> tuple[F64, F64, F64, F64]:
        """Position of lateral offset ``d`` [m] at arc length ``s`` [m]: ``(x, y, heading, curvature)``.

        ``heading`` and ``curvature`` are those of the centreline (the parallel curve has the same
        tangent); outside the sampled range the road continues straight.
        """
        s = np.asarray(s, dtype=np.float64)
        f = (s - self.s0) / self.ds
        n = self.x.size
        i = np.clip(np.floor(f).astype(np.int64), 0, n - 2)
        a = np.clip(f - i, 0.0, 1.0)
        heading = self.heading[i] + a * (self.heading[i + 1] - self.heading[i])
        x = self.x[i] + a * (self.x[i + 1] - self.x[i])
        y = self.y[i] + a * (self.y[i + 1] - self.y[i])
        curvature = self.curvature[i] + a * (self.curvature[i + 1] - self.curvature[i])
        over = np.clip(f - (n - 1), 0.0, None) * self.ds + np.clip(f, None, 0.0) * self.ds
        x = x + over * np.cos(heading)
        y = y + over * np.sin(heading)
        curvature = np.where(over != 0.0, 0.0, curvature)
        d = np.asarray(d, dtype=np.float64)
        return x - d * np.sin(heading), y + d * np.cos(heading), heading, curvature

    def lane_to_s(self, u: npt.ArrayLike, d: npt.ArrayLike) -> F64:
        """Centreline arc length of the point at lane arc length ``u`` on the lane at offset ``d`` [m].

        Lane arc length is measured along the parallel curve: ``u(s) = s - d (heading(s) - heading(0))``
        (since ``du/ds = 1 - curvature d``), so actors advancing ``u`` at speed ``v`` move at ``v``.
        """
        u = np.asarray(u, dtype=np.float64)
        d = np.broadcast_to(np.asarray(d, dtype=np.float64), u.shape)
        out = np.empty(u.shape)
        s_grid = self.s0 + self.ds * np.arange(self.x.size)
        h0 = float(self.at(0.0)[2])
        for lane in np.unique(d):
            sel = d == lane
            table = s_grid - lane * (self.heading - h0)
            v = u[sel]
            s = np.interp(v, table, s_grid)
            s = np.where(v > table[-1], s_grid[-1] + (v - table[-1]), s)
            out[sel] = np.where(v < table[0], s_grid[0] + (v - table[0]), s)
        return out


def make_road(rng: np.random.Generator, s_lo: float, s_hi: float, yaw0: float) -> Road:
    """Draw a road covering arc lengths ``[s_lo, s_hi]`` that passes the world origin at ``s = 0``.

    Turns of 25-95 degrees with radii of 22-70 m alternate with 25-90 m straights; turn directions
    keep the heading within about +-100 degrees of ``yaw0`` so the road never folds back on itself.
    """
    ds = 0.5
    n = int(math.ceil((s_hi - s_lo) / ds)) + 1
    kappa = np.zeros(n)
    i, heading = 0, 0.0
    while i < n:
        i += int(rng.uniform(25.0, 90.0) / ds)
        if i >= n:
            break
        angle = math.radians(rng.uniform(25.0, 95.0))
        if heading > math.radians(40.0):
            sign = -1.0
        elif heading < math.radians(-40.0):
            sign = 1.0
        else:
            sign = 1.0 if rng.random() < 0.5 else -1.0
        k = sign / rng.uniform(22.0, 70.0)
        ramp = int(10.0 / ds)
        arc = max(int((angle / abs(k) - 10.0) / ds), 1)  # ramps add half their length each
        prof = np.concatenate([np.linspace(0.0, k, ramp), np.full(arc, k), np.linspace(k, 0.0, ramp)])
        j = min(n, i + prof.size)
        kappa[i:j] = prof[: j - i]
        i += prof.size
        heading += sign * angle
    h = np.concatenate([[0.0], np.cumsum(0.5 * (kappa[1:] + kappa[:-1]) * ds)])
    x = np.concatenate([[0.0], np.cumsum(0.5 * (np.cos(h[1:]) + np.cos(h[:-1])) * ds)])
    y = np.concatenate([[0.0], np.cumsum(0.5 * (np.sin(h[1:]) + np.sin(h[:-1])) * ds)])
    # Shift so that s = 0 lies at the origin heading yaw0.
    road = Road(s_lo, ds, x, y, h, kappa)
    x0, y0, h0, _ = road.at(0.0)
    c, s = math.cos(yaw0 - float(h0)), math.sin(yaw0 - float(h0))
    dx, dy = x - float(x0), y - float(y0)
    return Road(s_lo, ds, c * dx - s * dy, s * dx + c * dy, h + (yaw0 - float(h0)), kappa)
