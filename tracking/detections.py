"""Per-frame tracker input and output: :class:`Detections` (world-frame boxes) and :class:`FrameTracks`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.validation import as_array

__all__ = ["Detections", "FrameTracks"]

F64 = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class Detections:
    """Detections of one frame, world frame.

    Parameters
    ----------
    timestamp_us : int
        Frame time [µs].
    boxes : ndarray of shape (M, 7), float64
        ``[x, y, z, length, width, height, yaw]`` [m, rad], world frame.
    scores : ndarray of shape (M,), float32, optional
        Detector confidence in [0, 1]; ones when omitted.
    class_ids : ndarray of shape (M,), int32, optional
        Class of each detection (the caller keeps the id-to-name table); zeros when omitted.
    """

    timestamp_us: int
    boxes: F64
    scores: F32 | None = None
    class_ids: I32 | None = None

    def __post_init__(self) -> None:
        b = as_array("boxes", self.boxes, np.float64, (None, 7))
        m = b.shape[0]
        s = as_array("scores", np.ones(m) if self.scores is None else self.scores, np.float32, (m,))
        c = as_array("class_ids", np.zeros(m) if self.class_ids is None else self.class_ids, np.int32, (m,))
        if np.any(b[:, 3:6] <= 0):
            raise InvalidInputError(f"boxes sizes must be > 0: row {int(np.argwhere(b[:, 3:6] <= 0)[0][0])}")
        object.__setattr__(self, "timestamp_us", int(self.timestamp_us))
        object.__setattr__(self, "boxes", b)
        object.__setattr__(self, "scores", s)
        object.__setattr__(self, "class_ids", c)

    def __len__(self) -> int:
        return int(self.boxes.shape[0])


@dataclass(frozen=True, slots=True)
class FrameTracks:
    """The tracker's output for one frame.

    Parameters
    ----------
    timestamp_us : int
        Frame time [µs].
    track_ids : ndarray of shape (K,), int64
        Reported tracks: confirmed tracks matched this frame, and lost ones within
        ``TrackerConfig.report_max_misses``.
    boxes : ndarray of shape (K, 7), float64
        Filtered boxes, world frame [m, rad].
    class_ids : ndarray of shape (K,), int32
        Classes.
    confidence : ndarray of shape (K,), float32
        Running mean detection score, halved per missed frame.
    detection_index : ndarray of shape (K,), int64
        The detection each track was matched to, -1 when coasting.
    detection_track_ids : ndarray of shape (M,), int64
        For every detection of the frame, the track (tentative ones included) it was given to, -1 when
        dropped (score below the birth threshold).
    """

    timestamp_us: int
    track_ids: I64
    boxes: F64
    class_ids: I32
    confidence: F32
    detection_index: I64
    detection_track_ids: I64
