"""Geometry rules: empty boxes (see-through test), ground contact, overlaps, class sizes, range and FOV."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.sensors import SensorKind
from engine.validation._lidar import lidar_evidence
from engine.validation._motion import runs
from engine.validation.findings import Finding
from engine.validation.registry import SkipRule, finding, register
from engine.validation.scene import Scene
from kernels import box_iou_3d

__all__: list[str] = []


def _need_lidar(scene: Scene) -> None:
    if not any(len(s) for s in scene.log.lidar.values()):
        raise SkipRule("the log has no lidar sweeps")


@register("geometry.empty_box", "error", "a (near-)empty box that lidar rays pass straight through")
def empty_box(scene: Scene) -> Iterator[Finding]:
    _need_lidar(scene)
    g = scene.config.geometry
    ev = lidar_evidence(scene)
    need = np.maximum(
        g.empty_min_through,
        g.empty_through_ratio * (np.maximum(ev.n_points, 0) + np.maximum(ev.n_blocked, 0)),
    )
    solid = np.array([p is not None and p.solid for p in scene.priors] + [False])[scene.kf_track]
    for row in np.flatnonzero(solid & (ev.n_through >= 0) & (ev.n_through >= need)):
        yield finding(
            "geometry.empty_box",
            f"{ev.n_points[row]} point(s) inside, {ev.n_blocked[row]} rays blocked before it, but "
            f"{ev.n_through[row]} lidar rays pass through the box "
            f"({ev.range_m[row]:.1f} m away): nothing is there",
            track_id=scene.track_id(int(row)),
            timestamp_us=int(scene.kf_time[row]),
            sensor=ev.sensor[row],
            value=float(ev.n_through[row]),
            threshold=float(need[row]),
        )


@register("geometry.ground", "error", "a box sunk into or floating above the local ground")
def ground(scene: Scene) -> Iterator[Finding]:
    _need_lidar(scene)
    g = scene.config.geometry
    ev = lidar_evidence(scene)
    gap = ev.bottom_z - ev.ground_z
    # The local estimate fails where the ground around a box is hidden (a parked car behind others), so
    # a keyframe is judged against its track's median gap (a single sunk frame) and, absolutely, only
    # beyond ``absolute_ground_m``.
    med = np.full(len(scene.tracks) + 1, np.nan)
    for i in range(len(scene.tracks)):
        v = gap[scene.kf_offset[i] : scene.kf_offset[i + 1]]
        if np.isfinite(v).any():
            med[i] = np.nanmedian(v)
    rel = gap - med[scene.kf_track]
    with np.errstate(invalid="ignore"):
        bad = (rel < -g.sunk_m) | (rel > g.floating_m) | (np.abs(gap) > g.absolute_ground_m)
    for row in np.flatnonzero(bad):
        absolute = abs(gap[row]) > g.absolute_ground_m
        v = gap[row] if absolute else rel[row]
        sunk = v < 0
        yield finding(
            "geometry.ground",
            f"box bottom {abs(v):.2f} m {'below' if sunk else 'above'} "
            f"{'the local ground' if absolute else 'where the rest of its track sits on the ground'} "
            f"({'sunk' if sunk else 'floating'})",
            track_id=scene.track_id(int(row)),
            timestamp_us=int(scene.kf_time[row]),
            sensor=ev.sensor[row],
            value=float(v),
            threshold=(-1 if sunk else 1)
            * (g.absolute_ground_m if absolute else g.sunk_m if sunk else g.floating_m),
        )


def _candidate_pairs(boxes: npt.NDArray[np.float64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    r = 0.5 * np.hypot(boxes[:, 3], boxes[:, 4])
    d = np.hypot(boxes[:, None, 0] - boxes[None, :, 0], boxes[:, None, 1] - boxes[None, :, 1])
    dz = np.abs(boxes[:, None, 2] - boxes[None, :, 2]) < 0.5 * (boxes[:, None, 5] + boxes[None, :, 5])
    near = (d < r[:, None] + r[None, :]) & dz
    i, j = np.nonzero(np.triu(near, 1))
    return i, j


@register("geometry.overlap", "error", "two boxes of one frame overlap (3D IoU)")
def overlap(scene: Scene) -> Iterator[Finding]:
    thr = scene.config.geometry.overlap_iou_3d
    pairs: list[tuple[int, int, int]] = []
    for t, rows in scene.frames():
        i, j = _candidate_pairs(scene.kf_boxes[rows])
        pairs.extend((t, int(rows[a]), int(rows[b])) for a, b in zip(i, j, strict=True))
    if not pairs:
        return
    ra = np.array([p[1] for p in pairs])
    rb = np.array([p[2] for p in pairs])
    # one kernel call over every candidate pair (the diagonal of the pair x pair matrix)
    iou = np.diagonal(
        box_iou_3d(scene.kf_boxes[ra].astype(np.float32), scene.kf_boxes[rb].astype(np.float32))
    )
    for (t, a, b), v in zip(pairs, iou.tolist(), strict=True):
        if v > thr:
            yield finding(
                "geometry.overlap",
                f"overlaps track {scene.track_id(b)!r} with 3D IoU {v:.2f}",
                track_id=scene.track_id(a),
                timestamp_us=t,
                value=v,
                threshold=thr,
            )


@register("geometry.class_size", "error", "box size outside the class prior")
def class_size(scene: Scene) -> Iterator[Finding]:
    for i, prior in enumerate(scene.priors):
        if prior is None:
            continue
        s = scene.boxes[i][:, 3:6]
        lo = np.array([prior.length_m[0], prior.width_m[0], prior.height_m[0]])
        hi = np.array([prior.length_m[1], prior.width_m[1], prior.height_m[1]])
        excess = np.maximum(lo - s, s - hi).max(axis=1)
        for st, e in runs(excess > 0):
            k = st + int(np.argmax(excess[st:e]))
            yield finding(
                "geometry.class_size",
                f"size {np.round(s[k], 2).tolist()} outside the {scene.class_names[i]} prior "
                f"(l {list(prior.length_m)}, w {list(prior.width_m)}, h {list(prior.height_m)}) "
                f"over {e - st} keyframe(s)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=int(scene.tracks[i].timestamps_us[st]),
                value=float(excess[k]),
                threshold=0.0,
            )


def _ego_xy(scene: Scene) -> npt.NDArray[np.float64]:
    traj = scene.log.trajectory
    p, _ = traj.poses_at(np.clip(scene.kf_time, traj.start_us, traj.end_us))
    return p


@register("geometry.out_of_range", "warning", "box centre farther from the ego than the configured range")
def out_of_range(scene: Scene) -> Iterator[Finding]:
    thr = scene.config.geometry.max_range_m
    d = np.linalg.norm(scene.kf_boxes[:, :2] - _ego_xy(scene)[:, :2], axis=1)
    for i in range(len(scene.tracks)):
        lo, hi = scene.kf_offset[i], scene.kf_offset[i + 1]
        for s, e in runs(d[lo:hi] > thr):
            yield finding(
                "geometry.out_of_range",
                f"{d[lo + s]:.0f} m from the ego over {e - s} keyframe(s)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=int(scene.kf_time[lo + s]),
                value=float(d[lo + s]),
                threshold=thr,
            )


def _active(stamps: npt.NDArray[np.int64], t: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    if stamps.size == 0:
        return np.zeros(t.size, bool)
    period = float(np.median(np.diff(stamps))) if stamps.size > 1 else 1e5
    j = np.clip(np.searchsorted(stamps, t), 1, max(stamps.size - 1, 1))
    near = np.minimum(np.abs(stamps[j - 1] - t), np.abs(stamps[np.minimum(j, stamps.size - 1)] - t))
    return np.asarray(near <= period)  # a capture within one period


@register("geometry.outside_fov", "warning", "box outside every sensor's field of view and range")
def outside_fov(scene: Scene) -> Iterator[Finding]:
    g = scene.config.geometry
    log, t, b = scene.log, scene.kf_time, scene.kf_boxes
    traj = log.trajectory
    p, q = traj.poses_at(np.clip(t, traj.start_us, traj.end_us))
    sx = np.array([1, 1, -1, -1, 0]) * 0.5
    sy = np.array([1, -1, 1, -1, 0]) * 0.5
    cos, sin = np.cos(b[:, 6:7]), np.sin(b[:, 6:7])
    cx = b[:, 0:1] + cos * b[:, 3:4] * sx - sin * b[:, 4:5] * sy
    cy = b[:, 1:2] + sin * b[:, 3:4] * sx + cos * b[:, 4:5] * sy
    c = np.stack([cx, cy, np.repeat(b[:, 2:3], 5, 1)], axis=-1).reshape(-1, 3)  # 4 BEV corners + centre
    p, q = np.repeat(p, 5, 0), np.repeat(q, 5, 0)
    from scipy.spatial.transform import Rotation

    from calibration.se3 import quat_wxyz_to_xyzw

    ego = Rotation.from_quat(quat_wxyz_to_xyzw(q)).inv().apply(c - p)
    seen = np.zeros(c.shape[0], bool)
    t5 = np.repeat(t, 5)
    for sid, sensor in log.sensors.items():
        groups: dict[SensorKind, Any] = {
            SensorKind.LIDAR: log.lidar,
            SensorKind.RADAR: log.radar,
            SensorKind.CAMERA: log.cameras,
        }
        stream = groups[sensor.kind].get(sid)
        if stream is None:
            continue
        act = _active(stream.timestamps_us, t5)
        local = sensor.ego_from_sensor.inverse().transform_points(ego)
        if sensor.kind is SensorKind.CAMERA and sensor.camera is not None:
            uv, depth, valid = sensor.camera.project(local)
            cam = sensor.camera
            inside = (
                valid & (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)
            )
            seen |= act & inside & (depth <= g.camera_max_range_m)
        else:
            rng = float(sensor.metadata.get("max_range_m", g.max_range_m))
            ok = np.linalg.norm(local[:, :2], axis=1) <= rng
            fov = sensor.metadata.get("fov_deg")
            if sensor.kind is SensorKind.RADAR and isinstance(fov, int | float):
                ok &= np.abs(np.arctan2(local[:, 1], local[:, 0])) <= np.radians(fov) / 2
            seen |= act & ok
    if not log.sensors:
        raise SkipRule("the log has no sensors")
    covered = np.asarray(seen.reshape(-1, 5).any(axis=1))
    for i in range(len(scene.tracks)):
        lo, hi = scene.kf_offset[i], scene.kf_offset[i + 1]
        for s, e in runs(~covered[lo:hi]):
            yield finding(
                "geometry.outside_fov",
                f"no sensor covers the box (centre and corners) over {e - s} keyframe(s)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=int(t[lo + s]),
            )
