"""Convert any readable log into one of the writable formats (``fusionlabel convert``)."""

from __future__ import annotations

import enum
import logging
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from calibration.se3 import quat_wxyz_to_xyzw, quat_xyzw_to_wxyz
from engine.annotations import Annotations, CoordinateFrame, CuboidTrack
from engine.io._sampling import frame_times, world_cuboids
from engine.log import Log
from engine.tracks import confidence_at
from kernels.errors import InvalidInputError

__all__ = ["OutputFormat", "convert", "ego_frame_tracks", "write_log"]

logger = logging.getLogger(__name__)


class OutputFormat(enum.Enum):
    """Formats :func:`convert` writes."""

    NATIVE = "native"
    SFS = "sfs"
    KITTI = "kitti"
    OPENLABEL = "openlabel"

    @classmethod
    def parse(cls, value: str | OutputFormat) -> OutputFormat:
        """Parse a format name, raising with the accepted names otherwise."""
        if isinstance(value, OutputFormat):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown output format {value!r}; expected one of {[f.value for f in cls]}"
            ) from None


def ego_frame_tracks(log: Log, period_us: int = 100_000) -> Annotations:
    """Tracks sampled at the frames (first lidar's sweeps), in the ego frame, keyframes at ``i x period_us``.

    The KITTI writer's input: frame ``i`` is the log's ``i``-th frame, ``timestamp_us = i x period_us``.
    """
    times = frame_times(log)
    tracks = []
    for track, idx, path in world_cuboids(log, times):
        t, q = log.trajectory.poses_at(times[idx])
        ego_from_world = Rotation.from_quat(quat_wxyz_to_xyzw(q)).inv()
        centers = ego_from_world.apply(path.centers - t)
        rot = ego_from_world * Rotation.from_quat(quat_wxyz_to_xyzw(path.rotations_wxyz))
        tracks.append(
            CuboidTrack(
                track.track_id,
                track.label,
                CoordinateFrame.EGO,
                idx.astype(np.int64) * period_us,
                centers,
                path.sizes,
                quat_xyzw_to_wxyz(rot.as_quat()),
                confidence_at(track, times[idx]),  # per-frame confidence of sparse keyframes
            )
        )
    return Annotations(tuple(tracks))


def write_log(log: Log, dst: str | Path, to: OutputFormat | str, **options: Any) -> Path:
    """Write ``log`` to ``dst`` in format ``to``; ``options`` go to the format's writer.

    ``native``: a log directory; ``sfs``: one ``.sfs`` file (``angle_unit``, ``sensor_poses``, ...);
    ``kitti``: a tracking label file of :func:`ego_frame_tracks` (ideal camera axes, no calibration);
    ``openlabel``: one JSON file.
    """
    fmt = OutputFormat.parse(to)
    dst = Path(dst)
    if fmt is OutputFormat.NATIVE:
        from engine.io.native import write_native_log

        return write_native_log(log, dst)
    if fmt is OutputFormat.SFS:
        from engine.io.sfs import write_sfs

        return write_sfs(log, dst, **options)
    if fmt is OutputFormat.KITTI:
        from engine.io.kitti import write_kitti_tracking_labels

        return write_kitti_tracking_labels(ego_frame_tracks(log), dst, **options)
    from engine.io.openlabel import write_openlabel

    return write_openlabel(log, dst)


def convert(src: str | Path, dst: str | Path, to: OutputFormat | str, **options: Any) -> Path:
    """Open ``src`` with :func:`engine.io.open_log` (any readable format); write it with :func:`write_log`."""
    from engine.io import open_log

    return write_log(open_log(src), dst, to, **options)
