"""Reader for PandaSet sequence folders (the excerpt in ``../shared/data/pandaset_seq002`` and the sample).

Layout (see the folder's README)::

    lidar/NN.npz, lidar/sweeps.txt     Pandar64 sweeps in the sensor frame; per-sweep times and counts
    meta/lidar_poses_4x4.txt            per frame: timestamp [s] and row-major T_world_from_lidar
    labels/cuboids_world.csv            world-frame cuboids with track ids (optional)
    camera/<cam>/intrinsics.json, poses.json, timestamps.json, NN.jpg   (optional)

Conversions into fusionlabel's conventions (docs/CONVENTIONS.md):

* **Ego frame.** The Pandar64 frame is x right, y forward, z up. The ego frame is the lidar origin
  rotated to x forward: ``ego_from_lidar`` is a rotation of -90° about z (lidar +y -> ego +x,
  lidar +x -> ego -y), no translation. ``world_from_ego(t) = world_from_lidar(t) @ lidar_from_ego``.
* **Sweeps** keep their points in the sensor frame (float32 as stored). ``timestamp_us`` is the frame
  timestamp (near the *end* of the sweep); ``time_offset_us = sweep_start + point_offset - timestamp``
  is therefore mostly negative (about -100 ms ... +2 ms). Intensity is uint8 / 255. The excerpt has
  no ring index: ``ring`` is all zeros.
* **Cameras** (already undistorted pinhole, 1920x1080): ``ego_from_camera`` is estimated from the
  per-frame camera poses as the median over frames of ``ego_from_world(t_cam) @ world_from_camera``,
  with the trajectory interpolated at the camera's own timestamp; the spread is kept in the sensor's
  metadata (``extrinsic_spread_m``, ``extrinsic_spread_rad``).
* **Cuboids** stay in the world frame (see :mod:`engine.io._pandaset_labels`).

Timestamps are decimal seconds in the files; they are converted exactly to int64 µs.
Opening reads only the small text/JSON files; a sweep's ``.npz`` is loaded when it is indexed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from calibration.se3 import SE3, quat_xyzw_to_wxyz
from calibration.trajectory import Trajectory
from calibration.units import seconds_to_us
from engine.annotations import Annotations
from engine.io._pandaset_labels import PANDAR_GT_SENSOR_ID, read_cuboids_csv
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep
from kernels.errors import LogFormatError

if TYPE_CHECKING:
    from calibration.camera import CameraModel

__all__ = ["EGO_FROM_LIDAR", "IMAGE_HEIGHT", "IMAGE_WIDTH", "is_pandaset", "read_pandaset", "seconds_to_us"]

logger = logging.getLogger(__name__)

EGO_FROM_LIDAR = SE3(np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), np.zeros(3))
"""Pandar64 (x right, y forward, z up) to ego (x forward, y left, z up): -90° about z."""

IMAGE_WIDTH = 1920
IMAGE_HEIGHT = 1080

LICENCE = "CC BY 4.0"
CITATION = 'Xiao et al., "PandaSet: Advanced Sensor Suite Dataset for Autonomous Driving", ITSC 2021'
SOURCE = (
    "PandaSet (Hesai and Scale AI), sequence 002, San Francisco, 2019-05-10; test data of the public "
    "scaleapi/pandaset-devkit repository (commit c2072973)"
)
_POSES = Path("meta") / "lidar_poses_4x4.txt"


def is_pandaset(path: str | Path) -> bool:
    """Whether ``path`` looks like a PandaSet folder (has ``meta/lidar_poses_4x4.txt`` and ``lidar/``)."""
    p = Path(path)
    return (p / _POSES).is_file() and (p / "lidar").is_dir()


def _read_table(path: Path) -> list[list[str]]:
    """Whitespace-separated rows of a text table, ``#`` comment lines skipped."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LogFormatError(f"cannot read {str(path)!r}: {exc}") from exc
    return [ln.split() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def _read_trajectory(root: Path) -> tuple[Trajectory, list[int]]:
    """``world_from_ego`` for every frame, and the frame timestamps [µs] indexed by frame number."""
    rows = _read_table(root / _POSES)
    if not rows or any(len(r) != 18 for r in rows):
        raise LogFormatError(f"{str(root / _POSES)!r}: expected rows of 'frame timestamp_s' + 16 numbers")
    frames = [int(r[0]) for r in rows]
    if frames != list(range(len(rows))):
        raise LogFormatError(
            f"{str(root / _POSES)!r}: frames must be 0..{len(rows) - 1} in order, got {frames}"
        )
    times = [seconds_to_us(r[1]) for r in rows]
    world_from_lidar = np.array([[float(v) for v in r[2:]] for r in rows]).reshape(-1, 4, 4)
    world_from_ego = world_from_lidar @ EGO_FROM_LIDAR.inverse().matrix
    return Trajectory.from_matrices(np.asarray(times, dtype=np.int64), world_from_ego), times


def _sweep_index(root: Path, frame_times_us: Sequence[int]) -> list[tuple[int, int | None]]:
    """``(frame, expected point count or None)`` for every sweep file present, in frame order.

    ``lidar/sweeps.txt`` lists sweeps and counts; rows whose ``.npz`` is absent are skipped, and
    ``.npz`` files it does not list are still read (count unchecked).
    """
    counts: dict[int, int] = {}
    table = root / "lidar" / "sweeps.txt"
    if table.is_file():
        for r in _read_table(table):
            frame, count, stamp = int(r[0]), int(r[1]), seconds_to_us(r[2])
            if not 0 <= frame < len(frame_times_us) or stamp != frame_times_us[frame]:
                raise LogFormatError(f"{str(table)!r}: sweep {frame} at {stamp} µs matches no posed frame")
            counts[frame] = count
    present = sorted(int(f.stem) for f in (root / "lidar").glob("*.npz") if f.stem.isdigit())
    for frame in present:
        if not 0 <= frame < len(frame_times_us):
            raise LogFormatError(f"{str(root / 'lidar')!r}: sweep file {frame:02d}.npz has no pose")
    missing = sorted(set(counts) - set(present))
    if missing:
        logger.info(
            "%s: sweeps.txt lists %d sweeps without a file (skipped): %s", root, len(missing), missing
        )
    return [(f, counts.get(f)) for f in present]


def _sweep_loader(
    root: Path, sensor_id: str, sweeps: list[tuple[int, int | None]], frame_times_us: Sequence[int]
) -> Callable[[int], LidarSweep]:
    def load(i: int) -> LidarSweep:
        frame, expected = sweeps[i]
        path = root / "lidar" / f"{frame:02d}.npz"
        try:
            with np.load(path) as npz:
                points = npz["points"]
                intensity = npz["intensity"]
                offsets = npz["point_time_offset_us"]
                start_s = Decimal(repr(float(npz["sweep_start_time_s"])))
        except (OSError, KeyError, ValueError) as exc:
            raise LogFormatError(f"cannot read sweep {str(path)!r}: {exc}") from exc
        if expected is not None and points.shape[0] != expected:
            raise LogFormatError(f"{str(path)!r}: {points.shape[0]} points, sweeps.txt says {expected}")
        stamp = frame_times_us[frame]
        rel = offsets.astype(np.int64) + (seconds_to_us(start_s) - stamp)
        if rel.size and (rel.min() < np.iinfo(np.int32).min or rel.max() > np.iinfo(np.int32).max):
            raise LogFormatError(
                f"{str(path)!r}: point times lie too far from the frame timestamp {stamp} µs"
            )
        return LidarSweep(
            sensor_id=sensor_id,
            timestamp_us=stamp,
            points=points,
            time_offset_us=rel.astype(np.int32),
            intensity=intensity.astype(np.float32) / np.float32(255.0),
            ring=np.zeros(points.shape[0], dtype=np.uint16),
        )

    return load


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(), parse_float=Decimal)
    except (OSError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"cannot read {str(path)!r}: {exc}") from exc


