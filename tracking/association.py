"""Track-to-detection association: a cost matrix, per-class gates, and an optimal assignment.

Costs (smaller is better) for every (track, detection) pair of boxes in the world frame:

* :attr:`CostMetric.CENTER_DISTANCE` — bird's-eye-view centre distance [m]; gate: at most the class's
  ``max_distance_m``.
* :attr:`CostMetric.BEV_IOU` — ``1 - IoU`` of the rotated footprints; gate: IoU at least ``min_iou``.
* :attr:`CostMetric.GIOU_3D` — ``1 - GIoU`` of the 3D boxes (in [0, 2], informative also for disjoint
  boxes); gate: GIoU at least ``min_iou``.
* :attr:`CostMetric.MAHALANOBIS` — innovation-based: with the BEV centre innovation ``ν`` and its
  covariance ``S = H P Hᵀ + R`` (2 x 2, from the track's Kalman covariance), the cost is
  ``νᵀ S⁻¹ ν + ln det S``, the negative log-likelihood of the detection up to a constant (the
  ``ln det S`` term keeps uncertain tracks, e.g. coasting or newborn ones, from winning detections
  merely by being uncertain); gate: ``νᵀ S⁻¹ ν <= max_sigma²`` and centre distance at most
  ``max_distance_m`` (:func:`innovation_costs`).

IoU costs use the exact rotated-box kernels (``kernels.box_iou``), imported on first use. Pairs of
different classes are never matched. The assignment minimises the summed cost over gated pairs with
``scipy.optimize.linear_sum_assignment``; pairs that are each other's only gated candidate are matched
directly (that is optimal too) and only the rest go to the solver, which keeps crowded frames cheap.
:func:`associate_in_stages` matches established tracks first and gives the detections left over to
the others (tentative tracks), so a newborn track cannot take a detection from a confirmed one.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from kernels.errors import InvalidInputError

__all__ = [
    "Assignment",
    "ClassGate",
    "CostMetric",
    "associate",
    "associate_in_stages",
    "cost_matrix",
    "gate_limits",
    "gate_matrix",
    "innovation_costs",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Ints = npt.NDArray[np.integer[Any]]
_BLOCKED = 1e9


class CostMetric(enum.Enum):
    """Association cost between a predicted track box and a detection box."""

    CENTER_DISTANCE = "center_distance"
    BEV_IOU = "bev_iou"
    GIOU_3D = "giou_3d"
    MAHALANOBIS = "mahalanobis"


@dataclass(frozen=True, slots=True)
class ClassGate:
    """Largest acceptable mismatch for one class.

    Parameters
    ----------
    max_distance_m : float
        :attr:`CostMetric.CENTER_DISTANCE`: largest centre distance [m].
    min_iou : float
        :attr:`CostMetric.BEV_IOU` and :attr:`CostMetric.GIOU_3D`: smallest (G)IoU.
    max_sigma : float
        :attr:`CostMetric.MAHALANOBIS`: largest Mahalanobis distance of the BEV innovation (3 keeps
        98.9 % of true detections of a 2-D Gaussian); ``max_distance_m`` bounds the centre distance too.
    """

    max_distance_m: float = 2.0
    min_iou: float = 0.01
    max_sigma: float = 3.0


@dataclass(frozen=True, slots=True)
class Assignment:
    """Result of :func:`associate`.

    Parameters
    ----------
    matches : ndarray of shape (K, 2), int64
        ``(track_row, detection_row)`` pairs.
    unmatched_tracks : ndarray of shape (T - K,), int64
        Track rows without a detection.
    unmatched_detections : ndarray of shape (D - K,), int64
        Detection rows without a track.
    """

    matches: I64
    unmatched_tracks: I64
    unmatched_detections: I64
    costs: F64 = field(default_factory=lambda: np.zeros(0))


def cost_matrix(tracks: F64, detections: F64, metric: CostMetric) -> F64:
    """Pairwise association cost.

    Parameters
    ----------
    tracks : ndarray of shape (T, 7), float64
        Predicted track boxes ``[x, y, z, length, width, height, yaw]``, world frame [m, rad].
    detections : ndarray of shape (D, 7), float64
        Detection boxes, same layout and frame.
    metric : CostMetric
        Which cost. :attr:`CostMetric.MAHALANOBIS` needs covariances: here it gives the centre distance
        (its second gate); :func:`innovation_costs` gives its cost.

    Returns
    -------
    ndarray of shape (T, D), float64
        Centre distance [m], ``1 - IoU`` or ``1 - GIoU``.
    """
    if metric in (CostMetric.CENTER_DISTANCE, CostMetric.MAHALANOBIS):
        d = tracks[:, None, :2] - detections[None, :, :2]
        return np.asarray(np.sqrt(np.einsum("tdk,tdk->td", d, d)))
    if tracks.shape[0] == 0 or detections.shape[0] == 0:
        return np.zeros((tracks.shape[0], detections.shape[0]))
    from kernels import box_iou

    a, b = tracks.astype(np.float32), detections.astype(np.float32)
    if metric is CostMetric.BEV_IOU:
        return 1.0 - np.asarray(box_iou.box_iou_bev(a, b), dtype=np.float64)
    if metric is CostMetric.GIOU_3D:
        return 1.0 - np.asarray(box_iou.box_giou_3d(a, b), dtype=np.float64)
    raise InvalidInputError(f"unknown metric {metric!r}; expected one of {list(CostMetric)}")


def gate_limits(
    classes: Ints, metric: CostMetric, gates: Mapping[int, ClassGate], default_gate: ClassGate
) -> F64:
    """Largest acceptable cost for tracks of the given classes, in the units of ``metric``'s cost.

    For :attr:`CostMetric.MAHALANOBIS` the limit is on the squared Mahalanobis distance (``max_sigma²``).
    """
    if metric is CostMetric.MAHALANOBIS:
        return np.array([gates.get(int(c), default_gate).max_sigma for c in classes], dtype=np.float64) ** 2
    if metric is CostMetric.CENTER_DISTANCE:
        return np.array([gates.get(int(c), default_gate).max_distance_m for c in classes], dtype=np.float64)
    if metric in (CostMetric.BEV_IOU, CostMetric.GIOU_3D):
        return 1.0 - np.array([gates.get(int(c), default_gate).min_iou for c in classes], dtype=np.float64)
    raise InvalidInputError(f"unknown metric {metric!r}; expected one of {list(CostMetric)}")


def gate_matrix(
    cost: F64, limits: F64, track_classes: Ints, detection_classes: Ints
) -> npt.NDArray[np.bool_]:
    """Pairs that may be matched: same class and cost within the track's limit (:func:`gate_limits`)."""
    return np.asarray((cost <= limits[:, None]) & (track_classes[:, None] == detection_classes[None, :]))


