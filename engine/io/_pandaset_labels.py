"""PandaSet ground-truth cuboids (``labels/cuboids_world.csv``) to :class:`~engine.annotations.Annotations`.

The CSV (one row per cuboid per frame) is the excerpt's flattened form of PandaSet's per-frame
cuboid tables. Conventions (the excerpt's README):

* ``x, y, z`` is the box centre in the PandaSet world frame (z up); the tracks stay in that frame.
* ``length_m`` is along the box's front-back axis and ``heading_rad`` is that axis' angle,
  counter-clockwise from world +x: exactly fusionlabel's yaw, used as is (the raw PandaSet yaw is
  ``heading_rad - pi/2``).
* Moving objects inside the overlap of the two lidars carry a second cuboid fit to the PandarGT
  (``sensor_id == 1``) under another uuid; with the Pandar64 sweeps those rows are dropped.

Attributes: a column whose (non-empty) value is the same over all of a track's rows becomes a static
attribute; one that changes becomes an :class:`~engine.annotations.AttributePath` of its change points.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from calibration.se3 import yaw_to_quat_wxyz
from engine.annotations import Annotations, AttributePath, CoordinateFrame, CuboidTrack
from kernels.errors import LogFormatError

__all__ = ["ATTRIBUTE_COLUMNS", "PANDAR_GT_SENSOR_ID", "read_cuboids_csv"]

logger = logging.getLogger(__name__)

PANDAR_GT_SENSOR_ID = "1"
"""``sensor_id`` of cuboids fit to the second (forward-facing PandarGT) lidar."""

ATTRIBUTE_COLUMNS = (
    "stationary",
    "camera_used",
    "object_motion",
    "sibling_id",
    "sensor_id",
    "rider_status",
    "pedestrian_behavior",
    "pedestrian_age",
)
"""CSV columns carried as attributes (static when constant over a track, else time-varying)."""

_EMPTY = {"", "-"}
_REQUIRED = ("frame", "uuid", "label", "x", "y", "z", "length_m", "width_m", "height_m", "heading_rad")


def _attributes(
    rows: Sequence[Mapping[str, str]], timestamps_us: Sequence[int]
) -> tuple[dict[str, str], tuple[AttributePath, ...]]:
    """Split a track's attribute columns into static values and change-point paths."""
    static: dict[str, str] = {}
    paths: list[AttributePath] = []
    for name in ATTRIBUTE_COLUMNS:
        if name not in rows[0]:
            continue
        values = [r[name] for r in rows]
        if len(set(values)) == 1:
            if values[0] not in _EMPTY:
                static[name] = values[0]
            continue
        change = [i for i in range(len(values)) if i == 0 or values[i] != values[i - 1]]
        paths.append(
            AttributePath(name, tuple(timestamps_us[i] for i in change), tuple(values[i] for i in change))
        )
    return static, tuple(paths)


def _track(
    track_id: str, rows: list[dict[str, str]], frame_times_us: Sequence[int], source: str
) -> CuboidTrack:
    rows.sort(key=lambda r: int(r["frame"]))
    frames = [int(r["frame"]) for r in rows]
    if len(set(frames)) != len(frames):
        raise LogFormatError(f"{source}: track {track_id!r} has two cuboids in one frame (frames {frames})")
    bad = [f for f in frames if not 0 <= f < len(frame_times_us)]
    if bad:
        raise LogFormatError(
            f"{source}: track {track_id!r} refers to frame {bad[0]}, "
            f"outside the {len(frame_times_us)} posed frames"
        )
    labels = {r["label"] for r in rows}
    if len(labels) != 1:
        raise LogFormatError(f"{source}: track {track_id!r} changes label over time: {sorted(labels)}")
    t = [frame_times_us[f] for f in frames]
    num = np.array(
        [
            [float(r[k]) for k in ("x", "y", "z", "length_m", "width_m", "height_m", "heading_rad")]
            for r in rows
        ],
        dtype=np.float64,
    )
    static, paths = _attributes(rows, t)
    return CuboidTrack(
        track_id=track_id,
        label=rows[0]["label"],
        frame=CoordinateFrame.WORLD,
        timestamps_us=np.asarray(t, dtype=np.int64),
        centers=num[:, :3].copy(),
        sizes=num[:, 3:6].copy(),
        rotations_wxyz=yaw_to_quat_wxyz(num[:, 6]),
        attributes=paths,
        static_attributes=static,
    )


def read_cuboids_csv(
    path: str | Path,
    frame_times_us: Sequence[int],
    *,
    drop_sensor_ids: Iterable[str] = (PANDAR_GT_SENSOR_ID,),
) -> tuple[Annotations, int]:
    """Read ``cuboids_world.csv`` into world-frame cuboid tracks, one per ``uuid``.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    frame_times_us : sequence of int
        Timestamp [µs] of every frame index (the lidar frame timestamps); keyframes take these.
    drop_sensor_ids : iterable of str
        Rows whose ``sensor_id`` is one of these are skipped (default: the PandarGT duplicates).

    Returns
    -------
    annotations : Annotations
        One :class:`~engine.annotations.CuboidTrack` per kept uuid, in order of first appearance.
    dropped : int
        Number of rows skipped by ``drop_sensor_ids``.
    """
    drop = set(drop_sensor_ids)
    by_uuid: dict[str, list[dict[str, str]]] = defaultdict(list)
    dropped = 0
    source = str(path)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
            if missing:
                raise LogFormatError(f"{source}: missing columns {missing}; header is {reader.fieldnames}")
            for row in reader:
                if row.get("sensor_id", "") in drop:
                    dropped += 1
                    continue
                by_uuid[row["uuid"]].append(row)
    except OSError as exc:
        raise LogFormatError(f"cannot read cuboids {source!r}: {exc}") from exc
    try:
        tracks = tuple(_track(uuid, rows, frame_times_us, source) for uuid, rows in by_uuid.items())
    except ValueError as exc:  # bad numbers, or sizes/quaternions rejected by CuboidTrack
        if isinstance(exc, LogFormatError):
            raise
        raise LogFormatError(f"{source}: {exc}") from exc
    logger.debug("read %d cuboid tracks from %s (%d rows dropped)", len(tracks), source, dropped)
    return Annotations(tracks), dropped
