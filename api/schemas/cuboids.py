"""Cuboid schemas: one cuboid, and columnar series of cuboids (in and out)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from api.schemas.common import (
    MAX_KEYFRAMES,
    MAX_TIMESTAMPS,
    Angle,
    Coord,
    FrameName,
    Public,
    QuatComponent,
    Size,
    Strict,
    TimeUs,
    Unit,
)

__all__ = ["CuboidCreate", "CuboidPublic", "CuboidSeriesCreate", "CuboidSeriesPublic", "KeyframesCreate"]

Vec3 = tuple[Coord, Coord, Coord]
Size3 = tuple[Size, Size, Size]
Quat = tuple[QuatComponent, QuatComponent, QuatComponent, QuatComponent]


class CuboidCreate(Strict):
    """One cuboid: centre, ``(length, width, height)`` and either a unit quaternion or a yaw."""

    timestamp_us: TimeUs = Field(0, description="time of the cuboid [µs]")
    center: Vec3 = Field(description="box centre [m]")
    size: Size3 = Field(description="(length, width, height) along the box's x, y, z [m]")
    rotation_wxyz: Quat | None = Field(None, description="unit quaternion (w, x, y, z) of frame_from_box")
    yaw: Angle | None = Field(None, description="heading about +z [rad], when rotation_wxyz is omitted")
    frame: FrameName = FrameName.WORLD

    @model_validator(mode="after")
    def _one_rotation(self) -> Self:
        if (self.rotation_wxyz is None) == (self.yaw is None):
            raise ValueError("give exactly one of rotation_wxyz and yaw")
        return self


class CuboidSeriesCreate(Strict):
    """Cuboids as columns: row ``i`` of every list is cuboid ``i``."""

    timestamps_us: list[TimeUs] = Field(min_length=1, max_length=MAX_TIMESTAMPS, description="[µs]")
    centers: list[Vec3] = Field(max_length=MAX_TIMESTAMPS, description="box centres [m]")
    sizes: list[Size3] = Field(max_length=MAX_TIMESTAMPS, description="(length, width, height) [m]")
    rotations_wxyz: list[Quat] | None = Field(
        None, max_length=MAX_TIMESTAMPS, description="unit (w, x, y, z)"
    )
    yaws: list[Angle] | None = Field(None, max_length=MAX_TIMESTAMPS, description="headings [rad]")
    confidence: list[Unit] | None = Field(None, max_length=MAX_TIMESTAMPS)
    frame: FrameName = FrameName.WORLD

    @model_validator(mode="after")
    def _columns(self) -> Self:
        if (self.rotations_wxyz is None) == (self.yaws is None):
            raise ValueError("give exactly one of rotations_wxyz and yaws")
        n = len(self.timestamps_us)
        for name in ("centers", "sizes", "rotations_wxyz", "yaws", "confidence"):
            column = getattr(self, name)
            if column is not None and len(column) != n:
                raise ValueError(f"{name} has {len(column)} rows; timestamps_us has {n}")
        return self


class KeyframesCreate(CuboidSeriesCreate):
    """Keyframes of one track (strictly increasing timestamps, checked by the engine)."""

    timestamps_us: list[TimeUs] = Field(min_length=1, max_length=MAX_KEYFRAMES, description="[µs]")


class CuboidPublic(Public):
    """One cuboid."""

    timestamp_us: int
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation_wxyz: tuple[float, float, float, float]
    yaw: float
    frame: FrameName


class CuboidSeriesPublic(Public):
    """Cuboids as columns."""

    timestamps_us: list[int]
    centers: list[tuple[float, float, float]]
    sizes: list[tuple[float, float, float]]
    rotations_wxyz: list[tuple[float, float, float, float]]
    yaws: list[float]
    confidence: list[float]
    frame: FrameName