def associate(cost: F64, allowed: npt.NDArray[np.bool_]) -> Assignment:
    """Minimum-cost one-to-one matching over the allowed pairs.

    Parameters
    ----------
    cost : ndarray of shape (T, D), float64
        Pair costs.
    allowed : ndarray of shape (T, D), bool
        Gated pairs; others are never matched.

    Returns
    -------
    Assignment
        Matches and the unmatched rows of each side.
    """
    t, d = cost.shape
    if t == 0 or d == 0:
        empty = np.zeros((0, 2), np.int64)
        return Assignment(empty, np.arange(t, dtype=np.int64), np.arange(d, dtype=np.int64), np.zeros(0))
    row_n, col_n = allowed.sum(axis=1), allowed.sum(axis=0)
    # Pairs that are each other's only candidate: match directly.
    col_of = np.argmax(allowed, axis=1)
    solo = (row_n == 1) & (col_n[col_of] == 1)
    direct = np.column_stack([np.flatnonzero(solo), col_of[solo]]).astype(np.int64)
    rest_r = np.flatnonzero((row_n > 0) & ~solo)
    taken = np.zeros(d, bool)
    taken[direct[:, 1]] = True
    rest_c = np.flatnonzero((col_n > 0) & ~taken)
    pairs = [direct]
    if rest_r.size and rest_c.size:
        sub = np.where(allowed[np.ix_(rest_r, rest_c)], cost[np.ix_(rest_r, rest_c)], _BLOCKED)
        r, c = linear_sum_assignment(sub)
        ok = sub[r, c] < _BLOCKED
        pairs.append(np.column_stack([rest_r[r[ok]], rest_c[c[ok]]]).astype(np.int64))
    matches = np.concatenate(pairs).astype(np.int64)
    free_t = np.ones(t, bool)
    free_t[matches[:, 0]] = False
    free_d = np.ones(d, bool)
    free_d[matches[:, 1]] = False
    return Assignment(
        matches, np.flatnonzero(free_t), np.flatnonzero(free_d), cost[matches[:, 0], matches[:, 1]]
    )


