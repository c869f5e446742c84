"""Annotations: cuboid tracks as keyframes, attributes that vary over time, and links.

The cuboid follows docs/CONVENTIONS.md: centre of the box, ``length, width, height`` along the box's
own x, y, z axes, rotation as a unit quaternion (w, x, y, z); the kernel layout is
``[x, y, z, length, width, height, yaw]`` float32.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.se3 import quat_wxyz_to_yaw, yaw_to_quat_wxyz
from kernels.errors import InvalidInputError
from kernels.validation import as_array, check_sorted, check_unit_quaternions

__all__ = [
    "Annotations",
    "AttributePath",
    "CoordinateFrame",
    "Cuboid",
    "CuboidTrack",
    "FrameConfidence",
    "Link",
]

BOX_FIELDS = ("x", "y", "z", "length", "width", "height", "yaw")
"""Column names of the (M, 7) kernel cuboid layout."""


class CoordinateFrame(enum.Enum):
    """The frame a cuboid's pose is expressed in."""

    WORLD = "world"
    EGO = "ego"

    @classmethod
    def parse(cls, value: str | CoordinateFrame) -> CoordinateFrame:
        """Parse a frame name, raising with the accepted names otherwise."""
        if isinstance(value, CoordinateFrame):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown coordinate frame {value!r}; expected one of {[f.value for f in cls]}"
            ) from None


def _readonly(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    if arr.flags.writeable:
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True)
class Cuboid:
    """One oriented 3D box.

    Parameters
    ----------
    center : tuple of 3 float
        Box centre [m].
    size : tuple of 3 float
        ``(length, width, height)`` [m] along the box's x (front), y (left), z (up) axes; all > 0.
    rotation_wxyz : tuple of 4 float
        Unit quaternion (w, x, y, z) of frame_from_box.
    """

    center: tuple[float, float, float]
    size: tuple[float, float, float]
    rotation_wxyz: tuple[float, float, float, float]

    def __post_init__(self) -> None:
        c = as_array("Cuboid.center", self.center, np.float64, (3,))
        s = as_array("Cuboid.size", self.size, np.float64, (3,))
        q = as_array("Cuboid.rotation_wxyz", self.rotation_wxyz, np.float64, (4,))
        if np.any(s <= 0):
            raise InvalidInputError(f"Cuboid.size (length, width, height) must be > 0, got {s.tolist()}")
        check_unit_quaternions("Cuboid.rotation_wxyz", q)
        object.__setattr__(self, "center", tuple(float(v) for v in c))
        object.__setattr__(self, "size", tuple(float(v) for v in s))
        object.__setattr__(self, "rotation_wxyz", tuple(float(v) for v in q))

    @property
    def yaw(self) -> float:
        """Heading of the length axis [rad], counter-clockwise about +z, in [-pi, pi]."""
        return float(quat_wxyz_to_yaw(np.asarray(self.rotation_wxyz)))

    @classmethod
    def from_array(cls, box: npt.ArrayLike) -> Cuboid:
        """Build from one kernel-layout row ``[x, y, z, length, width, height, yaw]``."""
        b = as_array("box", box, np.float64, (7,))
        q = yaw_to_quat_wxyz(b[6])
        return cls((b[0], b[1], b[2]), (b[3], b[4], b[5]), (q[0], q[1], q[2], q[3]))

    def to_array(self) -> npt.NDArray[np.float32]:
        """The kernel layout ``[x, y, z, length, width, height, yaw]`` (7,) float32 (roll/pitch dropped)."""
        return np.array([*self.center, *self.size, self.yaw], dtype=np.float32)


@dataclass(frozen=True, slots=True)
class AttributePath:
    """A categorical attribute that changes over time (e.g. ``blinker``: off → left → off).

    Parameters
    ----------
    name : str
        Attribute name.
    timestamps_us : tuple of int
        Strictly increasing change times [µs]; each value holds until the next timestamp.
    values : tuple of str
        The value from each timestamp on; same length as ``timestamps_us``.
    sensor_id : str or None
        The camera it was observed in, when per-sensor; None for the fused value.
    static : bool
        True when the attribute does not change over the track (one timestamp).
    """

    name: str
    timestamps_us: tuple[int, ...]
    values: tuple[str, ...]
    sensor_id: str | None = None
    static: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise InvalidInputError(f"AttributePath.name must be non-empty, got {self.name!r}")
        t = as_array(f"AttributePath[{self.name}].timestamps_us", list(self.timestamps_us), np.int64, (None,))
        check_sorted(f"AttributePath[{self.name}].timestamps_us", t)
        if len(self.values) != t.size:
            raise InvalidInputError(
                f"AttributePath[{self.name}].values must have {t.size} entries (one per timestamp), "
                f"got {len(self.values)}"
            )
        object.__setattr__(self, "timestamps_us", tuple(int(v) for v in t))
        object.__setattr__(self, "values", tuple(str(v) for v in self.values))

    def value_at(self, timestamp_us: int) -> str | None:
        """The value in force at ``timestamp_us``, or None before the first timestamp."""
        i = int(np.searchsorted(np.asarray(self.timestamps_us), timestamp_us, side="right")) - 1
        return self.values[i] if i >= 0 else None


