"""Smoothing of one whole track (the log is known): Kalman filter + Rauch–Tung–Striebel, heading, size.

:func:`smooth_track` turns the detections of one track (a subset of the log's frames) into one cuboid per
frame of its span:

1. forward Kalman filter over every frame of the span (predict each frame, update where observed), then
   the RTS backward pass ``x_s[k] = x_f[k] + C_k (x_s[k+1] - x_p[k+1])``,
   ``C_k = P_f[k] F_kᵀ P_p[k+1]⁻¹`` (heading differences wrapped);
2. one rigid size: the per-axis median of the observed sizes;
3. heading consistency: no π flips between frames, and where the object moves faster than
   ``moving_speed_mps`` the heading points along the motion (the whole track is turned by π when most
   moving frames disagree, remaining disagreeing frames one by one);
4. a parked object (smoothed centres within ``parked_radius_m`` of their median, median speed below
   ``parked_speed_mps``) gets one fixed pose: the median observed centre and the observed headings'
   axis (mean of doubled angles), pointing where most observations point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import yaw_to_quat_wxyz
from calibration.units import wrap_angle
from tracking.motion import YAW, MotionModel, kalman_update
from tracking.paths import CuboidPath, PoseFrame

__all__ = ["SmoothingConfig", "SmoothedTrack", "smooth_track"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SmoothingConfig:
    """Thresholds of :func:`smooth_track`.

    Parameters
    ----------
    moving_speed_mps : float
        Above this speed the heading must agree with the direction of motion [m/s].
    parked_radius_m : float
        Largest distance of a parked object's smoothed centres from their median [m].
    parked_speed_mps : float
        Largest median speed of a parked object [m/s].
    confidence_halflife_frames : float
        Confidence of an unobserved frame halves every this many frames from the nearest observation.
    """

    moving_speed_mps: float = 1.0
    parked_radius_m: float = 0.4
    parked_speed_mps: float = 0.3
    confidence_halflife_frames: float = 5.0


@dataclass(frozen=True, slots=True)
class SmoothedTrack:
    """One smoothed track: a cuboid per frame of its span.

    Parameters
    ----------
    path : CuboidPath
        World-frame cuboids at every frame of the span, with per-frame confidence.
    observed : ndarray of shape (K,), bool
        Frames with a detection.
    velocities : ndarray of shape (K, 3), float64
        Smoothed velocity over ground [m/s].
    parked : bool
        Whether the object was found parked (one fixed pose).
    """

    path: CuboidPath
    observed: npt.NDArray[np.bool_]
    velocities: F64
    parked: bool


def _rts(
    model: MotionModel, times_us: I64, obs: F64, observed: npt.NDArray[np.bool_], r: F64
) -> tuple[F64, F64]:
    """Forward filter + RTS smoother over all frames; returns smoothed states (K, n) and velocities."""
    k = times_us.size
    first = int(np.argmax(observed))
    x, p = model.initial(obs[first : first + 1])
    n = model.n
    xf, pf = np.zeros((k, n)), np.zeros((k, n, n))
    xp, pp, fs = np.zeros((k, n)), np.zeros((k, n, n)), np.zeros((k, n, n))
    for i in range(k):
        if i > 0:
            x, p, f = model.predict(x, p, (times_us[i] - times_us[i - 1]) * 1e-6)
            fs[i] = f[0]
        xp[i], pp[i] = x[0], p[0]
        if observed[i]:
            x, p, _ = kalman_update(x, p, obs[i : i + 1], r)
        xf[i], pf[i] = x[0], p[0]
    xs = xf.copy()
    ps = pf[-1]
    for i in range(k - 2, -1, -1):
        c = pf[i] @ fs[i + 1].T @ np.linalg.inv(pp[i + 1])
        d = xs[i + 1] - xp[i + 1]
        d[YAW] = wrap_angle(d[YAW])
        xs[i] = xf[i] + c @ d
        xs[i, YAW] = wrap_angle(xs[i, YAW])
        ps = pf[i] + c @ (ps - pp[i + 1]) @ c.T
    return xs, np.asarray(model.velocity(xs))


def _consistent_headings(yaw: F64, vel: F64, moving_speed: float) -> F64:
    """Remove π flips and make the heading follow the motion where the object moves."""
    yaw = yaw.copy()
    for i in range(1, yaw.size):  # no flips between consecutive frames
        if abs(wrap_angle(yaw[i] - yaw[i - 1])) > np.pi / 2:
            yaw[i] = wrap_angle(yaw[i] + np.pi)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    moving = speed > moving_speed
    if moving.any():
        motion = np.arctan2(vel[:, 1], vel[:, 0])
        against = np.abs(wrap_angle(yaw - motion)) > np.pi / 2
        if against[moving].sum() * 2 > moving.sum():
            yaw = np.asarray(wrap_angle(yaw + np.pi))
            against = ~against
        yaw[moving & against] = wrap_angle(yaw[moving & against] + np.pi)
    return yaw


def smooth_track(
    model: MotionModel,
    times_us: I64,
    boxes: F64,
    observed: npt.NDArray[np.bool_],
    scores: F64,
    obs_std: tuple[float, float, float, float],
    config: SmoothingConfig | None = None,
) -> SmoothedTrack:
    """Smooth one track over every frame of its span (see the module docstring).

    Parameters
    ----------
    model : MotionModel
        Motion model for the filter.
    times_us : ndarray of shape (K,), int64
        Strictly increasing frame times of the span [µs].
    boxes : ndarray of shape (K, 7), float64
        Observed boxes, world frame [m, rad]; rows where ``observed`` is False are ignored.
    observed : ndarray of shape (K,), bool
        Frames with a detection (at least one).
    scores : ndarray of shape (K,), float64
        Detection scores of observed frames.
    obs_std : tuple of 4 float
        Detection noise: centre x, y, z [m] and heading [rad].
    config : SmoothingConfig, optional
        Thresholds.

    Returns
    -------
    SmoothedTrack
        The smoothed cuboids (world frame) with per-frame confidence.
    """
    cfg = SmoothingConfig() if config is None else config
    r = np.diag(np.square(obs_std))
    obs = boxes[:, [0, 1, 2, 6]]
    xs, vel = _rts(model, times_us, obs, observed, r)
    size = np.median(boxes[observed, 3:6], axis=0)
    centers = xs[:, :3].copy()
    yaw = _consistent_headings(xs[:, YAW], vel, cfg.moving_speed_mps)
    med = np.median(boxes[observed, :3], axis=0)
    spread = np.linalg.norm(centers[:, :2] - med[:2], axis=1).max()
    parked = bool(
        spread <= cfg.parked_radius_m and np.median(np.hypot(vel[:, 0], vel[:, 1])) < cfg.parked_speed_mps
    )
    if parked:
        seen = boxes[observed, 6]
        axis = 0.5 * np.arctan2(np.sin(2 * seen).mean(), np.cos(2 * seen).mean())
        forward = np.abs(wrap_angle(seen - axis)) <= np.pi / 2
        heading = axis if forward.sum() * 2 >= forward.size else wrap_angle(axis + np.pi)
        centers[:] = med
        yaw[:] = heading
        vel = np.zeros_like(vel)
    idx = np.flatnonzero(observed)
    frames = np.arange(times_us.size)
    nearest = np.abs(frames[:, None] - idx[None, :]).min(axis=1)
    base = np.interp(frames, idx, scores[idx])
    conf = np.clip(base * 0.5 ** (nearest / cfg.confidence_halflife_frames), 0.0, 1.0)
    path = CuboidPath(
        times_us,
        centers,
        np.repeat(size[None, :], times_us.size, axis=0),
        yaw_to_quat_wxyz(yaw),
        conf.astype(np.float32),
        PoseFrame.WORLD,
    )
    return SmoothedTrack(path, observed.copy(), vel, parked)
