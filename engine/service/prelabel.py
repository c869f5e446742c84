"""The pre-labeling job: log -> shared frame -> proposals -> tracks -> links -> validation.

A job runner calls any :class:`Prelabeler` (a protocol, so the pipeline is swappable, e.g. by a model
server or a test double); :class:`DefaultPrelabeler` runs the stages available in this build and
records per-stage counts and times. Stages report progress through a callback that may raise
:class:`JobCancelled` to stop at the next boundary.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from calibration.se3 import quat_wxyz_to_yaw
from engine.annotations import Annotations, CoordinateFrame, CuboidTrack
from engine.io.annotations_json import annotations_to_dict
from engine.linking import FootprintConfig, compute_footprints
from engine.log import Log
from engine.proposals import ProposalConfig, ProposalSet, propose_log
from engine.validation import validate_report
from kernels.errors import InvalidInputError
from tracking import Detections, refine_offline

__all__ = [
    "DefaultPrelabeler",
    "JobCancelled",
    "PrelabelOptions",
    "PrelabelResult",
    "Prelabeler",
    "Progress",
    "StageReport",
    "load_prelabeler",
]

logger = logging.getLogger(__name__)

Progress = Callable[[str, float], None]
"""``progress(stage, fraction_done)``; fraction in [0, 1] over the whole job. May raise JobCancelled."""


class JobCancelled(Exception):
    """Raised by a progress callback to stop a job at a stage boundary."""


@dataclass(frozen=True, slots=True)
class PrelabelOptions:
    """Options of one pre-labeling job.

    Parameters
    ----------
    lidar_id : str, optional
        Lidar whose sweeps are proposed on (the only one when omitted).
    deskew : bool
        Motion-compensate sweeps before proposing.
    max_sweeps : int, optional
        Use only the first sweeps (previews).
    min_score : float
        Proposals below this score are dropped before tracking.
    min_track_length : int
        Tracks observed in fewer frames are dropped.
    """

    lidar_id: str | None = None
    deskew: bool = False
    max_sweeps: int | None = None
    min_score: float = 0.05
    min_track_length: int = 2


@dataclass(frozen=True, slots=True)
class StageReport:
    """What one stage did."""

    name: str
    status: str
    """``"ok"``, or ``"unavailable"`` when this build has no such stage yet."""
    count: int
    seconds: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PrelabelResult:
    """Output of a pre-labeling job."""

    annotations: Annotations
    stages: tuple[StageReport, ...]
    findings: tuple[dict[str, Any], ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (annotations in the native ``fusionlabel-annotations`` schema)."""
        return {
            "annotations": annotations_to_dict(self.annotations),
            "stages": [
                {
                    "name": s.name,
                    "status": s.status,
                    "count": s.count,
                    "seconds": s.seconds,
                    "detail": s.detail,
                }
                for s in self.stages
            ],
            "findings": list(self.findings),
            "metadata": dict(self.metadata),
        }


class Prelabeler(Protocol):
    """Anything that turns a log into pre-labels."""

    def __call__(self, log: Log, options: PrelabelOptions, progress: Progress) -> PrelabelResult:
        """Run the pipeline on ``log``, calling ``progress`` between units of work."""
        ...


def load_prelabeler(spec: str) -> Prelabeler:
    """Instantiate ``"module:attribute"`` (a class or factory called without arguments)."""
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise InvalidInputError(f"prelabeler must look like 'module:attribute', got {spec!r}")
    factory = getattr(importlib.import_module(module), attr)
    instance: Prelabeler = factory()
    return instance


def _world_detections(log: Log, proposals: ProposalSet, min_score: float) -> Detections:
    """Ego-frame proposals of one sweep moved to the world frame (pose at the sweep's timestamp)."""
    keep = proposals.scores >= min_score
    boxes = proposals.boxes[keep].astype(np.float64)
    t = int(proposals.timestamp_us or 0)
    pose = log.trajectory.pose_at(t)
    if boxes.shape[0]:
        boxes[:, :3] = pose.transform_points(boxes[:, :3])
        boxes[:, 6] += float(quat_wxyz_to_yaw(pose.quaternion_wxyz))
        boxes[:, 6] = (boxes[:, 6] + np.pi) % (2 * np.pi) - np.pi
    return Detections(t, boxes, proposals.scores[keep], proposals.class_ids[keep])


