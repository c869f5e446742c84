"""Temporal rules on one track's keyframes.

Size drift, heading flips/jumps, heading vs motion, speed, acceleration, yaw rate, teleports. Limits per
class come from the config's class priors.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.validation._motion import heading_steps, motion, runs
from engine.validation.findings import Finding
from engine.validation.registry import finding, register
from engine.validation.scene import Scene

__all__: list[str] = []


def _t(scene: Scene, i: int, k: int) -> int:
    return int(scene.tracks[i].timestamps_us[k])


@register("temporal.size_drift", "error", "a keyframe's size differs from the track's median size")
def size_drift(scene: Scene) -> Iterator[Finding]:
    thr = scene.config.temporal.size_drift_rel
    for i, b in enumerate(scene.boxes):
        if len(b) < 3:
            continue
        rel = np.abs(b[:, 3:6] / np.median(b[:, 3:6], axis=0) - 1.0).max(axis=1)
        for s, e in runs(rel > thr):
            k = s + int(np.argmax(rel[s:e]))
            yield finding(
                "temporal.size_drift",
                f"size {np.round(b[k, 3:6], 2).tolist()} differs by {rel[k]:.0%} from the track median "
                f"{np.round(np.median(b[:, 3:6], axis=0), 2).tolist()} over {e - s} keyframe(s)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=_t(scene, i, s),
                value=float(rel[k]),
                threshold=thr,
            )


@register("temporal.heading_flip", "error", "heading turns by ~180 degrees between keyframes")
def heading_flip(scene: Scene) -> Iterator[Finding]:
    yield from _heading(scene, flips=True)


@register("temporal.heading_jump", "error", "heading jumps more than the class can turn between keyframes")
def heading_jump(scene: Scene) -> Iterator[Finding]:
    yield from _heading(scene, flips=False)


def _heading(scene: Scene, flips: bool) -> Iterator[Finding]:
    cfg = scene.config.temporal
    for i, b in enumerate(scene.boxes):
        if len(b) < 2:
            continue
        prior = scene.priors[i]
        t = scene.tracks[i].timestamps_us.astype(np.float64) * 1e-6
        d = heading_steps(b[:, 6])
        rate = 0.0 if prior is None or prior.max_yaw_rate_rps is None else prior.max_yaw_rate_rps
        thr = cfg.heading_jump_rad + rate * np.diff(t)
        big = np.abs(d) > thr
        k = 0
        while k < d.size:
            if not big[k]:
                k += 1
                continue
            single = (
                k + 1 < d.size
                and big[k + 1]
                and abs((d[k] + d[k + 1] + np.pi) % (2 * np.pi) - np.pi) < thr[k]
            )
            is_flip = abs(d[k]) > cfg.heading_flip_rad
            if is_flip == flips:
                what = "one keyframe" if single else "from this keyframe on"
                yield finding(
                    "temporal.heading_flip" if flips else "temporal.heading_jump",
                    f"heading changes by {np.degrees(d[k]):.0f} deg ({what})",
                    track_id=scene.tracks[i].track_id,
                    timestamp_us=_t(scene, i, k + 1),
                    value=float(abs(d[k])),
                    threshold=cfg.heading_flip_rad if flips else float(thr[k]),
                )
            k += 2 if single else 1


@register("temporal.heading_vs_motion", "warning", "a vehicle's heading points away from its motion")
def heading_vs_motion(scene: Scene) -> Iterator[Finding]:
    cfg = scene.config.temporal
    for i, b in enumerate(scene.boxes):
        prior = scene.priors[i]
        if prior is None or not prior.heading_follows_motion or len(b) < 3:
            continue
        m = motion(scene, i)
        ang = np.abs((np.arctan2(m.velocity[:, 1], m.velocity[:, 0]) - b[:, 6] + np.pi) % (2 * np.pi) - np.pi)
        bad = (m.speed >= cfg.heading_motion_min_speed_mps) & (ang > cfg.heading_motion_max_rad)
        for s, e in runs(bad):
            k = s + int(np.argmax(ang[s:e]))
            yield finding(
                "temporal.heading_vs_motion",
                f"heading is {np.degrees(ang[k]):.0f} deg off the direction of motion at "
                f"{m.speed[k]:.1f} m/s over {e - s} keyframe(s)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=_t(scene, i, s),
                value=float(ang[k]),
                threshold=cfg.heading_motion_max_rad,
            )


def _limit(scene: Scene, rule: str, attr: str, quantity: str, unit: str) -> Iterator[Finding]:
    for i, prior in enumerate(scene.priors):
        limit = None if prior is None else getattr(prior, attr)
        if limit is None or len(scene.boxes[i]) < 2:
            continue
        x = getattr(motion(scene, i), quantity)
        for s, e in runs(x > limit):
            k = s + int(np.argmax(x[s:e]))
            yield finding(
                rule,
                f"{quantity.replace('_', ' ')} {x[k]:.1f} {unit} exceeds the {scene.class_names[i]} limit "
                f"{limit:g} {unit} over {e - s} keyframe(s)",
                track_id=scene.tracks[i].track_id,
                timestamp_us=_t(scene, i, s),
                value=float(x[k]),
                threshold=float(limit),
            )


@register("temporal.speed", "error", "speed above the class limit (windowed finite difference)")
def speed(scene: Scene) -> Iterator[Finding]:
    yield from _limit(scene, "temporal.speed", "max_speed_mps", "speed", "m/s")


@register("temporal.accel", "warning", "acceleration above the class limit (windowed finite difference)")
def accel(scene: Scene) -> Iterator[Finding]:
    yield from _limit(scene, "temporal.accel", "max_accel_mps2", "accel", "m/s^2")


@register("temporal.yaw_rate", "warning", "yaw rate above the class limit (flips excluded)")
def yaw_rate(scene: Scene) -> Iterator[Finding]:
    yield from _limit(scene, "temporal.yaw_rate", "max_yaw_rate_rps", "yaw_rate", "rad/s")


def teleport_mask(scene: Scene, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Residuals, thresholds and the flagged mask of track ``i`` (shared with the ID-switch rule)."""
    cfg = scene.config.temporal
    m = motion(scene, i)
    dt = np.zeros_like(m.t_s)
    if m.t_s.size >= 3:
        dt[1:-1] = 0.5 * (m.t_s[2:] - m.t_s[:-2])
    thr = cfg.teleport_m + cfg.teleport_speed_factor * m.speed * dt
    return m.residual, thr, m.residual > thr


@register("temporal.teleport", "error", "a keyframe off the path through its neighbours")
def teleport(scene: Scene) -> Iterator[Finding]:
    for i in range(len(scene.tracks)):
        res, thr, bad = teleport_mask(scene, i)
        for s, e in runs(bad):
            k = s + int(np.argmax(res[s:e]))
            yield finding(
                "temporal.teleport",
                f"centre lies {res[k]:.2f} m off the path through its neighbouring keyframes",
                track_id=scene.tracks[i].track_id,
                timestamp_us=_t(scene, i, k),
                value=float(res[k]),
                threshold=float(thr[k]),
            )
