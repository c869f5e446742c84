"""The file of one chunk's per-frame results: its proposals (deterministic JSON) and its stage stats.

``OUT/_chunks/KEY.json`` holds the proposals of the chunk's frames (``fusionlabel.chunk-proposals``
version 1; float32 values written as the shortest decimal that reads back to the same float32, so a
re-run writes the same bytes); ``OUT/_chunks/KEY.done.json`` is its completion marker with the stage
timings (which differ run to run, so they stay out of the data file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine.proposals import ProposalSet
from engine.stages import StageStats
from kernels.errors import LogFormatError

__all__ = ["FORMAT", "proposals_from_json", "proposals_to_json", "stats_from_json", "stats_to_json"]

FORMAT = "fusionlabel.chunk-proposals"


def proposals_to_json(proposals: Sequence[ProposalSet]) -> bytes:
    """Encode a chunk's proposals (one :class:`ProposalSet` per frame, ego or world frame)."""
    frames = [
        {
            "timestamp_us": p.timestamp_us,
            "frame": p.frame,
            "classes": list(p.classes),
            "boxes": p.boxes.astype(np.float64).tolist(),
            "scores": p.scores.astype(np.float64).tolist(),
            "class_ids": p.class_ids.tolist(),
        }
        for p in proposals
    ]
    return json.dumps({"format": FORMAT, "version": 1, "frames": frames}, separators=(",", ":")).encode()


def proposals_from_json(data: bytes | str) -> list[ProposalSet]:
    """Decode :func:`proposals_to_json` (bit-exact float32 values)."""
    try:
        doc = json.loads(data)
        if doc.get("format") != FORMAT or doc.get("version") != 1:
            raise LogFormatError(f"not a {FORMAT} version 1 document: {doc.get('format')!r}")
        return [
            ProposalSet(
                np.array(f["boxes"], np.float32).reshape(-1, 7),
                np.array(f["scores"], np.float32),
                np.array(f["class_ids"], np.int32),
                tuple(f["classes"]),
                f["timestamp_us"],
                f["frame"],
            )
            for f in doc["frames"]
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LogFormatError(f"malformed {FORMAT} document: {exc}") from exc


def stats_to_json(stats: Sequence[StageStats]) -> list[dict[str, Any]]:
    """JSON-safe stage stats, per-frame times included."""
    return [
        {
            "name": s.name,
            "frames": s.frames,
            "seconds": s.seconds,
            "items": s.items,
            "frame_ns": s.frame_ns.tolist(),
            "status": s.status,
            "detail": s.detail,
        }
        for s in stats
    ]


def stats_from_json(rows: Sequence[Mapping[str, Any]]) -> tuple[StageStats, ...]:
    """Decode :func:`stats_to_json`."""
    return tuple(
        StageStats(
            str(r["name"]),
            int(r["frames"]),
            float(r["seconds"]),
            int(r["items"]),
            np.array(r["frame_ns"], np.int64),
            str(r["status"]),
            str(r["detail"]),
        )
        for r in rows
    )
