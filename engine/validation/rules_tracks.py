"""Temporal rules across keyframes and tracks: gaps, fragments, class changes, suspected ID switches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.validation._motion import motion
from engine.validation.findings import Finding
from engine.validation.registry import finding, register
from engine.validation.scene import Scene

__all__: list[str] = []


@register("temporal.gap", "warning", "keyframes missing inside a track (interval above the log's cadence)")
def gap(scene: Scene) -> Iterator[Finding]:
    cadence = scene.cadence_us()
    if cadence <= 0:
        return
    limit = scene.config.temporal.gap_factor * cadence
    for track in scene.tracks:
        d = np.diff(track.timestamps_us)
        for k in np.flatnonzero(d > limit):
            missing = int(round(d[k] / cadence)) - 1
            yield finding(
                "temporal.gap",
                f"{missing} keyframe(s) missing after this one ({d[k] / 1e6:.2f} s without a keyframe; "
                f"cadence {cadence / 1e6:.2f} s)",
                track_id=track.track_id,
                timestamp_us=int(track.timestamps_us[k]),
                value=float(d[k]) / 1e6,
                threshold=limit / 1e6,
            )


@register("temporal.fragment", "warning", "a track starts where another of its class just ended")
def fragment(scene: Scene) -> Iterator[Finding]:
    cfg = scene.config.temporal
    ends = [(int(t.timestamps_us[-1]), i) for i, t in enumerate(scene.tracks)]
    for j, b_track in enumerate(scene.tracks):
        t0 = int(b_track.timestamps_us[0])
        for t_end, i in ends:
            dt = (t0 - t_end) / 1e6
            if i == j or not 0 < dt <= cfg.fragment_max_gap_s or scene.class_names[i] != scene.class_names[j]:
                continue
            m = motion(scene, i)
            pred = scene.boxes[i][-1, :2] + m.velocity[-1] * dt
            dist = float(np.linalg.norm(scene.boxes[j][0, :2] - pred))
            if dist <= cfg.fragment_max_distance_m:
                yield finding(
                    "temporal.fragment",
                    f"starts {dt:.2f} s after track {scene.tracks[i].track_id!r} ends, {dist:.2f} m from its "
                    f"extrapolation: probably the same object",
                    track_id=b_track.track_id,
                    timestamp_us=t0,
                    value=dist,
                    threshold=cfg.fragment_max_distance_m,
                )


@register("temporal.class_change", "error", "the class changes within a track")
def class_change(scene: Scene) -> Iterator[Finding]:
    names = set(scene.config.class_attribute_names)
    for track in scene.tracks:
        for a in track.attributes:
            if a.name not in names:
                continue
            prev = track.label
            for t, v in zip(a.timestamps_us, a.values, strict=True):
                if v != prev:
                    yield finding(
                        "temporal.class_change",
                        f"class changes from {prev!r} to {v!r} (attribute {a.name!r})",
                        track_id=track.track_id,
                        timestamp_us=int(t),
                    )
                prev = v


def _extrapolate(b: np.ndarray, t: np.ndarray, k: int, t_new: float) -> np.ndarray:
    """Constant-velocity BEV prediction at ``t_new`` from keyframes k-1 and k."""
    v = (b[k, :2] - b[k - 1, :2]) / (t[k] - t[k - 1])
    return np.asarray(b[k, :2] + v * (t_new - t[k]))


@register("temporal.id_switch", "error", "a track jumps onto another track's path (swapped ids)")
def id_switch(scene: Scene) -> Iterator[Finding]:
    cfg = scene.config.temporal
    times = [t.timestamps_us.astype(np.float64) * 1e-6 for t in scene.tracks]
    at_time: dict[int, list[tuple[int, int]]] = {}
    for row in range(scene.kf_time.size):
        at_time.setdefault(int(scene.kf_time[row]), []).append(
            (int(scene.kf_track[row]), int(scene.kf_index[row]))
        )
    seen: set[tuple[str, str, int]] = set()
    for a, b in enumerate(scene.boxes):
        t = times[a]
        speed = motion(scene, a).speed
        for k in range(2, len(b)):
            own = float(np.linalg.norm(b[k, :2] - _extrapolate(b, t, k - 1, t[k])))
            limit = cfg.teleport_m + cfg.teleport_speed_factor * speed[k - 1] * (t[k] - t[k - 1])
            if own <= limit:
                continue
            for other, j in at_time.get(int(scene.tracks[a].timestamps_us[k - 1]), []):
                if other == a or j < 1:
                    continue
                ob, ot = scene.boxes[other], times[other]
                dist = float(np.linalg.norm(b[k, :2] - _extrapolate(ob, ot, j, t[k])))
                if dist > cfg.id_switch_match_m:
                    continue
                ida, idb = scene.tracks[a].track_id, scene.tracks[other].track_id
                key = (min(ida, idb), max(ida, idb), int(scene.tracks[a].timestamps_us[k]))
                if key in seen:
                    continue
                seen.add(key)
                yield finding(
                    "temporal.id_switch",
                    f"jumps {own:.1f} m onto the path of track {idb!r} ({dist:.2f} m from its prediction)",
                    track_id=ida,
                    timestamp_us=key[2],
                    value=dist,
                    threshold=cfg.id_switch_match_m,
                )
