"""The whole-log stages of the pipeline: camera links and validation.

* :class:`LinkStage`: ``Annotations -> LinkResult``: the footprint of every track in every camera
  capture inside its span (fisheye-correct, occlusion and truncation), and, when 2D observations are
  given, their links to the tracks with fused time-varying attributes (:func:`engine.linking.link_cameras`).
* :class:`ValidationStage`: ``Annotations (+ LinkResult) -> ValidationReport``: the rule engine on the
  pre-labels (:func:`engine.validation.validate_report`); linked observations are handed over as 2D
  boxes (:func:`boxes_2d_from_links`), so link targets resolve and the 2D-vs-cuboid rules run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from engine.annotations import Annotations
from engine.linking import (
    FootprintConfig,
    LinkConfig,
    LinkResult,
    Observation2D,
    link_cameras,
    read_observations,
)
from engine.log import Log
from engine.stages.config import Backend, LinksConfig, ValidationStageConfig
from engine.validation import ValidationReport, validate_report
from kernels.errors import InvalidInputError

__all__ = ["LinkStage", "LinkedBox", "LinkedFrame", "ValidationStage", "boxes_2d_from_links"]


@dataclass(frozen=True, slots=True)
class LinkedBox:
    """One 2D observation as validation sees it: its box, id, attributes and the track it was linked to."""

    track_id: str
    box: tuple[float, float, float, float]
    box_id: str
    label: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LinkedFrame:
    """The observations of one camera frame (``engine.validation`` ``CameraBoxesLike``)."""

    sensor_id: str
    timestamp_us: int
    boxes: tuple[LinkedBox, ...]


def boxes_2d_from_links(result: LinkResult) -> list[LinkedFrame]:
    """Every observation of ``result`` grouped by camera frame; unlinked ones carry ``track_id=""``."""
    track_of = {m.obs_id: m.track_id for m in result.matches}
    frames: dict[tuple[str, int], list[LinkedBox]] = {}
    for o in result.observations:
        box = LinkedBox(track_of.get(o.obs_id, ""), o.box, o.obs_id, o.label, dict(o.attributes))
        frames.setdefault((o.sensor_id, o.timestamp_us), []).append(box)
    return [LinkedFrame(sid, t, tuple(boxes)) for (sid, t), boxes in sorted(frames.items())]


class LinkStage:
    """Footprints and 2D links of the tracks (see the module docstring).

    Parameters
    ----------
    log : Log
        The drive log.
    config : LinksConfig
        Cameras, observations file, occlusion test.
    backend : {"auto", "cpu", "cuda"}
        Where the footprint kernel runs.
    observations : sequence of Observation2D, optional
        2D observations to link; read from ``config.observations`` when omitted (none when neither).
    """

    def __init__(
        self,
        log: Log,
        config: LinksConfig,
        backend: Backend,
        observations: Sequence[Observation2D] | None = None,
    ) -> None:
        self.log = log
        self.cameras = sorted(log.cameras) if config.cameras is None else list(config.cameras)
        unknown = [c for c in self.cameras if c not in log.cameras]
        if unknown:
            raise InvalidInputError(
                f"links.cameras {unknown} are not cameras of the log; cameras are {sorted(log.cameras)}"
            )
        if observations is None and config.observations is not None:
            observations = read_observations(config.observations)
        self.observations = tuple(o for o in (observations or ()) if o.sensor_id in self.cameras)
        self.link_config = LinkConfig(
            footprint=FootprintConfig(lidar_occlusion=config.lidar_occlusion, backend=backend),
            all_frames=True,
        )

    def __call__(self, annotations: Annotations) -> LinkResult:
        """Footprints in every capture of the chosen cameras, and the observations' links."""
        log = self.log
        if set(self.cameras) != set(log.cameras):
            log = replace(log, cameras={c: log.cameras[c] for c in self.cameras})
        return link_cameras(log, annotations, self.observations, self.link_config)


class ValidationStage:
    """The validation rules on the pre-labels.

    Parameters
    ----------
    log : Log
        The drive log.
    config : ValidationStageConfig
        Rule selection and thresholds file.
    """

    def __init__(self, log: Log, config: ValidationStageConfig) -> None:
        self.log = log
        self.config = config

    def __call__(self, annotations: Annotations, links: LinkResult | None = None) -> ValidationReport:
        """Findings, skipped rules and per-rule timings; ``links`` supplies the 2D boxes when given."""
        boxes = boxes_2d_from_links(links) if links is not None and links.observations else None
        return validate_report(
            self.log, annotations, config=self.config.config, rules=self.config.rules, boxes_2d=boxes
        )
