"""Small factories: each pipeline stage built from its part of :class:`PipelineConfig` (and the log).

The pipeline calls one factory per stage, so a stage can be swapped (another detector, no links) by
configuration alone; stages are plain callables handing typed values to the next.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.linking import Observation2D
from engine.log import Log
from engine.proposals import Detector
from engine.stages.config import PipelineConfig
from engine.stages.frame_stages import ProposalStage, SharedFrameStage, reference_lidar
from engine.stages.log_stages import LinkStage, ValidationStage
from engine.stages.track_stage import TrackStage

__all__ = ["link_stage", "proposal_stage", "shared_frame_stage", "track_stage", "validation_stage"]


def shared_frame_stage(log: Log, config: PipelineConfig) -> SharedFrameStage:
    """``timestamp_us -> SharedFrame`` on the configured backend."""
    return SharedFrameStage(log, config.shared_frame, config.backend)


def proposal_stage(log: Log, config: PipelineConfig, detector: Detector | None = None) -> ProposalStage:
    """``SharedFrame -> ProposalSet``: the model-free detector unless ``detector`` is given."""
    return ProposalStage(log, config.proposals, reference_lidar(log, config.frames), config.backend, detector)


def track_stage(log: Log, config: PipelineConfig) -> TrackStage:
    """``[ProposalSet] -> (CuboidTrack, ...)`` in the world frame."""
    return TrackStage(log, config.tracks)


def link_stage(
    log: Log, config: PipelineConfig, observations: Sequence[Observation2D] | None = None
) -> LinkStage | None:
    """``Annotations -> LinkResult``, or None when links are disabled or the log has no camera."""
    if not config.links.enabled or not log.cameras:
        return None
    return LinkStage(log, config.links, config.backend, observations)


def validation_stage(log: Log, config: PipelineConfig) -> ValidationStage | None:
    """``Annotations -> ValidationReport``, or None when validation is disabled."""
    if not config.validation.enabled:
        return None
    return ValidationStage(log, config.validation)
