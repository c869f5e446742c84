"""Lidar evidence per keyframe: points inside the box, rays that pass through it, the ground around it.

For every lidar sweep, the keyframes within ``sweep_match_tolerance_s`` of it are moved into the sensor
frame (centre exactly; yaw from the pose's rotation about z — the sensor's tilt, a degree or two, is
dropped) and counted with :func:`kernels.points_in_boxes_counts` in one call together with

* a *ring* box per keyframe (the box grown by ``ground_ring_m`` sideways and by metres up and down):
  the ``ground_quantile`` of its points' z is the local ground height (a robust lower envelope, so the
  object's own points and walls above do not matter);
* for near-empty boxes, a second call with a *shadow* box each: the band behind the box along the
  sensor ray. Points in it whose ray from the sensor crosses the box's *core* (length and width scaled
  by ``core_shrink``, 25-65 % of the height: the solid body, not glass or the gap under a car) prove
  the space empty: an object there would have returned them. An occluded box has no such rays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.validation.scene import Scene
from kernels import points_in_boxes_counts

__all__ = ["LidarEvidence", "lidar_evidence"]

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
_NEAR_EMPTY = 20  # boxes with fewer points get the see-through test
_SHADOW_M = 25.0  # how far behind a box its shadow band reaches [m]
_CORE_Z = (0.25, 0.65)


@dataclass(frozen=True, slots=True)
class LidarEvidence:
    """Per row of the scene's flat keyframe table (``-1`` / NaN where no sweep matched)."""

    sensor: tuple[str | None, ...]
    n_points: I32
    n_through: I32
    range_m: F64
    bottom_z: F64
    """Box bottom in the sensor frame [m]."""
    ground_z: F64
    """Local ground height in the sensor frame [m] (NaN: too few ring points or out of range)."""


def _through(points: npt.NDArray[np.float32], box: F64, shrink: float) -> int:
    """Number of rays sensor -> point that cross the core of ``box`` before reaching the point."""
    if points.shape[0] == 0:
        return 0
    c, s = np.cos(box[6]), np.sin(box[6])
    rot = np.array([[c, s], [-s, c]])  # world -> box (BEV)
    o = np.empty(3)
    o[:2] = rot @ (-box[:2])
    o[2] = -box[2]
    p = np.empty((points.shape[0], 3))
    p[:, :2] = (points[:, :2].astype(np.float64) - box[:2]) @ rot.T
    p[:, 2] = points[:, 2] - box[2]
    h = box[5]
    lo = np.array([-box[3] * shrink / 2, -box[4] * shrink / 2, -h / 2 + _CORE_Z[0] * h])
    hi = np.array([box[3] * shrink / 2, box[4] * shrink / 2, -h / 2 + _CORE_Z[1] * h])
    d = p - o
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (lo - o) / d
        t2 = (hi - o) / d
    tmin = np.where(np.isnan(t1), -np.inf, np.minimum(t1, t2))
    tmax = np.where(np.isnan(t2), np.inf, np.maximum(t1, t2))
    enter = tmin.max(axis=1)
    leave = tmax.min(axis=1)
    return int(np.count_nonzero((enter < leave) & (enter > 0) & (leave < 1.0)))


def _sweep(scene: Scene, sensor_id: str, index: int, rows: npt.NDArray[np.int64], ev: dict[str, np.ndarray]) -> None:
    g = scene.config.geometry
    log = scene.log
    sweep = log.lidar[sensor_id][index]
    world_from_sensor = log.trajectory.pose_at(sweep.timestamp_us) @ log.sensors[sensor_id].ego_from_sensor
    sensor_from_world = world_from_sensor.inverse()
    wb = scene.kf_boxes[rows]
    b = wb.copy()
    b[:, :3] = sensor_from_world.transform_points(wb[:, :3])
    r = sensor_from_world.rotation
    b[:, 6] = wb[:, 6] + np.arctan2(r[1, 0], r[0, 0])
    rng = np.hypot(b[:, 0], b[:, 1])
    pts = sweep.points
    ring_sel = np.flatnonzero(rng <= g.ground_max_range_m)
    ring = b[ring_sel].copy()
    ring[:, 3:5] += 2 * g.ground_ring_m
    ring[:, 2] -= 1.0
    ring[:, 5] += 6.0
    res = points_in_boxes_counts(pts, np.concatenate([b, ring]).astype(np.float32))
    m = b.shape[0]
    counts = res.counts[:m]
    ev["n_points"][rows] = counts
    ev["range_m"][rows] = rng
    ev["bottom_z"][rows] = b[:, 2] - b[:, 5] / 2
    for j, k in enumerate(ring_sel):
        idx = res.points_of(m + j)
        if idx.size >= g.ground_min_points:
            ev["ground_z"][rows[k]] = np.quantile(pts[idx, 2], g.ground_quantile)
    cand = np.flatnonzero((counts < _NEAR_EMPTY) & (rng <= g.empty_max_range_m) & (rng > 1.0))
    ev["n_through"][rows[np.flatnonzero(rng <= g.empty_max_range_m)]] = 0
    if cand.size == 0:
        return
    u = b[cand, :2] / rng[cand, None]
    half = 0.5 * np.hypot(b[cand, 3], b[cand, 4])
    shadow = np.empty((cand.size, 7))
    shadow[:, :2] = b[cand, :2] + u * (_SHADOW_M / 2)
    shadow[:, 2] = b[cand, 2]
    shadow[:, 3] = _SHADOW_M + 2 * half
    shadow[:, 4] = 2 * half
    shadow[:, 5] = b[cand, 5] + 12.0
    shadow[:, 6] = np.arctan2(u[:, 1], u[:, 0])
    sh = points_in_boxes_counts(pts, shadow.astype(np.float32))
    for j, k in enumerate(cand):
        ev["n_through"][rows[k]] = _through(pts[sh.points_of(j)], b[k], g.core_shrink)


def _compute(scene: Scene) -> LidarEvidence:
    n = scene.kf_time.size
    ev = {
        "n_points": np.full(n, -1, np.int32),
        "n_through": np.full(n, -1, np.int32),
        "range_m": np.full(n, np.nan),
        "bottom_z": np.full(n, np.nan),
        "ground_z": np.full(n, np.nan),
    }
    sensor: list[str | None] = [None] * n
    tol = int(round(scene.config.geometry.sweep_match_tolerance_s * 1e6))
    order = np.argsort(scene.kf_time, kind="stable")
    times = scene.kf_time[order]
    for sid in sorted(scene.log.lidar):
        stream = scene.log.lidar[sid]
        for i, ts in enumerate(stream.timestamps_us):
            lo, hi = np.searchsorted(times, [ts - tol, ts + tol + 1])
            rows = order[lo:hi]
            rows = rows[ev["n_points"][rows] < 0]  # a keyframe is checked against one sweep
            if rows.size == 0:
                continue
            _sweep(scene, sid, i, rows, ev)
            for r in rows:
                sensor[int(r)] = sid
    return LidarEvidence(tuple(sensor), **ev)


def lidar_evidence(scene: Scene) -> LidarEvidence:
    """The (cached) :class:`LidarEvidence` of ``scene``."""
    return scene.cached("lidar_evidence", lambda: _compute(scene))
