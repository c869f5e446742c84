"""SFS annotations <-> :class:`engine.Annotations` (``shared/reference/sfs-format.md``).

* ``cuboid`` <-> :class:`~engine.CuboidTrack`: path keyframes ``[dx, dy, dz, px, py, pz, roll, pitch,
  yaw]`` = (length, width, height) along box x, y, z, the centre, and the angles of
  ``Rotation.from_euler("zyx", [yaw, pitch, roll])`` (scipy, extrinsic; the SDK's own composition), in
  the configurable :class:`AngleUnit`. SFS cuboids are world-frame: ego-frame tracks are written in the
  world through the trajectory. Exact values (quaternions, ego-frame centres, confidence, per-frame
  confidence of sparse keyframes, which attributes were static) go to a ``"fusionlabel"`` extension
  object of the annotation, which other readers ignore, so our own round trip is bit-exact.
* ``attributes`` <-> :class:`~engine.AttributePath` (a track's ``static_attributes`` are written as
  static AttributePaths and recognised by the extension).
* ``link`` <-> :class:`~engine.Link`.
* ``projections``, ``activations``, ``stationary``, ``parent_id`` of cuboids, link ids and attribute
  paths, and every other annotation type (box_2d, polygons, events, objects, point_segmentation, ...)
  are not modelled by the engine: they are kept in the log's ``metadata["sfs"]`` with absolute times
  [µs] and arrays packed as base64 (:func:`~engine.io.sfs._common.pack_arrays`), and written back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.se3 import quat_wxyz_to_xyzw, quat_xyzw_to_wxyz
from calibration.trajectory import Trajectory
from engine.annotations import (
    Annotations,
    AttributePath,
    CoordinateFrame,
    CuboidTrack,
    FrameConfidence,
    Link,
)
from engine.io.sfs._common import EXT, AngleUnit, pack_arrays, shift_times, unpack_arrays
from kernels.errors import EngineError, LogFormatError

__all__ = ["annotations_from_sfs", "annotations_to_sfs"]

logger = logging.getLogger(__name__)


def _attr_to_sfs(a: AttributePath, offset: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": a.name,
        "timestamps": [t - offset for t in a.timestamps_us],
        "values": list(a.values),
        "static": a.static,
    }
    if a.sensor_id is not None:
        out["sensor_id"] = a.sensor_id
    return out


def _attr_from_sfs(d: Mapping[str, Any], offset: int) -> AttributePath:
    sid = d.get("sensor_id")
    return AttributePath(
        str(d["name"]),
        tuple(int(t) + offset for t in d.get("timestamps", [])),
        tuple(str(v) for v in d.get("values", [])),
        None if sid is None else str(sid),
        bool(d.get("static", False)),
    )


def _world_keyframes(track: CuboidTrack, trajectory: Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Centres (K, 3) and quaternions (K, 4) wxyz of the keyframes in the world frame."""
    if track.frame is CoordinateFrame.WORLD:
        return track.centers, track.rotations_wxyz
    t, q = trajectory.poses_at(track.timestamps_us)
    r_we = Rotation.from_quat(quat_wxyz_to_xyzw(q))
    centers = r_we.apply(np.array(track.centers)) + t
    rot = r_we * Rotation.from_quat(quat_wxyz_to_xyzw(track.rotations_wxyz))
    return centers, quat_xyzw_to_wxyz(rot.as_quat())


