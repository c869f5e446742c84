"""Tracking's own light value types: a cuboid path (keyframes or dense samples) and its frame.

``tracking`` does not import ``engine``; ``engine.tracks`` adapts ``engine.CuboidTrack`` to and from
:class:`CuboidPath`. The cuboid follows docs/CONVENTIONS.md §6: centre of the box, ``(length, width,
height)`` along the box's own x (front), y (left), z (up) axes, rotation a unit quaternion (w, x, y, z)
giving ``frame_from_box``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import quat_wxyz_to_yaw, yaw_to_quat_wxyz
from kernels.errors import InvalidInputError
from kernels.validation import as_array, check_sorted, check_unit_quaternions

__all__ = ["CuboidPath", "PoseFrame"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


class PoseFrame(enum.Enum):
    """The frame cuboid poses are expressed in (values match ``engine.CoordinateFrame``)."""

    WORLD = "world"
    """The log's world frame (z up); poses do not depend on the ego pose."""
    EGO = "ego"
    """The ego frame at each cuboid's own timestamp (x forward, y left, z up)."""


def _readonly(arr: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    if arr.flags.writeable:
        arr = arr.copy()
        arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class CuboidPath:
    """Cuboids of one object at strictly increasing timestamps (keyframes, or interpolated samples).

    Parameters
    ----------
    timestamps_us : ndarray of shape (K,), int64
        Strictly increasing times [µs], ``K >= 1``.
    centers : ndarray of shape (K, 3), float64
        Box centres [m] in ``frame``.
    sizes : ndarray of shape (K, 3), float64
        ``(length, width, height)`` [m], all > 0.
    rotations_wxyz : ndarray of shape (K, 4), float64
        Unit quaternions (w, x, y, z) of ``frame_from_box`` (norm checked to 1e-6, then renormalised).
    confidence : ndarray of shape (K,), float32, optional
        Per-cuboid confidence in [0, 1]; all ones when omitted (human keyframes).
    frame : PoseFrame
        Frame of ``centers`` and ``rotations_wxyz``.

    Raises
    ------
    InvalidInputError
        Naming the field and the offending value: wrong shape, NaN, unsorted times, sizes <= 0,
        non-unit quaternions, confidence outside [0, 1].
    """

    timestamps_us: I64
    centers: F64
    sizes: F64
    rotations_wxyz: F64
    confidence: F32 | None = None
    frame: PoseFrame = PoseFrame.WORLD

    def __post_init__(self) -> None:
        t = as_array("timestamps_us", self.timestamps_us, np.int64, (None,))
        if t.size == 0:
            raise InvalidInputError("timestamps_us must hold at least one cuboid, got 0")
        check_sorted("timestamps_us", t)
        k = t.size
        c = as_array("centers", self.centers, np.float64, (k, 3))
        s = as_array("sizes", self.sizes, np.float64, (k, 3))
        if np.any(s <= 0):
            i = int(np.argwhere(s <= 0)[0][0])
            raise InvalidInputError(f"sizes must be > 0: row {i} is {s[i].tolist()}")
        q = as_array("rotations_wxyz", self.rotations_wxyz, np.float64, (k, 4))
        check_unit_quaternions("rotations_wxyz", q)
        norm = np.linalg.norm(q, axis=1, keepdims=True)
        q = np.where(np.abs(norm - 1.0) > 1e-15, q / norm, q)  # idempotent: unit rows stay bit-exact
        conf = np.ones(k, np.float32) if self.confidence is None else self.confidence
        conf = as_array("confidence", conf, np.float32, (k,))
        if np.any((conf < 0) | (conf > 1)):
            i = int(np.argmax((conf < 0) | (conf > 1)))
            raise InvalidInputError(f"confidence must lie in [0, 1]: row {i} is {float(conf[i])}")
        if not isinstance(self.frame, PoseFrame):
            raise InvalidInputError(
                f"unknown frame {self.frame!r}; expected one of {[f.value for f in PoseFrame]}"
            )
        for name, arr in (
            ("timestamps_us", t),
            ("centers", c),
            ("sizes", s),
            ("rotations_wxyz", q),
            ("confidence", conf),
        ):
            object.__setattr__(self, name, _readonly(arr))

    @classmethod
    def _trusted(
        cls,
        timestamps_us: I64,
        centers: F64,
        sizes: F64,
        rotations_wxyz: F64,
        confidence: F32,
        frame: PoseFrame,
    ) -> CuboidPath:
        """Internal: wrap arrays that are valid by construction (no checks; the caller guarantees them).

        For outputs computed inside ``tracking`` from already validated paths (e.g. the interpolator's
        samples): int64 strictly increasing times, (K, 3) float64 centres and positive sizes, (K, 4)
        float64 unit quaternions renormalised as in ``__post_init__``, (K,) float32 confidence in [0, 1].
        The arrays are taken over (made read-only in place), not copied.
        """
        self = object.__new__(cls)
        for name, arr in (
            ("timestamps_us", timestamps_us),
            ("centers", centers),
            ("sizes", sizes),
            ("rotations_wxyz", rotations_wxyz),
            ("confidence", confidence),
        ):
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "frame", frame)
        return self

    def __len__(self) -> int:
        return int(self.timestamps_us.size)

    @property
    def yaws(self) -> F64:
        """Headings [rad, in [-pi, pi)] of the length axis about +z of ``frame``, (K,) float64."""
        return np.asarray(quat_wxyz_to_yaw(self.rotations_wxyz), dtype=np.float64)

    @property
    def boxes(self) -> F32:
        """The kernel layout ``[x, y, z, length, width, height, yaw]``, (K, 7) float32, in ``frame``."""
        out = np.empty((len(self), 7), np.float32)
        out[:, :3] = self.centers
        out[:, 3:6] = self.sizes
        out[:, 6] = self.yaws
        return out

    def take(self, index: npt.ArrayLike) -> CuboidPath:
        """The cuboids at increasing positions ``index`` (a sub-path, e.g. every k-th keyframe)."""
        i = np.asarray(index, dtype=np.int64)
        return CuboidPath(
            self.timestamps_us[i],
            self.centers[i],
            self.sizes[i],
            self.rotations_wxyz[i],
            self.confidence[i] if self.confidence is not None else None,
            self.frame,
        )

    @classmethod
    def from_boxes(
        cls,
        timestamps_us: npt.ArrayLike,
        boxes: npt.ArrayLike,
        confidence: npt.ArrayLike | None = None,
        frame: PoseFrame = PoseFrame.WORLD,
    ) -> CuboidPath:
        """Build from kernel-layout boxes.

        Parameters
        ----------
        timestamps_us : array_like of shape (K,), int64
            Strictly increasing times [µs].
        boxes : array_like of shape (K, 7)
            ``[x, y, z, length, width, height, yaw]`` [m, rad] in ``frame``; rotations are yaw-only.
        confidence : array_like of shape (K,), optional
            Per-box confidence in [0, 1].
        frame : PoseFrame
            Frame of the boxes.

        Returns
        -------
        CuboidPath
            The path.
        """
        b = as_array("boxes", boxes, np.float64, (None, 7))
        return cls(
            np.asarray(timestamps_us),
            b[:, :3].copy(),
            b[:, 3:6].copy(),
            yaw_to_quat_wxyz(b[:, 6]),
            None if confidence is None else np.asarray(confidence, dtype=np.float32),
            frame,
        )
