"""The model-free proposal step: ground removal -> clustering -> cuboid fit -> class rules -> filter -> NMS.

Every stage is a kernel of :mod:`kernels.geometry` (CPU or CUDA from one source); this module wires
them with one :class:`~engine.proposals.config.ProposalConfig`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.proposals.classify import refine_classes
from engine.proposals.config import ProposalConfig
from engine.proposals.priors import SizePrior, load_size_priors, priors_array
from engine.proposals.types import ProposalSet
from kernels.box_iou import nms
from kernels.geometry import cluster_points, fit_boxes, segment_ground
from kernels.validation import as_array

__all__ = ["GeometricDetector", "HeadingHook", "propose", "propose_stages"]

logger = logging.getLogger(__name__)

HeadingHook = Callable[[npt.NDArray[np.float32], npt.NDArray[np.float32]], npt.NDArray[np.float32]]
"""``hook(boxes (M, 7), points (N, 3)) -> boxes (M, 7)``: a custom heading disambiguation applied
after fitting (e.g. flip yaws to agree with a track's motion); must return new boxes."""


def _nms(
    boxes: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], iou: float
) -> npt.NDArray[np.int64]:
    """Indices kept by rotated BEV NMS (highest score first)."""
    return np.asarray(nms(boxes, scores, iou, mode="bev"), dtype=np.int64)


@functools.lru_cache(maxsize=8)
def _priors(path: str | None) -> tuple[SizePrior, ...]:
    return load_size_priors(path)


def propose(
    points: Any,
    *,
    config: ProposalConfig | None = None,
    timestamp_us: int | None = None,
    heading_hook: HeadingHook | None = None,
    velocity: Any = None,
) -> ProposalSet:
    """Cuboid proposals from one sweep without a learned model.

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32, ego frame (x forward, y left, z up) [m]
        One (fused) sweep.
    config : ProposalConfig, optional
        Stage parameters; defaults when omitted.
    timestamp_us : int, optional
        Stamped onto the result [µs].
    heading_hook : callable, optional
        See :data:`HeadingHook`; runs after the kernel's heading rule, before NMS.
    velocity : ndarray of shape (K, 2), float32, optional
        Per-cluster velocity for ``fit.heading == "velocity"`` (rarely known before tracking).

    Returns
    -------
    ProposalSet
        Boxes in the ego frame, scores and class guesses (classes from the size priors).
    """
    cfg = config or ProposalConfig()
    pts = as_array("points", points, np.float32, (None, 3))
    stages = propose_stages(pts, cfg, heading_hook=heading_hook, velocity=velocity, timestamp_us=timestamp_us)
    final: ProposalSet = stages["final"]
    return final


