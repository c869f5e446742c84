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

__all__ = ["GeometricDetector", "HeadingHook", "propose"]

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
    priors = _priors(cfg.fit.priors_file)
    classes = tuple(p.name for p in priors)
    pts = as_array("points", points, np.float32, (None, 3))
    if pts.shape[0] == 0:
        return ProposalSet.empty(classes, timestamp_us)
    gc, cc, fc = cfg.ground, cfg.cluster, cfg.fit
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
    fitted = fit_boxes(
        pts,
        clusters.labels,
        pts[:, 2] - ground.height,
        priors_array(priors),
        n_clusters=clusters.n_clusters,
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
    boxes, class_id, score = fitted.boxes, fitted.class_id, fitted.score
    # 3b. shape rules: fragments, poles and blobs sized like a pedestrian/cyclist become unknown
    class_id = refine_classes(
        pts,
        np.asarray(ground.height, np.float32),
        np.asarray(clusters.labels, np.int32),
        np.asarray(boxes, np.float32),
        np.asarray(class_id, np.int32),
        np.asarray(fitted.cluster, np.int64),
        classes,
        cfg.classes,
    )
    # 4. size-prior filter
    ok = score >= cfg.min_score
    if not cfg.keep_unknown:
        ok &= class_id >= 0
    boxes, class_id, score = boxes[ok], class_id[ok], score[ok]
    if heading_hook is not None:
        boxes = as_array(
            "heading_hook result", heading_hook(boxes.copy(), pts), np.float32, (boxes.shape[0], 7)
        )
    # 5. rotated BEV NMS
    if boxes.shape[0] > 1:
        kept = _nms(boxes, score, cfg.nms_iou)
        boxes, class_id, score = boxes[kept], class_id[kept], score[kept]
    return ProposalSet(boxes, score, class_id, classes, timestamp_us)


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
