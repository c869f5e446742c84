"""What every rule reads: the log, the (sanitised) tracks in the world frame, a flat keyframe table, caches.

Built once per :func:`~engine.validation.validate` call; expensive derived data (lidar statistics per
keyframe, windowed velocities) is computed on first use through :meth:`Scene.cached` and shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from calibration.se3 import quat_wxyz_to_yaw
from calibration.units import wrap_angle
from engine.annotations import Annotations, CoordinateFrame, CuboidTrack
from engine.log import Log
from engine.validation.config import ClassPrior, Taxonomy, ValidationConfig
from engine.validation.records import ParsedAnnotations

__all__ = ["Box2DLike", "CameraBoxesLike", "Scene"]

T = TypeVar("T")
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class Box2DLike(Protocol):
    """A 2D box linked to a track (e.g. :class:`engine.sim.Box2D`)."""

    @property
    def track_id(self) -> str: ...  # noqa: D102

    @property
    def box(self) -> tuple[float, float, float, float]: ...  # noqa: D102


class CameraBoxesLike(Protocol):
    """The 2D boxes of one camera frame (e.g. :class:`engine.sim.CameraBoxes`)."""

    @property
    def sensor_id(self) -> str: ...  # noqa: D102

    @property
    def timestamp_us(self) -> int: ...  # noqa: D102

    @property
    def boxes(self) -> Sequence[Any]: ...  # noqa: D102


def _world_boxes(track: CuboidTrack, log: Log) -> F64:
    b = np.empty((len(track), 7))
    b[:, :3] = track.centers
    b[:, 3:6] = track.sizes
    b[:, 6] = quat_wxyz_to_yaw(track.rotations_wxyz)
    if track.frame is CoordinateFrame.EGO:
        traj = log.trajectory
        t = np.clip(track.timestamps_us, traj.start_us, traj.end_us)
        p, q = traj.poses_at(t)
        from scipy.spatial.transform import Rotation

        from calibration.se3 import quat_wxyz_to_xyzw

        r = Rotation.from_quat(quat_wxyz_to_xyzw(q))
        b[:, :3] = r.apply(track.centers) + p
        b[:, 6] = wrap_angle(b[:, 6] + quat_wxyz_to_yaw(q))
    return b


class Scene:
    """Inputs of one validation run, with shared derived data.

    Attributes
    ----------
    log : Log
    config : ValidationConfig
    parsed : ParsedAnnotations
        The annotations as submitted (schema rules).
    annotations : Annotations
        The sanitised tracks every other rule uses.
    record_of : tuple of int
        Per sanitised track, the index of its record in ``parsed.tracks``.
    boxes : list of ndarray of shape (K, 7), float64
        Per track, keyframe boxes in the world frame ``[x, y, z, l, w, h, yaw]``.
    priors : list of ClassPrior or None
        Per track, its class prior (None: the label maps to no class).
    kf_track, kf_index, kf_time : ndarray of shape (T,), int64
        Flat keyframe table: track index, keyframe index within the track, timestamp [µs].
    kf_boxes : ndarray of shape (T, 7), float64
        World boxes of the flat table.
    boxes_2d : sequence of CameraBoxesLike or None
        Optional 2D boxes linked to tracks by ``track_id``.
    """

    def __init__(
        self,
        log: Log,
        parsed: ParsedAnnotations,
        annotations: Annotations,
        record_of: tuple[int, ...],
        config: ValidationConfig,
        boxes_2d: Sequence[CameraBoxesLike] | None = None,
    ) -> None:
        self.log = log
        self.config = config
        self.parsed = parsed
        self.annotations = annotations
        self.record_of = record_of
        self.boxes_2d = boxes_2d
        self.tracks: tuple[CuboidTrack, ...] = annotations.tracks
        self.boxes: list[F64] = [_world_boxes(t, log) for t in self.tracks]
        self.class_names: list[str | None] = [config.class_of(t.label) for t in self.tracks]
        self.priors: list[ClassPrior | None] = [
            None if c is None else config.classes[c] for c in self.class_names
        ]
        n = [len(t) for t in self.tracks]
        self.kf_track: I64 = np.repeat(np.arange(len(n), dtype=np.int64), n)
        self.kf_index: I64 = (
            np.concatenate([np.arange(k, dtype=np.int64) for k in n]) if n else np.zeros(0, np.int64)
        )
        self.kf_time: I64 = (
            np.concatenate([t.timestamps_us for t in self.tracks]) if n else np.zeros(0, np.int64)
        )
        self.kf_boxes: F64 = np.concatenate(self.boxes) if n else np.zeros((0, 7))
        self.kf_offset: I64 = np.r_[0, np.cumsum(n)].astype(np.int64)
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()`` once per scene under ``key``."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]  # type: ignore[no-any-return]

    @property
    def taxonomy(self) -> tuple[str | None, Taxonomy | None]:
        """The taxonomy in force (name, taxonomy) — ``auto`` picks it from the log's metadata."""
        name = self.config.taxonomy
        if name == "auto":
            meta = self.log.metadata
            fmt = str(meta.get("format", meta.get("source", "")))
            name = "pandaset" if "pandaset" in fmt else "sim" if "sim" in fmt else None
        if name is None or name not in self.config.taxonomies:
            return None, None
        return name, self.config.taxonomies[name]

    def frames(self) -> list[tuple[int, I64]]:
        """Keyframe times with the flat-table rows at each, in time order."""
        order = np.argsort(self.kf_time, kind="stable")
        t = self.kf_time[order]
        cuts = np.flatnonzero(np.diff(t)) + 1
        return [(int(t[g[0]]), order[g]) for g in np.split(np.arange(t.size), cuts) if g.size]

    def track_id(self, row: int) -> str:
        """Track id of a flat-table row."""
        return self.tracks[int(self.kf_track[row])].track_id

    def cadence_us(self) -> int:
        """The log's keyframe cadence: the median interval between distinct keyframe times [µs]."""
        t = np.unique(self.kf_time)
        return int(np.median(np.diff(t))) if t.size > 1 else 0
