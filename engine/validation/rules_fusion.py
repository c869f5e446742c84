"""Fusion rules: radar range rate vs track velocity, 2D boxes vs projected cuboids, attributes per modality.

Radar and 2D boxes are optional: a log without radar, or a call without ``boxes_2d``, skips the rule
with the reason recorded in :class:`~engine.validation.ValidationReport.skipped`.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from engine.validation._motion import box_at
from engine.validation.findings import Finding
from engine.validation.registry import SkipRule, finding, register
from engine.validation.scene import Scene
from kernels import points_in_boxes

__all__: list[str] = []

_DT_US = 10_000  # finite-difference step of the sensor's own velocity


@register(
    "fusion.radar_velocity", "error", "radar range rate inside a box disagrees with the track's velocity"
)
def radar_velocity(scene: Scene) -> Iterator[Finding]:
    log = scene.log
    if not any(len(s) for s in log.radar.values()):
        raise SkipRule("the log has no radar sweeps")
    cfg = scene.config.fusion
    traj = log.trajectory
    for sid, stream in log.radar.items():
        ego_from_radar = log.sensors[sid].ego_from_sensor
        for k, t in enumerate(stream.timestamps_us.tolist()):
            states = [(i, box_at(scene, i, t)) for i in range(len(scene.tracks))]
            active = [(i, s) for i, s in states if s is not None]
            if not active or not traj.start_us + _DT_US <= t <= traj.end_us - _DT_US:
                continue
            sweep = stream[k]
            if len(sweep) == 0:
                continue
            w_from_r = traj.pose_at(t) @ ego_from_radar
            origin = w_from_r.translation
            v_sensor = (
                (traj.pose_at(t + _DT_US) @ ego_from_radar).translation
                - (traj.pose_at(t - _DT_US) @ ego_from_radar).translation
            ) / (2 * _DT_US * 1e-6)
            pts = w_from_r.transform_points(sweep.points.astype(np.float64))
            boxes = np.array([s[0] for _, s in active])
            boxes[:, 3:5] += 2 * cfg.radar_box_margin_m  # sideways only: no ground clutter from below
            # radar points near the world origin of the log: float32 is exact enough after centring
            owner = points_in_boxes(
                (pts - origin).astype(np.float32), (boxes - np.r_[origin, 0, 0, 0, 0]).astype(np.float32)
            )
            u = (pts - origin) / np.maximum(np.linalg.norm(pts - origin, axis=1, keepdims=True), 1e-6)
            for j, (i, (_, v_obj)) in enumerate(active):
                sel = owner == j
                if sel.sum() < cfg.radar_min_points:
                    continue
                expected = u[sel] @ (v_obj - v_sensor)
                res = float(np.median(sweep.radial_velocity[sel] - expected))
                if abs(res) > cfg.radar_residual_mps:
                    yield finding(
                        "fusion.radar_velocity",
                        f"{int(sel.sum())} radar points in the box measure a range rate {res:+.1f} m/s "
                        f"off the "
                        f"track's velocity",
                        track_id=scene.tracks[i].track_id,
                        timestamp_us=int(t),
                        sensor=sid,
                        value=res,
                        threshold=cfg.radar_residual_mps,
                    )


def _edge_points(box: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """``12 n`` points along the box's edges (world frame)."""
    s = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float) * 0.5
    edges = [(a, b) for a in range(8) for b in range(a + 1, 8) if np.sum(s[a] != s[b]) == 1]
    a = np.linspace(0.0, 1.0, n)[:, None]
    local = np.concatenate([s[i] + a * (s[j] - s[i]) for i, j in edges]) * box[3:6]
    c, sn = np.cos(box[6]), np.sin(box[6])
    rot = np.array([[c, -sn, 0], [sn, c, 0], [0, 0, 1]])
    return np.asarray(local @ rot.T + box[:3], dtype=np.float64)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@register("fusion.box2d", "error", "a 2D box disagrees with its track's projected cuboid footprint")
def box2d(scene: Scene) -> Iterator[Finding]:
    if scene.boxes_2d is None:
        raise SkipRule("no 2D boxes given (validate(..., boxes_2d=...))")
    cfg = scene.config.fusion
    log = scene.log
    index = {t.track_id: i for i, t in enumerate(scene.tracks)}
    for frame in scene.boxes_2d:
        sensor = log.sensors.get(frame.sensor_id)
        if sensor is None or sensor.camera is None:
            continue
        t = int(frame.timestamp_us)
        if not log.trajectory.start_us <= t <= log.trajectory.end_us:
            continue
        cam_from_world = (log.trajectory.pose_at(t) @ sensor.ego_from_sensor).inverse()
        w, h = sensor.camera.width, sensor.camera.height
        for b in frame.boxes:
            i = index.get(b.track_id)
            state = None if i is None else box_at(scene, i, t)
            if i is None or state is None or getattr(b, "visible_fraction", 1.0) < cfg.box2d_min_visible:
                continue
            uv, _, valid = sensor.camera.project(
                cam_from_world.transform_points(_edge_points(state[0], cfg.edge_samples))
            )
            if valid.any():
                u, v = np.clip(uv[valid, 0], 0, w), np.clip(uv[valid, 1], 0, h)
                proj = (float(u.min()), float(v.min()), float(u.max()), float(v.max()))
                iou = _iou(proj, tuple(b.box))
            else:
                iou = 0.0
            if iou < cfg.box2d_min_iou:
                yield finding(
                    "fusion.box2d",
                    f"2D box {np.round(b.box, 0).tolist()} has IoU {iou:.2f} with the projected cuboid",
                    track_id=b.track_id,
                    timestamp_us=t,
                    sensor=frame.sensor_id,
                    value=iou,
                    threshold=cfg.box2d_min_iou,
                )


@register("fusion.attribute_modality", "warning", "an attribute present (or valued) in one modality only")
def attribute_modality(scene: Scene) -> Iterator[Finding]:
    if scene.boxes_2d is None:
        raise SkipRule("no 2D boxes given (validate(..., boxes_2d=...))")
    index = {t.track_id: t for t in scene.tracks}
    for frame in scene.boxes_2d:
        for b in frame.boxes:
            track = index.get(b.track_id)
            attrs = dict(getattr(b, "attributes", {}) or {})
            if track is None or not attrs:
                continue
            paths = {a.name: a for a in track.attributes if a.sensor_id in (None, frame.sensor_id)}
            for name, value in attrs.items():
                if name in track.static_attributes:
                    mine: str | None = track.static_attributes[name]
                elif name in paths:
                    mine = paths[name].value_at(int(frame.timestamp_us))
                else:
                    yield finding(
                        "fusion.attribute_modality",
                        f"attribute {name!r} = {value!r} on the 2D box, absent from the 3D track",
                        track_id=b.track_id,
                        timestamp_us=int(frame.timestamp_us),
                        sensor=frame.sensor_id,
                    )
                    continue
                if mine is not None and mine != value:
                    yield finding(
                        "fusion.attribute_modality",
                        f"attribute {name!r} is {value!r} on the 2D box but {mine!r} on the 3D track",
                        track_id=b.track_id,
                        timestamp_us=int(frame.timestamp_us),
                        sensor=frame.sensor_id,
                    )
