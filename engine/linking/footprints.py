"""Footprints of 3D tracks in camera frames, with each cuboid posed at the camera's capture time.

For every (track, camera frame) pair whose capture time lies within the track's keyframe span:

* **Pose at capture time.** The cuboid comes from :func:`engine.tracks.interpolate_track` (Hermite
  positions, slerp rotations, world frame) at the capture time, and the camera from
  ``world_from_ego(t_capture) @ ego_from_camera``: object motion and ego motion both at the instant
  the image was exposed (rolling shutter is not modelled). Boxes are handed to the kernel in the world
  frame shifted to the camera centre (float32-safe), yaw only (roll and pitch are dropped).
* **Footprint.** :func:`kernels.footprint.sample_footprints` samples every edge (clipped at the near
  plane / the lens's valid field of view, so fisheye edges curve) and a grid on every face.
  ``box`` = extent of the valid edge samples and camera-facing face samples, clipped to the image
  ``[0, W] x [0, H]`` (the amodal box, as the simulator's ground truth defines it).
* **Fractions** over the camera-facing face samples, weighted by face area: ``truncation`` = share not
  projected inside the image; ``occlusion`` = share of the in-image part hidden (a ray from the camera
  to the sample hits another cuboid of the same frame first, or the lidar depth buffer holds a return
  closer by more than ``max(occlusion_margin_m, occlusion_margin_rel * depth)`` within
  ``lidar_window_px``; lidar returns inside tracked cuboids are ignored, those are handled by the
  cuboid test); ``visible_fraction`` = share in the image and not occluded. ``visible_box`` is the
  extent of the visible face samples (a coarse modal box). ``depth_m`` is the range from the camera
  centre to the cuboid centre.
* A footprint is **visible** when ``visible_fraction > min_visible_fraction`` and its box has area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel
from calibration.se3 import quat_wxyz_to_yaw
from engine.annotations import Annotations, CuboidTrack
from engine.linking._occlusion import cuboid_occlusion, lidar_occlusion
from engine.log import Log
from engine.tracks import interpolate_track
from kernels.errors import InvalidInputError
from kernels.footprint import FLAG_FACING, FLAG_IN_IMAGE, FLAG_VALID, sample_footprints

__all__ = ["Footprint", "FootprintConfig", "Footprints", "camera_frames", "compute_footprints"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FootprintConfig:
    """Sampling and occlusion settings of :func:`compute_footprints` (see the module docstring)."""

    edge_samples: int = 24
    face_grid: int = 6
    near_m: float = 0.1
    min_visible_fraction: float = 0.0
    lidar_occlusion: bool = True
    lidar_window_px: int = 2
    lidar_max_gap_us: int = 60_000
    occlusion_margin_m: float = 0.5
    occlusion_margin_rel: float = 0.05
    box_margin_m: float = 0.3
    backend: str = "auto"


@dataclass(frozen=True, slots=True)
class Footprint:
    """One track in one camera frame (boxes ``(x0, y0, x1, y1)`` [px], None when absent)."""

    track_id: str
    sensor_id: str
    timestamp_us: int
    box: tuple[float, float, float, float] | None
    visible_box: tuple[float, float, float, float] | None
    visible_fraction: float
    truncation: float
    occlusion: float
    depth_m: float


def _box_tuple(row: F64) -> tuple[float, float, float, float] | None:
    if not np.isfinite(row).all():
        return None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


@dataclass(frozen=True, slots=True, eq=False)
class Footprints:
    """Footprints of R (track, camera frame) pairs, structure of arrays.

    Attributes
    ----------
    track_ids : tuple of str
        Tracks; ``track`` indexes it.
    frames : tuple of (str, int)
        Camera frames ``(sensor_id, timestamp_us)``; ``frame`` indexes it.
    track, frame : ndarray of shape (R,), int64
    box, visible_box : ndarray of shape (R, 4), float64 [px]
        ``(x0, y0, x1, y1)`` clipped to the image; NaN rows where absent.
    visible_fraction, truncation, occlusion : ndarray of shape (R,), float64 in [0, 1]
    depth_m : ndarray of shape (R,), float64 [m]
        Range from the camera centre to the cuboid centre.
    boxes_world : ndarray of shape (R, 7), float64
        The cuboid used, ``[x, y, z, length, width, height, yaw]`` in the world frame at capture time.
    """

    track_ids: tuple[str, ...]
    frames: tuple[tuple[str, int], ...]
    track: I64
    frame: I64
    box: F64
    visible_box: F64
    visible_fraction: F64
    truncation: F64
    occlusion: F64
    depth_m: F64
    boxes_world: F64
    min_visible_fraction: float = 0.0

    def __len__(self) -> int:
        return int(self.track.size)

    @property
    def visible(self) -> npt.NDArray[np.bool_]:
        """(R,) bool: visible fraction above the threshold and a box with area."""
        area = (self.box[:, 2] - self.box[:, 0]) * (self.box[:, 3] - self.box[:, 1])
        return (self.visible_fraction > self.min_visible_fraction) & np.nan_to_num(area > 0.0)

    def rows_in(self, sensor_id: str, timestamp_us: int) -> I64:
        """Row indices of one camera frame (empty when the frame was not computed)."""
        try:
            f = self.frames.index((sensor_id, int(timestamp_us)))
        except ValueError:
            return np.zeros(0, np.int64)
        return np.flatnonzero(self.frame == f)

    def record(self, row: int) -> Footprint:
        """Row ``row`` as a :class:`Footprint` (boxes None when not visible)."""
        sid, t = self.frames[int(self.frame[row])]
        vis = bool(self.visible[row])
        return Footprint(
            self.track_ids[int(self.track[row])],
            sid,
            t,
            _box_tuple(self.box[row]) if vis else None,
            _box_tuple(self.visible_box[row]) if vis else None,
            float(self.visible_fraction[row]),
            float(self.truncation[row]),
            float(self.occlusion[row]),
            float(self.depth_m[row]),
        )


def camera_frames(log: Log, camera_ids: Sequence[str] | None = None) -> list[tuple[str, int]]:
    """Every capture ``(sensor_id, timestamp_us)`` of the given cameras (default: all), time-sorted."""
    ids = sorted(log.cameras) if camera_ids is None else list(camera_ids)
    out = []
    for sid in ids:
        _check_camera(log, sid)
        out += [(sid, int(t)) for t in log.cameras[sid].timestamps_us]
    return sorted(out, key=lambda f: (f[1], f[0]))


def _check_camera(log: Log, sensor_id: str) -> CameraModel:
    if sensor_id not in log.cameras or log.sensors[sensor_id].camera is None:
        raise InvalidInputError(f"unknown camera {sensor_id!r}; the log's cameras are {sorted(log.cameras)}")
    model = log.sensors[sensor_id].camera
    assert model is not None  # checked above
    return model


def _check_frame(log: Log, sensor_id: str, timestamp_us: int) -> None:
    _check_camera(log, sensor_id)
    stamps = log.cameras[sensor_id].timestamps_us
    i = int(np.searchsorted(stamps, timestamp_us))
    if i < stamps.size and int(stamps[i]) == timestamp_us:
        return
    if stamps.size == 0:
        raise InvalidInputError(f"camera {sensor_id!r} has no captures (timestamp_us {timestamp_us})")
    near = int(stamps[log.cameras[sensor_id].nearest(timestamp_us)])
    raise InvalidInputError(
        f"timestamp_us {timestamp_us} is not a capture of camera {sensor_id!r} (nearest {near}, "
        f"captures span [{int(stamps[0])}, {int(stamps[-1])}])"
    )


def _poses(
    log: Log, tracks: Sequence[CuboidTrack], frames: Sequence[tuple[str, int]]
) -> tuple[I64, I64, F64]:
    """Rows (track, frame) whose frame time lies in the track's span, and their world boxes (R, 7)."""
    times = np.array([t for _, t in frames], np.int64)
    rows_t, rows_f, boxes = [], [], []
    for k, tr in enumerate(tracks):
        inside = np.flatnonzero((times >= tr.timestamps_us[0]) & (times <= tr.timestamps_us[-1]))
        if inside.size == 0:
            continue
        uniq, inv = np.unique(times[inside], return_inverse=True)
        path = interpolate_track(tr, uniq, log.trajectory)  # world frame (ego keyframes moved there)
        b = np.empty((uniq.size, 7))
        b[:, :3], b[:, 3:6] = path.centers, path.sizes
        b[:, 6] = quat_wxyz_to_yaw(path.rotations_wxyz)
        rows_t.append(np.full(inside.size, k, np.int64))
        rows_f.append(inside.astype(np.int64))
        boxes.append(b[inv])
    if not rows_t:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 7))
    return np.concatenate(rows_t), np.concatenate(rows_f), np.concatenate(boxes)