def innovation_costs(track_xy: F64, innovation_cov: F64, detection_xy: F64) -> tuple[F64, F64]:
    """Squared Mahalanobis distances and the negative log-likelihood cost of BEV centre innovations.

    Parameters
    ----------
    track_xy : ndarray of shape (T, 2), float64
        Predicted track centres [m], world frame.
    innovation_cov : ndarray of shape (T, 2, 2), float64
        Innovation covariances ``S = H P Hᵀ + R`` of the centres [m²], symmetric positive definite.
    detection_xy : ndarray of shape (D, 2), float64
        Detection centres [m].

    Returns
    -------
    d2 : ndarray of shape (T, D), float64
        ``νᵀ S⁻¹ ν`` with ``ν = detection - track`` (the gate's quantity).
    cost : ndarray of shape (T, D), float64
        ``d2 + ln det S`` (the association cost).
    """
    a, b, c = innovation_cov[:, 0, 0], innovation_cov[:, 0, 1], innovation_cov[:, 1, 1]
    det = a * c - b * b
    dx = detection_xy[None, :, 0] - track_xy[:, None, 0]
    dy = detection_xy[None, :, 1] - track_xy[:, None, 1]
    d2 = (c[:, None] * dx * dx - 2.0 * b[:, None] * dx * dy + a[:, None] * dy * dy) / det[:, None]
    return d2, d2 + np.log(det)[:, None]


def associate_in_stages(
    cost: F64, allowed: npt.NDArray[np.bool_], first: npt.NDArray[np.bool_]
) -> Assignment:
    """:func:`associate` for the ``first`` tracks, then for the other tracks on the detections left over.

    Parameters
    ----------
    cost : ndarray of shape (T, D), float64
        Pair costs.
    allowed : ndarray of shape (T, D), bool
        Gated pairs.
    first : ndarray of shape (T,), bool
        Tracks served first (e.g. confirmed and lost ones); the others (tentative) get what remains.

    Returns
    -------
    Assignment
        Matches of both stages and the unmatched rows of each side.
    """
    if first.all() or not first.any():
        return associate(cost, allowed)
    rows1, rows2 = np.flatnonzero(first), np.flatnonzero(~first)
    a1 = associate(cost[rows1], allowed[rows1])
    left = a1.unmatched_detections
    a2 = associate(cost[np.ix_(rows2, left)], allowed[np.ix_(rows2, left)])
    matches = np.concatenate(
        [
            np.column_stack([rows1[a1.matches[:, 0]], a1.matches[:, 1]]),
            np.column_stack([rows2[a2.matches[:, 0]], left[a2.matches[:, 1]]]),
        ]
    ).astype(np.int64)
    free_t = np.ones(cost.shape[0], bool)
    free_t[matches[:, 0]] = False
    return Assignment(
        matches,
        np.flatnonzero(free_t),
        left[a2.unmatched_detections],
        cost[matches[:, 0], matches[:, 1]],
    )
