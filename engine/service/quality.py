"""Validation and camera footprints of tracks for the service.

Wrappers of ``engine.validation`` and ``engine.linking`` taking what a remote caller can send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.annotations import CuboidTrack
from engine.linking import Footprint as TrackFootprint
from engine.linking import FootprintConfig, camera_frames, compute_footprints
from engine.log import Log
from engine.validation import ValidationReport, validate_report
from kernels.errors import InvalidInputError

__all__ = ["TrackFootprint", "track_footprints", "validate_annotations"]


def validate_annotations(
    log: Log,
    annotations: Mapping[str, Any],
    *,
    rules: Iterable[str] | None = None,
    config: Mapping[str, Any] | None = None,
) -> ValidationReport:
    """Findings for annotations in their JSON dict form (read leniently), against ``log``.

    Parameters
    ----------
    log : Log
        The drive log the annotations belong to.
    annotations : mapping
        ``fusionlabel-annotations`` JSON (tracks, links); schema problems become findings.
    rules : iterable of str, optional
        Rule or family names (default all).
    config : mapping, optional
        Overrides merged over the packaged defaults (never a path: callers are remote).
    """
    if config is not None and not isinstance(config, Mapping):
        raise InvalidInputError(f"config must be a mapping of overrides, got {type(config).__name__}")
    return validate_report(log, annotations, config=dict(config) if config is not None else None, rules=rules)


def track_footprints(
    log: Log,
    tracks: Sequence[CuboidTrack],
    *,
    camera_ids: Sequence[str] | None = None,
    start_us: int | None = None,
    end_us: int | None = None,
    lidar_occlusion: bool = True,
    min_visible_fraction: float = 0.0,
) -> list[TrackFootprint]:
    """Footprints of tracks in every camera capture between ``start_us`` and ``end_us`` (inclusive).

    Each cuboid is posed at the capture time (:func:`engine.linking.compute_footprints`); the result
    holds one record per (track, capture) inside the track's keyframe span, boxes None when not visible.
    """
    frames = [
        (sid, t)
        for sid, t in camera_frames(log, camera_ids)
        if (start_us is None or t >= start_us) and (end_us is None or t <= end_us)
    ]
    cfg = FootprintConfig(lidar_occlusion=lidar_occlusion, min_visible_fraction=min_visible_fraction)
    found = compute_footprints(log, tracks, frames, cfg)
    return [found.record(i) for i in range(len(found))]