def compute_footprints(
    log: Log,
    tracks: Annotations | Sequence[CuboidTrack],
    frames: Sequence[tuple[str, int]] | None = None,
    config: FootprintConfig | None = None,
) -> Footprints:
    """Footprints of every track in every given camera frame, posed at the capture time.

    Parameters
    ----------
    log : Log
        The drive log (cameras, trajectory; lidar streams for the lidar occlusion test).
    tracks : Annotations or sequence of CuboidTrack
        Tracks in the world or ego frame.
    frames : sequence of (str, int), optional
        Camera frames ``(sensor_id, timestamp_us)``; default every capture of every camera.
    config : FootprintConfig, optional
        Sampling and occlusion settings.

    Returns
    -------
    Footprints
        One row per (track, frame) with the frame time inside the track's keyframe span.

    Raises
    ------
    InvalidInputError
        An unknown camera, or a timestamp that is not a capture of its camera.
    """
    cfg = FootprintConfig() if config is None else config
    track_list = list(tracks.tracks if isinstance(tracks, Annotations) else tracks)
    frame_list = camera_frames(log) if frames is None else [(str(s), int(t)) for s, t in frames]
    for sid, t in frame_list:
        _check_frame(log, sid, t)
    row_t, row_f, boxes_world = _poses(log, track_list, frame_list)
    n = row_t.size
    models = [_check_camera(log, sid) for sid, _ in frame_list]
    world_from_cam = [log.trajectory.pose_at(t) @ log.sensors[sid].ego_from_sensor for sid, t in frame_list]
    origins = np.array([p.translation for p in world_from_cam]).reshape(-1, 3)
    cam_from_local = np.zeros((len(frame_list), 4, 4))
    for f, p in enumerate(world_from_cam):
        cam_from_local[f, :3, :3] = p.rotation.T
        cam_from_local[f, 3, 3] = 1.0
    boxes_local = boxes_world.copy()
    boxes_local[:, :3] -= origins[row_f] if n else 0.0
    smp = sample_footprints(
        boxes_local.astype(np.float32),
        models,
        cam_from_local,
        row_f,
        edge_samples=cfg.edge_samples,
        face_grid=cfg.face_grid,
        near_m=cfg.near_m,
        backend=cfg.backend,
    )
    n_e = smp.n_edge
    flags = np.asarray(smp.flags)
    u, v, depth = np.asarray(smp.u, np.float64), np.asarray(smp.v, np.float64), np.asarray(smp.depth)
    valid = (flags & FLAG_VALID) > 0
    facing = (flags[:, n_e:] & FLAG_FACING) > 0
    in_img = ((flags[:, n_e:] & FLAG_IN_IMAGE) > 0) & facing
    # Area weight of each face sample: face area / G^2 on faces turned to the camera.
    g2 = cfg.face_grid * cfg.face_grid
    sizes = boxes_world[:, 3:6]
    face_area = np.stack([sizes[:, 1] * sizes[:, 2], sizes[:, 0] * sizes[:, 2], sizes[:, 0] * sizes[:, 1]], 1)
    weight = np.where(facing, np.repeat(np.repeat(face_area, 2, axis=1), g2, axis=1), 0.0)
    occluded = np.zeros_like(in_img)
    pts_cam = np.asarray(smp.points_cam)[:, n_e:]
    for f in np.unique(row_f):
        rows = np.flatnonzero(row_f == f)
        occluded[rows] = cuboid_occlusion(pts_cam[rows], in_img[rows], boxes_local[rows], cam_from_local[f])
    if cfg.lidar_occlusion and log.lidar:
        occluded |= lidar_occlusion(
            log,
            frame_list,
            row_f,
            boxes_world,
            u[:, n_e:],
            v[:, n_e:],
            depth[:, n_e:],
            in_img & ~occluded,
            cfg,
        )
    total = weight.sum(axis=1)
    w_in = np.where(in_img, weight, 0.0).sum(axis=1)
    w_vis = np.where(in_img & ~occluded, weight, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        truncation = np.where(total > 0, 1.0 - w_in / total, 1.0)
        occlusion = np.where(w_in > 0, 1.0 - w_vis / w_in, 0.0)
        visible_fraction = np.where(total > 0, w_vis / total, 0.0)
    keep = valid.copy()
    keep[:, n_e:] &= facing
    sizes_img = np.array([[m.width, m.height] for m in models], np.float64).reshape(-1, 2)[row_f]
    box = _extent(u, v, keep, sizes_img)
    vis_mask = in_img & ~occluded
    visible_box = _extent(u[:, n_e:], v[:, n_e:], vis_mask, sizes_img)
    has_img = ((flags & FLAG_IN_IMAGE) > 0).any(axis=1) if n else np.zeros(0, bool)
    box[~has_img] = np.nan
    dist = np.linalg.norm(boxes_local[:, :3], axis=1) if n else np.zeros(0)
    return Footprints(
        tuple(t.track_id for t in track_list),
        tuple(frame_list),
        row_t,
        row_f,
        box,
        visible_box,
        np.clip(visible_fraction, 0.0, 1.0),
        np.clip(truncation, 0.0, 1.0),
        np.clip(occlusion, 0.0, 1.0),
        dist,
        boxes_world,
        cfg.min_visible_fraction,
    )


def _extent(u: F64, v: F64, keep: npt.NDArray[np.bool_], sizes: F64) -> F64:
    """Per-row ``(x0, y0, x1, y1)`` of the kept samples clipped to ``[0, W] x [0, H]``; NaN when none."""
    out = np.full((u.shape[0], 4), np.nan)
    any_kept = keep.any(axis=1)
    if not any_kept.any():
        return out
    k, uk, vk = keep[any_kept], u[any_kept], v[any_kept]
    ku, kv = k & ~np.isnan(uk), k & ~np.isnan(vk)  # NaN samples are ignored (as nanmin / nanmax would)
    w, h = sizes[any_kept, 0], sizes[any_kept, 1]
    with np.errstate(invalid="ignore"):
        ext = np.stack(
            [
                np.where(ku, uk, np.inf).min(axis=1),
                np.where(kv, vk, np.inf).min(axis=1),
                np.where(ku, uk, -np.inf).max(axis=1),
                np.where(kv, vk, -np.inf).max(axis=1),
            ],
            axis=1,
        )
    ext[~np.isfinite(ext)] = np.nan  # every kept sample NaN
    out[any_kept] = np.clip(ext, 0.0, np.stack([w, h, w, h], axis=1))
    return out


def footprint_records(fp: Footprints, rows: Any = None) -> list[Footprint]:
    """Rows of ``fp`` (all by default) as :class:`Footprint` records."""
    idx = range(len(fp)) if rows is None else rows
    return [fp.record(int(r)) for r in idx]
