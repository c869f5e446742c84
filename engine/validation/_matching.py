"""Per-frame cuboid matching shared by golden-set QA and consensus: frame tables and optimal assignment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from engine.annotations import Annotations, CuboidTrack
from engine.tracks import densify_track
from kernels import box_iou_3d

__all__ = ["FrameBoxes", "attributes_at", "densified", "frame_table", "match"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FrameBoxes:
    """The keyframes of one annotation set at one time."""

    track: tuple[int, ...]
    """Index of each box's track in ``annotations.tracks``."""
    key: tuple[int, ...]
    """Keyframe index within that track."""
    boxes: F64
    """(M, 7) kernel-layout boxes, float64, the tracks' frame."""


def densified(annotations: Annotations) -> Annotations:
    """``annotations`` with a keyframe at every frame of each sparse-keyframe track (interpolated).

    Tracks with ``frame_confidence`` go through :func:`engine.tracks.densify_track`; others are unchanged.
    """
    if all(t.frame_confidence is None for t in annotations.tracks):
        return annotations
    return Annotations(tuple(densify_track(t) for t in annotations.tracks), annotations.links)


def frame_table(annotations: Annotations) -> dict[int, FrameBoxes]:
    """Keyframes grouped by timestamp [µs]."""
    rows: dict[int, list[tuple[int, int]]] = {}
    for i, t in enumerate(annotations.tracks):
        for k, ts in enumerate(t.timestamps_us.tolist()):
            rows.setdefault(int(ts), []).append((i, k))
    out = {}
    boxes = [t.boxes.astype(np.float64) for t in annotations.tracks]
    for ts, pairs in rows.items():
        out[ts] = FrameBoxes(
            tuple(p[0] for p in pairs), tuple(p[1] for p in pairs), np.array([boxes[i][k] for i, k in pairs])
        )
    return out


def iou_matrix(a: F64, b: F64) -> F64:
    """3D IoU of every pair, (len(a), len(b)) float64 (empty inputs allowed)."""
    if a.shape[0] == 0 or b.shape[0] == 0:
        return np.zeros((a.shape[0], b.shape[0]))
    return np.asarray(box_iou_3d(a.astype(np.float32), b.astype(np.float32)), dtype=np.float64)


def match(a: F64, b: F64, min_iou: float) -> tuple[list[tuple[int, int]], F64]:
    """Optimal one-to-one matching maximising total 3D IoU; pairs below ``min_iou`` are dropped.

    Returns
    -------
    pairs : list of (i, j)
        Matched row of ``a`` and row of ``b``.
    iou : ndarray of shape (len(a), len(b))
        The IoU matrix.
    """
    iou = iou_matrix(a, b)
    if iou.size == 0:
        return [], iou
    r, c = linear_sum_assignment(-iou)
    return [(int(i), int(j)) for i, j in zip(r, c, strict=True) if iou[i, j] >= min_iou], iou


def attributes_at(track: CuboidTrack, t_us: int) -> Mapping[str, str]:
    """Every attribute value of ``track`` in force at ``t_us`` (static and time-varying)."""
    out = dict(track.static_attributes)
    for a in track.attributes:
        v = a.value_at(t_us)
        if v is not None:
            out[a.name] = v
    return out
