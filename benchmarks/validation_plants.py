"""Planted annotation and data errors for ``benchmarks.eval_validation`` (and the validation tests).

Each :class:`Plant` changes the clean PandaSet GT (or the log) at a known place and names the rule that
must find it: ``detected`` is true when a finding of that rule names one of the planted tracks (or the
planted sensor) within one keyframe of the planted time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from calibration.se3 import SE3
from engine.annotations import Annotations, AttributePath, CuboidTrack, Link
from engine.io.annotations_json import annotations_to_dict
from engine.log import Log, Stream
from engine.sensors import Sensor
from engine.sweeps import CameraFrame
from engine.validation import Finding
from kernels import box_iou_bev, points_in_boxes

__all__ = ["Plant", "plant_all"]


@dataclass(frozen=True, slots=True)
class Plant:
    """One planted error: its kind, the rule expected to find it, and where."""

    kind: str
    rule: str
    track_ids: tuple[str, ...] = ()
    sensor: str | None = None
    t_lo: int | None = None
    t_hi: int | None = None

    def detected(self, findings: list[Finding]) -> bool:
        """Whether a finding of ``rule`` lies at the planted place."""
        for f in findings:
            if f.rule != self.rule:
                continue
            if self.track_ids and f.track_id not in self.track_ids:
                continue
            if self.sensor is not None and f.sensor != self.sensor:
                continue
            if self.t_lo is not None and (
                f.timestamp_us is None or not self.t_lo <= f.timestamp_us <= self.t_hi
            ):
                continue
            return True
        return False


def _with(track: CuboidTrack, **changes: Any) -> CuboidTrack:
    fields = {
        "track_id": track.track_id,
        "label": track.label,
        "frame": track.frame,
        "timestamps_us": track.timestamps_us,
        "centers": track.centers,
        "sizes": track.sizes,
        "rotations_wxyz": track.rotations_wxyz,
        "attributes": track.attributes,
        "static_attributes": track.static_attributes,
    }
    fields.update(changes)
    return CuboidTrack(**fields)


def _rot_z(q: np.ndarray, angle: float) -> np.ndarray:
    c, s = np.cos(angle / 2), np.sin(angle / 2)
    w, x, y, z = q.T
    return np.stack([c * w - s * z, c * x - s * y, c * y + s * x, c * z + s * w], axis=1)


def _window(track: CuboidTrack, k: int) -> tuple[int, int]:
    t = track.timestamps_us
    return int(t[max(k - 1, 0)]), int(t[min(k + 1, len(t) - 1)])


def _free_shift(log: Log, track: CuboidTrack, k: int) -> np.ndarray:
    """A 3-6 m BEV shift that moves keyframe ``k`` into free space (no points, no other box)."""
    (lid,) = list(log.lidar)
    st = log.lidar[lid]
    i = int(np.argmin(np.abs(st.timestamps_us - track.timestamps_us[k])))
    sweep = st[i]
    world_from_sensor = log.trajectory.pose_at(sweep.timestamp_us) @ log.sensors[lid].ego_from_sensor
    pts = world_from_sensor.transform_points(sweep.points).astype(np.float32)
    others = np.array(
        [
            t.boxes[j]
            for t in log.annotations.tracks
            for j in np.flatnonzero(t.timestamps_us == track.timestamps_us[k])
        ]
    )
    for dist in (3.0, 4.5, 6.0):
        for ang in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            shift = dist * np.array([np.cos(ang), np.sin(ang)])
            box = track.boxes[k].copy()
            box[:2] += shift
            box[3:5] += 1.0  # margin; above the ground (the lowest 30 % of the height is left out)
            box[2] += 0.15 * box[5]
            box[5] *= 0.7
            if np.count_nonzero(points_in_boxes(pts, box[None]) >= 0) <= 2 and not np.any(
                (box_iou_bev(box[None], others) > 0)
                & (np.linalg.norm(others[:, :2] - track.boxes[k, :2], axis=1) > 0.1)
            ):
                return shift
    raise RuntimeError(f"no free space around track {track.track_id!r} at keyframe {k}")


def plant_all(
    log: Log, pick: Callable[[str], list[CuboidTrack]], good_frames: Callable[[str], list[int]] = lambda _: []
) -> tuple[Log, dict[str, Any], list[Plant]]:
    """Plant every kind of error once; returns the corrupted log, annotations (JSON dict form) and plants.

    ``pick(role)`` returns candidate tracks for a role: ``"parked"`` (parked cars 8-35 m from the ego
    with many lidar points), ``"moving"`` (cars moving faster than 3 m/s), ``"pair"`` (two parked cars
    present in every frame, 4-30 m apart), ``"any"`` (any car labelled in every frame).
    ``good_frames(track_id)`` lists keyframes (10-30) where a parked car is well observed (many points,
    a local ground estimate); the lidar plants use the first of them. Candidates are used in order and
    never twice.
    """
    tracks = {t.track_id: t for t in log.annotations.tracks}
    used: set[str] = set()
    plants: list[Plant] = []

    def take(role: str, n: int = 1) -> list[CuboidTrack]:
        out = [t for t in pick(role) if t.track_id not in used][:n]
        if len(out) < n:
            raise RuntimeError(f"not enough {role!r} tracks to plant errors")
        used.update(t.track_id for t in out)
        return out

    def put(t: CuboidTrack) -> None:
        tracks[t.track_id] = t

    (a,) = take("moving")  # 1 one flipped heading
    q = a.rotations_wxyz.copy()
    q[30] = _rot_z(q[30:31], np.pi)[0]
    put(_with(a, rotations_wxyz=q))
    plants.append(
        Plant("flipped heading (one frame)", "temporal.heading_flip", (a.track_id,), None, *_window(a, 30))
    )
    (a,) = take("moving")  # 2 heading reversed over a whole moving track
    put(_with(a, rotations_wxyz=_rot_z(a.rotations_wxyz, np.pi)))
    plants.append(Plant("heading reversed (whole track)", "temporal.heading_vs_motion", (a.track_id,)))
    (a,) = take("any")  # 3 one shrunken frame
    s = a.sizes.copy()
    s[20] *= 0.6
    put(_with(a, sizes=s))
    plants.append(Plant("one shrunken frame", "temporal.size_drift", (a.track_id,), None, *_window(a, 20)))
    (a,) = take("parked")  # 4 box moved off its points into free space
    k = (good_frames(a.track_id) or [25])[0]
    c = a.centers.copy()
    c[k, :2] += _free_shift(log, a, k)
    put(_with(a, centers=c))
    plants.append(
        Plant("box moved off its points", "geometry.empty_box", (a.track_id,), None, *_window(a, k))
    )
    a, b = take("pair", 2)  # 5 two swapped ids from frame 35 on
    ca, cb = a.centers.copy(), b.centers.copy()
    ca[35:], cb[35:] = b.centers[35:], a.centers[35:]
    put(_with(a, centers=ca))
    put(_with(b, centers=cb))
    plants.append(
        Plant("two swapped ids", "temporal.id_switch", (a.track_id, b.track_id), None, *_window(a, 35))
    )
    (a,) = take("parked")  # 6 a duplicated box
    dup = _with(a, track_id=a.track_id + "-dup", centers=a.centers + np.array([0.2, 0.1, 0.0]))
    put(dup)
    plants.append(Plant("duplicated box", "geometry.overlap", (a.track_id, dup.track_id)))
    (a,) = take("any")  # 7 dropped frames 40-44
    keep = np.r_[0:40, 45 : len(a)]
    put(
        _with(
            a,
            timestamps_us=a.timestamps_us[keep],
            centers=a.centers[keep],
            sizes=a.sizes[keep],
            rotations_wxyz=a.rotations_wxyz[keep],
            attributes=(),
        )
    )
    plants.append(Plant("dropped frames", "temporal.gap", (a.track_id,), None, *_window(a, 39)))
    (a,) = take("any")  # 8 wrong class
    put(_with(a, label="Pedestrian"))
    plants.append(Plant("wrong class (car labelled pedestrian)", "geometry.class_size", (a.track_id,)))
    (a,) = take("any")  # 9 impossible speed: a parked car "drives" at 80 m/s from frame 60
    c = a.centers.copy()
    c[60:, 0] += 8.0 * np.arange(1, len(a) - 59)
    put(_with(a, centers=c))
    plants.append(Plant("impossible speed", "temporal.speed", (a.track_id,), None, *_window(a, 60)))
    (a,) = take("parked")  # 10 sunk into the ground by 1.2 m
    k = (good_frames(a.track_id) or [15])[0]
    c = a.centers.copy()
    c[k, 2] -= 1.2
    put(_with(a, centers=c))
    plants.append(Plant("box sunk into the ground", "geometry.ground", (a.track_id,), None, *_window(a, k)))
    (a,) = take("moving")  # 11 teleport: one frame 2 m ahead at frame 70
    c = a.centers.copy()
    c[70, :2] += 2.0 * (c[71, :2] - c[69, :2]) / max(np.linalg.norm(c[71, :2] - c[69, :2]), 1e-6)
    put(_with(a, centers=c))
    plants.append(Plant("teleport (one frame)", "temporal.teleport", (a.track_id,), None, *_window(a, 70)))
    (a,) = take("any")  # 12 class change within the track
    t50 = int(a.timestamps_us[50])
    put(
        _with(
            a,
            attributes=a.attributes
            + (AttributePath("label", (int(a.timestamps_us[0]), t50), (a.label, "Pickup Truck")),),
        )
    )
    plants.append(
        Plant("class change within a track", "temporal.class_change", (a.track_id,), None, t50, t50)
    )
    (a,) = take("any")  # 13 fragment: split at frame 45 with 3 frames missing
    head = _with(
        a,
        timestamps_us=a.timestamps_us[:45],
        centers=a.centers[:45],
        sizes=a.sizes[:45],
        rotations_wxyz=a.rotations_wxyz[:45],
        attributes=(),
    )
    tail = _with(
        a,
        track_id=a.track_id + "-b",
        timestamps_us=a.timestamps_us[48:],
        centers=a.centers[48:],
        sizes=a.sizes[48:],
        rotations_wxyz=a.rotations_wxyz[48:],
        attributes=(),
    )
    put(head)
    put(tail)
    plants.append(Plant("fragmented track", "temporal.fragment", (tail.track_id,), None, *_window(a, 48)))
    (a,) = take("any")  # 14 unknown label
    put(_with(a, label="Spaceship"))
    plants.append(Plant("label outside the taxonomy", "schema.known_labels", (a.track_id,)))
    (a,) = take("any")  # 15 far away (float32 precision + out of range)
    put(_with(a, centers=a.centers + np.array([20000.0, 0.0, 0.0])))
    plants.append(Plant("coordinates at 20 km (float32)", "data.float32_precision", (a.track_id,)))
    plants.append(Plant("box out of range", "geometry.out_of_range", (a.track_id,)))
    ann = annotations_to_dict(Annotations(tuple(tracks.values()), (Link("ghost-2d-box", a.track_id),)))
    plants.append(Plant("link to a missing annotation", "schema.link_targets", ("ghost-2d-box",)))
    # schema errors only the JSON form can carry
    (a,) = take("any")
    d = next(t for t in ann["tracks"] if t["track_id"] == a.track_id)
    d["rotations_wxyz"][5] = [0.9, 0.0, 0.0, 0.1]
    d["sizes"][6] = [4.0, -1.9, 1.5]
    ann["tracks"].append(dict(d))
    plants += [
        Plant("non-unit quaternion", "schema.unit_quaternions", (a.track_id,)),
        Plant("negative size", "schema.positive_sizes", (a.track_id,)),
        Plant("duplicate track id", "schema.unique_ids", (a.track_id,)),
    ]
    return _corrupt_log(log, plants), ann, plants


def _corrupt_log(log: Log, plants: list[Plant]) -> Log:
    """Drop lidar sweep 30, delay one front-camera frame by 40 ms, turn the front-left camera upside down."""
    (lid,) = list(log.lidar)
    st = log.lidar[lid]
    keep = [i for i in range(len(st)) if i != 30]
    lidar = {lid: Stream(lid, st.timestamps_us[keep], lambda i: st[keep[i]])}
    plants.append(
        Plant(
            "dropped lidar sweep",
            "data.dropped_sweeps",
            (),
            lid,
            int(st.timestamps_us[29]),
            int(st.timestamps_us[29]),
        )
    )
    cams = dict(log.cameras)
    front = cams["front_camera"]
    t = front.timestamps_us.copy()
    t[20] += 40_000
    cams["front_camera"] = Stream(
        "front_camera", t, lambda i: CameraFrame("front_camera", int(t[i]), front[i].image)
    )
    plants.append(
        Plant("camera frame 40 ms late", "data.time_offsets", (), "front_camera", int(t[20]), int(t[20]))
    )
    sensors = dict(log.sensors)
    s = sensors["front_left_camera"]
    flip = SE3(np.diag([-1.0, -1.0, 1.0]), np.zeros(3))  # 180 degrees about the optical axis
    sensors["front_left_camera"] = Sensor(s.sensor_id, s.kind, s.ego_from_sensor @ flip, s.camera, s.metadata)
    plants.append(Plant("camera mounted upside down", "data.calibration", (), "front_left_camera"))
    return replace(log, sensors=sensors, lidar=lidar, cameras=cams)
