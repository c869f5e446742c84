"""Offline refinement for labeling: the whole log is known, so tracks may use the future.

:func:`refine_offline` runs::

    online tracker forward in time, and again backward (time reversed)
    keep the detection-to-detection links both passes agree on, and those of one pass that the other
        does not contradict -> fragments
    stitch fragments across short gaps by motion consistency (tracking.stitching: Kalman end states of
        each fragment, a track-to-track test on position and velocity, optimal assignment)
    drop tracks with fewer than ``min_detections`` detections
    smooth each track over its span with its class's motion model (tracking.smoothing: RTS, one size,
        heading, parked objects)
    pick sparse keyframes of each smoothed path (tracking.keyframes: few frames from which
        tracking.interpolate reproduces the path within OfflineConfig.keyframes)

and returns, per track, the world-frame cuboid path with one cuboid per frame of its span and per-frame
confidence (``RefinedTrack.smoothed.path``) and its keyframed form (``RefinedTrack.keyframes``: a
parked object gets its two end frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from tracking.keyframes import KeyframeTolerance, keyframes_from_path
from tracking.paths import CuboidPath
from tracking.smoothing import SmoothedTrack, SmoothingConfig, smooth_track
from tracking.stitching import StitchConfig, stitch_fragments
from tracking.tracker import Detections, OnlineTracker, TrackerConfig

__all__ = ["OfflineConfig", "RefinedTrack", "refine_offline"]

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class OfflineConfig:
    """Settings of :func:`refine_offline`.

    Parameters
    ----------
    tracker : TrackerConfig
        The online tracker run in both directions.
    smoothing : SmoothingConfig
        Per-track smoothing thresholds.
    min_detections : int
        Tracks with fewer detections are dropped (false positives).
    stitch : StitchConfig
        Gates of fragment stitching (:mod:`tracking.stitching`).
    keyframes : KeyframeTolerance
        How closely the interpolated keyframes must follow each smoothed path.
    """

    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    min_detections: int = 3
    stitch: StitchConfig = field(default_factory=StitchConfig)
    keyframes: KeyframeTolerance = field(default_factory=KeyframeTolerance)


@dataclass(frozen=True, slots=True)
class RefinedTrack:
    """One refined track.

    Parameters
    ----------
    track_id : int
        Id, unique within one :func:`refine_offline` result.
    class_id : int
        Majority class of its detections.
    frames : ndarray of shape (K,), int64
        Indices (into the input frames) of the frames its path covers.
    detections : ndarray of shape (K,), int64
        Detection index per frame, -1 where unobserved.
    smoothed : SmoothedTrack
        The smoothed path (world frame, one cuboid per frame of ``frames``, per-frame confidence).
    keyframes : CuboidPath
        Sparse keyframes of ``smoothed.path`` (a subset of its cuboids, first and last included) from
        which :func:`tracking.interpolate` reproduces it within ``OfflineConfig.keyframes``.
    """

    track_id: int
    class_id: int
    frames: I64
    detections: I64
    smoothed: SmoothedTrack
    keyframes: CuboidPath


def _links(ids_per_frame: Sequence[I64]) -> set[tuple[int, int, int, int]]:
    """Consecutive (frame, det) -> (frame, det) links of every track of one pass."""
    last: dict[int, tuple[int, int]] = {}
    links = set()
    for f, ids in enumerate(ids_per_frame):
        for d, tid in enumerate(ids.tolist()):
            if tid < 0:
                continue
            if tid in last:
                links.add((*last[tid], f, d))
            last[tid] = (f, d)
    return links


def _agreed_links(
    fwd: set[tuple[int, int, int, int]], bwd: set[tuple[int, int, int, int]]
) -> set[tuple[int, int, int, int]]:
    """Links both passes make, plus links of one pass that the other does not contradict.

    A one-sided link ``a -> b`` is kept when the other pass links ``a`` to nothing later and nothing
    earlier to ``b`` (it ended a track at ``a`` and started one at ``b``: e.g. a parked car that drives
    off abruptly is lost by the pass that meets it moving first). Where the other pass links ``a`` or
    ``b`` differently, neither link is kept and stitching decides.
    """
    both = fwd & bwd
    for mine, other in ((fwd, bwd), (bwd, fwd)):
        has_next = {(f0, d0) for f0, d0, _, _ in other}
        has_prev = {(f1, d1) for _, _, f1, d1 in other}
        both |= {k for k in mine - other if k[:2] not in has_next and k[2:] not in has_prev}
    return both


def _find(parent: list[int], i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _fragments(
    frames: Sequence[Detections], links: set[tuple[int, int, int, int]]
) -> list[list[tuple[int, int]]]:
    """Connected (frame, det) chains of the links; every detection is at least a singleton."""
    offset = np.concatenate([[0], np.cumsum([len(f) for f in frames])]).astype(int)
    parent = list(range(int(offset[-1])))
    for f0, d0, f1, d1 in links:
        a, b = _find(parent, int(offset[f0]) + d0), _find(parent, int(offset[f1]) + d1)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[tuple[int, int]]] = {}
    for f in range(len(frames)):
        for d in range(len(frames[f])):
            groups.setdefault(_find(parent, int(offset[f]) + d), []).append((f, d))
    return list(groups.values())


def refine_offline(frames: Sequence[Detections], config: OfflineConfig | None = None) -> list[RefinedTrack]:
    """Refine the tracks of a whole log (see the module docstring).

    Parameters
    ----------
    frames : sequence of Detections
        Every frame's detections, world frame, strictly increasing timestamps.
    config : OfflineConfig, optional
        Settings.

    Returns
    -------
    list of RefinedTrack
        Tracks ordered by their first frame.
    """
    cfg = OfflineConfig() if config is None else config
    if len(frames) == 0:
        return []
    times = np.array([f.timestamp_us for f in frames], dtype=np.int64)
    if np.any(np.diff(times) <= 0):
        raise InvalidInputError("frames must have strictly increasing timestamp_us")
    forward = [r.detection_track_ids for r in OnlineTracker(cfg.tracker).run(frames)]
    reverse = [Detections(-f.timestamp_us, f.boxes, f.scores, f.class_ids) for f in reversed(frames)]
    backward = [r.detection_track_ids for r in OnlineTracker(cfg.tracker).run(reverse)][::-1]
    agreed = _agreed_links(_links(forward), _links(backward))
    frags = _fragments(frames, agreed)
    tcfg = cfg.tracker
    models = [tcfg.model_for(int(frames[fr[0][0]].class_ids[fr[0][1]])) for fr in frags]  # type: ignore[index]
    chains = stitch_fragments(frames, frags, models, tcfg.obs_std, cfg.stitch)
    tracks: list[RefinedTrack] = []
    for chain in sorted(chains, key=lambda c: c[0]):
        if len(chain) < cfg.min_detections:
            continue
        f_obs = np.array([f for f, _ in chain], dtype=np.int64)
        span = np.arange(f_obs[0], f_obs[-1] + 1)
        det = np.full(span.size, -1, np.int64)
        det[f_obs - span[0]] = [d for _, d in chain]
        boxes = np.zeros((span.size, 7))
        scores = np.zeros(span.size)
        for i in np.flatnonzero(det >= 0):
            fr = frames[int(span[i])]
            boxes[i] = fr.boxes[det[i]]
            scores[i] = float(fr.scores[det[i]])  # type: ignore[index]
        cls = int(np.bincount([int(frames[f].class_ids[d]) for f, d in chain]).argmax())  # type: ignore[index]
        sm = smooth_track(
            tcfg.model_for(cls), times[span], boxes, det >= 0, scores, tcfg.obs_std, cfg.smoothing
        )
        kf = keyframes_from_path(sm.path, cfg.keyframes)
        tracks.append(RefinedTrack(len(tracks), cls, span, det, sm, kf))
    return tracks
