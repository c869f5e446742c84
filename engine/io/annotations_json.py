"""Annotations to and from JSON-safe dicts (the native format's ``annotations.json``).

Floats are written with Python's shortest round-trip repr, so a write/read round trip is bit-exact.

A track with sparse keyframes and per-frame confidence (``CuboidTrack.frame_confidence``) gets an
optional ``"frame_confidence": {"timestamps_us": [...], "values": [...]}`` entry beside its keyframes;
tracks without it are written exactly as before, and readers that ignore the key still get the keyframes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.annotations import (
    Annotations,
    AttributePath,
    CoordinateFrame,
    CuboidTrack,
    FrameConfidence,
    Link,
)
from kernels.errors import LogFormatError

__all__ = ["annotations_from_dict", "annotations_to_dict", "read_annotations", "write_annotations"]


def _attribute_to_dict(a: AttributePath) -> dict[str, Any]:
    return {
        "name": a.name,
        "timestamps_us": list(a.timestamps_us),
        "values": list(a.values),
        "sensor_id": a.sensor_id,
        "static": a.static,
    }


def _track_to_dict(t: CuboidTrack) -> dict[str, Any]:
    assert t.confidence is not None  # filled by CuboidTrack.__post_init__
    out: dict[str, Any] = {
        "track_id": t.track_id,
        "label": t.label,
        "frame": t.frame.value,
        "timestamps_us": [int(v) for v in t.timestamps_us],
        "centers": t.centers.tolist(),
        "sizes": t.sizes.tolist(),
        "rotations_wxyz": t.rotations_wxyz.tolist(),
        "confidence": [float(v) for v in t.confidence],
        "attributes": [_attribute_to_dict(a) for a in t.attributes],
        "static_attributes": dict(t.static_attributes),
    }
    if t.frame_confidence is not None:
        out["frame_confidence"] = {
            "timestamps_us": [int(v) for v in t.frame_confidence.timestamps_us],
            "values": [float(v) for v in t.frame_confidence.values],
        }
    return out


def _frame_confidence(d: dict[str, Any] | None) -> FrameConfidence | None:
    if d is None:
        return None
    return FrameConfidence(
        np.asarray(d["timestamps_us"], dtype=np.int64), np.asarray(d["values"], dtype=np.float32)
    )


def annotations_to_dict(annotations: Annotations) -> dict[str, Any]:
    """JSON-safe dict of ``annotations`` (schema ``fusionlabel-annotations`` version 1)."""
    return {
        "format": "fusionlabel-annotations",
        "version": 1,
        "tracks": [_track_to_dict(t) for t in annotations.tracks],
        "links": [
            {
                "from_id": link.from_id,
                "to_id": link.to_id,
                "label": link.label,
                "is_bidirectional": link.is_bidirectional,
                "attributes": dict(link.attributes),
            }
            for link in annotations.links
        ],
    }


def annotations_from_dict(data: dict[str, Any]) -> Annotations:
    """Inverse of :func:`annotations_to_dict`; raises :class:`LogFormatError` on a wrong schema."""
    if data.get("format") != "fusionlabel-annotations" or data.get("version") != 1:
        raise LogFormatError(
            f"annotations: expected format 'fusionlabel-annotations' version 1, "
            f"got {data.get('format')!r} version {data.get('version')!r}"
        )
    tracks = tuple(
        CuboidTrack(
            track_id=t["track_id"],
            label=t["label"],
            frame=CoordinateFrame.parse(t["frame"]),
            timestamps_us=np.asarray(t["timestamps_us"], dtype=np.int64),
            centers=np.asarray(t["centers"], dtype=np.float64).reshape(-1, 3),
            sizes=np.asarray(t["sizes"], dtype=np.float64).reshape(-1, 3),
            rotations_wxyz=np.asarray(t["rotations_wxyz"], dtype=np.float64).reshape(-1, 4),
            confidence=np.asarray(t["confidence"], dtype=np.float32),
            attributes=tuple(
                AttributePath(
                    a["name"],
                    tuple(a["timestamps_us"]),
                    tuple(a["values"]),
                    a.get("sensor_id"),
                    bool(a.get("static", False)),
                )
                for a in t.get("attributes", [])
            ),
            static_attributes=t.get("static_attributes", {}),
            frame_confidence=_frame_confidence(t.get("frame_confidence")),
        )
        for t in data.get("tracks", [])
    )
    links = tuple(
        Link(
            link["from_id"],
            link["to_id"],
            link.get("label", "link"),
            bool(link.get("is_bidirectional", True)),
            link.get("attributes", {}),
        )
        for link in data.get("links", [])
    )
    return Annotations(tracks, links)


def write_annotations(path: str | Path, annotations: Annotations) -> None:
    """Write ``annotations`` as JSON to ``path`` (atomically: temp file then rename)."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(annotations_to_dict(annotations)))
    tmp.replace(path)


def read_annotations(path: str | Path) -> Annotations:
    """Read annotations written by :func:`write_annotations`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"cannot read annotations {str(path)!r}: {exc}") from exc
    return annotations_from_dict(data)
