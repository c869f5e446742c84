"""Data rules: dropped captures, sensor time offsets, float32 precision of coordinates, calibration sanity."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.sensors import SensorKind
from engine.validation.findings import Finding
from engine.validation.registry import SkipRule, finding, register
from engine.validation.scene import Scene
from kernels.geometry import segment_ground

__all__: list[str] = []


@register("data.dropped_sweeps", "warning", "a capture missing from a sensor stream (interval above cadence)")
def dropped_sweeps(scene: Scene) -> Iterator[Finding]:
    factor = scene.config.data.gap_factor
    log = scene.log
    for group in (log.lidar, log.radar, log.cameras):
        for sid, stream in group.items():
            t = stream.timestamps_us
            if t.size < 3:
                continue
            d = np.diff(t)
            period = float(np.median(d))
            for k in np.flatnonzero(d > factor * period):
                yield finding(
                    "data.dropped_sweeps",
                    f"{int(round(d[k] / period)) - 1} capture(s) missing after this one "
                    f"({d[k] / 1e3:.0f} ms gap, period {period / 1e3:.0f} ms)",
                    timestamp_us=int(t[k]),
                    sensor=sid,
                    value=float(d[k]) / 1e6,
                    threshold=factor * period / 1e6,
                )


@register("data.time_offsets", "warning", "a camera capture's offset to the lidar differs from the stream's")
def time_offsets(scene: Scene) -> Iterator[Finding]:
    log = scene.log
    lidar = [s.timestamps_us for s in log.lidar.values() if len(s)]
    if not lidar or not log.cameras:
        raise SkipRule("needs a lidar and a camera stream")
    ref = np.sort(np.concatenate(lidar))
    tol = scene.config.data.time_offset_tolerance_s * 1e6
    for sid, stream in log.cameras.items():
        t = stream.timestamps_us
        inside = (t >= ref[0]) & (t <= ref[-1])
        if inside.sum() < 3:
            continue
        j = np.clip(np.searchsorted(ref, t), 1, ref.size - 1)
        left, right = t - ref[j - 1], t - ref[j]
        off = np.where(np.abs(left) < np.abs(right), left, right).astype(np.float64)
        med = float(np.median(off[inside]))
        for k in np.flatnonzero(inside & (np.abs(off - med) > tol)):
            yield finding(
                "data.time_offsets",
                f"capture is {off[k] / 1e3:.1f} ms from the nearest lidar sweep; the stream's usual "
                f"offset is "
                f"{med / 1e3:.1f} ms",
                timestamp_us=int(t[k]),
                sensor=sid,
                value=float(off[k] - med) / 1e6,
                threshold=tol / 1e6,
            )


@register("data.float32_precision", "warning", "coordinates too large for float32 kernels at 1 mm")
def float32_precision(scene: Scene) -> Iterator[Finding]:
    limit = scene.config.data.max_abs_coordinate_m
    for i, b in enumerate(scene.boxes):
        big = np.abs(b[:, :3]).max(axis=1)
        if (big > limit).any():
            k = int(np.argmax(big > limit))
            yield finding(
                "data.float32_precision",
                f"centre coordinate {big[k]:.0f} m: float32 spacing there is "
                f"{np.spacing(np.float32(big[k])):.2g} m "
                f"(subtract a log origin)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=int(scene.tracks[i].timestamps_us[k]),
                value=float(big[k]),
                threshold=limit,
            )
    tr = np.abs(scene.log.trajectory.translations).max(axis=1)
    if (tr > limit).any():
        k = int(np.argmax(tr > limit))
        yield finding(
            "data.float32_precision",
            f"ego position coordinate {tr[k]:.0f} m is too large for float32 at 1 mm",
            timestamp_us=int(scene.log.trajectory.timestamps_us[k]),
            value=float(tr[k]),
            threshold=limit,
        )


@register(
    "data.calibration",
    "error",
    "implausible extrinsics; projected lidar ground outside the image's lower part",
)
def calibration(scene: Scene) -> Iterator[Finding]:
    cfg = scene.config.data
    log = scene.log
    for sid, s in log.sensors.items():
        dist = float(np.linalg.norm(s.ego_from_sensor.translation))
        if dist > cfg.max_mount_distance_m:
            yield finding(
                "data.calibration",
                f"mounted {dist:.1f} m from the ego origin",
                sensor=sid,
                value=dist,
                threshold=cfg.max_mount_distance_m,
            )
        if s.kind is SensorKind.CAMERA:
            axis = s.ego_from_sensor.rotation[:, 2]  # optical z in ego
            elev = float(np.arcsin(np.clip(axis[2], -1, 1)))
            if abs(elev) > cfg.max_camera_elevation_rad:
                yield finding(
                    "data.calibration",
                    f"optical axis points {np.degrees(elev):.0f} deg {'up' if elev > 0 else 'down'}",
                    sensor=sid,
                    value=elev,
                    threshold=cfg.max_camera_elevation_rad,
                )
    streams = [(sid, st) for sid, st in log.lidar.items() if len(st)]
    if not streams or not log.cameras:
        return
    sid, stream = streams[0]
    sweep = stream[len(stream) // 2]
    ego = log.sensors[sid].ego_from_sensor.transform_points(sweep.points).astype(np.float32)
    seg = segment_ground(ego)
    rng = np.hypot(ego[:, 0], ego[:, 1])
    ground = ego[seg.ground & (rng > 3.0) & (rng < 40.0)].astype(np.float64)
    world_from_ego_l = log.trajectory.pose_at(sweep.timestamp_us)
    for cid, cstream in log.cameras.items():
        cam = log.sensors[cid]
        if cam.camera is None or len(cstream) == 0 or cam.camera.model != "brown_conrady":
            continue  # wide-angle lenses put the horizon anywhere: judged for pinhole-like cameras only
        tc = int(cstream.timestamps_us[cstream.nearest(sweep.timestamp_us)])
        camera_from_ego_l = (log.trajectory.pose_at(tc) @ cam.ego_from_sensor).inverse() @ world_from_ego_l
        uv, _, valid = cam.camera.project(camera_from_ego_l.transform_points(ground))
        w, h = cam.camera.width, cam.camera.height
        inside = valid & (uv[:, 0] >= 0) & (uv[:, 0] < w) & (uv[:, 1] >= 0) & (uv[:, 1] < h)
        if inside.sum() < 50:
            continue  # this camera sees little ground (or none): nothing to judge
        lower = float(np.mean(uv[inside, 1] > 0.5 * h))
        if lower < cfg.calibration_min_lower_fraction:
            yield finding(
                "data.calibration",
                f"only {lower:.0%} of the lidar ground points projected into the image land in its "
                f"lower half "
                f"(camera rolled, pitched or mis-assigned?)",
                timestamp_us=tc,
                sensor=cid,
                value=lower,
                threshold=cfg.calibration_min_lower_fraction,
            )
