"""Optional rerun (``rerun-sdk``) export: lidar points and cuboids of every frame in a ``.rrd`` recording.

Only runs when ``rerun`` imports; otherwise it writes nothing and says why (rerun-sdk is not a
dependency of fusionlabel: ``pip install rerun-sdk``, then ``rerun OUT/scene.rrd`` to view). Entities:
``world/lidar`` (points coloured by height), ``world/tracks`` (boxes in track colours with id labels),
``world/ego`` (the ego pose), on the timeline ``time`` (seconds since the first frame).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.se3 import quat_wxyz_to_xyzw, yaw_to_quat_wxyz
from engine.annotations import Annotations, CoordinateFrame
from engine.log import Log
from engine.render.colors import ramp
from engine.render.scene import boxes_at, lidar_points_at

__all__ = ["export_rerun", "rerun_available"]


def rerun_available() -> bool:
    """Whether ``rerun-sdk`` is importable."""
    return importlib.util.find_spec("rerun") is not None


def _set_time(rec: Any, seconds: float) -> None:
    try:
        rec.set_time("time", duration=seconds)  # rerun >= 0.23
    except (AttributeError, TypeError):
        rec.set_time_seconds("time", seconds)  # older releases


def export_rerun(
    log: Log, annotations: Annotations, path: str | Path, frame_times_us: npt.ArrayLike
) -> tuple[Path | None, str]:
    """Write ``path`` (a ``.rrd`` file) when rerun is installed.

    Parameters
    ----------
    log : Log
        The drive log.
    annotations : Annotations
        Tracks to show.
    path : str or Path
        Output recording.
    frame_times_us : array_like of int
        Frame times [µs].

    Returns
    -------
    (Path or None, str)
        The file written (None when skipped) and a note for people (empty when written).
    """
    if not rerun_available():
        return None, "rerun export skipped: rerun-sdk is not installed (pip install rerun-sdk)"
    import rerun as rr

    times = np.asarray(frame_times_us, np.int64).reshape(-1)
    out = Path(path)
    # a recording of its own (not rerun's global one), closed before returning so the file is complete
    rec = rr.RecordingStream("fusionlabel")
    rec.save(str(out))
    try:
        _log_frames(rr, rec, log, annotations, times)
    finally:
        rec.flush()
        rec.disconnect()
    return out, ""


def _log_frames(rr: Any, rec: Any, log: Log, annotations: Annotations, times: npt.NDArray[np.int64]) -> None:
    """Lidar points, tracks and the ego position of every frame into the recording ``rec``."""
    for t in times.tolist():
        _set_time(rec, (t - int(times[0])) * 1e-6)
        pts = lidar_points_at(log, t, CoordinateFrame.WORLD)
        if pts.shape[0]:
            rec.log(
                "world/lidar", rr.Points3D(pts, colors=ramp(pts[:, 2], *np.percentile(pts[:, 2], [2, 98])))
            )
        boxes = boxes_at(log, annotations, t, CoordinateFrame.WORLD)
        if boxes:
            b = np.array([x.box for x in boxes])
            quats = quat_wxyz_to_xyzw(yaw_to_quat_wxyz(b[:, 6]))
            rec.log(
                "world/tracks",
                rr.Boxes3D(
                    centers=b[:, :3],
                    half_sizes=b[:, 3:6] / 2.0,
                    quaternions=[rr.Quaternion(xyzw=q) for q in quats],
                    colors=[x.color for x in boxes],
                    labels=[f"{x.track_id} {x.label}" for x in boxes],
                ),
            )
        pose = log.trajectory.pose_at(t)
        rec.log("world/ego", rr.Points3D([pose.translation], colors=[(255, 255, 255)], radii=0.5))
