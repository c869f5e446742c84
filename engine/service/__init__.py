"""Service facade: the engine calls the API (``api``) makes, in engine terms and engine types.

``api`` imports only this package, ``engine`` and ``engine.errors``; it never reaches into
``tracking``, ``kernels`` or ``calibration``. The value types those calls take are re-exported here.
"""

from engine.service.annotate import (
    FitResult,
    Interpolated,
    count_points_in_boxes,
    fit_box,
    interpolate_cuboids,
    log_points,
)
from engine.service.prelabel import (
    DefaultPrelabeler,
    JobCancelled,
    Prelabeler,
    PrelabelOptions,
    PrelabelResult,
    Progress,
    StageReport,
    load_prelabeler,
)
from engine.service.project import Footprint, project_cuboids
from engine.service.quality import TrackFootprint, track_footprints, validate_annotations
from tracking import CuboidPath, OutOfRange, PoseFrame, PositionMethod, SnapConfig, SnapResult

__all__ = [
    "CuboidPath",
    "DefaultPrelabeler",
    "FitResult",
    "Footprint",
    "Interpolated",
    "JobCancelled",
    "OutOfRange",
    "PoseFrame",
    "PositionMethod",
    "PrelabelOptions",
    "PrelabelResult",
    "Prelabeler",
    "Progress",
    "SnapConfig",
    "SnapResult",
    "StageReport",
    "TrackFootprint",
    "count_points_in_boxes",
    "fit_box",
    "interpolate_cuboids",
    "load_prelabeler",
    "log_points",
    "project_cuboids",
    "track_footprints",
    "validate_annotations",
]
