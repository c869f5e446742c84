"""Tracking: keyframe interpolation, snapping to points, online tracking and offline refinement.

Layering: ``tracking`` imports ``calibration`` and ``kernels`` only; ``engine.tracks`` adapts the scene
model (``engine.CuboidTrack``) to :class:`CuboidPath`.
"""

from tracking.association import ClassGate, CostMetric
from tracking.frames import to_ego, to_frame, to_world
from tracking.interpolation import OutOfRange, PositionMethod, hermite_tangents, interpolate
from tracking.keyframes import KeyframeTolerance, keyframe_errors, keyframe_indices, keyframes_from_path
from tracking.lifecycle import LifecycleConfig, TrackState
from tracking.motion import ConstantTurnRate, ConstantVelocity, MotionModel
from tracking.offline import OfflineConfig, RefinedTrack, refine_offline
from tracking.paths import CuboidPath, PoseFrame
from tracking.radar import RadarPoints
from tracking.smoothing import SmoothedTrack, SmoothingConfig
from tracking.snap import SnapConfig, SnapReference, SnapResult, snap_to_points
from tracking.snap_faces import FaceSnapConfig, snap_to_faces
from tracking.snap_motion import MotionSnapConfig, Registration, register_points, snap_by_motion
from tracking.stitching import StitchConfig
from tracking.tracker import Detections, FrameTracks, OnlineTracker, TrackerConfig

__all__ = [
    "ClassGate",
    "ConstantTurnRate",
    "ConstantVelocity",
    "CostMetric",
    "CuboidPath",
    "FaceSnapConfig",
    "Detections",
    "FrameTracks",
    "KeyframeTolerance",
    "LifecycleConfig",
    "MotionModel",
    "MotionSnapConfig",
    "OfflineConfig",
    "OnlineTracker",
    "RadarPoints",
    "RefinedTrack",
    "Registration",
    "SmoothedTrack",
    "SmoothingConfig",
    "TrackState",
    "TrackerConfig",
    "OutOfRange",
    "PoseFrame",
    "PositionMethod",
    "SnapConfig",
    "SnapReference",
    "SnapResult",
    "StitchConfig",
    "hermite_tangents",
    "interpolate",
    "keyframe_errors",
    "keyframe_indices",
    "keyframes_from_path",
    "refine_offline",
    "register_points",
    "snap_by_motion",
    "snap_to_faces",
    "snap_to_points",
    "to_ego",
    "to_frame",
    "to_world",
]
