"""Sensor data of one capture: lidar sweeps, radar sweeps and camera frames.

Arrays are structure-of-arrays, validated once at construction (shape, dtype, finite values) with
errors that name the field; memory-mapped inputs of the right dtype are kept as maps, not copied.
Point times: ``timestamp_us + time_offset_us[i]`` (int64 + int32 µs, see docs/CONVENTIONS.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.validation import as_array

__all__ = ["CameraFrame", "LidarSweep", "RadarSweep"]


def _check_timestamp(owner: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{owner}.timestamp_us must be an integer [µs], got {value!r}")
    return int(value)


def _set(obj: object, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True, eq=False)
class LidarSweep:
    """One lidar sweep in its sensor frame.

    Parameters
    ----------
    sensor_id : str
        The lidar that captured it.
    timestamp_us : int
        Reference time of the sweep [µs]; the time the log associates with the sweep.
    points : ndarray of shape (N, 3), float32
        Point positions in the sensor frame [m].
    time_offset_us : ndarray of shape (N,), int32
        Each point's capture time minus ``timestamp_us`` [µs] (may be negative).
    intensity : ndarray of shape (N,), float32
        Return intensity, scaled to [0, 1].
    ring : ndarray of shape (N,), uint16
        Laser ring (beam) index, or the sub-sensor id for multi-head units.
    """

    sensor_id: str
    timestamp_us: int
    points: npt.NDArray[np.float32]
    time_offset_us: npt.NDArray[np.int32]
    intensity: npt.NDArray[np.float32]
    ring: npt.NDArray[np.uint16]

    def __post_init__(self) -> None:
        _set(self, "timestamp_us", _check_timestamp("LidarSweep", self.timestamp_us))
        pts = as_array("LidarSweep.points", self.points, np.float32, (None, 3))
        n = pts.shape[0]
        _set(self, "points", pts)
        _set(
            self,
            "time_offset_us",
            as_array("LidarSweep.time_offset_us", self.time_offset_us, np.int32, (n,)),
        )
        inten = as_array("LidarSweep.intensity", self.intensity, np.float32, (n,))
        _set(self, "intensity", inten)
        _set(self, "ring", as_array("LidarSweep.ring", self.ring, np.uint16, (n,)))

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @property
    def point_times_us(self) -> npt.NDArray[np.int64]:
        """Absolute capture time of every point [µs], int64 (N,)."""
        return self.timestamp_us + self.time_offset_us.astype(np.int64)


@dataclass(frozen=True, slots=True, eq=False)
class RadarSweep:
    """One radar scan in its sensor frame.

    Parameters
    ----------
    sensor_id : str
        The radar that captured it.
    timestamp_us : int
        Reference time [µs].
    points : ndarray of shape (N, 3), float32
        Detection positions in the sensor frame [m].
    radial_velocity : ndarray of shape (N,), float32
        Measured (not ego-compensated) range rate [m/s], positive = moving away from the sensor.
    rcs : ndarray of shape (N,), float32
        Radar cross-section [dBsm].
    time_offset_us : ndarray of shape (N,), int32
        Capture time minus ``timestamp_us`` [µs].
    """

    sensor_id: str
    timestamp_us: int
    points: npt.NDArray[np.float32]
    radial_velocity: npt.NDArray[np.float32]
    rcs: npt.NDArray[np.float32]
    time_offset_us: npt.NDArray[np.int32]

    def __post_init__(self) -> None:
        _set(self, "timestamp_us", _check_timestamp("RadarSweep", self.timestamp_us))
        pts = as_array("RadarSweep.points", self.points, np.float32, (None, 3))
        n = pts.shape[0]
        _set(self, "points", pts)
        rv = as_array("RadarSweep.radial_velocity", self.radial_velocity, np.float32, (n,))
        _set(self, "radial_velocity", rv)
        _set(self, "rcs", as_array("RadarSweep.rcs", self.rcs, np.float32, (n,)))
        _set(
            self,
            "time_offset_us",
            as_array("RadarSweep.time_offset_us", self.time_offset_us, np.int32, (n,)),
        )

    def __len__(self) -> int:
        return int(self.points.shape[0])


@dataclass(frozen=True, slots=True)
class CameraFrame:
    """One camera capture: when it was taken and where its image is.

    Parameters
    ----------
    sensor_id : str
        The camera.
    timestamp_us : int
        Capture (mid-exposure) time [µs].
    image : str or None
        Image reference: a path relative to the log directory, an absolute path, or None when the log
        carries no pixels for this frame.
    """

    sensor_id: str
    timestamp_us: int
    image: str | None = None

    def __post_init__(self) -> None:
        _set(self, "timestamp_us", _check_timestamp("CameraFrame", self.timestamp_us))
        if self.image is not None and not isinstance(self.image, str):
            raise InvalidInputError(f"CameraFrame.image must be a str or None, got {self.image!r}")
