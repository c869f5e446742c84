"""Lidar evidence per keyframe: points inside the box, rays that pass through it, the ground around it.

For every lidar sweep, the keyframes within ``sweep_match_tolerance_s`` of it are moved into the sensor
frame (centre exactly; yaw from the pose's rotation about z — the sensor's tilt, a degree or two, is
dropped) and counted with :func:`kernels.points_in_boxes_counts` in one call together with

* a *ring* box per keyframe (on every 8th point, those in no labelled box): the box grown by
  ``ground_ring_m`` sideways and by metres up and down; the ``ground_quantile`` of its points' z is the
  local ground height (a robust lower envelope), kept when at least ``ground_min_points`` ring points
  lie within 0.2 m of it (a flat patch, not a few stray low returns);
* for near-empty boxes, the points in the box's azimuth sector (counting-sorted into 0.5 degree bins
  once per sweep) are tested ray by ray: those whose ray from the sensor crosses the box's *core*
  (length and width scaled by ``core_shrink``, 25-65 % of the height: the solid body, not glass or the
  gap under a car) and ends beyond it prove the space empty (an object there would have returned them);
  those ending before the core are an occluder's returns (``n_blocked``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.validation.scene import Scene
from kernels import points_in_boxes, points_in_boxes_counts

__all__ = ["LidarEvidence", "lidar_evidence"]

F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]
_NEAR_EMPTY = 20  # boxes with fewer points get the see-through test
_BINS = 720  # azimuth bins of the ray test
_GROUND_STRIDE = 8  # the ground estimate uses every 8th point
_CORE_Z = (0.25, 0.65)


@dataclass(frozen=True, slots=True)
class LidarEvidence:
    """Per row of the scene's flat keyframe table (``-1`` / NaN where no sweep matched)."""

    sensor: tuple[str | None, ...]
    n_points: I32
    """Points inside the box above its lowest 0.2 m (ground returns excluded)."""
    n_through: I32
    n_blocked: I32
    """Rays towards the box's core that end before it (an occluder)."""
    range_m: F64
    bottom_z: F64
    """Box bottom in the sensor frame [m]."""
    ground_z: F64
    """Local ground height in the sensor frame [m] (NaN: too few ring points or out of range)."""


def _through(points: npt.NDArray[np.float32], box: F64, shrink: float) -> tuple[int, int]:
    """Rays sensor -> point crossing the core of ``box``: (passing through it, ending before it)."""
    if points.shape[0] == 0:
        return 0, 0
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
    crosses = (enter < leave) & (leave > 0)
    through = int(np.count_nonzero(crosses & (enter > 0) & (leave < 1.0)))
    return through, int(np.count_nonzero(crosses & (enter >= 1.0)))


def _azimuth_index(pts: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]:
    """Point order by azimuth bin (0.5 degree) and the bin start offsets (counting sort)."""
    az = np.arctan2(pts[:, 1], pts[:, 0])
    bins = (((az + np.pi) * (_BINS / (2 * np.pi))).astype(np.int32) % _BINS).astype(np.int16)
    order = np.argsort(bins, kind="stable")  # radix sort for 16-bit keys
    start = np.zeros(_BINS + 1, np.int64)
    np.cumsum(np.bincount(bins, minlength=_BINS), out=start[1:])
    return order, start


def _sector(box: F64, order: npt.NDArray[np.intp], start: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Indices of the points whose azimuth lies within the box's angular extent (seen from the origin)."""
    c, s = np.cos(box[6]), np.sin(box[6])
    dx = np.array([1, 1, -1, -1]) * box[3] / 2
    dy = np.array([1, -1, 1, -1]) * box[4] / 2
    az = np.arctan2(box[1] + s * dx + c * dy, box[0] + c * dx - s * dy)
    mid = np.arctan2(box[1], box[0])
    rel = (az - mid + np.pi) % (2 * np.pi) - np.pi
    lo = int(np.floor((mid + rel.min() + np.pi) * _BINS / (2 * np.pi)))
    hi = int(np.floor((mid + rel.max() + np.pi) * _BINS / (2 * np.pi)))
    parts = [order[start[b % _BINS] : start[b % _BINS + 1]] for b in range(lo, hi + 1)]
    return np.concatenate(parts) if parts else np.zeros(0, np.intp)


def _sweep(
    scene: Scene, sensor_id: str, index: int, rows: npt.NDArray[np.int64], ev: dict[str, np.ndarray]
) -> None:
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
    m = b.shape[0]
    body = b.copy()  # the lowest 0.2 m left out: ground returns are not the object's points
    lift = np.minimum(0.2, 0.5 * b[:, 5])
    body[:, 2] += lift / 2
    body[:, 5] -= lift
    first = points_in_boxes(pts, body.astype(np.float32))
    counts = np.bincount(first[first >= 0], minlength=m).astype(np.int32)  # overlaps count once
    ev["n_points"][rows] = counts
    ev["range_m"][rows] = rng
    ev["bottom_z"][rows] = b[:, 2] - b[:, 5] / 2
    ring_sel = np.flatnonzero((rng <= g.ground_max_range_m) & (rng >= g.ground_min_range_m))
    if ring_sel.size:
        ring = b[ring_sel].copy()
        ring[:, 3:5] += 2 * g.ground_ring_m
        ring[:, 2] -= 1.0
        ring[:, 5] += 6.0
        sub = pts[::_GROUND_STRIDE][first[::_GROUND_STRIDE] < 0]  # not inside any labelled box
        res = points_in_boxes_counts(sub, ring.astype(np.float32))
        q = g.ground_quantile
        for j, k in enumerate(ring_sel):
            z = sub[res.points_of(j), 2]
            if z.size >= g.ground_min_points:
                kk = int(q * (z.size - 1))
                gz = np.partition(z, kk)[kk]
                # support: a flat patch of ground around the estimate, not a few low stray returns
                if np.count_nonzero(np.abs(z - gz) <= 0.2) >= g.ground_min_points:
                    ev["ground_z"][rows[k]] = gz
    near = np.flatnonzero((rng <= g.empty_max_range_m) & (rng > 1.0))
    ev["n_through"][rows[near]] = 0
    ev["n_blocked"][rows[near]] = 0
    cand = near[counts[near] < _NEAR_EMPTY]
    if cand.size == 0:
        return
    order, start = _azimuth_index(pts)
    for k in cand:
        idx = _sector(b[k], order, start)
        ev["n_through"][rows[k]], ev["n_blocked"][rows[k]] = _through(pts[idx], b[k], g.core_shrink)


def _compute(scene: Scene) -> LidarEvidence:
    n = scene.kf_time.size
    ev = {
        "n_points": np.full(n, -1, np.int32),
        "n_through": np.full(n, -1, np.int32),
        "n_blocked": np.full(n, -1, np.int32),
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
