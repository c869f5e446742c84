"""Pre-labeling: a drive log in, world-frame cuboid tracks with links and findings out.

::

    frames         the reference lidar's sweep times
    shared frame   every lidar and radar deskewed into the ego frame at each frame time   (per frame)
    proposals      model-free cuboids on the fused lidar points, ego frame                 (per frame)
    tracks         proposals to the world (log trajectory), online tracker + offline refinement
    links          each track's footprint in every camera capture; 2D observations linked
    validation     the rule engine on the result

:func:`prelabel` is :func:`run_frame_stages` (shared frame and proposals: every frame independent of
the others, the expensive part) followed by :func:`run_log_stages` (tracks, links, validation over the
whole log); distributed executors (:mod:`engine.executors`) run the first per chunk of frames and the
second once per log, so a chunked run gives the same tracks as an unchunked one.

Stages come from :class:`~engine.stages.PipelineConfig` through small factories
(:mod:`engine.stages.factories`); per-frame stages are chained lazily, so a frame's fused points are
dropped once its proposals exist. Every stage is timed with ``time.perf_counter_ns`` (per frame where
it runs per frame) and reports progress through ``progress(stage, done, total)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from engine.annotations import Annotations
from engine.linking import LinkResult, Observation2D
from engine.log import Log
from engine.proposals import Detector, ProposalSet
from engine.shared_frame import SharedFrame
from engine.stages import (
    PipelineConfig,
    Progress,
    StageClock,
    StageStats,
    frame_times,
    link_stage,
    proposal_stage,
    shared_frame_stage,
    track_stage,
    validation_stage,
)
from engine.validation import Finding, ValidationReport
from kernels.errors import InvalidInputError, InvalidTypeError

__all__ = ["FrameStageOutput", "PrelabelResult", "prelabel", "run_frame_stages", "run_log_stages"]


@dataclass(frozen=True, slots=True, eq=False)
class PrelabelResult:
    """Everything :func:`prelabel` produced.

    Attributes
    ----------
    annotations : Annotations
        World-frame :class:`~engine.annotations.CuboidTrack` s (sparse keyframes or one per frame of
        each track's span, ``tracks.keyframes``; per-frame confidence; fused attributes when
        observations were linked) and the links.
    frame_times_us : ndarray of shape (F,), int64
        The frames visited [µs].
    proposals : tuple of ProposalSet
        Each frame's ego-frame proposals.
    link_result : LinkResult or None
        Footprints in every camera capture and 2D matches; None when the stage did not run.
    findings : tuple of Finding
        Validation findings (empty when validation did not run).
    skipped_rules : mapping of str to str
        Validation rules that could not run, and why.
    stages : tuple of StageStats
        Per-stage frames, seconds, items and per-frame times.
    config : PipelineConfig
        The configuration used.
    """

    annotations: Annotations
    frame_times_us: npt.NDArray[np.int64]
    proposals: tuple[ProposalSet, ...]
    link_result: LinkResult | None
    findings: tuple[Finding, ...]
    skipped_rules: Mapping[str, str]
    stages: tuple[StageStats, ...]
    config: PipelineConfig
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tracks(self) -> int:
        """Number of tracks."""
        return len(self.annotations.tracks)

    def stage(self, name: str) -> StageStats:
        """The stats of one stage by name."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(f"no stage {name!r}; stages are {[s.name for s in self.stages]}")

    def summary(self) -> dict[str, Any]:
        """JSON-safe counts and per-stage stats (``stats.json`` of the outputs)."""
        return {
            **dict(self.metadata),
            "frames": int(self.frame_times_us.size),
            "tracks": self.tracks,
            "links": len(self.annotations.links),
            "observations": 0 if self.link_result is None else len(self.link_result.observations),
            "footprints": 0 if self.link_result is None else int(self.link_result.footprints.visible.sum()),
            "findings": len(self.findings),
            "findings_by_severity": {
                sev: sum(f.severity.value == sev for f in self.findings)
                for sev in ("error", "warning", "info")
            },
            "skipped_rules": dict(self.skipped_rules),
            "stages": [s.to_dict() for s in self.stages],
        }


def prelabel(
    log: Log,
    config: PipelineConfig | None = None,
    *,
    observations: Sequence[Observation2D] | None = None,
    detector: Detector | None = None,
    progress: Progress | None = None,
) -> PrelabelResult:
    """Pre-label a drive log (see the module docstring).

    Parameters
    ----------
    log : Log
        The drive log (at least one lidar; cameras for links).
    config : PipelineConfig, optional
        Stage settings and the kernel backend; defaults (and ``FUSIONLABEL_PIPELINE_*`` variables)
        when omitted.
    observations : sequence of Observation2D, optional
        2D boxes to link to the tracks (overrides ``config.links.observations``).
    detector : Detector, optional
        A proposal source instead of the model-free detector (e.g. a TorchScript model).
    progress : callable, optional
        ``progress(stage, done, total)`` after every frame of a per-frame stage and around whole-log stages.

    Returns
    -------
    PrelabelResult
    """
    if not isinstance(log, Log):
        raise InvalidTypeError(f"log must be an engine.Log, got {type(log).__name__}")
    cfg = config or PipelineConfig()
    times = frame_times(log, cfg.frames)
    frames = run_frame_stages(log, cfg, times, detector=detector, progress=progress)
    return run_log_stages(log, cfg, times, frames, observations=observations, progress=progress)


