"""2D observations matched to 3D tracks, per camera frame, by optimal assignment on footprint IoU.

In every camera frame the observations and the tracks visible there (footprint with a box) form a
cost matrix ``1 - IoU(observation box, footprint box)`` (the larger of the IoUs with the amodal
footprint box and with its visible part, so modal human boxes of occluded objects still match). Pairs
are **gated** out (never assigned) when

* the classes disagree: the observation's label must equal the track's, or map onto it through
  ``label_map`` (e.g. ``{"vehicle": ("car", "truck")}``);
* the depth is implausible: an observation with ``depth_m`` must lie within
  ``max(depth_abs_tol_m, depth_rel_tol * range)`` of the footprint's range; without one, the box
  height and the footprint height must agree within a factor ``max_scale_ratio`` (apparent size is
  inverse to depth) unless either is cut by the image border;
* the IoU is below ``min_iou``.

:func:`scipy.optimize.linear_sum_assignment` then picks the matching of least total cost among the
ungated pairs (gated pairs carry a prohibitive cost and are dropped from the result).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from engine.linking.footprints import Footprints
from engine.linking.observations import Observation2D

__all__ = ["AssociationConfig", "Match", "associate", "box_iou_matrix"]

F64 = npt.NDArray[np.float64]
_GATED = 1e6


@dataclass(frozen=True, slots=True)
class AssociationConfig:
    """Gates of :func:`associate` (see the module docstring)."""

    min_iou: float = 0.3
    depth_rel_tol: float = 0.3
    depth_abs_tol_m: float = 3.0
    max_scale_ratio: float = 2.0
    label_map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    border_px: float = 1.0


@dataclass(frozen=True, slots=True)
class Match:
    """One observation linked to one track."""

    obs_id: str
    track_id: str
    sensor_id: str
    timestamp_us: int
    iou: float


def box_iou_matrix(a: F64, b: F64) -> F64:
    """IoU of axis-aligned boxes ``(x0, y0, x1, y1)``: (N, 4) x (M, 4) -> (N, M); 0 for NaN boxes."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ix = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(np.nan_to_num(ix), 0.0, None) * np.clip(np.nan_to_num(iy), 0.0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, inter / union, 0.0)
    return np.nan_to_num(iou)


def _label_ok(obs_label: str, track_label: str, label_map: Mapping[str, tuple[str, ...]]) -> bool:
    return obs_label == track_label or track_label in label_map.get(obs_label, ())


def _touches_border(box: F64, w: float, h: float, px: float) -> npt.NDArray[np.bool_]:
    return (box[:, 0] <= px) | (box[:, 1] <= px) | (box[:, 2] >= w - px) | (box[:, 3] >= h - px)


def associate(
    observations: Sequence[Observation2D],
    footprints: Footprints,
    track_labels: Mapping[str, str],
    image_sizes: Mapping[str, tuple[int, int]],
    config: AssociationConfig | None = None,
) -> tuple[Match, ...]:
    """Link observations to tracks, one optimal assignment per camera frame.

    Parameters
    ----------
    observations : sequence of Observation2D
        Checked observations (:func:`engine.linking.check_observations`): timestamps are captures.
    footprints : Footprints
        Footprints of the tracks in (at least) the observed camera frames.
    track_labels : mapping of str to str
        Class of every track id.
    image_sizes : mapping of str to (int, int)
        ``(width, height)`` of every camera.
    config : AssociationConfig, optional
        Gates.

    Returns
    -------
    tuple of Match
        At most one match per observation and per (track, frame), in observation order per frame.
    """
    cfg = AssociationConfig() if config is None else config
    groups: dict[tuple[str, int], list[Observation2D]] = {}
    for o in observations:
        groups.setdefault((o.sensor_id, o.timestamp_us), []).append(o)
    visible = footprints.visible
    out: list[Match] = []
    for (sid, t), obs in groups.items():
        rows = footprints.rows_in(sid, t)
        rows = rows[visible[rows]]
        if rows.size == 0:
            continue
        w, h = image_sizes[sid]
        ob = np.array([o.box for o in obs], np.float64)
        fb = footprints.box[rows]
        iou = np.maximum(box_iou_matrix(ob, fb), box_iou_matrix(ob, footprints.visible_box[rows]))
        ok = iou >= cfg.min_iou
        tids = [footprints.track_ids[int(footprints.track[r])] for r in rows]
        labels_ok = np.array(
            [[_label_ok(o.label, track_labels[tid], cfg.label_map) for tid in tids] for o in obs]
        )
        ok &= labels_ok.reshape(ok.shape)
        rng = footprints.depth_m[rows]
        depth = np.array([np.nan if o.depth_m is None else o.depth_m for o in obs])
        tol = np.maximum(cfg.depth_abs_tol_m, cfg.depth_rel_tol * rng)[None, :]
        has_depth = np.isfinite(depth)[:, None]
        depth_ok = np.abs(np.nan_to_num(depth)[:, None] - rng[None, :]) <= tol
        ratio = (ob[:, 3] - ob[:, 1])[:, None] / np.maximum(fb[:, 3] - fb[:, 1], 1e-9)[None, :]
        cut = (
            _touches_border(ob, w, h, cfg.border_px)[:, None]
            | _touches_border(fb, w, h, cfg.border_px)[None, :]
        )
        scale_ok = cut | ((ratio <= cfg.max_scale_ratio) & (ratio >= 1.0 / cfg.max_scale_ratio))
        ok &= np.where(has_depth, depth_ok, scale_ok)
        cost = np.where(ok, 1.0 - iou, _GATED)
        oi, ri = linear_sum_assignment(cost)
        for i, j in zip(oi, ri, strict=True):
            if ok[i, j]:
                out.append(Match(obs[i].obs_id, tids[j], sid, t, float(iou[i, j])))
    return tuple(out)
