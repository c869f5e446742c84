"""Lenient view of annotations for the schema rules, and the sanitised :class:`Annotations` the others use.

:class:`engine.CuboidTrack` refuses non-unit quaternions, non-positive sizes and unsorted times, and
:class:`engine.Annotations` refuses duplicate ids, so a submission that breaks them could never be
validated as objects. The validator therefore also accepts the JSON form (``fusionlabel-annotations``,
:mod:`engine.io.annotations_json`) and reads it here without those checks: :class:`TrackRecord` holds a
track as given, and :func:`sanitise` builds the objects the geometric and temporal rules need (keyframes
sorted and de-duplicated, broken keyframes dropped, quaternions renormalised, duplicate ids suffixed).

A track with sparse keyframes and per-frame confidence (``CuboidTrack.frame_confidence``, pre-labels
with ``tracks.keyframes="sparse"``) is checked at every one of those frames: :func:`sanitise` gives it
a keyframe there by interpolation (:func:`engine.tracks.densify_track`), so the temporal and geometric
rules see the track as it was estimated rather than its few keyframes; the schema rules see the
keyframes as given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.annotations import Annotations, AttributePath, CoordinateFrame, CuboidTrack, Link
from engine.tracks import densify_track

__all__ = ["AttributeRecord", "ParsedAnnotations", "TrackRecord", "parse_annotations", "sanitise"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class AttributeRecord:
    """A time-varying attribute as given."""

    name: str
    timestamps_us: tuple[int, ...]
    values: tuple[str, ...]
    sensor_id: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class TrackRecord:
    """One track as submitted (arrays unchecked beyond their shapes)."""

    track_id: str
    label: str
    frame: str
    timestamps_us: npt.NDArray[np.int64]
    centers: F64
    sizes: F64
    rotations_wxyz: F64
    attributes: tuple[AttributeRecord, ...] = ()
    static_attributes: Mapping[str, str] = field(default_factory=dict)
    frame_times_us: npt.NDArray[np.int64] | None = None
    """Frame times of the track's per-frame confidence (sparse keyframes), None without one."""


@dataclass(frozen=True, slots=True)
class ParsedAnnotations:
    """Tracks and links as given, plus the entries that could not be read at all."""

    tracks: tuple[TrackRecord, ...]
    links: tuple[Link, ...]
    malformed: tuple[tuple[str, str], ...] = ()
    """``(where, why)`` for every track or link entry that could not be read."""


def _record_from_track(t: CuboidTrack) -> TrackRecord:
    return TrackRecord(
        t.track_id,
        t.label,
        t.frame.value,
        t.timestamps_us,
        t.centers,
        t.sizes,
        t.rotations_wxyz,
        tuple(AttributeRecord(a.name, a.timestamps_us, a.values, a.sensor_id) for a in t.attributes),
        dict(t.static_attributes),
        None if t.frame_confidence is None else t.frame_confidence.timestamps_us,
    )


def _frame_times(d: Any) -> npt.NDArray[np.int64] | None:
    """Frame times of a track dict's ``frame_confidence``; None when absent or unreadable (lenient)."""
    if not isinstance(d, Mapping):
        return None
    try:
        t = np.asarray(d.get("timestamps_us", []), dtype=np.int64).reshape(-1)
    except (ValueError, TypeError):
        return None
    return t if t.size else None


def _record_from_dict(d: Mapping[str, Any]) -> TrackRecord:
    t = np.asarray(d["timestamps_us"], dtype=np.int64).reshape(-1)
    k = t.size
    return TrackRecord(
        str(d["track_id"]),
        str(d["label"]),
        str(d.get("frame", "world")),
        t,
        np.asarray(d["centers"], dtype=np.float64).reshape(k, 3),
        np.asarray(d["sizes"], dtype=np.float64).reshape(k, 3),
        np.asarray(d["rotations_wxyz"], dtype=np.float64).reshape(k, 4),
        tuple(
            AttributeRecord(
                str(a["name"]),
                tuple(int(v) for v in a["timestamps_us"]),
                tuple(str(v) for v in a["values"]),
                a.get("sensor_id"),
            )
            for a in d.get("attributes", [])
        ),
        {str(k2): str(v) for k2, v in dict(d.get("static_attributes", {})).items()},
        _frame_times(d.get("frame_confidence")),
    )


