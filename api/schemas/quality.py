"""Schemas of ``POST /v1/validate`` (lenient annotations -> findings) and ``POST /v1/footprints``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from api.schemas.common import MAX_KEYFRAMES, MAX_TRACKS, LogId, Name, Public, Strict, TimeUs
from api.schemas.cuboids import KeyframesCreate

__all__ = [
    "AnnotationsCreate",
    "FindingPublic",
    "TrackFootprintPublic",
    "TrackFootprintsCreate",
    "TrackFootprintsPublic",
    "TrackKeyframesCreate",
    "ValidateCreate",
    "ValidatePublic",
]

Loose = Annotated[float, Field(ge=-1e12, le=1e12, allow_inf_nan=False, strict=True)]
"""Any finite number of sane magnitude: range problems are findings here, not request errors."""
Text = Annotated[str, Field(max_length=200)]
Row = Annotated[list[Loose], Field(max_length=8)]


class AttributeCreate(Strict):
    """A time-varying attribute."""

    name: Text
    timestamps_us: list[TimeUs] = Field(max_length=MAX_KEYFRAMES)
    values: list[Text] = Field(max_length=MAX_KEYFRAMES)
    sensor_id: Text | None = None
    static: bool = False


class TrackRecordCreate(Strict):
    """One track as submitted; sizes, quaternions and time order are checked by the rules, not here."""

    track_id: Text
    label: Text
    frame: Text = "world"
    timestamps_us: list[TimeUs] = Field(max_length=MAX_KEYFRAMES)
    centers: list[Row] = Field(max_length=MAX_KEYFRAMES)
    sizes: list[Row] = Field(max_length=MAX_KEYFRAMES)
    rotations_wxyz: list[Row] = Field(max_length=MAX_KEYFRAMES)
    confidence: list[Loose] | None = Field(None, max_length=MAX_KEYFRAMES)
    attributes: list[AttributeCreate] = Field([], max_length=64)
    static_attributes: dict[Text, Text] = Field({}, max_length=64)


class LinkCreate(Strict):
    """A relation between two annotations."""

    from_id: Text
    to_id: Text
    label: Text = "link"
    is_bidirectional: bool = True
    attributes: dict[Text, Text] = Field({}, max_length=64)


class AnnotationsCreate(Strict):
    """``fusionlabel-annotations`` JSON."""

    format: Text = "fusionlabel-annotations"
    version: int = Field(1, ge=1, le=1)
    tracks: list[TrackRecordCreate] = Field(max_length=MAX_TRACKS)
    links: list[LinkCreate] = Field([], max_length=MAX_TRACKS)


class ValidateCreate(Strict):
    """Annotations of a registered log to check."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "log_id": "log_0123456789abcdef0123456789abcdef",
                    "annotations": {
                        "tracks": [
                            {
                                "track_id": "car-1",
                                "label": "car",
                                "timestamps_us": [0, 100_000],
                                "centers": [[10, 0, 0.8], [11, 0, 0.8]],
                                "sizes": [[4.5, 1.9, 1.6], [4.5, 1.9, 1.6]],
                                "rotations_wxyz": [[1, 0, 0, 0], [1, 0, 0, 0]],
                            }
                        ]
                    },
                    "rules": ["schema", "geometry"],
                }
            ]
        }
    )

    log_id: LogId
    annotations: AnnotationsCreate
    rules: list[Name] | None = Field(
        None, max_length=200, description="rule or family names; all when omitted"
    )
    config: dict[Text, dict[Text, Any]] | None = Field(
        None, description="threshold overrides merged over the defaults, by section"
    )


class FindingPublic(Public):
    """One problem found by one rule."""

    rule: str
    severity: str
    track_id: str | None
    timestamp: int | None = Field(description="keyframe or capture time [µs]")
    sensor: str | None
    message: str
    value: float | None
    threshold: float | None


class ValidatePublic(Public):
    """Findings, sorted by severity then time, and the rules that could not run."""

    findings: list[FindingPublic]
    skipped: dict[str, str]
    counts: dict[str, int] = Field(description="findings per severity")


class TrackKeyframesCreate(KeyframesCreate):
    """Keyframes of one track (strict: the same checks as interpolation)."""

    track_id: Name
    label: Name = "object"


class TrackFootprintsCreate(Strict):
    """Tracks whose footprints to compute in the log's camera captures within a time window."""

    log_id: LogId
    tracks: list[TrackKeyframesCreate] = Field(min_length=1, max_length=1000)
    camera_ids: list[Name] | None = Field(None, max_length=64)
    start_us: TimeUs | None = Field(None, description="first capture time to include [µs]")
    end_us: TimeUs | None = Field(None, description="last capture time to include [µs]")
    lidar_occlusion: bool = Field(True, description="also test occlusion against the lidar depth")


class TrackFootprintPublic(Public):
    """A track in one camera capture."""

    track_id: str
    camera_id: str
    capture_time_us: int
    box: tuple[float, float, float, float] | None = Field(
        description="amodal box [px]; null when not visible"
    )
    visible_box: tuple[float, float, float, float] | None
    visible_fraction: float
    truncation: float
    occlusion: float
    depth_m: float


class TrackFootprintsPublic(Public):
    """One row per (track, capture) inside the track's keyframe span."""

    footprints: list[TrackFootprintPublic]
