"""2D observations to link: boxes with a label and attribute values, from a detector or human labels.

JSON schema (``format: "fusionlabel-observations-2d"``, ``version: 1``; pydantic models below, full
JSON Schema from :func:`observations_json_schema`)::

    {"format": "fusionlabel-observations-2d", "version": 1,
     "source": "detector" | "human",                      (optional, default "detector")
     "frames": [{"sensor_id": "cam_front", "timestamp_us": 1700000000005475,
                 "boxes": [{"id": "det-17",                (unique over the file)
                            "box": [x0, y0, x1, y1],      (px, x0 < x1, y0 < y1, inside the image)
                            "label": "car",
                            "score": 0.93,                (optional, in [0, 1], default 1)
                            "depth_m": 27.5,              (optional: estimated range to the object)
                            "attributes": {"blinker": "left", "brake_light": "off"},
                            "attribute_scores": {"blinker": 0.8}}]}]}  (optional, in [0, 1])

``timestamp_us`` is the camera frame's capture time on the log's clock; :func:`check_observations`
snaps it to the camera's capture within ``max_time_gap_us`` and raises otherwise. Boxes may overhang
the image by ``box_tolerance_px``; beyond that they are rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.log import Log
from kernels.errors import InvalidInputError

__all__ = [
    "Observation2D",
    "ObservationsFile",
    "check_observations",
    "observations_from_dict",
    "observations_json_schema",
    "observations_to_dict",
    "read_observations",
]

FORMAT = "fusionlabel-observations-2d"


class _BoxModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    box: tuple[float, float, float, float]
    label: str = Field(min_length=1)
    score: float = Field(default=1.0, ge=0.0, le=1.0)
    depth_m: float | None = Field(default=None, gt=0.0)
    attributes: dict[str, str] = Field(default_factory=dict)
    attribute_scores: dict[str, float] = Field(default_factory=dict)


class _FrameModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sensor_id: str = Field(min_length=1)
    timestamp_us: int
    boxes: list[_BoxModel]


class ObservationsFile(BaseModel):
    """The JSON document (pydantic model; see the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    format: Literal["fusionlabel-observations-2d"] = "fusionlabel-observations-2d"
    version: Literal[1] = 1
    source: Literal["detector", "human"] = "detector"
    frames: list[_FrameModel]


@dataclass(frozen=True, slots=True)
class Observation2D:
    """One 2D box in one camera frame.

    Parameters
    ----------
    obs_id : str
        Unique id.
    sensor_id : str
        The camera.
    timestamp_us : int
        Capture time of the camera frame [µs].
    box : tuple of 4 float
        ``(x0, y0, x1, y1)`` [px].
    label : str
        Class name.
    score : float
        Detector confidence in [0, 1] (1 for human labels).
    depth_m : float or None
        Estimated range to the object [m], when the source gives one.
    attributes : mapping of str to str
        Observed attribute values, e.g. ``{"blinker": "left"}``.
    attribute_scores : mapping of str to float
        Per-attribute confidence in [0, 1] (1 when absent).
    """

    obs_id: str
    sensor_id: str
    timestamp_us: int
    box: tuple[float, float, float, float]
    label: str
    score: float = 1.0
    depth_m: float | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    attribute_scores: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        object.__setattr__(self, "attribute_scores", MappingProxyType(dict(self.attribute_scores)))


def observations_from_dict(data: Mapping[str, Any]) -> tuple[Observation2D, ...]:
    """Parse the JSON document (schema in the module docstring); raises naming the bad field."""
    try:
        doc = ObservationsFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(
            f"observations: field {where!r}: {first['msg']} (got {first.get('input')!r}); "
            f"{exc.error_count()} error(s) in all"
        ) from None
    out = []
    for fr in doc.frames:
        for b in fr.boxes:
            out.append(
                Observation2D(
                    b.id,
                    fr.sensor_id,
                    fr.timestamp_us,
                    b.box,
                    b.label,
                    b.score,
                    b.depth_m,
                    b.attributes,
                    b.attribute_scores,
                )
            )
    return tuple(out)


def read_observations(path: str | Path) -> tuple[Observation2D, ...]:
    """Read a JSON observations file."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidInputError(f"observations file {str(path)!r} is not readable JSON: {exc}") from exc
    return observations_from_dict(data)


def observations_to_dict(observations: Sequence[Observation2D], source: str = "detector") -> dict[str, Any]:
    """JSON-safe document of ``observations`` (grouped by camera frame)."""
    frames: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for o in observations:
        d: dict[str, Any] = {"id": o.obs_id, "box": list(o.box), "label": o.label, "score": o.score}
        if o.depth_m is not None:
            d["depth_m"] = o.depth_m
        d["attributes"] = dict(o.attributes)
        if o.attribute_scores:
            d["attribute_scores"] = dict(o.attribute_scores)
        frames.setdefault((o.sensor_id, o.timestamp_us), []).append(d)
    return {
        "format": FORMAT,
        "version": 1,
        "source": source,
        "frames": [{"sensor_id": s, "timestamp_us": t, "boxes": b} for (s, t), b in sorted(frames.items())],
    }


def observations_json_schema() -> dict[str, Any]:
    """The JSON Schema of the observations document."""
    return ObservationsFile.model_json_schema()


def check_observations(
    log: Log,
    observations: Sequence[Observation2D],
    *,
    max_time_gap_us: int = 1_000,
    box_tolerance_px: float = 2.0,
) -> tuple[Observation2D, ...]:
    """Validate observations against a log and snap their timestamps to camera captures.

    Raises
    ------
    InvalidInputError
        Naming the observation: duplicate id, unknown camera, a timestamp outside the camera's captures
        or farther than ``max_time_gap_us`` from any, a box that is empty, not finite, or overhangs the
        image by more than ``box_tolerance_px``, a score outside [0, 1].
    """
    seen: set[str] = set()
    out = []
    for o in observations:
        if o.obs_id in seen:
            raise InvalidInputError(f"observation id {o.obs_id!r} is used twice")
        seen.add(o.obs_id)
        sensor = log.sensors.get(o.sensor_id)
        if o.sensor_id not in log.cameras or sensor is None or sensor.camera is None:
            raise InvalidInputError(
                f"observation {o.obs_id!r}: unknown camera {o.sensor_id!r}; cameras are {sorted(log.cameras)}"
            )
        stamps = log.cameras[o.sensor_id].timestamps_us
        if stamps.size == 0:
            raise InvalidInputError(f"observation {o.obs_id!r}: camera {o.sensor_id!r} has no captures")
        i = log.cameras[o.sensor_id].nearest(int(o.timestamp_us))
        gap = abs(int(stamps[i]) - int(o.timestamp_us))
        if gap > max_time_gap_us:
            where = "outside" if not stamps[0] <= o.timestamp_us <= stamps[-1] else "between captures of"
            raise InvalidInputError(
                f"observation {o.obs_id!r}: timestamp_us {o.timestamp_us} lies {where} camera "
                f"{o.sensor_id!r} (captures span [{int(stamps[0])}, {int(stamps[-1])}], "
                f"nearest {int(stamps[i])}, "
                f"{gap} µs away > max_time_gap_us {max_time_gap_us})"
            )
        w, h = sensor.camera.width, sensor.camera.height
        b = np.asarray(o.box, dtype=np.float64)
        tol = box_tolerance_px
        if b.shape != (4,) or not np.isfinite(b).all() or b[2] <= b[0] or b[3] <= b[1]:
            raise InvalidInputError(
                f"observation {o.obs_id!r}: box {list(o.box)} must be finite (x0, y0, x1, y1) "
                "with x0 < x1 and y0 < y1"
            )
        if b[0] < -tol or b[1] < -tol or b[2] > w + tol or b[3] > h + tol:
            raise InvalidInputError(
                f"observation {o.obs_id!r}: box {list(o.box)} lies outside the {w} x {h} image of camera "
                f"{o.sensor_id!r} (tolerance {tol} px)"
            )
        if not 0.0 <= o.score <= 1.0:
            raise InvalidInputError(f"observation {o.obs_id!r}: score {o.score} must lie in [0, 1]")
        clipped = (max(b[0], 0.0), max(b[1], 0.0), min(b[2], float(w)), min(b[3], float(h)))
        box = (float(clipped[0]), float(clipped[1]), float(clipped[2]), float(clipped[3]))
        out.append(replace(o, timestamp_us=int(stamps[i]), box=box))
    return tuple(out)
