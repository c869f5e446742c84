"""Shared pieces of the request and response schemas: strict bases, bounded numbers, problem details.

Every request model forbids unknown fields and non-finite floats (``allow_inf_nan=False``); numbers are
bounded so that nothing a client sends can overflow int64 microseconds or float32 metres downstream.
The count caps here are hard maxima published in the OpenAPI schema; the server's configured
``limits`` may be lower (checked by the routes, answered 422).
"""

from __future__ import annotations

import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_BOXES",
    "MAX_KEYFRAMES",
    "MAX_POINTS",
    "MAX_TIMESTAMPS",
    "MAX_TRACKS",
    "Angle",
    "Coord",
    "FieldError",
    "FrameName",
    "LogId",
    "Name",
    "Problem",
    "Public",
    "QuatComponent",
    "Size",
    "Strict",
    "TimeUs",
    "Unit",
]

MAX_POINTS = 1_000_000
MAX_KEYFRAMES = 10_000
MAX_TIMESTAMPS = 100_000
MAX_BOXES = 10_000
MAX_TRACKS = 10_000

MAX_COORD_M = 1.0e7
"""Positions beyond 10,000 km are refused (float32 keeps ~1 m there; anything larger is a bug)."""
MAX_TIME_US = 2**53
"""Timestamps are exact in float64 up to here (about 285 years of microseconds)."""


class Strict(BaseModel):
    """Base of request bodies: unknown fields, NaN and Infinity are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class Public(BaseModel):
    """Base of response bodies."""

    model_config = ConfigDict(frozen=True)


Coord = Annotated[float, Field(ge=-MAX_COORD_M, le=MAX_COORD_M, allow_inf_nan=False, strict=True)]
"""A coordinate [m]."""
Size = Annotated[float, Field(gt=0.0, le=1000.0, allow_inf_nan=False, strict=True)]
"""A box side [m]."""
Angle = Annotated[float, Field(ge=-100.0, le=100.0, allow_inf_nan=False, strict=True)]
"""An angle [rad] (any value; wrapped downstream)."""
QuatComponent = Annotated[float, Field(ge=-2.0, le=2.0, allow_inf_nan=False, strict=True)]
"""A quaternion component (unit norm is checked by the engine, to 1e-6)."""
Unit = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False, strict=True)]
"""A value in [0, 1]."""
TimeUs = Annotated[int, Field(ge=-MAX_TIME_US, le=MAX_TIME_US, strict=True)]
"""A timestamp [µs]."""
LogId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]
"""A log id as returned by ``POST /v1/logs``."""
Name = Annotated[str, Field(min_length=1, max_length=200)]
"""A sensor id, label or other short name."""


class FrameName(enum.StrEnum):
    """Frame of poses: the world, or the ego vehicle at each cuboid's timestamp."""

    WORLD = "world"
    EGO = "ego"


class FieldError(Public):
    """One invalid field (the offending value is never echoed)."""

    loc: list[str | int]
    msg: str
    type: str


class Problem(Public):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field("about:blank", description="URI reference identifying the problem type")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="HTTP status code")
    detail: str | None = Field(None, description="explanation of this occurrence")
    instance: str | None = Field(None, description="the request path")
    errors: list[FieldError] | None = Field(None, description="invalid fields, for validation problems")
