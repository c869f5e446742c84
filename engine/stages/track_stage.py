"""The tracks stage: ego-frame proposals of every frame -> world-frame cuboid tracks.

Each frame's proposals are moved to the world frame with the log's ``world_from_ego`` at the frame
time (yaw-only boxes: the ego's heading is added, its roll and pitch dropped), then

* ``offline`` (default): :func:`tracking.refine_offline` (online tracker forward and backward, agreed
  links, stitching, per-track smoothing) gives one cuboid per frame of each track's span;
* ``online``: :class:`tracking.OnlineTracker` frame by frame; each reported box is a keyframe.

Every track becomes a :class:`~engine.annotations.CuboidTrack` in the world frame with per-frame
confidence; its class is the majority class of its detections, named through
``TracksConfig.label_map`` (``"auto"``: the map of the log's dataset in ``label_maps.yaml``).

Keyframes of offline tracks (``TracksConfig.keyframes``):

* ``"sparse"`` (default): the keyframes of :func:`tracking.refine_offline` (``RefinedTrack.keyframes``,
  :func:`tracking.keyframe_indices`): the fewest frames of the smoothed path from which
  :func:`tracking.interpolate` (Hermite centres, slerp rotations) reproduces it at every frame within
  ``keyframe_center_m`` / ``keyframe_yaw_rad`` / ``keyframe_size_m``; the first and last frame are
  always keyframes, so the span is unchanged. ``CuboidTrack.confidence`` holds the confidence at the
  keyframes and ``CuboidTrack.frame_confidence`` the dense per-frame confidence (written by the native
  JSON and the SFS extension, so it round-trips). Consumers evaluate tracks by interpolation
  (:func:`engine.tracks.interpolate_track`); validation checks each track at the frames of its
  ``frame_confidence`` (:func:`engine.tracks.densify_track`).
* ``"every_frame"``: one keyframe per frame of the span (the smoothed path itself).

Online tracks always get one keyframe per reported frame.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import yaml

from calibration.se3 import quat_wxyz_to_yaw
from calibration.units import wrap_angle
from engine.annotations import CoordinateFrame, CuboidTrack
from engine.log import Log
from engine.proposals import ProposalSet
from engine.stages.config import TracksConfig
from engine.tracks import track_from_path
from kernels.errors import InvalidInputError
from tracking import (
    ClassGate,
    Detections,
    KeyframeTolerance,
    LifecycleConfig,
    OfflineConfig,
    OnlineTracker,
    TrackerConfig,
    refine_offline,
)

__all__ = ["TrackStage", "label_map", "world_detections"]

_LABEL_MAPS = Path(__file__).with_name("label_maps.yaml")


@functools.lru_cache(maxsize=1)
def _label_maps() -> dict[str, dict[str, str]]:
    data = yaml.safe_load(_LABEL_MAPS.read_text())
    return {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.items()}


def label_map(log: Log, config: TracksConfig) -> Mapping[str, str]:
    """Proposal class -> output label for ``log`` (see the module docstring)."""
    if config.label_map != "auto":
        return config.label_map
    fmt = str(log.metadata.get("format", ""))
    return _label_maps().get(fmt, {})


def world_detections(log: Log, proposals: ProposalSet, min_score: float) -> Detections:
    """One frame's ego-frame proposals as world-frame tracker detections (pose at the frame time)."""
    if proposals.timestamp_us is None:
        raise InvalidInputError("proposals.timestamp_us is None; the tracks stage needs stamped proposals")
    if proposals.frame != "ego":
        raise InvalidInputError(f"proposals.frame must be 'ego', got {proposals.frame!r}")
    keep = proposals.scores >= min_score
    boxes = proposals.boxes[keep].astype(np.float64)
    pose = log.trajectory.pose_at(proposals.timestamp_us)
    if boxes.shape[0]:
        boxes[:, :3] = pose.transform_points(boxes[:, :3])
        boxes[:, 6] = wrap_angle(boxes[:, 6] + float(quat_wxyz_to_yaw(pose.quaternion_wxyz)))
    return Detections(proposals.timestamp_us, boxes, proposals.scores[keep], proposals.class_ids[keep])