@dataclass(frozen=True, slots=True, eq=False)
class FrameConfidence:
    """Per-frame confidence of a track whose keyframes are sparser than its frames (pre-labels).

    A pre-labeled track is estimated at every frame of its span but stored as the few keyframes from
    which interpolation reproduces it (``tracks.keyframes="sparse"``); its confidence stays per frame
    here. ``CuboidTrack.confidence`` holds the values at the keyframes.

    Parameters
    ----------
    timestamps_us : ndarray of shape (F,), int64
        Strictly increasing frame times [µs] the track was estimated at (its keyframes among them).
    values : ndarray of shape (F,), float32
        Confidence in [0, 1] at each frame.
    """

    timestamps_us: npt.NDArray[np.int64]
    values: npt.NDArray[np.float32]

    def __post_init__(self) -> None:
        t = as_array("FrameConfidence.timestamps_us", self.timestamps_us, np.int64, (None,))
        if t.size == 0:
            raise InvalidInputError("FrameConfidence.timestamps_us must hold at least one frame, got 0")
        check_sorted("FrameConfidence.timestamps_us", t)
        v = as_array("FrameConfidence.values", self.values, np.float32, (t.size,))
        if np.any((v < 0) | (v > 1)) or not np.all(np.isfinite(v)):
            raise InvalidInputError(f"FrameConfidence.values must lie in [0, 1], got {v.tolist()}")
        object.__setattr__(self, "timestamps_us", _readonly(t))
        object.__setattr__(self, "values", _readonly(v))

    def __len__(self) -> int:
        return int(self.timestamps_us.size)

    def at(self, timestamps_us: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Confidence at ``timestamps_us``: exact at the frames, linear between, held beyond the ends."""
        t = np.asarray(timestamps_us, dtype=np.int64)
        return np.interp(t, self.timestamps_us, self.values).astype(np.float32)


@dataclass(frozen=True, slots=True, eq=False)
class CuboidTrack:
    """One object over time: keyframed cuboids plus class and attributes.

    Parameters
    ----------
    track_id : str
        Unique id within the annotation set.
    label : str
        Class name (e.g. ``"car"``).
    frame : CoordinateFrame
        Frame of the keyframe poses (world by default).
    timestamps_us : ndarray of shape (K,), int64
        Strictly increasing keyframe times [µs], K >= 1.
    centers : ndarray of shape (K, 3), float64
        Box centres [m].
    sizes : ndarray of shape (K, 3), float64
        ``(length, width, height)`` [m], > 0.
    rotations_wxyz : ndarray of shape (K, 4), float64
        Unit quaternions (w, x, y, z).
    confidence : ndarray of shape (K,), float32
        Per-keyframe confidence in [0, 1] (1 for human labels).
    attributes : tuple of AttributePath
        Time-varying attributes.
    static_attributes : mapping of str to str
        Attributes constant over the track.
    frame_confidence : FrameConfidence or None
        Per-frame confidence when the keyframes are sparser than the frames the track was estimated
        at (pre-labels with ``tracks.keyframes="sparse"``); None otherwise (``confidence`` is then
        the whole story).
    """

    track_id: str
    label: str
    frame: CoordinateFrame
    timestamps_us: npt.NDArray[np.int64]
    centers: npt.NDArray[np.float64]
    sizes: npt.NDArray[np.float64]
    rotations_wxyz: npt.NDArray[np.float64]
    confidence: npt.NDArray[np.float32] | None = None
    attributes: tuple[AttributePath, ...] = ()
    static_attributes: Mapping[str, str] = field(default_factory=dict)
    frame_confidence: FrameConfidence | None = None

    def __post_init__(self) -> None:
        name = f"CuboidTrack[{self.track_id}]"
        if not isinstance(self.track_id, str) or not self.track_id:
            raise InvalidInputError(f"CuboidTrack.track_id must be a non-empty string, got {self.track_id!r}")
        if not isinstance(self.label, str) or not self.label:
            raise InvalidInputError(f"{name}.label must be a non-empty string, got {self.label!r}")
        object.__setattr__(self, "frame", CoordinateFrame.parse(self.frame))
        t = as_array(f"{name}.timestamps_us", self.timestamps_us, np.int64, (None,))
        if t.size == 0:
            raise InvalidInputError(f"{name}.timestamps_us must hold at least one keyframe, got 0")
        check_sorted(f"{name}.timestamps_us", t)
        k = t.size
        c = as_array(f"{name}.centers", self.centers, np.float64, (k, 3))
        s = as_array(f"{name}.sizes", self.sizes, np.float64, (k, 3))
        if np.any(s <= 0):
            i = int(np.argwhere(s <= 0)[0][0])
            raise InvalidInputError(f"{name}.sizes must be > 0: keyframe {i} has {s[i].tolist()}")
        q = as_array(f"{name}.rotations_wxyz", self.rotations_wxyz, np.float64, (k, 4))
        check_unit_quaternions(f"{name}.rotations_wxyz", q)
        conf = np.ones(k, np.float32) if self.confidence is None else self.confidence
        conf = as_array(f"{name}.confidence", conf, np.float32, (k,))
        if np.any((conf < 0) | (conf > 1)):
            raise InvalidInputError(f"{name}.confidence must lie in [0, 1], got {conf.tolist()}")
        for field_name, arr in (
            ("timestamps_us", t),
            ("centers", c),
            ("sizes", s),
            ("rotations_wxyz", q),
            ("confidence", conf),
        ):
            object.__setattr__(self, field_name, _readonly(arr))
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "static_attributes", MappingProxyType(dict(self.static_attributes)))
        if self.frame_confidence is not None and not isinstance(self.frame_confidence, FrameConfidence):
            raise InvalidInputError(
                f"{name}.frame_confidence must be a FrameConfidence or None, "
                f"got {type(self.frame_confidence).__name__}"
            )

    def __len__(self) -> int:
        return int(self.timestamps_us.size)

    @property
    def boxes(self) -> npt.NDArray[np.float32]:
        """Keyframes in the kernel layout, (K, 7) float32 ``[x, y, z, length, width, height, yaw]``."""
        out = np.empty((len(self), 7), np.float32)
        out[:, :3] = self.centers
        out[:, 3:6] = self.sizes
        out[:, 6] = quat_wxyz_to_yaw(self.rotations_wxyz)
        return out

    def cuboid(self, index: int) -> Cuboid:
        """Keyframe ``index`` as a :class:`Cuboid`."""
        return Cuboid(
            tuple(self.centers[index]),  # type: ignore[arg-type]
            tuple(self.sizes[index]),  # type: ignore[arg-type]
            tuple(self.rotations_wxyz[index]),  # type: ignore[arg-type]
        )

    @classmethod
    def from_boxes(
        cls,
        track_id: str,
        label: str,
        timestamps_us: npt.ArrayLike,
        boxes: npt.ArrayLike,
        frame: CoordinateFrame | str = CoordinateFrame.WORLD,
        **kwargs: Any,
    ) -> CuboidTrack:
        """Build from (K, 7) kernel-layout boxes (yaw-only rotations)."""
        b = as_array(f"CuboidTrack[{track_id}].boxes", boxes, np.float64, (None, 7))
        return cls(
            track_id,
            label,
            CoordinateFrame.parse(frame),
            np.asarray(timestamps_us),
            b[:, :3].copy(),
            b[:, 3:6].copy(),
            yaw_to_quat_wxyz(b[:, 6]),
            **kwargs,
        )


@dataclass(frozen=True, slots=True)
class Link:
    """A relation between two annotations (e.g. a 2D box ↔ a 3D track), as in SFS ``link``."""

    from_id: str
    to_id: str
    label: str = "link"
    is_bidirectional: bool = True
    attributes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.from_id or not self.to_id:
            raise InvalidInputError(
                f"Link ids must be non-empty, got from_id={self.from_id!r} to_id={self.to_id!r}"
            )
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


@dataclass(frozen=True, slots=True)
class Annotations:
    """All annotations of a log: cuboid tracks and links.

    Track ids are unique; link targets are not checked here (the validation rules report them).
    """

    tracks: tuple[CuboidTrack, ...] = ()
    links: tuple[Link, ...] = ()

    def __post_init__(self) -> None:
        tracks = tuple(self.tracks)
        seen: set[str] = set()
        for t in tracks:
            if t.track_id in seen:
                raise InvalidInputError(f"Annotations.tracks: duplicate track_id {t.track_id!r}")
            seen.add(t.track_id)
        object.__setattr__(self, "tracks", tracks)
        object.__setattr__(self, "links", tuple(self.links))

    def track(self, track_id: str) -> CuboidTrack:
        """The track with ``track_id``; raises naming it when absent."""
        for t in self.tracks:
            if t.track_id == track_id:
                return t
        raise InvalidInputError(f"unknown track_id {track_id!r}")

    @staticmethod
    def merge(parts: Sequence[Annotations]) -> Annotations:
        """Concatenate annotation sets (ids must stay unique)."""
        return Annotations(
            tuple(t for p in parts for t in p.tracks),
            tuple(link for p in parts for link in p.links),
        )