class DefaultPrelabeler:
    """The built-in pipeline: geometric proposals, offline tracking, camera footprints, validation.

    Parameters
    ----------
    proposal_config : ProposalConfig, optional
        Settings of the model-free proposal step.
    """

    def __init__(self, proposal_config: ProposalConfig | None = None) -> None:
        self.proposal_config = proposal_config or ProposalConfig()

    def __call__(self, log: Log, options: PrelabelOptions, progress: Progress) -> PrelabelResult:
        """Run every available stage on ``log`` (see the module docstring)."""
        stages: list[StageReport] = []
        lidar = options.lidar_id
        if lidar is None:
            if len(log.lidar) != 1:
                raise InvalidInputError(f"log has lidars {sorted(log.lidar)}; pass lidar_id to pick one")
            lidar = next(iter(log.lidar))
        if lidar not in log.lidar:
            raise InvalidInputError(f"unknown lidar_id {lidar!r}; expected one of {sorted(log.lidar)}")
        n = len(log.lidar[lidar])
        if options.max_sweeps is not None:
            n = min(n, options.max_sweeps)
        # 1-2. shared frame + proposals: each sweep moved to the ego frame (deskewed on request), proposed on
        t0 = time.perf_counter()
        frames: list[Detections] = []
        classes: tuple[str, ...] = ()
        sweeps: Iterator[ProposalSet] = propose_log(
            log, config=self.proposal_config, lidar=lidar, deskew=options.deskew
        )
        for i, proposals in zip(range(n), sweeps, strict=False):
            classes = proposals.classes
            frames.append(_world_detections(log, proposals, options.min_score))
            progress("proposals", 0.8 * (i + 1) / max(n, 1))
        stages.append(
            StageReport("shared_frame", "ok", len(frames), 0.0, f"lidar {lidar}, deskew={options.deskew}")
        )
        stages.append(StageReport("proposals", "ok", sum(len(f) for f in frames), time.perf_counter() - t0))
        # 3. tracks: forward/backward association, stitching and smoothing over the whole log
        t0 = time.perf_counter()
        tracks = []
        for rt in refine_offline(frames):
            if int(rt.smoothed.observed.sum()) < options.min_track_length:
                continue
            p = rt.smoothed.path
            label = classes[rt.class_id] if 0 <= rt.class_id < len(classes) else "unknown"
            tracks.append(
                CuboidTrack(
                    f"track-{rt.track_id}",
                    label,
                    CoordinateFrame.WORLD,
                    p.timestamps_us,
                    p.centers,
                    p.sizes,
                    p.rotations_wxyz,
                    p.confidence,
                )
            )
        annotations = Annotations(tuple(tracks))
        stages.append(StageReport("tracks", "ok", len(tracks), time.perf_counter() - t0))
        progress("tracks", 0.85)
        # 4. links: every track posed at every camera capture in its span; visible footprints counted
        t0 = time.perf_counter()
        visible: dict[str, int] = {}
        if tracks and log.cameras:
            found = compute_footprints(log, annotations, config=FootprintConfig(lidar_occlusion=False))
            for row in np.flatnonzero(found.visible).tolist():
                tid = found.track_ids[int(found.track[row])]
                visible[tid] = visible.get(tid, 0) + 1
        detail = "visible (track, camera frame) footprints"
        stages.append(StageReport("links", "ok", sum(visible.values()), time.perf_counter() - t0, detail))
        progress("links", 0.92)
        # 5. validation: the rule engine over the pre-labels
        t0 = time.perf_counter()
        report = validate_report(log, annotations)
        findings = tuple(f.to_dict() for f in report.findings)
        stages.append(StageReport("validation", "ok", len(findings), time.perf_counter() - t0))
        progress("done", 1.0)
        meta = {"log": log.name, "lidar": lidar, "sweeps": n, "visible_camera_frames": visible}
        return PrelabelResult(annotations, tuple(stages), findings, meta)