def _camera_model(intrinsics: dict[str, Any]) -> CameraModel:
    from calibration.camera import CameraModel

    fx, fy, cx, cy = (float(intrinsics[k]) for k in ("fx", "fy", "cx", "cy"))
    return CameraModel.pinhole(IMAGE_WIDTH, IMAGE_HEIGHT, fx, fy, cx, cy)  # images are undistorted


def _ego_from_camera(
    poses: list[dict[str, Any]], times_us: npt.NDArray[np.int64], trajectory: Trajectory
) -> tuple[SE3, float, float]:
    """Median ``ego_from_camera`` over frames, and its spread (max translation [m], max angle [rad])."""
    quat_xyzw = np.array([[float(p["heading"][k]) for k in "xyzw"] for p in poses])
    pos = np.array([[float(p["position"][k]) for k in "xyz"] for p in poses])
    world_from_cam = np.zeros((len(poses), 4, 4))
    world_from_cam[:, :3, :3] = Rotation.from_quat(quat_xyzw).as_matrix()
    world_from_cam[:, :3, 3] = pos
    world_from_cam[:, 3, 3] = 1.0
    ego_from_cam = np.linalg.inv(trajectory.matrices_at(times_us)) @ world_from_cam
    rots = Rotation.from_matrix(ego_from_cam[:, :3, :3])
    q = rots.as_quat()
    q *= np.where(q @ q[0] < 0.0, -1.0, 1.0)[:, None]  # one hemisphere before the component-wise median
    q_med = np.median(q, axis=0)
    r_med = Rotation.from_quat(q_med / np.linalg.norm(q_med))
    t_med = np.median(ego_from_cam[:, :3, 3], axis=0)
    spread_m = float(np.linalg.norm(ego_from_cam[:, :3, 3] - t_med, axis=1).max())
    spread_rad = float((rots * r_med.inv()).magnitude().max())
    return SE3.from_quaternion(quat_xyzw_to_wxyz(r_med.as_quat()), t_med), spread_m, spread_rad


