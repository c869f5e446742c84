"""Schemas of the low-latency annotation endpoints: interpolate, fit, points-in-boxes, project."""

from __future__ import annotations

import enum
import math
from typing import Any, Self

from pydantic import ConfigDict, Field, model_validator

from api.schemas.common import (
    MAX_BOXES,
    MAX_POINTS,
    MAX_TIMESTAMPS,
    Angle,
    Coord,
    FrameName,
    LogId,
    Name,
    Public,
    Size,
    Strict,
    TimeUs,
)
from api.schemas.cuboids import (
    CuboidCreate,
    CuboidPublic,
    CuboidSeriesCreate,
    CuboidSeriesPublic,
    KeyframesCreate,
)

__all__ = [
    "CountsCreate",
    "CountsPublic",
    "FitCreate",
    "FitPublic",
    "FootprintPublic",
    "InterpolateCreate",
    "InterpolatePublic",
    "Method",
    "OutOfRangeName",
    "ProjectCreate",
    "ProjectPublic",
    "SnapBoundsCreate",
    "SnapCreate",
    "SnapMethod",
    "SnapReportPublic",
]

Vec3 = tuple[Coord, Coord, Coord]
Box7 = tuple[Coord, Coord, Coord, Size, Size, Size, Angle]

_KEYFRAMES_EXAMPLE: dict[str, Any] = {
    "timestamps_us": [0, 1_000_000],
    "centers": [[0.0, 0.0, 0.8], [10.0, 0.5, 0.8]],
    "sizes": [[4.5, 1.9, 1.6], [4.5, 1.9, 1.6]],
    "yaws": [0.0, 0.1],
    "frame": "world",
}


class Method(enum.StrEnum):
    """How centres move between keyframes (rotations are always slerped)."""

    HERMITE = "hermite"
    LINEAR = "linear"


class OutOfRangeName(enum.StrEnum):
    """Queries outside the keyframe range: an error, or the end cuboids held."""

    RAISE = "raise"
    HOLD = "hold"


class SnapMethod(enum.StrEnum):
    """How interpolated cuboids are snapped to the lidar (see :class:`SnapCreate`)."""

    MOTION = "motion"
    FACES = "faces"
    POINTS = "points"


class SnapBoundsCreate(Strict):
    """Bounds of a containment refit of a box to the lidar points of a log's sweep (no heading flip)."""

    lidar_id: Name | None = Field(None, description="lidar to snap against; the only one when omitted")
    max_shift_m: float = Field(0.6, gt=0, le=5.0, description="largest centre move in x/y [m]")
    max_yaw_rad: float = Field(0.26, ge=0, lt=math.pi / 2, description="largest heading change [rad]")
    max_gap_us: int = Field(60_000, ge=0, le=10_000_000, description="farthest sweep from a query [µs]")


class SnapCreate(SnapBoundsCreate):
    """Correct interpolated cuboids with the lidar sweeps of the log (bounded, never a heading flip).

    Each query takes the sweep nearest its time (within ``max_gap_us``); each keyframe takes its own
    sweep for ``motion`` and ``faces`` (a keyframe with no sweep within ``max_gap_us`` is simply not used
    as evidence). The snap runs in the world frame; the result is returned in ``output_frame``.
    """

    method: SnapMethod = Field(
        SnapMethod.MOTION,
        description=(
            "`motion` (default, most accurate): registers the object's points from sweep to sweep and "
            "corrects x, y and heading of the interpolated cuboids with that motion, anchored at the "
            "keyframes (a query at a keyframe's time returns the keyframe). "
            "`faces`: moves each cuboid (x, y only, heading kept) so its points' face extents match the "
            "keyframes' calibration. "
            "`points`: refits each cuboid on its own to its sweep (containment fit, x, y and heading); "
            "ignores the keyframes' own points, so label margins and half-seen objects bias it."
        ),
    )
    max_shift_m: float | None = Field(  # type: ignore[assignment]
        None,
        gt=0,
        le=5.0,
        description=(
            "largest centre move [m]; omitted: the method's default. `motion`: length of the x/y "
            "correction, a larger one is not applied and the cuboid is flagged (default 0.6); `faces`: "
            "move along each box axis (default 0.5); `points`: search bound in box x and y (default 0.6)"
        ),
    )
    max_yaw_rad: float | None = Field(  # type: ignore[assignment]
        None,
        ge=0,
        lt=math.pi / 2,
        description=(
            "largest heading change [rad]; omitted: the method's default. `motion`: a larger solved "
            "correction is not applied and the cuboid is flagged (must be > 0; default 0.2); `points`: "
            "search bound (default 0.26); `faces`: not used (the heading is kept)"
        ),
    )

    @model_validator(mode="after")
    def _yaw_bound(self) -> Self:
        if self.method is SnapMethod.MOTION and self.max_yaw_rad == 0:
            raise ValueError("max_yaw_rad must be > 0 for method motion")
        return self


