"""KITTI tracking sequence folders as logs (``training/`` or ``testing/`` of the tracking benchmark).

Layout::

    ROOT/velodyne/SSSS/NNNNNN.bin    float32 rows (x, y, z, reflectance), velodyne frame
    ROOT/calib/SSSS.txt              P0..P3, R_rect, Tr_velo_cam, Tr_imu_velo
    ROOT/label_02/SSSS.txt           labels (optional; :func:`engine.io.kitti.read_kitti_tracking_labels`)
    ROOT/oxts/SSSS.txt               GPS/IMU per frame (optional)
    ROOT/image_02/SSSS/NNNNNN.png    left colour camera (optional)

Ego = the velodyne frame. ``world_from_ego`` comes from the OXTS rows with the KITTI devkit's
Mercator projection (scale from the first latitude, earth radius 6378137 m; rotation
``Rz(yaw) Ry(pitch) Rx(roll)``), re-based so the first pose is at the origin, composed with
``imu_from_velo``; without OXTS the ego stands still at the origin. Time: frame x 100 ms
(no timestamps in the tracking files). Reflectance is checked to lie in [0, 1] (unverified range).
Camera 2: pinhole from ``P2`` (rectified images, no distortion); ``ego_from_camera =
velo_from_rect @ rect_from_cam2`` with ``rect_from_cam2`` the translation ``-t``,
``t = K^-1 P2[:, 3]`` (camera 2 sits ``t_x`` ≈ 6 cm left of camera 0).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel
from calibration.se3 import SE3
from calibration.trajectory import Trajectory
from engine.annotations import Annotations
from engine.io.kitti import FRAME_PERIOD_US, read_kitti_calib, read_kitti_tracking_labels
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep
from kernels.errors import LogFormatError

__all__ = ["is_kitti_tracking", "read_kitti_tracking"]

_EARTH_RADIUS_M = 6378137.0


def is_kitti_tracking(path: str | Path) -> bool:
    """Whether ``path`` holds ``velodyne/`` and ``calib/`` folders of the KITTI tracking layout."""
    p = Path(path)
    return (p / "velodyne").is_dir() and (p / "calib").is_dir()


def _rot(roll: float, pitch: float, yaw: float) -> npt.NDArray[np.float64]:
    cr, sr, cp, sp, cy, sy = (
        np.cos(roll),
        np.sin(roll),
        np.cos(pitch),
        np.sin(pitch),
        np.cos(yaw),
        np.sin(yaw),
    )
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    out: npt.NDArray[np.float64] = rz @ ry @ rx
    return out


def _oxts_trajectory(path: Path, imu_from_velo: SE3 | None, n: int) -> Trajectory:
    times = np.arange(n, dtype=np.int64) * FRAME_PERIOD_US
    if not path.is_file():
        return Trajectory(times[:1], np.zeros((1, 3)), np.array([[1.0, 0.0, 0.0, 0.0]]))
    rows = np.array(
        [[float(v) for v in ln.split()[:6]] for ln in path.read_text().splitlines() if ln.strip()]
    )
    scale = np.cos(np.radians(rows[0, 0]))
    m = np.tile(np.eye(4), (len(rows), 1, 1))
    m[:, 0, 3] = scale * np.radians(rows[:, 1]) * _EARTH_RADIUS_M
    m[:, 1, 3] = scale * _EARTH_RADIUS_M * np.log(np.tan(np.radians(90.0 + rows[:, 0]) / 2.0))
    m[:, 2, 3] = rows[:, 2]
    for i, (roll, pitch, yaw) in enumerate(rows[:, 3:6]):
        m[i, :3, :3] = _rot(roll, pitch, yaw)
    m = np.linalg.inv(m[0]) @ m  # first IMU pose at the origin
    if imu_from_velo is not None:
        m = m @ imu_from_velo.matrix
    return Trajectory.from_matrices(np.arange(len(rows), dtype=np.int64) * FRAME_PERIOD_US, m)


def _sweep_loader(files: list[Path]) -> Callable[[int], LidarSweep]:
    def load(i: int) -> LidarSweep:
        try:
            raw = np.fromfile(files[i], dtype="<f4")
        except OSError as exc:
            raise LogFormatError(f"cannot read {str(files[i])!r}: {exc}") from exc
        if raw.size % 4:
            raise LogFormatError(
                f"{str(files[i])!r}: size is not a multiple of 16 bytes (x, y, z, r float32)"
            )
        rows = raw.reshape(-1, 4)
        refl = np.ascontiguousarray(rows[:, 3])
        if refl.size and (refl.min() < 0 or refl.max() > 1):
            raise LogFormatError(
                f"{str(files[i])!r}: reflectance outside [0, 1] ({refl.min()}..{refl.max()})"
            )
        n = rows.shape[0]
        return LidarSweep(
            "velodyne",
            int(files[i].stem) * FRAME_PERIOD_US,
            np.ascontiguousarray(rows[:, :3]),
            np.zeros(n, np.int32),
            refl,
            np.zeros(n, np.uint16),
        )

    return load


def _png_size(path: Path) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise LogFormatError(f"{str(path)!r} is not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    return int(w), int(h)


def read_kitti_tracking(path: str | Path, sequence: str | int | None = None) -> Log:
    """Open one sequence of a KITTI tracking folder (default: the first) as a :class:`~engine.Log`."""
    root = Path(path)
    if not is_kitti_tracking(root):
        raise LogFormatError(f"{str(root)!r} is not a KITTI tracking folder (needs velodyne/ and calib/)")
    seqs = sorted(p.name for p in (root / "velodyne").iterdir() if p.is_dir())
    if not seqs:
        raise LogFormatError(f"{str(root / 'velodyne')!r} has no sequence folders")
    seq = seqs[0] if sequence is None else (f"{sequence:04d}" if isinstance(sequence, int) else sequence)
    if seq not in seqs:
        raise LogFormatError(f"unknown KITTI sequence {seq!r}; expected one of {seqs}")
    calib = read_kitti_calib(root / "calib" / f"{seq}.txt")
    files = sorted((root / "velodyne" / seq).glob("*.bin"))
    n_frames = int(files[-1].stem) + 1 if files else 1
    trajectory = _oxts_trajectory(root / "oxts" / f"{seq}.txt", calib.imu_from_velo, n_frames)
    sensors = {
        "velodyne": Sensor("velodyne", SensorKind.LIDAR, SE3.identity(), metadata={"model": "HDL-64E"})
    }
    lidar = Stream("velodyne", [int(f.stem) * FRAME_PERIOD_US for f in files], _sweep_loader(files))
    cameras: dict[str, Stream[CameraFrame]] = {}
    images = sorted((root / "image_02" / seq).glob("*.png"))
    if images and "P2" in calib.projections:
        p2 = calib.projections["P2"]
        w, h = _png_size(images[0])
        model = CameraModel.pinhole(w, h, p2[0, 0], p2[1, 1], p2[0, 2], p2[1, 2])
        tz = p2[2, 3]
        cam_from_rect_t = np.array(
            [(p2[0, 3] - p2[0, 2] * tz) / p2[0, 0], (p2[1, 3] - p2[1, 2] * tz) / p2[1, 1], tz]
        )
        rect_from_cam = SE3(np.eye(3), -cam_from_rect_t)
        sensors["image_02"] = Sensor(
            "image_02", SensorKind.CAMERA, calib.velo_from_rect @ rect_from_cam, model
        )
        frames = [
            CameraFrame("image_02", int(p.stem) * FRAME_PERIOD_US, str(p.relative_to(root))) for p in images
        ]
        cameras["image_02"] = Stream.from_items("image_02", frames)
    labels = root / "label_02" / f"{seq}.txt"
    annotations = read_kitti_tracking_labels(labels, calib=calib) if labels.is_file() else Annotations()
    return Log(
        name=f"kitti_tracking_{seq}",
        sensors=sensors,
        trajectory=trajectory,
        lidar={"velodyne": lidar},
        cameras=cameras,
        annotations=annotations,
        metadata={
            "format": "kitti_tracking",
            "path": str(root),
            "sequence": seq,
            "sequences": seqs,
            "time": "frame x 100 ms on a synthetic epoch",
        },
    )