def parse_annotations(annotations: Annotations | Mapping[str, Any]) -> ParsedAnnotations:
    """Records of an :class:`Annotations` object or of its JSON dict form (read leniently)."""
    if isinstance(annotations, Annotations):
        return ParsedAnnotations(
            tuple(_record_from_track(t) for t in annotations.tracks), tuple(annotations.links)
        )
    tracks: list[TrackRecord] = []
    links: list[Link] = []
    bad: list[tuple[str, str]] = []
    for i, d in enumerate(annotations.get("tracks", [])):
        try:
            tracks.append(_record_from_dict(d))
        except (KeyError, ValueError, TypeError) as exc:
            bad.append(
                (f"tracks[{i}] ({d.get('track_id', '?') if isinstance(d, Mapping) else '?'})", repr(exc))
            )
    for i, d in enumerate(annotations.get("links", [])):
        try:
            links.append(
                Link(
                    str(d["from_id"]),
                    str(d["to_id"]),
                    str(d.get("label", "link")),
                    bool(d.get("is_bidirectional", True)),
                    dict(d.get("attributes", {})),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            bad.append((f"links[{i}]", repr(exc)))
    return ParsedAnnotations(tuple(tracks), tuple(links), tuple(bad))


def _attribute(a: AttributeRecord) -> AttributePath | None:
    t = np.asarray(a.timestamps_us, dtype=np.int64)
    if not a.name or t.size != len(a.values) or t.size == 0:
        return None
    order = np.argsort(t, kind="stable")
    keep = np.r_[True, np.diff(t[order]) > 0]
    idx = order[keep]
    return AttributePath(a.name, tuple(int(v) for v in t[idx]), tuple(a.values[i] for i in idx), a.sensor_id)


def sanitise(parsed: ParsedAnnotations) -> tuple[Annotations, tuple[int, ...]]:
    """The usable part of ``parsed`` as :class:`Annotations` and, per kept track, its record index.

    Keyframes are sorted by time (the first of equal timestamps kept); keyframes with non-finite values
    or non-positive sizes and zero quaternions are dropped; quaternions are renormalised; a repeated id
    gets the suffix ``#2``, ``#3``...; a track left without keyframes is dropped.
    """
    tracks: list[CuboidTrack] = []
    source: list[int] = []
    used: dict[str, int] = {}
    for i, r in enumerate(parsed.tracks):
        if r.timestamps_us.size == 0 or not r.label:
            continue
        order = np.argsort(r.timestamps_us, kind="stable")
        t = r.timestamps_us[order]
        keep = np.r_[True, np.diff(t) > 0]
        c, s, q = r.centers[order], r.sizes[order], r.rotations_wxyz[order]
        norm = np.linalg.norm(q, axis=1)
        finite = np.isfinite(c).all(1) & np.isfinite(s).all(1) & np.isfinite(q).all(1)
        keep &= finite & (s > 0).all(1) & (norm > 1e-3)
        if not keep.any():
            continue
        n = used.get(r.track_id, 0) + 1
        used[r.track_id] = n
        tid = r.track_id if n == 1 else f"{r.track_id}#{n}"
        try:
            frame = CoordinateFrame.parse(r.frame)
        except ValueError:
            frame = CoordinateFrame.WORLD
        attrs = tuple(a for a in (_attribute(x) for x in r.attributes) if a is not None)
        track = CuboidTrack(
            tid,
            r.label,
            frame,
            t[keep],
            c[keep],
            s[keep],
            q[keep] / norm[keep][:, None],
            attributes=attrs,
            static_attributes=dict(r.static_attributes),
        )
        tracks.append(track if r.frame_times_us is None else densify_track(track, r.frame_times_us))
        source.append(i)
    return Annotations(tuple(tracks), tuple(parsed.links)), tuple(source)


def track_ids(parsed: ParsedAnnotations) -> Sequence[str]:
    """Ids of every parsed track, in order (duplicates kept)."""
    return [r.track_id for r in parsed.tracks]
