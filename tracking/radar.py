"""Radar radial velocity as a tracker observation.

Radar points are taken in the world frame with their **ego-motion-compensated** range rate (over ground,
positive = moving away from the sensor; docs/CONVENTIONS.md §7 gives the compensation). The points inside
a track's box vote with their median range rate; the observation model is
``v_r = û · v`` with ``û`` the unit line of sight from the radar to the box centre and ``v`` the track's
velocity over ground (:func:`tracking.motion.update_radial_velocity`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.validation import as_array
from tracking.motion import MotionModel, update_radial_velocity

__all__ = ["RadarPoints", "radar_update"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class RadarPoints:
    """Radar points of one frame.

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32
        Positions [m], world frame.
    radial_velocity_mps : ndarray of shape (N,), float32
        Ego-motion-compensated range rate [m/s], positive away from the sensor.
    sensor_position : ndarray of shape (3,), float64
        Radar origin [m], world frame (for the line of sight).
    min_points : int
        Fewer points inside a box give no observation.
    """

    points: npt.NDArray[np.float32]
    radial_velocity_mps: npt.NDArray[np.float32]
    sensor_position: F64
    min_points: int = 1

    def __post_init__(self) -> None:
        p = as_array("points", self.points, np.float32, (None, 3))
        v = as_array("radial_velocity_mps", self.radial_velocity_mps, np.float32, (p.shape[0],))
        s = as_array("sensor_position", self.sensor_position, np.float64, (3,))
        object.__setattr__(self, "points", p)
        object.__setattr__(self, "radial_velocity_mps", v)
        object.__setattr__(self, "sensor_position", s)


def radar_update(
    model: MotionModel, x: F64, p: F64, boxes: F64, radar: RadarPoints, std_mps: float
) -> tuple[F64, F64]:
    """Update the tracks whose boxes hold radar points with those points' median range rate.

    Parameters
    ----------
    model : MotionModel
        Motion model of the states.
    x : ndarray of shape (T, n), float64
        States.
    p : ndarray of shape (T, n, n), float64
        Covariances.
    boxes : ndarray of shape (T, 7), float64
        The tracks' boxes, world frame.
    radar : RadarPoints
        This frame's radar points.
    std_mps : float
        Standard deviation of the median range rate [m/s].

    Returns
    -------
    x, p : ndarray
        States and covariances; rows without enough radar points are unchanged.
    """
    if radar.points.shape[0] == 0 or boxes.shape[0] == 0:
        return x, p
    from kernels.boxes import points_in_boxes

    owner = np.asarray(points_in_boxes(radar.points, boxes.astype(np.float32)))
    inside = owner >= 0
    if not inside.any():
        return x, p
    rows = np.unique(owner[inside])
    counts = np.bincount(owner[inside], minlength=boxes.shape[0])[rows]
    rows = rows[counts >= radar.min_points]
    if rows.size == 0:
        return x, p
    vr = np.array([np.median(radar.radial_velocity_mps[owner == r]) for r in rows], dtype=np.float64)
    los = boxes[rows, :3] - radar.sensor_position
    los /= np.maximum(np.linalg.norm(los, axis=1, keepdims=True), 1e-9)
    xn, pn = x.copy(), p.copy()
    xn[rows], pn[rows] = update_radial_velocity(model, x[rows], p[rows], los, vr, std_mps)
    return xn, pn
