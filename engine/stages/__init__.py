"""The stages of the pre-labeling pipeline (:mod:`engine.pipeline`), their configuration and timing."""

from engine.stages.clock import Progress, StageClock, StageStats
from engine.stages.config import (
    FramesConfig,
    LinksConfig,
    PipelineConfig,
    ProposalsConfig,
    SharedFrameConfig,
    TracksConfig,
    ValidationStageConfig,
)
from engine.stages.factories import (
    link_stage,
    proposal_stage,
    shared_frame_stage,
    track_stage,
    validation_stage,
)
from engine.stages.frame_stages import ProposalStage, SharedFrameStage, frame_times, reference_lidar
from engine.stages.log_stages import LinkStage, ValidationStage
from engine.stages.track_stage import TrackStage, world_detections

__all__ = [
    "FramesConfig",
    "LinkStage",
    "LinksConfig",
    "PipelineConfig",
    "Progress",
    "ProposalStage",
    "ProposalsConfig",
    "SharedFrameConfig",
    "SharedFrameStage",
    "StageClock",
    "StageStats",
    "TrackStage",
    "TracksConfig",
    "ValidationStage",
    "ValidationStageConfig",
    "frame_times",
    "link_stage",
    "proposal_stage",
    "reference_lidar",
    "shared_frame_stage",
    "track_stage",
    "validation_stage",
    "world_detections",
]