def propose_stages(
    pts: npt.NDArray[np.float32],
    cfg: ProposalConfig,
    *,
    heading_hook: HeadingHook | None = None,
    velocity: Any = None,
    timestamp_us: int | None = None,
) -> dict[str, Any]:
    """:func:`propose` with every stage's output (for diagnostics and tests).

    Returns a dict: ``classes``; per point ``keep`` (clustered mask), ``height`` (above ground),
    ``labels`` (cluster); per fitted row ``boxes``, ``fit_class`` (size prior guess), ``class_id``
    (after the shape rules), ``score``, ``cluster``; ``kept_rows`` (rows that reach the result, in
    its order) and ``final`` (the :class:`ProposalSet`).
    """
    priors = _priors(cfg.fit.priors_file)
    classes = tuple(p.name for p in priors)
    if pts.shape[0] == 0:
        e = np.zeros(0, np.int64)
        return {
            "classes": classes,
            "keep": np.zeros(0, bool),
            "height": np.zeros(0, np.float32),
            "labels": np.zeros(0, np.int32),
            "boxes": np.zeros((0, 7), np.float32),
            "fit_class": e.astype(np.int32),
            "class_id": e.astype(np.int32),
            "score": np.zeros(0, np.float32),
            "cluster": e,
            "kept_rows": e,
            "final": ProposalSet.empty(classes, timestamp_us),
        }
    gc, cc = cfg.ground, cfg.cluster
    # 1. ground: cell-wise lowest points + slope-limited envelope
    ground = segment_ground(
        pts,
        cell_size_m=gc.cell_size_m,
        half_extent_m=cfg.max_range_m,
        max_slope=gc.max_slope,
        height_threshold_m=gc.height_threshold_m,
        iterations=gc.iterations,
        backend=cfg.backend,
    )
    # 2. objects: non-ground points below the canopy band, within range, in connected voxels
    in_range = np.hypot(pts[:, 0], pts[:, 1]) < cfg.max_range_m
    keep = ~ground.ground & (ground.height < cc.max_height_m) & in_range
    clusters = cluster_points(
        pts,
        keep,
        voxel_size_m=cc.voxel_size_m,
        half_extent_m=cfg.max_range_m,
        z_reach=cc.z_reach,
        backend=cfg.backend,
    )
    # 3. one cuboid per cluster, classified and grown by the size priors
    ground_z = pts[:, 2] - np.asarray(ground.height, np.float32)
    fitted = _fit(pts, clusters.labels, clusters.n_clusters, ground_z, cfg, priors, velocity)
    labels = np.asarray(clusters.labels, np.int32)
    boxes = np.asarray(fitted.boxes, np.float32)
    fit_class = np.asarray(fitted.class_id, np.int32)
    score = np.asarray(fitted.score, np.float32)
    cluster = np.asarray(fitted.cluster, np.int64)
    # 3a. clusters no prior admits (too large): finer voxels split off people standing at walls
    if cc.split_voxel_size_m is not None and (fit_class < 0).any():
        labels, boxes, fit_class, score, cluster = _split_large(
            pts,
            labels,
            clusters.n_clusters,
            ground_z,
            boxes,
            fit_class,
            score,
            cluster,
            cfg,
            priors,
            velocity,
        )
    # 3b. shape rules: fragments, poles and blobs sized like a pedestrian/cyclist become unknown
    class_id = refine_classes(
        pts,
        np.asarray(ground.height, np.float32),
        labels,
        boxes,
        fit_class,
        cluster,
        classes,
        cfg.classes,
    )
    # 4. size-prior filter
    ok = score >= cfg.min_score
    if not cfg.keep_unknown:
        ok &= class_id >= 0
    rows = np.flatnonzero(ok)
    all_boxes, all_class, all_score = boxes, class_id, score
    boxes, class_id, score = boxes[ok], class_id[ok], score[ok]
    if heading_hook is not None:
        boxes = as_array(
            "heading_hook result", heading_hook(boxes.copy(), pts), np.float32, (boxes.shape[0], 7)
        )
    # 5. rotated BEV NMS
    if boxes.shape[0] > 1:
        kept = _nms(boxes, score, cfg.nms_iou)
        boxes, class_id, score, rows = boxes[kept], class_id[kept], score[kept], rows[kept]
    return {
        "classes": classes,
        "keep": keep,
        "height": np.asarray(ground.height, np.float32),
        "labels": labels,
        "boxes": np.asarray(all_boxes, np.float32),
        "fit_class": np.asarray(fit_class, np.int32),
        "class_id": np.asarray(all_class, np.int32),
        "score": np.asarray(all_score, np.float32),
        "cluster": cluster,
        "kept_rows": rows,
        "final": ProposalSet(boxes, score, class_id, classes, timestamp_us),
    }


def _fit(
    pts: npt.NDArray[np.float32],
    labels: Any,
    n_clusters: int,
    ground_z: npt.NDArray[np.float32],
    cfg: ProposalConfig,
    priors: tuple[SizePrior, ...],
    velocity: Any,
) -> Any:
    fc = cfg.fit
    return fit_boxes(
        pts,
        labels,
        ground_z,
        priors_array(priors),
        n_clusters=n_clusters,
        min_points=fc.min_points,
        heading=fc.heading,
        velocity=velocity,
        sensor_xy=cfg.sensor_xy,
        extend=fc.extend,
        yaw_steps=fc.yaw_steps,
        yaw_refine=fc.yaw_refine,
        max_points=fc.max_points,
        min_distance_m=fc.min_distance_m,
        criterion=fc.criterion,
        visible_edges=fc.visible_edges,
        backend=cfg.backend,
    )