class InterpolateCreate(Strict):
    """Keyframes of one track and the times to interpolate it at."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"keyframes": _KEYFRAMES_EXAMPLE, "timestamps_us": [250_000, 500_000, 750_000]}]
        }
    )

    keyframes: KeyframesCreate
    timestamps_us: list[TimeUs] = Field(
        min_length=1, max_length=MAX_TIMESTAMPS, description="strictly increasing query times [µs]"
    )
    output_frame: FrameName | None = Field(None, description="frame of the result; the keyframes' by default")
    method: Method = Method.HERMITE
    out_of_range: OutOfRangeName = OutOfRangeName.RAISE
    log_id: LogId | None = Field(None, description="log giving ego poses (ego frames) and sweeps (snap)")
    snap: SnapCreate | None = None


class SnapReportPublic(Public):
    """Per-cuboid snap report."""

    snapped: list[bool]
    needs_keyframe: list[bool]
    residual_m: list[float | None] = Field(
        description="mean point distance to the outline; null: too few points"
    )
    shift_m: list[float]
    yaw_change_rad: list[float]
    n_points: list[int]


class InterpolatePublic(Public):
    """Interpolated (and possibly snapped) cuboids."""

    cuboids: CuboidSeriesPublic
    snap: SnapReportPublic | None = None


class Heading(enum.StrEnum):
    """Heading rule of a fit from points."""

    PRIOR = "prior"
    LONGER_SIDE = "longer_side"
    NONE = "none"


class FitCreate(Strict):
    """Fit a cuboid to points, or refine a rough box against points (given, or from a log's sweep)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "points": [
                        [1.0, 0.0, 0.2],
                        [1.0, 1.0, 0.2],
                        [3.0, 0.0, 0.2],
                        [3.0, 1.0, 1.2],
                        [2.0, 0.5, 1.5],
                    ]
                },
                {
                    "box": {
                        "center": [10.0, 2.0, 0.8],
                        "size": [4.5, 1.9, 1.6],
                        "yaw": 0.0,
                        "timestamp_us": 0,
                    },
                    "log_id": "log_0123456789abcdef0123456789abcdef",
                },
            ]
        }
    )

    points: list[Vec3] | None = Field(None, max_length=MAX_POINTS, description="points [m], z up")
    box: CuboidCreate | None = Field(None, description="rough box to refine; fit from scratch when omitted")
    log_id: LogId | None = Field(None, description="take the points from the sweep nearest box.timestamp_us")
    lidar_id: Name | None = None
    heading: Heading = Heading.PRIOR
    snap: SnapBoundsCreate | None = Field(None, description="refinement bounds")

    @model_validator(mode="after")
    def _source(self) -> Self:
        if self.points is None and self.log_id is None:
            raise ValueError("give points, or a box with a log_id")
        if self.points is not None and self.log_id is not None:
            raise ValueError("give either points or log_id, not both")
        if self.log_id is not None and self.box is None:
            raise ValueError("log_id needs a box: its timestamp picks the sweep")
        return self


class FitPublic(Public):
    """The fitted cuboid."""

    cuboid: CuboidPublic
    label: str | None = Field(description="size-prior class of a fit from points")
    score: float
    n_points: int
    needs_keyframe: bool


class CountsCreate(Strict):
    """Boxes, and points given or taken from a log's sweep."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"boxes": [[0, 0, 0, 2, 2, 2, 0]], "points": [[0.1, 0.2, 0.3], [5.0, 0.0, 0.0]]}]
        }
    )

    boxes: list[Box7] = Field(
        min_length=1, max_length=MAX_BOXES, description="[x, y, z, length, width, height, yaw] [m, rad]"
    )
    points: list[Vec3] | None = Field(
        None, max_length=MAX_POINTS, description="points, in the boxes' frame [m]"
    )
    log_id: LogId | None = None
    lidar_id: Name | None = None
    timestamp_us: TimeUs | None = Field(None, description="sweep time, with log_id [µs]")
    frame: FrameName = Field(FrameName.WORLD, description="frame of the boxes (sweep points are moved there)")
    max_gap_us: int = Field(60_000, ge=0, le=10_000_000)

    @model_validator(mode="after")
    def _source(self) -> Self:
        if (self.points is None) == (self.log_id is None):
            raise ValueError("give exactly one of points and log_id")
        if self.log_id is not None and self.timestamp_us is None:
            raise ValueError("log_id needs timestamp_us")
        return self


class CountsPublic(Public):
    """Points inside each box (a point in overlapping boxes counts for each)."""

    counts: list[int]
    n_points: int


class ProjectCreate(Strict):
    """Cuboids (each at its own timestamp; several may share one) to project into a log's cameras."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "log_id": "log_0123456789abcdef0123456789abcdef",
                    "cuboids": {
                        "timestamps_us": [1_600_000_000_000_000],
                        "centers": [[12.0, 1.0, 0.9]],
                        "sizes": [[4.5, 1.9, 1.6]],
                        "yaws": [0.0],
                        "frame": "ego",
                    },
                }
            ]
        }
    )

    log_id: LogId
    cuboids: CuboidSeriesCreate
    camera_ids: list[Name] | None = Field(None, max_length=64, description="cameras; all when omitted")
    max_gap_us: int = Field(100_000, ge=0, le=10_000_000, description="camera capture farthest from a cuboid")


class FootprintPublic(Public):
    """A cuboid's rectangle in one camera image at that camera's capture time."""

    cuboid: int = Field(description="row of the cuboid in the request")
    camera_id: str
    capture_time_us: int
    box: tuple[float, float, float, float] = Field(description="(u_min, v_min, u_max, v_max) [px], clipped")
    corners_in_front: int
    corners_in_image: int
    min_depth_m: float


class ProjectPublic(Public):
    """Footprints, ordered by cuboid then camera."""

    footprints: list[FootprintPublic]