def _cuboid_to_sfs(
    track: CuboidTrack, offset: int, unit: AngleUnit, trajectory: Trajectory, extra: Mapping[str, Any]
) -> dict[str, Any]:
    centers, quats = _world_keyframes(track, trajectory)
    ypr = Rotation.from_quat(quat_wxyz_to_xyzw(quats)).as_euler("zyx") / unit.to_radians
    values = [
        [*map(float, s), *map(float, c), float(a[2]), float(a[1]), float(a[0])]
        for s, c, a in zip(track.sizes, centers, ypr, strict=True)
    ]
    static = sorted(track.static_attributes)
    t0 = int(track.timestamps_us[0])
    attrs = [_attr_to_sfs(a, offset) for a in track.attributes]
    attrs += [
        _attr_to_sfs(AttributePath(k, (t0,), (track.static_attributes[k],), static=True), offset)
        for k in static
    ]
    ext: dict[str, Any] = {"rotations_wxyz": track.rotations_wxyz.tolist(), "frame": track.frame.value}
    if track.frame is not CoordinateFrame.WORLD:
        ext["centers"] = track.centers.tolist()
    if track.confidence is not None and np.any(track.confidence != 1):
        ext["confidence"] = [float(v) for v in track.confidence]
    if track.frame_confidence is not None:
        fc = track.frame_confidence
        ext["frame_confidence"] = {
            "timestamps": [int(t) - offset for t in fc.timestamps_us],
            "values": [float(v) for v in fc.values],
        }
    if static:
        ext["static_attributes"] = static
    out: dict[str, Any] = {
        "id": extra.get("id", track.track_id),
        "type": "cuboid",
        "label": extra["label"] if "label" in extra else track.label,
        "stationary": bool(extra.get("stationary", False)),
        "path": {"timestamps": [int(t) - offset for t in track.timestamps_us], "values": values},
        "attributes": shift_times(extra["attributes"], -offset) if "attributes" in extra else attrs,
    }
    for key in ("activations", "projections", "parent_id"):
        if key in extra:
            out[key] = unpack_arrays(shift_times(extra[key], -offset))
    out[EXT] = ext
    return out


def _frame_confidence_from_ext(ext: Mapping[str, Any], offset: int) -> FrameConfidence | None:
    fc = ext.get("frame_confidence")
    if not fc:
        return None
    return FrameConfidence(
        np.asarray([int(t) + offset for t in fc.get("timestamps", [])], dtype=np.int64),
        np.asarray(fc.get("values", []), dtype=np.float32),
    )


def _cuboid_from_sfs(
    ann: Mapping[str, Any], offset: int, unit: AngleUnit
) -> tuple[CuboidTrack, dict[str, Any]]:
    tid = str(ann["id"])
    path = ann.get("path") or {}
    ts = np.asarray([int(t) + offset for t in path.get("timestamps", [])], dtype=np.int64)
    vals = np.asarray(path.get("values", []), dtype=np.float64).reshape(-1, 9)
    if vals.shape[0] != ts.size:
        raise LogFormatError(f"cuboid {tid!r}: {ts.size} path timestamps but {vals.shape[0]} values")
    angles = vals[:, 6:9] * unit.to_radians  # roll, pitch, yaw
    if np.any(angles[:, :2] != 0):
        logger.info("cuboid %r: non-zero roll/pitch kept in the quaternion (kernels use yaw only)", tid)
    quats = quat_xyzw_to_wxyz(Rotation.from_euler("zyx", angles[:, ::-1]).as_quat())
    centers = vals[:, 3:6]
    ext = ann.get(EXT) or {}
    frame = CoordinateFrame.WORLD
    if len(ext.get("rotations_wxyz", [])) == ts.size:
        quats = np.asarray(ext["rotations_wxyz"], dtype=np.float64).reshape(-1, 4)
        frame = CoordinateFrame.parse(ext.get("frame", "world"))
        if "centers" in ext:
            centers = np.asarray(ext["centers"], dtype=np.float64).reshape(-1, 3)
    static_names = set(ext.get("static_attributes", []))
    raw_attrs = ann.get("attributes") or []
    attrs, static = [], {}
    for a in raw_attrs:
        if a.get("name") in static_names:
            static[str(a["name"])] = str(a["values"][0])
        else:
            attrs.append(_attr_from_sfs(a, offset))
    extra: dict[str, Any] = {}
    label = ann.get("label")
    if not isinstance(label, str) or not label:
        extra["label"] = label
        label = "unknown"
    if not isinstance(ann["id"], str):
        extra["id"] = ann["id"]
    if any(not isinstance(v, str) for a in raw_attrs for v in a.get("values", [])):
        extra["attributes"] = shift_times(raw_attrs, offset)
    if ann.get("stationary"):
        extra["stationary"] = True
    for key in ("activations", "projections", "parent_id"):
        if ann.get(key) is not None:
            extra[key] = pack_arrays(shift_times(ann[key], offset))
    try:
        track = CuboidTrack(
            tid,
            label,
            frame,
            ts,
            centers.copy(),
            vals[:, 0:3].copy(),
            quats,
            None if "confidence" not in ext else np.asarray(ext["confidence"], dtype=np.float32),
            tuple(attrs),
            static,
            _frame_confidence_from_ext(ext, offset),
        )
    except EngineError as exc:
        raise LogFormatError(f"SFS cuboid {tid!r}: {exc}") from exc
    return track, extra