def _cameras(root: Path, trajectory: Trajectory) -> tuple[list[Sensor], dict[str, Stream[CameraFrame]]]:
    sensors: list[Sensor] = []
    streams: dict[str, Stream[CameraFrame]] = {}
    cam_root = root / "camera"
    if not cam_root.is_dir():
        return sensors, streams
    for d in sorted(p for p in cam_root.iterdir() if (p / "intrinsics.json").is_file()):
        cam = d.name
        times = np.array([seconds_to_us(t) for t in _load_json(d / "timestamps.json")], dtype=np.int64)
        poses = _load_json(d / "poses.json")
        if len(poses) != times.size:
            raise LogFormatError(f"{str(d)!r}: {len(poses)} poses but {times.size} timestamps")
        ego_from_cam, spread_m, spread_rad = _ego_from_camera(poses, times, trajectory)
        meta = {
            "pandaset_camera": cam,
            "undistorted": True,
            "extrinsics": "median over frames of ego_from_world(t_cam) @ world_from_camera(t_cam)",
            "extrinsic_spread_m": spread_m,
            "extrinsic_spread_rad": spread_rad,
        }
        sensors.append(
            Sensor(
                cam, SensorKind.CAMERA, ego_from_cam, _camera_model(_load_json(d / "intrinsics.json")), meta
            )
        )
        jpgs = {p.stem for p in d.glob("*.jpg")}
        images = [f"camera/{cam}/{i:02d}.jpg" if f"{i:02d}" in jpgs else None for i in range(times.size)]
        frames = [CameraFrame(cam, int(t), img) for t, img in zip(times, images, strict=True)]
        streams[cam] = Stream.from_items(cam, frames)
    return sensors, streams


def read_pandaset(path: str | Path, *, lidar_id: str = "pandar64", drop_pandargt_cuboids: bool = True) -> Log:
    """Open a PandaSet sequence folder as a :class:`~engine.log.Log` (sweeps load lazily).

    Parameters
    ----------
    path : str or Path
        The sequence folder (``lidar/``, ``meta/``, optional ``labels/`` and ``camera/``).
    lidar_id : str
        Sensor id given to the Pandar64.
    drop_pandargt_cuboids : bool
        Drop the cuboids fit to the PandarGT (``sensor_id == 1``), which duplicate moving objects
        under another uuid; keep True with the Pandar64 sweeps.

    Returns
    -------
    Log
        Ego trajectory for every posed frame; one lidar stream (the frames with a sweep file); one
        stream per camera (every frame, ``image`` None where the folder has no jpg, else a path
        relative to ``path``); world-frame cuboid tracks; ``metadata`` with source, licence and
        citation; ``lidar_motion_compensated`` is True (the published points are already deskewed to one
        time per sweep, presumably the frame timestamp: do not deskew them again).
    """
    root = Path(path)
    if not is_pandaset(root):
        raise LogFormatError(f"{str(root)!r} is not a PandaSet folder (needs {_POSES} and lidar/)")
    trajectory, frame_times = _read_trajectory(root)
    sweeps = _sweep_index(root, frame_times)
    lidar = Sensor(
        lidar_id,
        SensorKind.LIDAR,
        EGO_FROM_LIDAR,
        metadata={
            "model": "Hesai Pandar64",
            "beams": 64,
            "rate_hz": 10.0,
            "sensor_frame": "x right, y forward, z up (ego_from_sensor: -90 deg about z)",
            "ring": "not in the data; all zeros",
        },
    )
    cam_sensors, cam_streams = _cameras(root, trajectory)
    labels = root / "labels" / "cuboids_world.csv"
    annotations, dropped = Annotations(), 0
    if labels.is_file():
        drop = (PANDAR_GT_SENSOR_ID,) if drop_pandargt_cuboids else ()
        annotations, dropped = read_cuboids_csv(labels, frame_times, drop_sensor_ids=drop)
    stream = Stream(
        lidar_id,
        np.array([frame_times[f] for f, _ in sweeps], dtype=np.int64),
        _sweep_loader(root, lidar_id, sweeps, frame_times),
    )
    metadata: dict[str, Any] = {
        "format": "pandaset",
        "source": SOURCE,
        "licence": LICENCE,
        "citation": CITATION,
        "path": str(root),
        "frames": len(frame_times),
        "lidar_frames": [f for f, _ in sweeps],
        # benchmarks/check_pandaset_deskew.py, frames 38-49 (3-4 m/s): ground rings break at the sweep seam
        # by 0.92 x v*dt as published and 1.91 x after kernels.deskew (raw data would give 0 and 1).
        "lidar_motion_compensated": True,
        "pandargt_cuboid_rows_dropped": dropped,
    }
    return Log(
        name=root.name,
        sensors={s.sensor_id: s for s in (lidar, *cam_sensors)},
        trajectory=trajectory,
        lidar={lidar_id: stream},
        cameras=cam_streams,
        annotations=annotations,
        metadata=metadata,
    )
