"""Tracking: keyframe interpolation, snapping to points, online tracking and offline refinement.

Layering: ``tracking`` imports ``calibration`` and ``kernels`` only; ``engine.tracks`` adapts the scene
model (``engine.CuboidTrack``) to :class:`CuboidPath`.
"""

from tracking.frames import to_ego, to_frame, to_world
from tracking.interpolation import OutOfRange, PositionMethod, hermite_tangents, interpolate
from tracking.paths import CuboidPath, PoseFrame
from tracking.snap import SnapConfig, SnapResult, snap_to_points

__all__ = [
    "CuboidPath",
    "OutOfRange",
    "PoseFrame",
    "PositionMethod",
    "SnapConfig",
    "SnapResult",
    "hermite_tangents",
    "interpolate",
    "snap_to_points",
    "to_ego",
    "to_frame",
    "to_world",
]
