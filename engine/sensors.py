"""Sensors of a drive log: lidars, radars and cameras with their extrinsics."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from calibration.se3 import SE3
from kernels.errors import InvalidInputError, InvalidTypeError

if TYPE_CHECKING:
    from calibration.camera import CameraModel

__all__ = ["Sensor", "SensorKind"]


class SensorKind(enum.Enum):
    """What a sensor measures."""

    LIDAR = "lidar"
    RADAR = "radar"
    CAMERA = "camera"

    @classmethod
    def parse(cls, value: str | SensorKind) -> SensorKind:
        """Parse a kind from its name, raising with the accepted names otherwise."""
        if isinstance(value, SensorKind):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown sensor kind {value!r}; expected one of {[k.value for k in cls]}"
            ) from None


@dataclass(frozen=True, slots=True)
class Sensor:
    """One sensor of the rig.

    Parameters
    ----------
    sensor_id : str
        Unique, non-empty id within the log (e.g. ``"lidar_top"``, ``"cam_front"``).
    kind : SensorKind
        Lidar, radar or camera.
    ego_from_sensor : SE3
        Extrinsics: maps points in the sensor frame (camera: optical frame, x right, y down, z forward)
        to the ego frame (x forward, y left, z up).
    camera : CameraModel or None
        The intrinsic model; required for cameras, absent otherwise.
    metadata : mapping
        Free-form JSON-safe facts (model name, beams, rate in Hz...).
    """

    sensor_id: str
    kind: SensorKind
    ego_from_sensor: SE3
    camera: CameraModel | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.sensor_id, str) or not self.sensor_id or "/" in self.sensor_id:
            raise InvalidInputError(
                f"sensor_id must be a non-empty string without '/', got {self.sensor_id!r}"
            )
        object.__setattr__(self, "kind", SensorKind.parse(self.kind))
        if not isinstance(self.ego_from_sensor, SE3):
            raise InvalidTypeError(
                f"ego_from_sensor of sensor {self.sensor_id!r} must be an SE3, "
                f"got {type(self.ego_from_sensor).__name__}"
            )
        if (self.kind is SensorKind.CAMERA) != (self.camera is not None):
            raise InvalidInputError(
                f"sensor {self.sensor_id!r} of kind {self.kind.value!r}: camera model must be given "
                f"exactly for cameras, got camera={self.camera!r}"
            )
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
