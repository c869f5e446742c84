"""Readers and writers: every foreign convention is converted at this boundary (docs/CONVENTIONS.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from engine.io.native import LogWriter, is_native_log, read_native_log, write_native_log
from engine.log import Log
from kernels.errors import LogFormatError

__all__ = ["LogWriter", "open_log", "read_native_log", "write_native_log"]


def open_log(path: str | Path) -> Log:
    """Open a drive log, picking the reader by content.

    Parameters
    ----------
    path : str or Path
        A native fusionlabel log directory, a PandaSet sequence folder, an SFS file, an MCAP file
        (ROS 2), a nuScenes folder (first scene), a KITTI tracking folder (first sequence) or a
        folder / file of Scale legacy frame JSON. Use the format's own reader for options (scene,
        sequence, angle unit...).

    Returns
    -------
    Log
        The log; sweeps are loaded lazily.
    """
    p = Path(path)
    if not p.exists():
        raise LogFormatError(f"log path {str(p)!r} does not exist")
    if is_native_log(p):
        return read_native_log(p)
    from engine.io import pandaset

    if pandaset.is_pandaset(p):
        return pandaset.read_pandaset(p)
    reader = _pick_reader(p)
    if reader is not None:
        return reader(p)
    raise LogFormatError(
        f"cannot tell the format of {str(p)!r}: expected a native log (manifest.json), a PandaSet folder "
        f"(lidar/, meta/), an SFS or MCAP file, a nuScenes folder (<version>/scene.json), a KITTI tracking "
        f"folder (velodyne/, calib/) or Scale legacy frame JSON (device_position)"
    )


def _pick_reader(p: Path) -> Callable[[Path], Log] | None:
    """The reader for the foreign formats, by content (None when nothing matches)."""
    from engine.io import kitti_folder, mcap_ros2, nuscenes, scale_legacy, sfs

    if p.is_file():
        if sfs.is_sfs(p):
            return sfs.read_sfs
        if mcap_ros2.is_mcap(p):
            return mcap_ros2.read_mcap
    elif nuscenes.is_nuscenes(p):
        return nuscenes.read_nuscenes
    elif kitti_folder.is_kitti_tracking(p):
        return kitti_folder.read_kitti_tracking
    return scale_legacy.read_scale_legacy_frames if scale_legacy.is_scale_legacy(p) else None
