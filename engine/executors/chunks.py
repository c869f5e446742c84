"""Chunks of a long log: the per-frame stages run per chunk, and the chunks merge into the whole log.

A :class:`Chunking` cuts a log's frames into consecutive chunks of ``length`` frames (or seconds). Each
chunk *owns* its frames ``[start, stop)`` and *computes* them widened by ``overlap`` on both sides,
``[lo, hi)``.

Why this merge is exact: the per-frame stages (shared frame, proposals; the expensive part) treat every
frame independently, so a chunk's frames are the same whatever the chunking; the tracker then runs once
over the whole log's merged proposals (:func:`engine.pipeline.run_log_stages`), with the same
forward/backward passes, stitching across gaps and smoothing as an unchunked run, hence the same tracks
across chunk borders. Tracking chunk by chunk and matching tracks in the overlaps would not give that:
offline refinement uses the whole log (the backward pass, stitching over gaps up to 2 s, smoothing over
each track's span), so tracks near a border would differ.

The overlap is therefore not needed for correctness; frames in it are computed by both neighbours and
:func:`merge_chunks` compares the copies with the owner's (a check that the per-frame stages are
deterministic across workers and machines, e.g. CPU and GPU nodes). ``overlap=0`` (the default) skips it.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.proposals import ProposalSet
from engine.stages import StageStats
from kernels.errors import InvalidInputError

__all__ = ["ChunkUnit", "Chunking", "FrameChunk", "merge_chunks", "merge_stats", "plan_chunks"]

log = logging.getLogger(__name__)


class ChunkUnit(enum.Enum):
    """What :attr:`Chunking.length` and :attr:`Chunking.overlap` count."""

    FRAMES = "frames"
    SECONDS = "seconds"


@dataclass(frozen=True, slots=True)
class Chunking:
    """How a log is cut into chunks.

    Parameters
    ----------
    length : float
        Frames (a whole number) or seconds per chunk; > 0.
    overlap : float
        Frames (a whole number) or seconds computed again on each side of a chunk; >= 0.
    unit : ChunkUnit
        Frames or seconds.
    """

    length: float
    overlap: float = 0
    unit: ChunkUnit = ChunkUnit.FRAMES

    def __post_init__(self) -> None:
        if not (math.isfinite(self.length) and self.length > 0):
            raise InvalidInputError(f"chunk length must be > 0, got {self.length!r}")
        if not (math.isfinite(self.overlap) and self.overlap >= 0):
            raise InvalidInputError(f"chunk overlap must be >= 0, got {self.overlap!r}")
        if self.unit is ChunkUnit.FRAMES and (self.length % 1 or self.overlap % 1):
            raise InvalidInputError(
                f"chunk length and overlap in frames must be whole numbers, got {self.length!r}, "
                f"{self.overlap!r}"
            )


@dataclass(frozen=True, slots=True)
class FrameChunk:
    """One chunk: it owns frames ``[start, stop)`` and computes ``[lo, hi)`` (with the overlap)."""

    index: int
    count: int
    start: int
    stop: int
    lo: int
    hi: int

    @property
    def key(self) -> str:
        """A stable file-name stem, e.g. ``chunk-0002-of-0005_frames-000040-000065``."""
        return f"chunk-{self.index:04d}-of-{self.count:04d}_frames-{self.lo:06d}-{self.hi:06d}"


def plan_chunks(times_us: npt.NDArray[np.int64], chunking: Chunking) -> tuple[FrameChunk, ...]:
    """Cut a log's frames into chunks.

    Parameters
    ----------
    times_us : ndarray of shape (F,), int64
        The log's frame times [µs], increasing.
    chunking : Chunking
        Length and overlap.

    Returns
    -------
    tuple of FrameChunk
        Consecutive chunks covering every frame once (by ownership); no chunk is empty.
    """
    t = np.asarray(times_us, np.int64)
    n = int(t.size)
    if n == 0:
        raise InvalidInputError("times_us is empty; nothing to chunk")
    if chunking.unit is ChunkUnit.FRAMES:
        length, over = int(chunking.length), int(chunking.overlap)
        starts = list(range(0, n, length))
        bounds = [(s, min(n, s + length)) for s in starts]
        spans = [(max(0, s - over), min(n, e + over)) for s, e in bounds]
    elif chunking.unit is ChunkUnit.SECONDS:
        ids = (t - t[0]) // max(1, round(chunking.length * 1e6))
        cuts = [0, *(np.flatnonzero(np.diff(ids)) + 1).tolist(), n]
        bounds = list(zip(cuts[:-1], cuts[1:], strict=True))
        over_us = round(chunking.overlap * 1e6)
        spans = [
            (
                int(np.searchsorted(t, t[s] - over_us, "left")),
                int(np.searchsorted(t, t[e - 1] + over_us, "right")),
            )
            for s, e in bounds
        ]
    else:
        raise InvalidInputError(f"unknown chunk unit {chunking.unit!r}; expected frames or seconds")
    k = len(bounds)
    return tuple(
        FrameChunk(i, k, s, e, lo, hi) for i, ((s, e), (lo, hi)) in enumerate(zip(bounds, spans, strict=True))
    )


def _difference(a: ProposalSet, b: ProposalSet) -> float:
    """Largest absolute difference of two proposal sets of one frame (inf when they do not match up)."""
    if len(a) != len(b) or a.classes != b.classes or not np.array_equal(a.class_ids, b.class_ids):
        return math.inf
    if not len(a):
        return 0.0
    return float(max(np.abs(a.boxes - b.boxes).max(), np.abs(a.scores - b.scores).max()))


def merge_chunks(
    chunks: Sequence[FrameChunk], parts: Sequence[Sequence[ProposalSet]]
) -> tuple[tuple[ProposalSet, ...], float]:
    """The whole log's proposals from its chunks, and the largest overlap disagreement.

    Parameters
    ----------
    chunks : sequence of FrameChunk
        The plan (:func:`plan_chunks`).
    parts : sequence of sequence of ProposalSet
        Per chunk, the proposals of its frames ``[lo, hi)``.

    Returns
    -------
    proposals : tuple of ProposalSet
        One per frame of the log, each from the chunk that owns the frame.
    max_difference : float
        Largest difference between a frame's copies in overlaps (0 without overlap; inf when the
        copies hold different numbers or classes of proposals). A warning is logged when it is not 0.
    """
    if len(chunks) != len(parts):
        raise InvalidInputError(f"{len(chunks)} chunks but {len(parts)} parts")
    owned: list[ProposalSet] = []
    for c, part in zip(chunks, parts, strict=True):
        if len(part) != c.hi - c.lo:
            raise InvalidInputError(f"{c.key}: expected {c.hi - c.lo} frames of proposals, got {len(part)}")
        owned.extend(part[c.start - c.lo : c.stop - c.lo])
    worst = 0.0
    for c, part in zip(chunks, parts, strict=True):
        for f in [*range(c.lo, c.start), *range(c.stop, c.hi)]:
            worst = max(worst, _difference(owned[f], part[f - c.lo]))
    if worst > 0:
        log.warning("chunk overlaps disagree by up to %g: the per-frame stages are not deterministic", worst)
    return tuple(owned), worst


def merge_stats(
    chunks: Sequence[FrameChunk], stats: Sequence[Sequence[StageStats]]
) -> tuple[StageStats, ...]:
    """Per-frame stage stats of the whole log from its chunks' (owned frames' times; items of all)."""
    names = [s.name for s in stats[0]] if stats else []
    merged = []
    for name in names:
        ns, items = [], 0
        for c, chunk_stats in zip(chunks, stats, strict=True):
            st = next(s for s in chunk_stats if s.name == name)
            ns.append(st.frame_ns[c.start - c.lo : c.stop - c.lo])
            items += st.items
        frame_ns = np.concatenate(ns).astype(np.int64)
        detail = f"{stats[0][names.index(name)].detail}; {len(chunks)} chunks".lstrip("; ")
        merged.append(
            StageStats(name, int(frame_ns.size), float(frame_ns.sum()) / 1e9, items, frame_ns, "ok", detail)
        )
    return tuple(merged)
