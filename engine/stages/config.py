"""Configuration of the pre-labeling pipeline: one pydantic model per stage inside one settings object.

Every field can also come from the environment (prefix ``FUSIONLABEL_PIPELINE_``, nested fields joined
with ``__``), e.g. ``FUSIONLABEL_PIPELINE_BACKEND=cuda`` or ``FUSIONLABEL_PIPELINE_TRACKS__MIN_DETECTIONS=2``.
The whole object is dumped beside the results (``config.json``) so a run can be repeated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.proposals import ProposalConfig

__all__ = [
    "FramesConfig",
    "LinksConfig",
    "PipelineConfig",
    "ProposalsConfig",
    "SharedFrameConfig",
    "TracksConfig",
    "ValidationStageConfig",
]

Backend = Literal["auto", "cpu", "cuda"]


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FramesConfig(_Stage):
    """Which frames the pipeline visits: the sweeps of one reference lidar."""

    lidar: str | None = Field(
        default=None, description="reference lidar whose sweeps define the frames; the first by id when None"
    )
    max_frames: int | None = Field(default=None, ge=1, description="only the first frames (previews)")
    stride: int = Field(default=1, ge=1, description="visit every stride-th sweep")


class SharedFrameConfig(_Stage):
    """Fusion of every lidar and radar into the ego frame at each frame time (``engine.fuse_frame``)."""

    sensors: tuple[str, ...] | None = Field(
        default=None, description="lidars and radars to fuse; all of the log's when None"
    )
    max_gap_us: int = Field(
        default=100_000,
        ge=0,
        description="sensors without a capture this close to the frame are left out [µs]",
    )


class ProposalsConfig(_Stage):
    """Model-free cuboid proposals on the fused lidar points of each frame (``engine.proposals``)."""

    detector: ProposalConfig = ProposalConfig()
    lidar_only: bool = Field(default=True, description="radar detections are left out of the proposal step")
    ego_clearance_m: float = Field(
        default=2.0,
        ge=0,
        description="points closer (BEV) to the reference lidar are dropped: returns off the ego's own body",
    )
    sensor_xy_from_extrinsics: bool = Field(
        default=True, description="take detector.sensor_xy from the reference lidar's ego_from_sensor"
    )


class TracksConfig(_Stage):
    """World-frame tracking: the online tracker and (by default) offline refinement over the whole log."""

    mode: Literal["offline", "online"] = Field(
        default="offline", description="offline: forward/backward passes, stitching, smoothing"
    )
    min_score: float = Field(default=0.1, ge=0, le=1, description="proposals below are not tracked")
    min_detections: int = Field(default=3, ge=1, description="tracks with fewer detections are dropped")
    gates_m: dict[str, float] = Field(
        default_factory=lambda: {"pedestrian": 1.5, "cyclist": 1.5, "truck": 3.0},
        description="centre-distance gate per class name [m]",
    )
    default_gate_m: float = Field(default=2.0, gt=0, description="gate of the other classes [m]")
    label_map: dict[str, str] | Literal["auto"] = Field(
        default="auto",
        description="proposal class -> output label; 'auto' picks label_maps.yaml by the log's format",
    )
    min_hits: int = Field(default=2, ge=1, description="detections confirming an online track")
    max_misses: int = Field(default=5, ge=0, description="frames a confirmed track coasts before it ends")
    keyframes: Literal["sparse", "every_frame"] = Field(
        default="sparse",
        description=(
            "offline tracks as keyframes: 'sparse': the fewest frames from which interpolation reproduces "
            "the smoothed path within the keyframe_* tolerances (per-frame confidence kept in "
            "frame_confidence); 'every_frame': one keyframe per frame. Online tracks always get one per frame"
        ),
    )
    keyframe_center_m: float = Field(
        default=0.05, gt=0, description="sparse keyframes: largest centre deviation of the interpolation [m]"
    )
    keyframe_yaw_rad: float = Field(
        default=0.0175,
        gt=0,
        description="sparse keyframes: largest rotation deviation of the interpolation [rad]",
    )
    keyframe_size_m: float = Field(
        default=0.02, gt=0, description="sparse keyframes: largest length/width/height deviation [m]"
    )


class LinksConfig(_Stage):
    """Camera footprints of every track and 2D-observation links (``engine.linking``)."""

    enabled: bool = True
    observations: Path | None = Field(
        default=None,
        description="fusionlabel-observations-2d JSON to link; without it only footprints are computed",
    )
    cameras: tuple[str, ...] | None = Field(default=None, description="cameras; all when None")
    lidar_occlusion: bool = Field(default=True, description="occlusion test against the lidar depth")


class ValidationStageConfig(_Stage):
    """Rule-based checks of the pre-labels against the sensor data (``engine.validation``)."""

    enabled: bool = True
    config: Path | None = Field(default=None, description="validation YAML merged over the packaged defaults")
    rules: tuple[str, ...] | None = Field(default=None, description="rule or family names; all when None")


class PipelineConfig(BaseSettings):
    """The whole pre-labeling pipeline: shared frame -> proposals -> tracks -> links -> validation."""

    model_config = SettingsConfigDict(
        env_prefix="FUSIONLABEL_PIPELINE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    backend: Backend = Field(default="auto", description="where the kernels run: cpu, cuda or auto")
    frames: FramesConfig = FramesConfig()
    shared_frame: SharedFrameConfig = SharedFrameConfig()
    proposals: ProposalsConfig = ProposalsConfig()
    tracks: TracksConfig = TracksConfig()
    links: LinksConfig = LinksConfig()
    validation: ValidationStageConfig = ValidationStageConfig()

    @model_validator(mode="after")
    def _check(self) -> PipelineConfig:
        if any(g <= 0 for g in self.tracks.gates_m.values()):
            raise ValueError(f"tracks.gates_m must be > 0, got {self.tracks.gates_m}")
        return self