@dataclass(frozen=True, slots=True, eq=False)
class FrameStageOutput:
    """What the per-frame stages produced for some frames of a log (one unit of distributed work).

    Attributes
    ----------
    proposals : tuple of ProposalSet
        Each frame's ego-frame proposals, in frame order.
    stats : tuple of StageStats
        The ``shared_frame`` and ``proposals`` stage stats (per-frame times).
    sensors : tuple of str
        The sensors fused into the shared frame.
    """

    proposals: tuple[ProposalSet, ...]
    stats: tuple[StageStats, ...]
    sensors: tuple[str, ...]


def run_frame_stages(
    log: Log,
    config: PipelineConfig,
    times_us: npt.NDArray[np.int64],
    *,
    detector: Detector | None = None,
    progress: Progress | None = None,
) -> FrameStageOutput:
    """The per-frame stages (shared frame, proposals) at ``times_us``; each frame is independent.

    Parameters
    ----------
    log : Log
        The drive log.
    config : PipelineConfig
        Stage settings.
    times_us : ndarray of shape (F,), int64
        Frame times [µs] (all of :func:`~engine.stages.frame_times`, or a chunk of them).
    detector : Detector, optional
        A proposal source instead of the model-free detector.
    progress : callable, optional
        ``progress(stage, done, total)`` after every frame.

    Returns
    -------
    FrameStageOutput
    """
    clock = StageClock(int(times_us.size), progress)
    fuse = shared_frame_stage(log, config)
    propose = proposal_stage(log, config, detector)
    # shared frame: every lidar and radar deskewed into the ego frame at each frame time (lazy, per frame)
    shared = clock.map("shared_frame", np.asarray(times_us).tolist(), fuse, _n_points)
    # proposals: model-free cuboids on each fused frame, ego frame (a frame's points go once proposed)
    proposals = tuple(clock.map("proposals", shared, propose, len))
    clock.close("shared_frame", f"{len(fuse.sensors)} sensors: {', '.join(fuse.sensors)}")
    clock.close("proposals")
    return FrameStageOutput(proposals, clock.stats, tuple(fuse.sensors))


def run_log_stages(
    log: Log,
    config: PipelineConfig,
    times_us: npt.NDArray[np.int64],
    frames: FrameStageOutput,
    *,
    observations: Sequence[Observation2D] | None = None,
    progress: Progress | None = None,
) -> PrelabelResult:
    """The whole-log stages (tracks, links, validation) on every frame's proposals.

    Parameters
    ----------
    log : Log
        The drive log.
    config : PipelineConfig
        Stage settings.
    times_us : ndarray of shape (F,), int64
        All frame times [µs] of the log (:func:`~engine.stages.frame_times`).
    frames : FrameStageOutput
        The per-frame stages' output for exactly those frames (e.g. merged from chunks).
    observations : sequence of Observation2D, optional
        2D boxes to link to the tracks (overrides ``config.links.observations``).
    progress : callable, optional
        ``progress(stage, done, total)`` around every stage.

    Returns
    -------
    PrelabelResult
    """
    if len(frames.proposals) != times_us.size:
        raise InvalidInputError(
            f"frames.proposals has {len(frames.proposals)} frames; times_us has {times_us.size}"
        )
    clock = StageClock(int(times_us.size), progress)
    track = track_stage(log, config)
    link = link_stage(log, config, observations)  # None when disabled or the log has no camera
    check = validation_stage(log, config)  # None when disabled
    proposals = frames.proposals
    # tracks: proposals to the world with the log trajectory, online tracker + offline refinement
    tracks = Annotations(clock.run("tracks", track, proposals, count=len, detail=config.tracks.mode))
    # links: each track's footprint in every camera capture; 2D observations linked to tracks
    linked = clock.run_optional("links", link, tracks, count=_n_links, reason="disabled or no camera")
    annotations = linked.annotations(tracks) if linked is not None else tracks
    # validation: the rule engine on the pre-labels (linked 2D boxes checked against their cuboids)
    report = clock.run_optional(
        "validation", check, annotations, linked, count=_n_findings, reason="disabled"
    )

    return PrelabelResult(
        annotations,
        times_us,
        proposals,
        linked,
        report.findings if report is not None else (),
        dict(report.skipped) if report is not None else {},
        (*frames.stats, *clock.stats),
        config,
        {"log": log.name, "backend": config.backend, "sensors": list(frames.sensors)},
    )


def _n_points(shared: SharedFrame) -> int:
    return int(shared.points.shape[0])


def _n_links(result: LinkResult) -> int:
    return len(result.matches)


def _n_findings(report: ValidationReport) -> int:
    return len(report.findings)
