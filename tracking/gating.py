"""Sparse association: gated candidate pairs, their costs, and an optimal assignment per component.

What :mod:`tracking.association` does with dense ``T x D`` matrices, without building them (the
online tracker's per-frame path; at 1,000 objects a dense matrix is a million entries per frame):

1. :func:`candidate_pairs` — a BEV centre-distance gate on detections sorted by x (one binary search
   per track, :func:`tracking._fast.gate_pairs`), then the metric's cost and gate on the surviving
   pairs only. IoU metrics gate first on the circumscribed circles (disjoint circles have IoU 0, and
   GIoU <= IoU), so the exact polygon overlap is computed only where it can pass. The result is the
   same set of allowed pairs and costs as ``gate_matrix(cost_matrix(...))`` (up to float rounding of
   the distance).
2. :func:`assign_pairs` — connected components of the bipartite candidate graph (union-find); a
   component of one pair is matched directly, the others are solved with
   ``scipy.optimize.linear_sum_assignment`` (all of them in one call while that matrix stays small,
   else one call per component). Matching each component on its own is exactly optimal: no pair
   joins two components. Like :func:`tracking.association.associate`, the matching has the most
   pairs first, then the smallest summed cost.
3. :func:`associate_pairs` — both, with the two-stage order of
   :func:`tracking.association.associate_in_stages` (established tracks first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from kernels.errors import InvalidInputError
from tracking import _fast
from tracking.association import Assignment, CostMetric

__all__ = ["Candidates", "assign_pairs", "associate_pairs", "candidate_pairs"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
_BLOCKED = 1e9
_PACK_ENTRIES = 4096
"""All components go to one ``linear_sum_assignment`` call when their rows x columns stay below this;
otherwise each component is solved on its own."""
_CIRCLE_SLACK = 1e-6
"""Relative slack on the circumscribed-circle gate of IoU metrics (float32 boxes)."""


@dataclass(frozen=True, slots=True)
class Candidates:
    """Gated (track, detection) pairs.

    Parameters
    ----------
    tracks : ndarray of shape (K,), int64
        Track rows.
    detections : ndarray of shape (K,), int64
        Detection rows.
    costs : ndarray of shape (K,), float64
        Association costs (units of the metric, see :class:`tracking.association.CostMetric`).
    """

    tracks: I64
    detections: I64
    costs: F64

    def select(self, keep: npt.NDArray[Any]) -> Candidates:
        """The pairs where the mask ``keep`` is true (or at the indices ``keep``)."""
        return Candidates(self.tracks[keep], self.detections[keep], self.costs[keep])


def candidate_pairs(
    tracks: F64,
    detections: F64,
    track_classes: npt.NDArray[np.int32],
    detection_classes: npt.NDArray[np.int32],
    metric: CostMetric,
    limits: F64,
    dist_limits: F64 | None = None,
    innovation_cov: F64 | None = None,
) -> Candidates:
    """Same-class pairs within the gates and their costs.

    Parameters
    ----------
    tracks : ndarray of shape (T, 7), float64
        Predicted track boxes, world frame [m, rad].
    detections : ndarray of shape (D, 7), float64
        Detection boxes, same frame.
    track_classes, detection_classes : ndarray of int32
        Class ids; pairs of different classes are never candidates.
    metric : CostMetric
        Cost and gate (see :mod:`tracking.association`).
    limits : ndarray of shape (T,), float64
        Largest cost per track (:func:`tracking.association.gate_limits` of ``metric``).
    dist_limits : ndarray of shape (T,), float64, optional
        :attr:`CostMetric.MAHALANOBIS` only: the centre-distance gate [m] per track.
    innovation_cov : ndarray of shape (T, 2, 2), float64, optional
        :attr:`CostMetric.MAHALANOBIS` only: BEV innovation covariances ``S`` [m²].

    Returns
    -------
    Candidates
        The allowed pairs (track-major) and their costs.
    """
    nd = detections.shape[0]
    txy = np.ascontiguousarray(tracks[:, :2])
    dxy = np.ascontiguousarray(detections[:, :2])
    tcls = np.ascontiguousarray(track_classes, np.int32)
    dcls = np.ascontiguousarray(detection_classes, np.int32)
    if metric is CostMetric.CENTER_DISTANCE:
        ti, di, dist = _fast.gate_pairs(txy, tcls, limits, dxy, dcls, np.zeros(nd))
        return Candidates(ti, di, dist)
    if metric is CostMetric.MAHALANOBIS:
        if dist_limits is None or innovation_cov is None:
            raise InvalidInputError("metric MAHALANOBIS needs dist_limits and innovation_cov")
        ti, di, _ = _fast.gate_pairs(txy, tcls, dist_limits, dxy, dcls, np.zeros(nd))
        d2, cost = _fast.mahalanobis_pairs(txy, np.ascontiguousarray(innovation_cov), dxy, ti, di)
        return Candidates(ti, di, cost).select(d2 <= limits[ti])
    if metric in (CostMetric.BEV_IOU, CostMetric.GIOU_3D):
        from kernels._box_host import box_params

        pa = box_params(tracks.astype(np.float32))
        pb = box_params(detections.astype(np.float32))
        r_t, r_d = pa[:, 8] * (1 + _CIRCLE_SLACK), pb[:, 8] * (1 + _CIRCLE_SLACK)
        # (G)IoU > 0 needs overlapping circumscribed circles; a gate that admits IoU <= 0 admits all.
        radius = np.where(limits < 1.0, r_t, np.inf)
        ti, di, _ = _fast.gate_pairs(txy, tcls, radius, dxy, dcls, r_d)
        giou = metric is CostMetric.GIOU_3D
        iou = _fast.pair_ious(pa, pb, ti, di, giou, giou).astype(np.float32)
        cost = 1.0 - iou.astype(np.float64)
        return Candidates(ti, di, cost).select(cost <= limits[ti])
    raise InvalidInputError(f"unknown metric {metric!r}; expected one of {list(CostMetric)}")


def assign_pairs(pairs: Candidates, n_tracks: int, n_detections: int) -> I64:
    """Indices (into ``pairs``) of a minimum-cost matching with the most pairs.

    Parameters
    ----------
    pairs : Candidates
        Allowed pairs and costs.
    n_tracks, n_detections : int
        Number of track and detection rows.

    Returns
    -------
    ndarray of int64
        The chosen pairs.
    """
    k = pairs.tracks.size
    if k == 0:
        return np.zeros(0, np.int64)
    label, alone = _fast.components(pairs.tracks, pairs.detections, n_tracks, n_detections)
    if alone.all():
        return np.arange(k, dtype=np.int64)
    chosen = [np.flatnonzero(alone)]
    multi = np.flatnonzero(~alone)
    n_r, n_c = np.unique(pairs.tracks[multi]).size, np.unique(pairs.detections[multi]).size
    if n_r * n_c <= _PACK_ENTRIES:  # all components in one call (block diagonal, the rest blocked)
        chosen.append(_solve(pairs, multi))
    else:
        order = multi[np.argsort(label[multi], kind="stable")]
        lab = label[order]
        starts = np.flatnonzero(np.concatenate([[True], lab[1:] != lab[:-1]]))
        for s, e in zip(starts.tolist(), [*starts[1:].tolist(), order.size], strict=True):
            chosen.append(_solve(pairs, order[s:e]))
    return np.concatenate(chosen).astype(np.int64)


def _solve(pairs: Candidates, idx: I64) -> I64:
    """``linear_sum_assignment`` over the pairs ``idx`` (other entries blocked)."""
    rows, r_inv = np.unique(pairs.tracks[idx], return_inverse=True)
    cols, c_inv = np.unique(pairs.detections[idx], return_inverse=True)
    sub = np.full((rows.size, cols.size), _BLOCKED)
    slot = np.full((rows.size, cols.size), -1, np.int64)
    sub[r_inv, c_inv] = pairs.costs[idx]
    slot[r_inv, c_inv] = idx
    r, c = linear_sum_assignment(sub)
    pick = slot[r, c]
    return np.asarray(pick[pick >= 0], np.int64)


def associate_pairs(
    pairs: Candidates, n_tracks: int, n_detections: int, first: Bools | None = None
) -> Assignment:
    """Assignment over candidate pairs; with ``first``, those tracks are served before the others.

    Parameters
    ----------
    pairs : Candidates
        Allowed pairs and costs.
    n_tracks, n_detections : int
        Number of track and detection rows.
    first : ndarray of shape (T,), bool, optional
        Tracks matched in a first stage (e.g. confirmed and lost ones); the others get the detections
        left over (as :func:`tracking.association.associate_in_stages`).

    Returns
    -------
    Assignment
        Matches and unmatched rows of each side.
    """
    if first is None or first.all() or not first.any():
        pick = assign_pairs(pairs, n_tracks, n_detections)
    else:
        stage1 = first[pairs.tracks]
        pick1 = np.flatnonzero(stage1)[assign_pairs(pairs.select(stage1), n_tracks, n_detections)]
        taken = np.zeros(n_detections, bool)
        taken[pairs.detections[pick1]] = True
        rest = np.flatnonzero(~stage1 & ~taken[pairs.detections])
        pick2 = rest[assign_pairs(pairs.select(rest), n_tracks, n_detections)]
        pick = np.concatenate([pick1, pick2])
    matches = np.column_stack([pairs.tracks[pick], pairs.detections[pick]]).astype(np.int64)
    free_t = np.ones(n_tracks, bool)
    free_t[matches[:, 0]] = False
    free_d = np.ones(n_detections, bool)
    free_d[matches[:, 1]] = False
    return Assignment(matches, np.flatnonzero(free_t), np.flatnonzero(free_d), pairs.costs[pick])
