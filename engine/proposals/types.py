"""The value every proposal source returns: cuboids with scores and class guesses for one sweep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.validation import as_array

__all__ = ["ProposalSet"]


@dataclass(frozen=True, slots=True, eq=False)
class ProposalSet:
    """Cuboid proposals of one sweep.

    Parameters
    ----------
    boxes : ndarray of shape (M, 7), float32
        ``[x, y, z, length, width, height, yaw]`` in ``frame`` (ego unless said otherwise) [m, rad].
    scores : ndarray of shape (M,), float32
        Confidence in [0, 1] (higher is better).
    class_ids : ndarray of shape (M,), int32
        Index into ``classes``; ``-1`` for an unknown class.
    classes : tuple of str
        Class names.
    timestamp_us : int or None
        The sweep the proposals belong to [µs].
    frame : str
        Frame of ``boxes``: ``"ego"`` (default) or ``"world"``.
    """

    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    class_ids: npt.NDArray[np.int32]
    classes: tuple[str, ...]
    timestamp_us: int | None = None
    frame: str = "ego"

    def __post_init__(self) -> None:
        boxes = as_array("ProposalSet.boxes", self.boxes, np.float32, (None, 7))
        m = boxes.shape[0]
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", as_array("ProposalSet.scores", self.scores, np.float32, (m,)))
        ids = as_array("ProposalSet.class_ids", self.class_ids, np.int32, (m,))
        object.__setattr__(self, "class_ids", ids)
        object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
        if m and (ids.min() < -1 or ids.max() >= len(self.classes)):
            raise InvalidInputError(
                f"ProposalSet.class_ids must lie in [-1, {len(self.classes)}), "
                f"got range [{ids.min()}, {ids.max()}]"
            )
        if m and np.any(boxes[:, 3:6] <= 0):
            raise InvalidInputError("ProposalSet.boxes sizes (columns 3:6) must be > 0")
        if self.frame not in ("ego", "world"):
            raise InvalidInputError(f"unknown frame {self.frame!r}; expected 'ego' or 'world'")

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    @property
    def labels(self) -> list[str]:
        """Class name of every proposal (``"unknown"`` for id -1)."""
        return [self.classes[i] if i >= 0 else "unknown" for i in self.class_ids.tolist()]

    @classmethod
    def empty(
        cls, classes: tuple[str, ...], timestamp_us: int | None = None, frame: str = "ego"
    ) -> ProposalSet:
        """No proposals."""
        return cls(
            np.zeros((0, 7), np.float32),
            np.zeros(0, np.float32),
            np.zeros(0, np.int32),
            classes,
            timestamp_us,
            frame,
        )

    def select(self, index: Any) -> ProposalSet:
        """The proposals picked by a boolean mask or an index array (same classes, time and frame)."""
        return ProposalSet(
            self.boxes[index],
            self.scores[index],
            self.class_ids[index],
            self.classes,
            self.timestamp_us,
            self.frame,
        )

    def of_class(self, name: str) -> ProposalSet:
        """Only the proposals of one class."""
        if name not in self.classes:
            raise InvalidInputError(f"unknown class {name!r}; expected one of {list(self.classes)}")
        return self.select(self.class_ids == self.classes.index(name))
