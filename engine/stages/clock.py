"""Per-stage timing and progress of the pipeline (``time.perf_counter_ns`` around every unit of work).

Per-frame stages are timed frame by frame (:meth:`StageClock.map` wraps a lazy map, so stages can be
chained without holding every frame); whole-log stages are timed once (:meth:`StageClock.run`). The
clock calls ``progress(stage, done, total)`` after every unit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["Progress", "StageClock", "StageStats"]

A = TypeVar("A")
B = TypeVar("B")

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)`` after every unit of a stage (frames; 0 then 1 for whole-log stages)."""


def _no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback: does nothing."""


@dataclass(frozen=True, slots=True)
class StageStats:
    """What one stage did and how long it took.

    Attributes
    ----------
    name : str
        Stage name (``shared_frame``, ``proposals``, ``tracks``, ``links``, ``validation``).
    frames : int
        Log frames the stage covered.
    seconds : float
        Wall time of the stage [s] (sum of its per-frame times for per-frame stages).
    items : int
        What it produced: points, proposals, tracks, links or findings.
    frame_ns : ndarray of shape (F,), int64
        Wall time of every frame [ns] for per-frame stages; empty for whole-log stages.
    status : str
        ``"ok"``, or ``"skipped"`` (disabled or nothing to do) with the reason in ``detail``.
    detail : str
        A short note for people.
    """

    name: str
    frames: int
    seconds: float
    items: int = 0
    frame_ns: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    status: str = "ok"
    detail: str = ""

    @property
    def frames_per_s(self) -> float:
        """Frames per second of wall time (0 when the stage did not run)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict, with the median and maximum per-frame time [ms] when there are frames."""
        out: dict[str, Any] = {
            "name": self.name,
            "status": self.status,
            "frames": self.frames,
            "seconds": self.seconds,
            "frames_per_s": self.frames_per_s,
            "items": self.items,
            "detail": self.detail,
        }
        if self.frame_ns.size:
            out["frame_ms_median"] = float(np.median(self.frame_ns)) / 1e6
            out["frame_ms_max"] = float(self.frame_ns.max()) / 1e6
        return out


class StageClock:
    """Collects :class:`StageStats` while the pipeline runs; see the module docstring.

    Parameters
    ----------
    frames : int
        Frames of the log the pipeline visits (``frames`` of whole-log stages).
    progress : callable, optional
        See :data:`Progress`.
    """

    def __init__(self, frames: int, progress: Progress | None = None) -> None:
        self.frames = frames
        self.progress: Progress = progress or _no_progress
        self._ns: dict[str, list[int]] = {}
        self._items: dict[str, int] = {}
        self._stats: dict[str, StageStats] = {}

    def map(
        self, name: str, items: Iterable[A], func: Callable[[A], B], count: Callable[[B], int]
    ) -> Iterator[B]:
        """Lazily apply a per-frame stage, timing each call; ``count(output)`` adds to its items.

        The stats are recorded by :meth:`close` once the iterator is exhausted.
        """
        times = self._ns.setdefault(name, [])
        self._items[name] = 0
        for item in items:
            t0 = time.perf_counter_ns()
            out = func(item)
            times.append(time.perf_counter_ns() - t0)
            self._items[name] += count(out)
            self.progress(name, len(times), self.frames)
            yield out

    def close(self, name: str, detail: str = "") -> None:
        """Record the stats of a per-frame stage run through :meth:`map`."""
        ns = np.array(self._ns.pop(name, []), np.int64)
        items = self._items.pop(name, 0)
        self._stats[name] = StageStats(name, int(ns.size), float(ns.sum()) / 1e9, items, ns, "ok", detail)

    def run(
        self, name: str, func: Callable[..., B], *args: Any, count: Callable[[B], int], detail: str = ""
    ) -> B:
        """Run a whole-log stage once, ``func(*args)``, timed; ``count(result)`` is its item count."""
        self.progress(name, 0, 1)
        t0 = time.perf_counter_ns()
        out = func(*args)
        ns = time.perf_counter_ns() - t0
        self._stats[name] = StageStats(name, self.frames, ns / 1e9, count(out), detail=detail)
        self.progress(name, 1, 1)
        return out

    def run_optional(
        self, name: str, func: Callable[..., B] | None, *args: Any, count: Callable[[B], int], reason: str
    ) -> B | None:
        """:meth:`run`; when ``func`` is None, record the stage as skipped for ``reason`` and return None."""
        if func is None:
            self._stats[name] = StageStats(name, 0, 0.0, status="skipped", detail=reason)
            self.progress(name, 1, 1)
            return None
        return self.run(name, func, *args, count=count)

    @property
    def stats(self) -> tuple[StageStats, ...]:
        """Stats of every finished stage, in the order they finished."""
        return tuple(self._stats.values())
