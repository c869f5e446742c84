"""Options and small helpers shared by the SFS reader and writer."""

from __future__ import annotations

import base64
import enum
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from kernels.errors import InvalidInputError, LogFormatError

__all__ = ["EXT", "AngleUnit", "SensorPoses", "pack_arrays", "shift_times", "unpack_arrays"]

EXT = "fusionlabel"
"""Key of fusionlabel's extension objects inside SFS dicts (ignored by other SFS readers)."""


class AngleUnit(enum.Enum):
    """Unit of the ``roll, pitch, yaw`` values of SFS cuboid paths (the format does not document it)."""

    RADIANS = "radians"
    DEGREES = "degrees"

    @classmethod
    def parse(cls, value: str | AngleUnit) -> AngleUnit:
        """Parse a unit name, raising with the accepted names otherwise."""
        if isinstance(value, AngleUnit):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown angle_unit {value!r}; expected one of {[u.value for u in cls]}"
            ) from None

    @property
    def to_radians(self) -> float:
        """Factor from this unit to radians."""
        return math.pi / 180.0 if self is AngleUnit.DEGREES else 1.0


class SensorPoses(enum.Enum):
    """How the writer poses lidar, radar and camera sensors.

    ``WORLD``: every sensor gets ``world_from_sensor`` at each of its capture times (no ``parent_id``);
    what SFS tools that ignore ``parent_id`` (the reference SDK) understand. ``PARENT``: every sensor
    gets ``parent_id`` = the odometry sensor and one constant pose ``ego_from_sensor``.
    """

    WORLD = "world"
    PARENT = "parent"

    @classmethod
    def parse(cls, value: str | SensorPoses) -> SensorPoses:
        """Parse a mode name, raising with the accepted names otherwise."""
        if isinstance(value, SensorPoses):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown sensor_poses {value!r}; expected one of {[u.value for u in cls]}"
            ) from None


_TIME_LISTS = ("timestamps",)
_TIME_SCALARS = ("start", "timestamp")


def shift_times(node: Any, delta: int) -> Any:
    """Copy of an SFS sub-tree with every time (``timestamps`` lists, ``start``, ``timestamp``) + ``delta``.

    Used to keep annotations and sensors the engine does not model with absolute times [µs] in log
    metadata, and to put them back relative to the writer's ``time_offset``.
    """
    if isinstance(node, Mapping):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k in _TIME_LISTS and isinstance(v, list):
                out[k] = [int(t) + delta for t in v]
            elif k in _TIME_LISTS and isinstance(v, np.ndarray):
                out[k] = v.astype(np.int64) + delta
            elif k in _TIME_SCALARS and isinstance(v, int) and not isinstance(v, bool):
                out[k] = v + delta
            else:
                out[k] = shift_times(v, delta)
        return out
    if isinstance(node, list):
        return [shift_times(v, delta) for v in node]
    return node


def pack_arrays(node: Any) -> Any:
    """JSON-safe copy: arrays become ``{"$ndarray": {dtype, shape, base64}}`` (exact bytes)."""
    if isinstance(node, np.ndarray):
        arr = np.ascontiguousarray(node, dtype=node.dtype.newbyteorder("<"))
        return {
            "$ndarray": {
                "dtype": arr.dtype.name,
                "shape": list(arr.shape),
                "base64": base64.b64encode(arr.tobytes()).decode("ascii"),
            }
        }
    if isinstance(node, Mapping):
        return {k: pack_arrays(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [pack_arrays(v) for v in node]
    return node


def unpack_arrays(node: Any) -> Any:
    """Inverse of :func:`pack_arrays`."""
    if isinstance(node, Mapping):
        if set(node) == {"$ndarray"}:
            d = node["$ndarray"]
            try:
                raw = base64.b64decode(d["base64"])
                return np.frombuffer(raw, dtype=np.dtype(d["dtype"]).newbyteorder("<")).reshape(d["shape"])
            except (KeyError, ValueError, TypeError) as exc:
                raise LogFormatError(f"malformed packed array {d!r}: {exc}") from exc
        return {k: unpack_arrays(v) for k, v in node.items()}
    if isinstance(node, list):
        return [unpack_arrays(v) for v in node]
    return node
