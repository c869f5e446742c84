"""Configuration of the validation rules: thresholds, class priors and taxonomies (pydantic + YAML).

The defaults live in the packaged ``defaults.yaml``; :func:`load_config` merges a user YAML file (or a
mapping) over them, so a project file states only what it changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from engine.validation.findings import Severity
from kernels.errors import InvalidInputError

__all__ = [
    "ClassPrior",
    "DataConfig",
    "FusionConfig",
    "GeometryConfig",
    "SchemaConfig",
    "Taxonomy",
    "TemporalConfig",
    "ValidationConfig",
    "default_config",
    "load_config",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _range(v: tuple[float, float], name: str) -> tuple[float, float]:
    if not 0 <= v[0] <= v[1]:
        raise ValueError(f"{name} must be [min, max] with 0 <= min <= max, got {list(v)}")
    return v


class ClassPrior(_Model):
    """Priors of one object class: size ranges, motion limits, whether the heading follows the motion."""

    aliases: tuple[str, ...]
    length_m: tuple[float, float]
    width_m: tuple[float, float]
    height_m: tuple[float, float]
    max_speed_mps: float = Field(gt=0)
    max_accel_mps2: float = Field(gt=0)
    max_yaw_rate_rps: float | None = Field(None, gt=0)
    heading_follows_motion: bool = False
    solid: bool = False
    """Lidar cannot see through the object's body (the see-through test of empty boxes applies)."""

    @model_validator(mode="after")
    def _check(self) -> ClassPrior:
        for name in ("length_m", "width_m", "height_m"):
            _range(getattr(self, name), name)
        return self


class Taxonomy(_Model):
    """Allowed labels and attribute values (``"*"`` allows any value of an attribute)."""

    labels: tuple[str, ...]
    attributes: dict[str, tuple[str, ...]] = {}


class SchemaConfig(_Model):
    """Thresholds of the schema rules."""

    quaternion_atol: float = Field(1e-6, gt=0)
    coverage_margin_s: float = Field(0.15, ge=0)


class GeometryConfig(_Model):
    """Thresholds of the geometry rules (lidar points, ground, overlap, range / field of view)."""

    sweep_match_tolerance_s: float = Field(0.002, ge=0)
    empty_max_range_m: float = Field(60.0, gt=0)
    empty_min_through: int = Field(12, ge=1)
    empty_through_ratio: float = Field(3.0, gt=0)
    core_shrink: float = Field(0.7, gt=0, le=1)
    ground_ring_m: float = Field(2.5, gt=0)
    ground_quantile: float = Field(0.1, ge=0, le=1)
    ground_min_points: int = Field(16, ge=1)
    ground_max_range_m: float = Field(50.0, gt=0)
    ground_min_range_m: float = Field(6.0, ge=0)
    sunk_m: float = Field(0.6, gt=0)
    floating_m: float = Field(0.8, gt=0)
    absolute_ground_m: float = Field(2.5, gt=0)
    overlap_iou_3d: float = Field(0.15, gt=0, le=1)
    max_range_m: float = Field(250.0, gt=0)
    camera_max_range_m: float = Field(250.0, gt=0)


class TemporalConfig(_Model):
    """Thresholds of the temporal rules (per track, over keyframes)."""

    window_s: float = Field(0.5, gt=0)
    size_drift_rel: float = Field(0.12, gt=0)
    heading_jump_rad: float = Field(0.5236, gt=0)
    heading_flip_rad: float = Field(2.618, gt=0)
    heading_motion_min_speed_mps: float = Field(2.0, gt=0)
    heading_motion_max_rad: float = Field(1.0, gt=0)
    teleport_m: float = Field(1.0, gt=0)
    teleport_speed_factor: float = Field(0.1, ge=0)
    gap_factor: float = Field(1.5, gt=1)
    fragment_max_gap_s: float = Field(1.5, gt=0)
    fragment_max_distance_m: float = Field(2.5, gt=0)
    id_switch_match_m: float = Field(1.0, gt=0)


