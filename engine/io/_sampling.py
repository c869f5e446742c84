"""Tracks sampled at frame times, shared by the frame-based writers (OpenLABEL, Scale legacy responses)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from engine.annotations import CoordinateFrame, CuboidTrack
from engine.log import Log
from engine.tracks import interpolate_track
from tracking.paths import CuboidPath

__all__ = ["frame_times", "world_cuboids"]


def frame_times(log: Log) -> npt.NDArray[np.int64]:
    """Frame timestamps [µs]: the first lidar's sweeps (by id), else every track keyframe time."""
    if log.lidar:
        return np.asarray(log.lidar[sorted(log.lidar)[0]].timestamps_us, dtype=np.int64)
    times = [t.timestamps_us for t in log.annotations.tracks]
    return np.unique(np.concatenate(times)) if times else np.zeros(0, np.int64)


def world_cuboids(
    log: Log, times_us: npt.NDArray[np.int64]
) -> Iterator[tuple[CuboidTrack, npt.NDArray[np.intp], CuboidPath]]:
    """Per track: the indices of ``times_us`` within its keyframe span and its world cuboids there."""
    for track in log.annotations.tracks:
        idx = np.flatnonzero((times_us >= track.timestamps_us[0]) & (times_us <= track.timestamps_us[-1]))
        if idx.size == 0:
            continue
        path = interpolate_track(track, times_us[idx], log.trajectory, output_frame=CoordinateFrame.WORLD)
        yield track, idx, path
