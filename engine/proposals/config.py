"""Configuration of the model-free proposal step (pydantic; one model per stage)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ClassRuleConfig", "ClusterConfig", "FitConfig", "GroundConfig", "ProposalConfig"]


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GroundConfig(_Stage):
    """Cell-wise ground segmentation (see :func:`kernels.segment_ground`)."""

    cell_size_m: float = Field(default=1.0, gt=0)
    max_slope: float = Field(default=0.15, ge=0, description="steepest kept ground slope [m/m]")
    height_threshold_m: float = Field(
        default=0.25, description="points lower than this above ground are ground [m]"
    )
    iterations: int = Field(default=8, ge=0)


class ClusterConfig(_Stage):
    """Voxel clustering of the non-ground points (see :func:`kernels.cluster_points`)."""

    voxel_size_m: tuple[float, float, float] = (0.2, 0.2, 0.5)
    z_reach: int = Field(default=1, ge=0)
    max_height_m: float = Field(
        default=3.0, gt=0, description="points higher above ground are dropped (canopies)"
    )
    split_voxel_size_m: tuple[float, float, float] | None = Field(
        default=None,
        description="clusters too large for every size prior are clustered again with these finer voxels "
        "(a person 0.2-0.4 m from a wall, fence or hedge), e.g. (0.1, 0.1, 0.5); None: off. Opt-in: on "
        "PandaSet seq 002 it lifts pedestrian recall but costs ~50 % proposal time and precision",
    )
    split_classes: tuple[str, ...] = Field(
        default=("pedestrian",),
        description="class guesses kept from the finer clusters (the rest of a split cluster is dropped); "
        "cyclists added only false positives on PandaSet seq 002",
    )


class FitConfig(_Stage):
    """Cuboid fitting and size priors (see :func:`kernels.fit_boxes`)."""

    min_points: int = Field(default=10, ge=1)
    heading: Literal["none", "longer_side", "velocity", "prior"] = "prior"
    extend: bool = True
    yaw_steps: int = Field(default=30, ge=1)
    yaw_refine: int = Field(default=5, ge=0)
    max_points: int = Field(default=256, ge=1)
    min_distance_m: float = Field(default=0.1, gt=0, description="d0 of the closeness criterion [m]")
    criterion: Literal["closeness", "area"] = "closeness"
    visible_edges: bool = Field(default=True, description="closeness counts only the edges facing the sensor")
    priors_file: str | None = Field(
        default=None, description="YAML size priors; the packaged table when None"
    )


class ClassRuleConfig(_Stage):
    """Shape checks of small-object class guesses (see :func:`engine.proposals.classify.refine_classes`)."""

    enabled: bool = True
    pedestrian_top_m: tuple[float, float] = Field(
        default=(1.0, 2.1), description="allowed highest point above ground of a pedestrian/cyclist [m]"
    )
    pedestrian_max_side_m: float = Field(default=0.8, gt=0, description="largest raw footprint side [m]")
    min_vertical_fill: float = Field(
        default=0.7, ge=0, le=1, description="points must span this fraction of the top height"
    )
    pole_max_side_m: float = Field(
        default=0.25, ge=0, description="clusters with both raw footprint sides below are poles [m]"
    )
    panel_min_side_m: float = Field(
        default=0.12, ge=0, description="clusters thinner than this on one side are walls/signs [m]"
    )
    fragment_gap_m: float = Field(
        default=0.5, ge=0, description="small boxes centred this close to a vehicle are fragments [m]"
    )
    fragment_reference: Literal["points", "box"] = Field(
        default="box",
        description="measure the fragment gap to the vehicle cluster's points (their rectangle on the box "
        "axes) or to its prior-grown box (older rule: also hides people near bogus or partly seen vehicles)",
    )


class ProposalConfig(_Stage):
    """The whole model-free proposal step: ground -> clusters -> fit -> prior filter -> NMS."""

    max_range_m: float = Field(
        default=80.0, gt=0, description="points farther (BEV) from the ego origin are ignored"
    )
    ground: GroundConfig = GroundConfig()
    cluster: ClusterConfig = ClusterConfig()
    fit: FitConfig = FitConfig()
    classes: ClassRuleConfig = ClassRuleConfig()
    keep_unknown: bool = Field(default=False, description="keep boxes no class prior admits (class id -1)")
    min_score: float = Field(default=0.05, ge=0, le=1)
    nms_iou: float = Field(
        default=0.3, gt=0, le=1, description="BEV IoU above which the lower-scored box is dropped"
    )
    sensor_xy: tuple[float, float] = Field(
        default=(0.0, 0.0), description="lidar position in the ego frame [m]"
    )
    backend: Literal["auto", "cpu", "cuda"] = "auto"

    @model_validator(mode="after")
    def _check(self) -> ProposalConfig:
        if self.cluster.max_height_m <= self.ground.height_threshold_m:
            raise ValueError(
                f"cluster.max_height_m ({self.cluster.max_height_m}) must exceed "
                f"ground.height_threshold_m ({self.ground.height_threshold_m})"
            )
        return self