class TrackStage:
    """Turn every frame's proposals into world-frame tracks (see the module docstring).

    Parameters
    ----------
    log : Log
        The drive log (its trajectory places the proposals in the world).
    config : TracksConfig
        Mode, score threshold, gates and lifecycle.
    """

    def __init__(self, log: Log, config: TracksConfig) -> None:
        self.log = log
        self.config = config
        self.labels = label_map(log, config)

    def tracker_config(self, classes: Sequence[str]) -> TrackerConfig:
        """Per-class gates for ``classes`` (class id = position) and the configured lifecycle."""
        cfg = self.config
        gates = {
            i: ClassGate(max_distance_m=cfg.gates_m[name])
            for i, name in enumerate(classes)
            if name in cfg.gates_m
        }
        return TrackerConfig(
            gates=gates,
            default_gate=ClassGate(max_distance_m=cfg.default_gate_m),
            lifecycle=LifecycleConfig(min_hits=cfg.min_hits, max_misses=cfg.max_misses),
        )

    def __call__(self, proposals: Sequence[ProposalSet]) -> tuple[CuboidTrack, ...]:
        """World-frame tracks of the whole log, ids ``track-0000``, ``track-0001``, ... by first frame."""
        if not proposals:
            return ()
        classes = proposals[0].classes
        frames = [world_detections(self.log, p, self.config.min_score) for p in proposals]
        tracker = self.tracker_config(classes)
        if self.config.mode == "offline":
            return self._offline(frames, classes, tracker)
        if self.config.mode == "online":
            return self._online(frames, classes, tracker)
        raise InvalidInputError(f"unknown tracks.mode {self.config.mode!r}; expected 'offline' or 'online'")

    def _offline(
        self, frames: list[Detections], classes: Sequence[str], tracker: TrackerConfig
    ) -> tuple[CuboidTrack, ...]:
        cfg = self.config
        if cfg.keyframes not in ("sparse", "every_frame"):
            raise InvalidInputError(
                f"unknown tracks.keyframes {cfg.keyframes!r}; expected 'sparse' or 'every_frame'"
            )
        tolerance = KeyframeTolerance(cfg.keyframe_center_m, cfg.keyframe_yaw_rad, cfg.keyframe_size_m)
        refined = refine_offline(
            frames, OfflineConfig(tracker=tracker, min_detections=cfg.min_detections, keyframes=tolerance)
        )
        sparse = cfg.keyframes == "sparse"
        return tuple(
            track_from_path(
                rt.smoothed.path,
                f"track-{k:04d}",
                self._label(classes, rt.class_id),
                keyframes=rt.keyframes if sparse else None,
            )
            for k, rt in enumerate(refined)
        )

    def _online(
        self, frames: list[Detections], classes: Sequence[str], tracker: TrackerConfig
    ) -> tuple[CuboidTrack, ...]:
        rows: dict[int, list[tuple[int, np.ndarray, float, int]]] = {}
        online = OnlineTracker(tracker)
        for frame in frames:
            out = online.step(frame)
            for tid, box, conf, cls in zip(
                out.track_ids, out.boxes, out.confidence, out.class_ids, strict=True
            ):
                rows.setdefault(int(tid), []).append((frame.timestamp_us, box, float(conf), int(cls)))
        tracks: list[CuboidTrack] = []
        for tid in sorted(rows, key=lambda i: (rows[i][0][0], i)):
            r = rows[tid]
            if len(r) < self.config.min_detections:
                continue
            cls = int(np.bincount([c for *_, c in r if c >= 0] or [0]).argmax())
            tracks.append(
                CuboidTrack.from_boxes(
                    f"track-{len(tracks):04d}",
                    self._label(classes, cls),
                    [t for t, *_ in r],
                    np.array([b for _, b, *_ in r]),
                    CoordinateFrame.WORLD,
                    confidence=np.clip([c for _, _, c, _ in r], 0.0, 1.0).astype(np.float32),
                )
            )
        return tuple(tracks)

    def _label(self, classes: Sequence[str], class_id: int) -> str:
        name = classes[class_id] if 0 <= class_id < len(classes) else "unknown"
        return self.labels.get(name, name)