def _split_large(
    pts: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int32],
    n_clusters: int,
    ground_z: npt.NDArray[np.float32],
    boxes: npt.NDArray[np.float32],
    fit_class: npt.NDArray[np.int32],
    score: npt.NDArray[np.float32],
    cluster: npt.NDArray[np.int64],
    cfg: ProposalConfig,
    priors: tuple[SizePrior, ...],
    velocity: Any,
) -> tuple[
    npt.NDArray[np.int32],
    npt.NDArray[np.float32],
    npt.NDArray[np.int32],
    npt.NDArray[np.float32],
    npt.NDArray[np.int64],
]:
    """Cluster the points of prior-less (too large) clusters again with finer voxels.

    Returns new point labels (sub-clusters numbered from ``n_clusters``) and the fitted rows with the
    sub-cluster rows guessed as one of ``cluster.split_classes`` appended; the parent rows stay (unknown).
    """
    cc = cfg.cluster
    assert cc.split_voxel_size_m is not None
    idx = np.flatnonzero(np.isin(labels, cluster[fit_class < 0]))
    sub_pts = np.ascontiguousarray(pts[idx])
    sub = cluster_points(
        sub_pts,
        voxel_size_m=cc.split_voxel_size_m,
        half_extent_m=cfg.max_range_m,
        z_reach=cc.z_reach,
        backend=cfg.backend,
    )
    if sub.n_clusters == 0:
        return labels, boxes, fit_class, score, cluster
    sub_labels = np.asarray(sub.labels, np.int32)
    # only sub-clusters small enough for a kept class are fitted (a split building has thousands)
    names = [p.name for p in priors]
    wanted = [names.index(n) for n in cc.split_classes if n in names]
    if not wanted:
        return labels, boxes, fit_class, score, cluster
    reach = max(max(priors[i].length.max, priors[i].width.max) for i in wanted) * np.sqrt(2.0)
    lo = np.full((sub.n_clusters, 2), np.inf)
    hi = np.full((sub.n_clusters, 2), -np.inf)
    ok = sub_labels >= 0
    np.minimum.at(lo, sub_labels[ok], sub_pts[ok, :2])
    np.maximum.at(hi, sub_labels[ok], sub_pts[ok, :2])
    small = ((hi - lo) <= reach).all(axis=1)
    sub_labels = np.where(ok & small[np.maximum(sub_labels, 0)], sub_labels, -1).astype(np.int32)
    # velocity is per parent cluster; the sub-clusters fit without it
    fitted = _fit(sub_pts, sub_labels, sub.n_clusters, ground_z[idx], cfg, priors, None)
    take = np.isin(np.asarray(fitted.class_id), wanted)
    if not take.any():
        return labels, boxes, fit_class, score, cluster
    labels = labels.copy()
    labels[idx] = np.where(sub_labels >= 0, sub_labels + n_clusters, labels[idx])
    return (
        labels,
        np.concatenate([boxes, np.asarray(fitted.boxes, np.float32)[take]]),
        np.concatenate([fit_class, np.asarray(fitted.class_id, np.int32)[take]]),
        np.concatenate([score, np.asarray(fitted.score, np.float32)[take]]),
        np.concatenate([cluster, np.asarray(fitted.cluster, np.int64)[take] + n_clusters]),
    )


class GeometricDetector:
    """The model-free proposal step as a :class:`~engine.proposals.detectors.Detector`.

    Parameters
    ----------
    config : ProposalConfig, optional
        Stage parameters.
    heading_hook : callable, optional
        See :data:`HeadingHook`.
    """

    def __init__(self, config: ProposalConfig | None = None, heading_hook: HeadingHook | None = None) -> None:
        self.config = config or ProposalConfig()
        self.heading_hook = heading_hook

    def __call__(self, points: Any, *, intensity: Any = None, timestamp_us: int | None = None) -> ProposalSet:
        """Proposals for one sweep (``intensity`` is unused)."""
        return propose(points, config=self.config, timestamp_us=timestamp_us, heading_hook=self.heading_hook)
