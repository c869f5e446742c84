"""The drive log: sensors, ego trajectory, per-sensor streams of captures, and annotations.

Streams are sequences that know every capture's timestamp up front but load a capture only when it is
indexed, so opening a log of hours reads no sweep (see :mod:`engine.storage`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt

from calibration.trajectory import Trajectory
from engine.annotations import Annotations
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.validation import as_array, check_sorted

__all__ = ["Log", "Stream"]

T = TypeVar("T", LidarSweep, RadarSweep, CameraFrame)


class Stream(Sequence[T], Generic[T]):
    """The captures of one sensor in time order, loaded on demand.

    Parameters
    ----------
    sensor_id : str
        The sensor.
    timestamps_us : ndarray of shape (S,), int64
        Strictly increasing capture timestamps [µs].
    load : callable
        ``load(index) -> capture``; called only when a capture is indexed.
    """

    def __init__(self, sensor_id: str, timestamps_us: npt.ArrayLike, load: Callable[[int], T]) -> None:
        t = as_array(f"stream {sensor_id!r} timestamps_us", timestamps_us, np.int64, (None,))
        check_sorted(f"stream {sensor_id!r} timestamps_us", t)
        self.sensor_id = sensor_id
        self._timestamps = t
        self._load: Callable[[int], T] = load

    @classmethod
    def from_items(cls, sensor_id: str, items: Sequence[T]) -> Stream[T]:
        """An in-memory stream over already-built captures."""
        for i, item in enumerate(items):
            if item.sensor_id != sensor_id:
                raise InvalidInputError(f"stream {sensor_id!r} item {i} belongs to sensor {item.sensor_id!r}")
        items = list(items)
        return cls(sensor_id, [it.timestamp_us for it in items], items.__getitem__)

    @property
    def timestamps_us(self) -> npt.NDArray[np.int64]:
        """Capture timestamps [µs], int64 (S,), without loading any capture."""
        return self._timestamps

    def __len__(self) -> int:
        return int(self._timestamps.size)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"stream {self.sensor_id!r} has {n} captures, index {index} is out of range")
        return self._load(index % n)

    def __iter__(self) -> Iterator[T]:
        for i in range(len(self)):
            yield self._load(i)

    def nearest(self, timestamp_us: int) -> int:
        """Index of the capture closest in time to ``timestamp_us``."""
        if len(self) == 0:
            raise InvalidInputError(f"stream {self.sensor_id!r} is empty")
        t = self._timestamps
        i = int(np.searchsorted(t, timestamp_us))
        candidates = [j for j in (i - 1, i) if 0 <= j < len(t)]
        return min(candidates, key=lambda j: abs(int(t[j]) - timestamp_us))


@dataclass(frozen=True, slots=True, eq=False, weakref_slot=True)
class Log:
    """A drive log in fusionlabel's conventions.

    Parameters
    ----------
    name : str
        Human-readable name.
    sensors : mapping of str to Sensor
        Every sensor by id.
    trajectory : Trajectory
        ``world_from_ego`` over time.
    lidar, radar, cameras : mapping of str to Stream
        Captures per sensor id; every key must be a sensor of the matching kind.
    annotations : Annotations
        Cuboid tracks and links (possibly empty).
    metadata : mapping
        Free-form JSON-safe facts (source dataset, licence, motion compensation...).
    """

    name: str
    sensors: Mapping[str, Sensor]
    trajectory: Trajectory
    lidar: Mapping[str, Stream[LidarSweep]] = field(default_factory=dict)
    radar: Mapping[str, Stream[RadarSweep]] = field(default_factory=dict)
    cameras: Mapping[str, Stream[CameraFrame]] = field(default_factory=dict)
    annotations: Annotations = field(default_factory=Annotations)
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.trajectory, Trajectory):
            raise InvalidTypeError(f"trajectory must be a Trajectory, got {type(self.trajectory).__name__}")
        for key, sensor in self.sensors.items():
            if key != sensor.sensor_id:
                raise InvalidInputError(
                    f"sensors key {key!r} differs from its sensor_id {sensor.sensor_id!r}"
                )
        for attr, kind in (
            ("lidar", SensorKind.LIDAR),
            ("radar", SensorKind.RADAR),
            ("cameras", SensorKind.CAMERA),
        ):
            streams: Mapping[str, Stream[Any]] = getattr(self, attr)
            for sid, stream in streams.items():
                owner = self.sensors.get(sid)
                if owner is None or owner.kind is not kind:
                    raise InvalidInputError(
                        f"{attr} stream {sid!r} has no {kind.value} sensor; "
                        f"sensors are {sorted(self.sensors)}"
                    )
                if stream.sensor_id != sid:
                    raise InvalidInputError(f"{attr} stream key {sid!r} holds stream of {stream.sensor_id!r}")
            object.__setattr__(self, attr, MappingProxyType(dict(streams)))
        object.__setattr__(self, "sensors", MappingProxyType(dict(self.sensors)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def sensors_of(self, kind: SensorKind) -> list[Sensor]:
        """Sensors of one kind, in id order."""
        return [s for _, s in sorted(self.sensors.items()) if s.kind is kind]

    @property
    def time_range_us(self) -> tuple[int, int]:
        """First and last capture timestamp over every stream [µs]."""
        stamps = [s.timestamps_us for group in (self.lidar, self.radar, self.cameras) for s in group.values()]
        stamps = [s for s in stamps if s.size]
        if not stamps:
            return self.trajectory.start_us, self.trajectory.end_us
        return min(int(s[0]) for s in stamps), max(int(s[-1]) for s in stamps)

    def summary(self) -> dict[str, Any]:
        """Counts for display: sensors by kind, captures per stream, tracks, duration."""
        lo, hi = self.time_range_us
        return {
            "name": self.name,
            "duration_s": (hi - lo) / 1e6,
            "sensors": {k.value: len(self.sensors_of(k)) for k in SensorKind},
            "lidar_sweeps": {k: len(v) for k, v in self.lidar.items()},
            "radar_sweeps": {k: len(v) for k, v in self.radar.items()},
            "camera_frames": {k: len(v) for k, v in self.cameras.items()},
            "poses": len(self.trajectory),
            "tracks": len(self.annotations.tracks),
            "links": len(self.annotations.links),
        }
