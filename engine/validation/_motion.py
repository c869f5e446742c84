"""Windowed finite differences over a track's keyframes: velocity, acceleration, yaw rate, residuals.

Keyframes of hand labels are noisy (centimetres at 10 Hz), so one-step differences amplify noise into
metres per second; every derivative here spans ``window_s`` (the keyframes nearest to ``t ± window/2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.units import wrap_angle
from engine.validation.scene import Scene

__all__ = ["Motion", "motion", "runs"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Motion:
    """Per keyframe of one track (K values each)."""

    t_s: F64
    velocity: F64
    """(K, 2) horizontal velocity [m/s], world frame."""
    speed: F64
    accel: F64
    """(K,) magnitude of the horizontal acceleration [m/s^2]."""
    yaw_rate: F64
    """(K,) [rad/s], from yaw differences modulo pi (a heading flip does not count as a turn)."""
    residual: F64
    """(K,) distance of each centre from its neighbours' time-weighted interpolation [m] (0 at the ends)."""


def _window(t: F64, half: float) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    k = t.size
    i0 = np.searchsorted(t, t - half, side="left")
    i1 = np.searchsorted(t, t + half, side="right") - 1
    same = i1 <= i0
    i0 = np.where(same, np.maximum(np.arange(k) - 1, 0), i0)
    i1 = np.where(same, np.minimum(np.arange(k) + 1, k - 1), i1)
    return i0, i1


def _derive(t: F64, x: F64, i0: npt.NDArray[np.intp], i1: npt.NDArray[np.intp]) -> F64:
    dt = t[i1] - t[i0]
    dt = np.where(dt > 0, dt, np.inf)
    return (x[i1] - x[i0]) / (dt[:, None] if x.ndim == 2 else dt)


def _compute(scene: Scene, index: int) -> Motion:
    b = scene.boxes[index]
    t = scene.tracks[index].timestamps_us.astype(np.float64) * 1e-6
    k = t.size
    if k < 2:
        z = np.zeros(k)
        return Motion(t, np.zeros((k, 2)), z, z, z, z)
    half = 0.5 * scene.config.temporal.window_s
    i0, i1 = _window(t, half)
    v = _derive(t, b[:, :2], i0, i1)
    a = np.linalg.norm(_derive(t, v, i0, i1), axis=1)
    yaw2 = np.unwrap(2.0 * b[:, 6]) / 2.0  # modulo pi
    yr = np.abs(_derive(t, yaw2, i0, i1))
    res = np.zeros(k)
    if k >= 3:
        alpha = (t[1:-1] - t[:-2]) / (t[2:] - t[:-2])
        pred = b[:-2, :3] + alpha[:, None] * (b[2:, :3] - b[:-2, :3])
        res[1:-1] = np.linalg.norm(b[1:-1, :3] - pred, axis=1)
    return Motion(t, v, np.linalg.norm(v, axis=1), a, yr, res)


def motion(scene: Scene, index: int) -> Motion:
    """The (cached) :class:`Motion` of track ``index``."""
    return scene.cached(f"motion/{index}", lambda: _compute(scene, index))


def runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """``(start, stop)`` index ranges of consecutive True values."""
    m = np.r_[False, np.asarray(mask, dtype=bool), False]
    d = np.diff(m.astype(np.int8))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist(), strict=True))


def heading_steps(yaw: F64) -> F64:
    """Signed heading change between consecutive keyframes, wrapped to [-pi, pi)."""
    return np.asarray(wrap_angle(np.diff(yaw)), dtype=np.float64)


def box_at(scene: Scene, index: int, t_us: int) -> tuple[F64, F64] | None:
    """Track ``index`` at ``t_us``: world box (7,) and centre velocity (3,) [m/s], or None outside its span.

    Linear between the bracketing keyframes (yaw along the short arc); the velocity is that segment's.
    """
    ts = scene.tracks[index].timestamps_us
    if t_us < ts[0] or t_us > ts[-1]:
        return None
    b = scene.boxes[index]
    if ts.size == 1:
        return b[0].copy(), np.zeros(3)
    j = int(np.clip(np.searchsorted(ts, t_us, side="right") - 1, 0, ts.size - 2))
    dt = float(ts[j + 1] - ts[j])
    a = (t_us - ts[j]) / dt
    out = b[j] + a * (b[j + 1] - b[j])
    out[6] = b[j, 6] + a * float(wrap_angle(b[j + 1, 6] - b[j, 6]))
    return out, (b[j + 1, :3] - b[j, :3]) / (dt * 1e-6)
