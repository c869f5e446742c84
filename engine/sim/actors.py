"""Actors of the simulated scene and their motion, evaluated at any time.

Every actor is a yaw-only box on the ground plane of constant size. Two motion modes:

* ``LANE``: follows a lane (lateral offset ``d`` from the road centreline) in direction ``+1`` or
  ``-1`` of arc length, driven by a :class:`~engine.sim.road.Flow`: its lane arc length (measured along
  the lane itself, :meth:`~engine.sim.road.Road.lane_to_s`) is
  ``u(t) = s0 + dir * (b + A sin(w b + phi))`` with ``b = gain * distance_flow(t)``; the sine lets actors
  of one flow breathe without reversing (``A w < 1``), and actors of one flow and lane keep their gaps.
  ``gain = 0`` is a parked actor.
* ``LINE``: crosses along a straight segment from ``p`` in direction ``u`` at constant speed, starting at
  ``t_start``; it waits at the start before and stands at the end after.

Time-varying attributes of vehicles (:data:`ATTRIBUTES`): ``brake_light`` is ``on`` while decelerating
harder than 0.35 m/s^2 or standing in traffic; ``blinker`` shows scripted episodes (lane-change intent
``left``/``right``, ``hazard`` on parked cars), else ``left``/``right`` when the road turns within the next
20 m, else ``off``. Attributes are evaluated on the 10 ms grid (the value at ``t`` is the value at ``t``
rounded down to the grid), so their change points are grid times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.sim.road import GRID_US, Flow, Road

__all__ = ["ATTRIBUTES", "CLASSES", "LANE", "LINE", "ActorSet", "ActorStates", "VEHICLES"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

CLASSES: tuple[str, ...] = ("ground", "structure", "car", "truck", "pedestrian", "cyclist")
"""Semantic class names by id (point labels and actor label ids)."""
VEHICLES = (2, 3)
LANE, LINE = 0, 1
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "blinker": ("off", "left", "right", "hazard"),
    "brake_light": ("off", "on"),
}
"""Time-varying vehicle attributes and their values, by code."""
_TURN_CURVATURE = 1.0 / 90.0  # [1/m]: sharper turns ahead switch the blinker on


@dataclass(frozen=True, slots=True, eq=False)
class ActorStates:
    """Actor kinematics at K times for M actors; every array has shape (K, M), world frame.

    Attributes
    ----------
    x, y, z : ndarray, float64
        Box centre [m].
    yaw : ndarray, float64
        Heading of the box's length axis [rad] (not wrapped).
    vx, vy : ndarray, float64
        Centre velocity [m/s].
    yaw_rate : ndarray, float64
        [rad/s].
    accel : ndarray, float64
        Longitudinal acceleration [m/s^2].
    """

    x: F64
    y: F64
    z: F64
    yaw: F64
    vx: F64
    vy: F64
    yaw_rate: F64
    accel: F64


@dataclass(frozen=True, slots=True, eq=False)
class ActorSet:
    """All actors as structure-of-arrays (A actors); see the module docstring for the motion model.

    Attributes
    ----------
    label : ndarray of shape (A,), int64
        Class id into :data:`CLASSES`.
    size : ndarray of shape (A, 3), float64
        ``(length, width, height)`` [m].
    mode : ndarray of shape (A,), int64
        ``LANE`` or ``LINE``.
    lane : ndarray of shape (A, 8), float64
        ``s0, d, dir, flow, gain, A, w, phi`` (LANE actors).
    line : ndarray of shape (A, 6), float64
        ``px, py, ux, uy, speed, length`` (LINE actors); ``line_start_us`` (A,) int64.
    episodes : ndarray of shape (A, E, 3), float64
        Blinker episodes ``(start_s, end_s, code)`` in seconds since ``t0_us``; unused rows are NaN.
    behaviour : tuple of str
        ``"lane"``, ``"parked"``, ``"crossing"`` or ``"standing"`` per actor.
    """

    label: I64
    size: F64
    mode: I64
    lane: F64
    line: F64
    line_start_us: I64
    episodes: F64
    behaviour: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.label.size)

    def states(self, road: Road, flows: list[Flow], t_us: npt.ArrayLike, idx: I64) -> ActorStates:
        """Kinematics of actors ``idx`` (M,) at times ``t_us`` (K,) [µs]."""
        t = np.asarray(t_us, dtype=np.int64).reshape(-1)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        shape = (t.size, idx.size)
        out = {k: np.zeros(shape) for k in ("x", "y", "yaw", "vx", "vy", "yaw_rate", "accel")}
        lane = idx[self.mode[idx] == LANE]
        cols_lane = np.flatnonzero(self.mode[idx] == LANE)
        if lane.size:
            u, udot, uddot = self._lane_progress(flows, t, lane)
            d, direction = self.lane[lane, 1], self.lane[lane, 2]
            s = road.lane_to_s(u, np.broadcast_to(d, u.shape))
            x, y, h, k = road.at(s, np.broadcast_to(d, s.shape))
            out["x"][:, cols_lane], out["y"][:, cols_lane] = x, y
            out["yaw"][:, cols_lane] = h + np.where(direction < 0, np.pi, 0.0)
            out["vx"][:, cols_lane] = udot * np.cos(h)
            out["vy"][:, cols_lane] = udot * np.sin(h)
            out["yaw_rate"][:, cols_lane] = k * udot / (1.0 - k * d)
            out["accel"][:, cols_lane] = uddot * direction
        cols_line = np.flatnonzero(self.mode[idx] == LINE)
        if cols_line.size:
            line = idx[cols_line]
            px, py, ux, uy, speed, length = (self.line[line, i] for i in range(6))
            tau = (t[:, None] - self.line_start_us[line][None, :]).astype(np.float64) * 1e-6
            prog = np.clip(tau * speed, 0.0, length)
            moving = (tau * speed > 0.0) & (tau * speed < length)
            out["x"][:, cols_line] = px + prog * ux
            out["y"][:, cols_line] = py + prog * uy
            out["yaw"][:, cols_line] = np.broadcast_to(np.arctan2(uy, ux), prog.shape)
            out["vx"][:, cols_line] = np.where(moving, speed * ux, 0.0)
            out["vy"][:, cols_line] = np.where(moving, speed * uy, 0.0)
        z = np.broadcast_to(self.size[idx, 2] / 2.0, shape).copy()
        return ActorStates(z=z, **out)

    def _lane_progress(self, flows: list[Flow], t: I64, lane: I64) -> tuple[F64, F64, F64]:
        s0, direction = self.lane[lane, 0], self.lane[lane, 2]
        flow, gain = self.lane[lane, 3].astype(np.int64), self.lane[lane, 4]
        amp, w, phi = self.lane[lane, 5], self.lane[lane, 6], self.lane[lane, 7]
        dist = np.zeros((t.size, lane.size))
        speed = np.zeros_like(dist)
        accel = np.zeros_like(dist)
        for f in np.unique(flow):
            cols = np.flatnonzero(flow == f)
            fd, fv, fa = flows[int(f)].at(t)
            dist[:, cols], speed[:, cols], accel[:, cols] = fd[:, None], fv[:, None], fa[:, None]
        b, bdot, bddot = gain * dist, gain * speed, gain * accel
        arg = w * b + phi
        u = s0 + direction * (b + amp * np.sin(arg))
        udot = direction * bdot * (1.0 + amp * w * np.cos(arg))
        uddot = direction * (bddot * (1.0 + amp * w * np.cos(arg)) - amp * w * w * bdot * bdot * np.sin(arg))
        return u, udot, uddot

    def attribute_codes(
        self, road: Road, flows: list[Flow], t0_us: int, t_us: npt.ArrayLike, idx: I64
    ) -> dict[str, I64]:
        """Attribute value codes (K, M) of actors ``idx`` at times ``t_us`` (rounded down to the grid).

        Non-vehicles get code 0 (``off``) throughout; callers report attributes for vehicles only.
        """
        t = np.asarray(t_us, dtype=np.int64).reshape(-1)
        tq = t0_us + (t - t0_us) // GRID_US * GRID_US
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        st = self.states(road, flows, tq, idx)
        speed = np.hypot(st.vx, st.vy)
        is_vehicle = np.isin(self.label[idx], VEHICLES)
        driving = (self.mode[idx] == LANE) & (self.lane[idx, 4] > 0) & is_vehicle
        brake = driving & ((st.accel < -0.35) | (speed < 0.05))
        blink = np.zeros(st.x.shape, dtype=np.int64)
        # Turn ahead: the actor's own turning direction is sign(curvature * dir).
        lane_cols = np.flatnonzero(driving)
        if lane_cols.size:
            u, _, _ = self._lane_progress(flows, tq, idx[lane_cols])
            direction = self.lane[idx[lane_cols], 2]
            s = road.lane_to_s(u, np.broadcast_to(self.lane[idx[lane_cols], 1], u.shape))
            turn = np.zeros(s.shape)
            for ahead in (0.0, 10.0, 20.0):
                _, _, _, k = road.at(s + direction * ahead)
                k = k * direction
                turn = np.where(np.abs(k) > np.abs(turn), k, turn)
            blink[:, lane_cols] = np.where(turn > _TURN_CURVATURE, 1, np.where(turn < -_TURN_CURVATURE, 2, 0))
        # Scripted episodes win over the turn rule.
        ts = (tq - t0_us).astype(np.float64)[:, None] * 1e-6
        ep = self.episodes[idx]
        for e in range(ep.shape[1]):
            start, end, code = ep[:, e, 0], ep[:, e, 1], ep[:, e, 2]
            on = (ts >= start) & (ts < end) & is_vehicle & np.isfinite(code)
            blink = np.where(on, np.nan_to_num(code).astype(np.int64), blink)
        return {"blinker": blink, "brake_light": brake.astype(np.int64)}
