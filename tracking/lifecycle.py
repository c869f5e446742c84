"""Track lifecycle as an enum state machine (one transition per frame).

::

    TENTATIVE --hit, hits >= min_hits--> CONFIRMED --miss--> LOST --hit--> CONFIRMED
    TENTATIVE --misses > max_tentative_misses--> DEAD
    LOST --misses > max_misses--> DEAD                     (DEAD is absorbing)

``hits`` counts associated detections since birth; ``misses`` counts consecutive frames without one
(both already include the current frame when the transition is taken). :func:`next_state` is the
reference for one track; :func:`next_states` applies the same table to arrays of state codes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError

__all__ = ["LifecycleConfig", "TrackState", "next_state", "next_states"]

I8 = npt.NDArray[np.int8]
I32 = npt.NDArray[np.int32]


class TrackState(enum.Enum):
    """Where a track is in its life; ``value`` is the int8 code used in arrays."""

    TENTATIVE = 0
    """Born from an unmatched detection; not reported until confirmed."""
    CONFIRMED = 1
    """Matched in the current frame (and confirmed before)."""
    LOST = 2
    """Confirmed, but unmatched for 1..max_misses consecutive frames; predicted forward."""
    DEAD = 3
    """Ended; never matched again."""


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """Thresholds of the state machine.

    Parameters
    ----------
    min_hits : int
        Detections needed to confirm a tentative track (>= 1).
    max_tentative_misses : int
        Consecutive misses a tentative track survives.
    max_misses : int
        Consecutive misses a confirmed track survives (coasting) before it dies.
    """

    min_hits: int = 2
    max_tentative_misses: int = 1
    max_misses: int = 5

    def __post_init__(self) -> None:
        if self.min_hits < 1:
            raise InvalidInputError(f"min_hits must be >= 1, got {self.min_hits}")
        for name in ("max_tentative_misses", "max_misses"):
            if getattr(self, name) < 0:
                raise InvalidInputError(f"{name} must be >= 0, got {getattr(self, name)}")


def next_state(state: TrackState, hit: bool, hits: int, misses: int, config: LifecycleConfig) -> TrackState:
    """The state after one frame for a single track (the reference for :func:`next_states`)."""
    if state is TrackState.DEAD:
        return TrackState.DEAD
    if state is TrackState.TENTATIVE:
        if hit:
            return TrackState.CONFIRMED if hits >= config.min_hits else TrackState.TENTATIVE
        return TrackState.DEAD if misses > config.max_tentative_misses else TrackState.TENTATIVE
    if state in (TrackState.CONFIRMED, TrackState.LOST):
        if hit:
            return TrackState.CONFIRMED
        return TrackState.DEAD if misses > config.max_misses else TrackState.LOST
    raise InvalidInputError(f"unknown track state {state!r}; expected one of {list(TrackState)}")


def next_states(codes: I8, hit: npt.NDArray[np.bool_], hits: I32, misses: I32, config: LifecycleConfig) -> I8:
    """Vectorised :func:`next_state` over int8 state codes (``TrackState.value``)."""
    tent, conf, lost, dead = (s.value for s in TrackState)
    out = codes.copy()
    is_t = codes == tent
    out[is_t & hit & (hits >= config.min_hits)] = conf
    out[is_t & ~hit & (misses > config.max_tentative_misses)] = dead
    live = (codes == conf) | (codes == lost)
    out[live & hit] = conf
    out[live & ~hit] = lost
    out[live & ~hit & (misses > config.max_misses)] = dead
    return out
