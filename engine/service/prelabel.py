"""The pre-labeling job: log -> shared frame -> proposals -> tracks -> links -> validation.

A job runner calls any :class:`Prelabeler` (a protocol, so the pipeline is swappable, e.g. by a model
server or a test double); :class:`DefaultPrelabeler` runs the stages available in this build and
records per-stage counts and times. Stages report progress through a callback that may raise
:class:`JobCancelled` to stop at the next boundary.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.annotations import Annotations
from engine.io.annotations_json import annotations_to_dict
from engine.log import Log
from engine.pipeline import prelabel
from engine.stages.config import PipelineConfig
from kernels.errors import InvalidInputError

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
    max_sweeps : int, optional
        Use only the first sweeps (previews).
    min_score : float
        Proposals below this score are dropped before tracking.

    Notes
    -----
    Sweeps are deskewed by the shared-frame stage unless the log says they are already motion
    compensated (``log.metadata["lidar_motion_compensated"]``), so there is no deskew option.
    min_track_length : int
        Tracks observed in fewer frames are dropped.
    """

    lidar_id: str | None = None
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


class DefaultPrelabeler:
    """The built-in pipeline: :func:`engine.pipeline.prelabel` with the job's options mapped onto its config.

    Parameters
    ----------
    config : PipelineConfig, optional
        Base pipeline configuration; the job options override frames and tracking thresholds.
    """

    _ORDER = ("shared_frame", "proposals", "tracks", "links", "validation")

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self.config = config or PipelineConfig()

    def __call__(self, log: Log, options: PrelabelOptions, progress: Progress) -> PrelabelResult:
        """Run the pipeline on ``log``, reporting the fraction done over all stages."""
        if options.lidar_id is not None and options.lidar_id not in log.lidar:
            raise InvalidInputError(
                f"unknown lidar_id {options.lidar_id!r}; expected one of {sorted(log.lidar)}"
            )
        config = self.config.model_copy(
            update={
                "frames": self.config.frames.model_copy(
                    update={"lidar": options.lidar_id, "max_frames": options.max_sweeps}
                ),
                "tracks": self.config.tracks.model_copy(
                    update={"min_score": options.min_score, "min_detections": options.min_track_length}
                ),
            }
        )

        def on_progress(stage: str, done: int, total: int) -> None:
            i = self._ORDER.index(stage) if stage in self._ORDER else 0
            progress(stage, (i + (done / total if total else 1.0)) / len(self._ORDER))

        result = prelabel(log, config, progress=on_progress)
        stages = tuple(StageReport(s.name, s.status, s.items, s.seconds, s.detail) for s in result.stages)
        findings = tuple(f.to_dict() for f in result.findings)
        progress("done", 1.0)
        return PrelabelResult(result.annotations, stages, findings, {"log": log.name, **result.summary()})