def _link_key(link: Link) -> str:
    """Key of a link's extras: its ends and label (links have no id in the engine)."""
    return f"{link.from_id}\n{link.to_id}\n{link.label}"


def _link_to_sfs(link: Link, index: int, offset: int, extra: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": extra.get("id", f"link:{index}:{link.from_id}->{link.to_id}"),
        "type": "link",
        "from_id": extra.get("from_id", link.from_id),
        "to_id": extra.get("to_id", link.to_id),
        "label": link.label,
        "is_bidirectional": link.is_bidirectional,
    }
    if "attributes" in extra:
        out["attributes"] = shift_times(extra["attributes"], -offset)
    else:
        out["attributes"] = [
            {"name": k, "timestamps": [0], "values": [v], "static": True} for k, v in link.attributes.items()
        ]
    for key in ("sensor_id", "parent_id"):
        if key in extra:
            out[key] = extra[key]
    return out


def _link_from_sfs(ann: Mapping[str, Any], offset: int) -> tuple[Link, dict[str, Any]]:
    raw = ann.get("attributes") or []
    attrs = {str(a["name"]): str(a["values"][-1]) for a in raw if a.get("values")}
    link = Link(
        str(ann["from_id"]),
        str(ann["to_id"]),
        str(ann.get("label", "link")),
        bool(ann.get("is_bidirectional", True)),
        attrs,
    )
    extra: dict[str, Any] = {"id": ann["id"], "attributes": shift_times(raw, offset)}
    for key in ("sensor_id", "parent_id", "from_id", "to_id"):
        if ann.get(key) is not None and (key in ("sensor_id", "parent_id") or not isinstance(ann[key], str)):
            extra[key] = ann[key]
    return link, extra


def annotations_to_sfs(
    annotations: Annotations,
    *,
    time_offset_us: int,
    angle_unit: AngleUnit,
    trajectory: Trajectory,
    extras: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """SFS annotation dicts for ``annotations`` (times relative to ``time_offset_us``).

    Parameters
    ----------
    annotations : Annotations
        Tracks and links.
    time_offset_us : int
        The scene's ``time_offset`` [µs].
    angle_unit : AngleUnit
        Unit of the written cuboid angles.
    trajectory : Trajectory
        ``world_from_ego``, for tracks kept in the ego frame.
    extras : mapping, optional
        ``metadata["sfs"]`` of a log read from SFS: what the engine does not model, written back.
    """
    extras = extras or {}
    cub = extras.get("cuboids", {})
    links = extras.get("links", {})
    out = [
        _cuboid_to_sfs(t, time_offset_us, angle_unit, trajectory, cub.get(t.track_id, {}))
        for t in annotations.tracks
    ]
    out += [
        _link_to_sfs(link, i, time_offset_us, links.get(_link_key(link), {}))
        for i, link in enumerate(annotations.links)
    ]
    out += [unpack_arrays(shift_times(a, -time_offset_us)) for a in extras.get("other_annotations", [])]
    return out


def annotations_from_sfs(
    items: list[Mapping[str, Any]], *, time_offset_us: int, angle_unit: AngleUnit
) -> tuple[Annotations, dict[str, Any]]:
    """Tracks and links of SFS ``annotations``, plus what the engine does not model (for metadata)."""
    tracks, links = [], []
    extras: dict[str, Any] = {"cuboids": {}, "links": {}, "other_annotations": []}
    for ann in items:
        kind = ann.get("type")
        if kind == "cuboid":
            track, extra = _cuboid_from_sfs(ann, time_offset_us, angle_unit)
            tracks.append(track)
            if extra:
                extras["cuboids"][track.track_id] = extra
        elif kind == "link":
            link, extra = _link_from_sfs(ann, time_offset_us)
            links.append(link)
            extras["links"][_link_key(link)] = extra
        else:
            extras["other_annotations"].append(pack_arrays(shift_times(ann, time_offset_us)))
    try:
        return Annotations(tuple(tracks), tuple(links)), extras
    except EngineError as exc:
        raise LogFormatError(f"SFS annotations: {exc}") from exc