class FusionConfig(_Model):
    """Thresholds of the fusion rules (radar, 2D boxes, attributes across modalities)."""

    radar_residual_mps: float = Field(2.0, gt=0)
    radar_min_points: int = Field(3, ge=1)
    radar_box_margin_m: float = Field(0.5, ge=0)
    box2d_min_iou: float = Field(0.5, gt=0, le=1)
    box2d_min_visible: float = Field(0.5, ge=0, le=1)
    edge_samples: int = Field(8, ge=2)


class DataConfig(_Model):
    """Thresholds of the data rules (streams, time offsets, precision, calibration)."""

    gap_factor: float = Field(1.5, gt=1)
    time_offset_tolerance_s: float = Field(0.02, gt=0)
    max_abs_coordinate_m: float = Field(8192.0, gt=0)
    max_mount_distance_m: float = Field(6.0, gt=0)
    max_camera_elevation_rad: float = Field(0.6, gt=0)
    calibration_min_lower_fraction: float = Field(0.7, ge=0, le=1)


class ValidationConfig(_Model):
    """Everything the rules read: selection, severities, thresholds, class priors, taxonomies."""

    disabled: tuple[str, ...] = ()
    severity: dict[str, Severity] = {}
    taxonomy: str | None = "auto"
    class_attribute_names: tuple[str, ...] = ("label", "class", "category")
    schema_: SchemaConfig = Field(SchemaConfig(), alias="schema")
    geometry: GeometryConfig = GeometryConfig()
    temporal: TemporalConfig = TemporalConfig()
    fusion: FusionConfig = FusionConfig()
    data: DataConfig = DataConfig()
    classes: dict[str, ClassPrior] = {}
    taxonomies: dict[str, Taxonomy] = {}

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _check(self) -> ValidationConfig:
        if self.taxonomy not in (None, "auto") and self.taxonomy not in self.taxonomies:
            raise ValueError(f"taxonomy {self.taxonomy!r} is not one of {sorted(self.taxonomies)}")
        seen: dict[str, str] = {}
        for name, prior in self.classes.items():
            for alias in prior.aliases:
                key = alias.casefold()
                if key in seen and seen[key] != name:
                    raise ValueError(f"label alias {alias!r} belongs to both {seen[key]!r} and {name!r}")
                seen[key] = name
        return self

    def class_of(self, label: str) -> str | None:
        """The class whose aliases hold ``label`` (case-insensitive), or None."""
        key = label.casefold()
        for name, prior in self.classes.items():
            if key == name.casefold() or any(key == a.casefold() for a in prior.aliases):
                return name
        return None


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict) and k not in ("classes", "taxonomies"):
            out[k] = _merge(out[k], v)
        elif isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **dict(v)}  # classes / taxonomies: whole entries replace
        else:
            out[k] = v
    return out


@lru_cache(maxsize=1)
def _defaults_text() -> str:
    return resources.files("engine.validation").joinpath("defaults.yaml").read_text()


def _parse(data: Mapping[str, Any], source: str) -> ValidationConfig:
    try:
        return ValidationConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise InvalidInputError(f"validation config {source}: {exc}") from None


def default_config() -> ValidationConfig:
    """The packaged defaults (``engine/validation/defaults.yaml``)."""
    return _parse(yaml.safe_load(_defaults_text()), "defaults.yaml")


def load_config(source: str | Path | Mapping[str, Any] | None = None) -> ValidationConfig:
    """The defaults with ``source`` merged over them.

    Parameters
    ----------
    source : str, Path, mapping or None
        A YAML file, or a mapping of the same shape; sections merge key by key, ``classes`` and
        ``taxonomies`` entry by entry. None gives the defaults.

    Returns
    -------
    ValidationConfig
    """
    base = yaml.safe_load(_defaults_text())
    if source is None:
        return _parse(base, "defaults.yaml")
    if isinstance(source, Mapping):
        return _parse(_merge(base, source), "(mapping)")
    path = Path(source)
    try:
        over = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read validation config {str(path)!r}: {exc}") from None
    if not isinstance(over, Mapping):
        raise InvalidInputError(
            f"validation config {str(path)!r} must hold a mapping, got {type(over).__name__}"
        )
    return _parse(_merge(base, over), repr(str(path)))
