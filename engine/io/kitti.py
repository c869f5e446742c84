"""KITTI tracking: label / result files in and out, and tracking sequence folders as logs.

Conventions (KITTI object and tracking devkits' ``readme.txt``; docs/CONVENTIONS.md §8):

* Label rows: ``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y
  [score]``; ``track_id -1`` marks ``DontCare`` regions (skipped). ``location (x, y, z)`` is the
  **bottom-face centre** in the rectified reference camera frame (x right, y down, z forward):
  ``centre_rect = location - (0, h/2, 0)``. ``rotation_y`` turns about camera +y; the heading in the
  camera frame is ``d = (cos ry, 0, -sin ry)``.
* Ego = the velodyne frame (x forward, y left, z up). Boxes are mapped with
  ``velo_from_rect = cam_from_velo.inverse() @ rect_from_cam.inverse()`` (``Tr_velo_cam``,
  ``R_rect``), or with the ideal axes when no calibration is given. The box rotation is the full
  ``velo_from_rect @ rect_from_box`` (box x = heading, z = camera -y), so its yaw is ``atan2(d_y,
  d_x)`` of the mapped heading (``wrap(-ry - pi/2)`` with ideal axes) and the small tilt of the
  calibration is kept for the way back. ``length = l, width = w, height = h``.
* Time: frame index x ``frame_period_us`` (10 Hz) on a synthetic epoch ``epoch_us``.
* Fields the engine does not model (``type`` = the label, ``truncated``, ``occluded``, ``alpha``,
  ``bbox``, ``score``) are kept as per-keyframe AttributePaths ``kitti_*`` holding the file's text,
  and so is the box text (``kitti_box``), which the writer reuses while the box is unchanged (to
  1e-6, angles modulo 2 pi): a read/write round trip reproduces the file. Changed or new boxes are
  written with 6 decimals, as KITTI's, ``rotation_y`` in [-pi, pi).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from calibration.se3 import SE3, quat_wxyz_to_xyzw, quat_xyzw_to_wxyz
from calibration.units import wrap_angle
from engine.annotations import Annotations, AttributePath, CoordinateFrame, CuboidTrack
from kernels.errors import InvalidInputError, LogFormatError

__all__ = [
    "IDEAL_VELO_FROM_RECT",
    "KittiCalib",
    "read_kitti_calib",
    "read_kitti_tracking_labels",
    "write_kitti_tracking_labels",
]

FRAME_PERIOD_US = 100_000
IDEAL_VELO_FROM_RECT = SE3(np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]), np.zeros(3))
"""Rectified camera (x right, y down, z forward) to velodyne (x forward, y left, z up), ideal axes."""

_KEPT = ("truncated", "occluded", "alpha", "bbox")


@dataclass(frozen=True, slots=True)
class KittiCalib:
    """A KITTI calibration file.

    Parameters
    ----------
    velo_from_rect : SE3
        Rectified reference camera frame to velodyne (``(R_rect @ Tr_velo_cam)^-1``).
    projections : dict of str to ndarray of shape (3, 4)
        ``P0`` ... ``P3``: rectified camera i projection matrices [px].
    imu_from_velo : SE3 or None
        From ``Tr_imu_velo`` (tracking) when present: ``velo_from_imu``'s inverse.
    """

    velo_from_rect: SE3
    projections: dict[str, npt.NDArray[np.float64]]
    imu_from_velo: SE3 | None = None


def _matrix(values: list[float], name: str, path: Path) -> npt.NDArray[np.float64]:
    a = np.asarray(values, dtype=np.float64)
    if a.size not in (9, 12):
        raise LogFormatError(f"{str(path)!r}: {name} must have 9 or 12 numbers, got {a.size}")
    return a.reshape(3, -1)


def read_kitti_calib(path: str | Path) -> KittiCalib:
    """Read a tracking (``R_rect``, ``Tr_velo_cam``) or object (``R0_rect:``, ``Tr_velo_to_cam:``) calib."""
    path = Path(path)
    entries: dict[str, list[float]] = {}
    try:
        for line in path.read_text().splitlines():
            parts = line.replace(":", " ").split()
            if len(parts) > 1:
                entries[parts[0]] = [float(v) for v in parts[1:]]
    except (OSError, ValueError) as exc:
        raise LogFormatError(f"cannot read KITTI calib {str(path)!r}: {exc}") from exc

    def get(*names: str) -> npt.NDArray[np.float64]:
        for n in names:
            if n in entries:
                return _matrix(entries[n], n, path)
        raise LogFormatError(f"{str(path)!r} has none of {list(names)}")

    rect = np.eye(4)
    rect[:3, :3] = get("R_rect", "R0_rect")
    cam_from_velo = np.vstack([get("Tr_velo_cam", "Tr_velo_to_cam"), [0, 0, 0, 1]])
    velo_from_rect = SE3.from_matrix(np.linalg.inv(rect @ cam_from_velo))
    imu = None
    if "Tr_imu_velo" in entries or "Tr_imu_to_velo" in entries:
        velo_from_imu = np.vstack([get("Tr_imu_velo", "Tr_imu_to_velo"), [0, 0, 0, 1]])
        imu = SE3.from_matrix(np.linalg.inv(velo_from_imu))
    proj: dict[str, npt.NDArray[np.float64]] = {n: get(n) for n in ("P0", "P1", "P2", "P3") if n in entries}
    return KittiCalib(velo_from_rect, proj, imu)


def _attr(name: str, times: list[int], values: list[str]) -> AttributePath:
    return AttributePath(f"kitti_{name}", tuple(times), tuple(values))


def read_kitti_tracking_labels(
    path: str | Path,
    *,
    calib: KittiCalib | None = None,
    frame_period_us: int = FRAME_PERIOD_US,
    epoch_us: int = 0,
) -> Annotations:
    """Read a KITTI tracking label (or result) file as ego-frame (velodyne) cuboid tracks.

    Parameters
    ----------
    path : str or Path
        ``label_02/SSSS.txt`` or a tracker's result file (17 or 18 columns).
    calib : KittiCalib, optional
        The sequence's calibration; ideal axes (:data:`IDEAL_VELO_FROM_RECT`) when absent.
    frame_period_us, epoch_us : int
        ``timestamp_us = epoch_us + frame * frame_period_us``.

    Returns
    -------
    Annotations
        One track per ``track_id`` (``DontCare`` rows skipped), label = KITTI ``type``.
    """
    path = Path(path)
    velo_from_rect = calib.velo_from_rect if calib else IDEAL_VELO_FROM_RECT
    rows: dict[str, list[list[str]]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise LogFormatError(f"cannot read KITTI labels {str(path)!r}: {exc}") from exc
    for n, line in enumerate(lines, 1):
        f = line.split()
        if not f:
            continue
        if len(f) not in (17, 18):
            raise LogFormatError(f"{str(path)!r} line {n}: expected 17 or 18 columns, got {len(f)}")
        if f[1] == "-1" or f[2] == "DontCare":
            continue
        rows.setdefault(f[1], []).append(f)
    tracks = []
    for tid, rs in rows.items():
        rs.sort(key=lambda r: int(r[0]))
        try:
            g = np.array([[float(v) for v in r[10:17]] for r in rs])  # h w l x y z ry
        except ValueError as exc:
            raise LogFormatError(f"{str(path)!r} track {tid}: {exc}") from exc
        h, w, length, ry = g[:, 0], g[:, 1], g[:, 2], g[:, 6]
        centre_rect = g[:, 3:6] - np.stack([np.zeros_like(h), h / 2, np.zeros_like(h)], 1)
        centers = velo_from_rect.transform_points(centre_rect)
        # box axes in the rectified camera frame: x = heading, z = up (camera -y), y = z cross x
        x_axis = np.stack([np.cos(ry), np.zeros_like(ry), -np.sin(ry)], 1)
        z_axis = np.broadcast_to([0.0, -1.0, 0.0], x_axis.shape)
        rect_from_box = np.stack([x_axis, np.cross(z_axis, x_axis), z_axis], 2)
        velo_from_box = velo_from_rect.rotation @ rect_from_box
        quats = quat_xyzw_to_wxyz(Rotation.from_matrix(velo_from_box).as_quat())
        times = [epoch_us + int(r[0]) * frame_period_us for r in rs]
        labels = {r[2] for r in rs}
        if len(labels) != 1:
            raise LogFormatError(f"{str(path)!r} track {tid}: changes type {sorted(labels)}")
        attrs = [
            _attr("truncated", times, [r[3] for r in rs]),
            _attr("occluded", times, [r[4] for r in rs]),
            _attr("alpha", times, [r[5] for r in rs]),
            _attr("bbox", times, [" ".join(r[6:10]) for r in rs]),
            _attr("box", times, [" ".join(r[10:17]) for r in rs]),
        ]
        conf = None
        if all(len(r) == 18 for r in rs):
            attrs.append(_attr("score", times, [r[17] for r in rs]))
            conf = np.clip([float(r[17]) for r in rs], 0.0, 1.0)
        tracks.append(
            CuboidTrack(
                tid,
                labels.pop(),
                CoordinateFrame.EGO,
                np.array(times),
                centers,
                np.stack([length, w, h], 1),
                quats,
                conf,
                tuple(attrs),
            )
        )
    tracks.sort(key=lambda t: (int(t.track_id) if t.track_id.lstrip("-").isdigit() else 0, t.track_id))
    return Annotations(tuple(tracks))


def _kept(attrs: dict[str, AttributePath], ts: int, name: str, default: str) -> str:
    """The file's text of a kept KITTI field at keyframe ``ts``, or ``default``."""
    a = attrs.get(name)
    v = a.value_at(ts) if a is not None and ts in a.timestamps_us else None
    return default if v is None else v


def _box_text(attrs: dict[str, AttributePath], ts: int, box: npt.NDArray[np.float64]) -> str:
    """``h w l x y z ry`` with 6 decimals, or the file's own text when it describes the same box."""
    text = _kept(attrs, ts, "box", "")
    if text:
        old = np.array([float(v) for v in text.split()])
        diff = box - old
        diff[6] = wrap_angle(diff[6])
        if np.abs(diff).max() <= 1e-6:
            return text
    return " ".join(f"{v:.6f}" for v in box)


def _kitti_ids(tracks: Iterable[CuboidTrack]) -> dict[str, int]:
    ids = [t.track_id for t in tracks]
    if all(i.isdigit() for i in ids):
        return {i: int(i) for i in ids}
    return {i: k for k, i in enumerate(ids)}


def write_kitti_tracking_labels(
    annotations: Annotations,
    path: str | Path,
    *,
    calib: KittiCalib | None = None,
    frame_period_us: int = FRAME_PERIOD_US,
    epoch_us: int = 0,
    scores: bool | None = None,
) -> Path:
    """Write ego-frame (velodyne) tracks as a KITTI tracking label / result file, one row per keyframe.

    Keyframe times must fall on frames (``(t - epoch_us) % frame_period_us == 0``). Track ids that are
    all integers are kept, others are numbered in order. ``kitti_*`` attributes are written back as
    read; missing ones get ``truncated 0, occluded 0``, ``alpha = ry - atan2(x, z)``, bbox ``-1`` x 4.
    ``scores`` adds an 18th column (default: when any track has ``kitti_score``); without the
    attribute, the keyframe confidence is written.
    """
    velo_from_rect = calib.velo_from_rect if calib else IDEAL_VELO_FROM_RECT
    rect_from_velo = velo_from_rect.inverse()
    ids = _kitti_ids(annotations.tracks)
    if scores is None:
        scores = any(a.name == "kitti_score" for t in annotations.tracks for a in t.attributes)
    out: list[tuple[int, int, str]] = []
    for t in annotations.tracks:
        if t.frame is not CoordinateFrame.EGO:
            raise InvalidInputError(
                f"track {t.track_id!r} is in the {t.frame.value} frame; KITTI needs ego (velodyne)"
            )
        rel = t.timestamps_us - epoch_us
        if np.any(rel % frame_period_us):
            raise InvalidInputError(
                f"track {t.track_id!r}: keyframe times are not on {frame_period_us} µs frames"
            )
        frames = (rel // frame_period_us).astype(int)
        attrs = {a.name[6:]: a for a in t.attributes if a.name.startswith("kitti_")}
        box_x = Rotation.from_quat(quat_wxyz_to_xyzw(t.rotations_wxyz)).as_matrix()[:, :, 0]
        heading = box_x @ rect_from_velo.rotation.T
        ry = np.asarray(wrap_angle(np.arctan2(-heading[:, 2], heading[:, 0])))
        length, w, h = t.sizes[:, 0], t.sizes[:, 1], t.sizes[:, 2]
        loc = rect_from_velo.transform_points(t.centers) + np.stack(
            [np.zeros_like(h), h / 2, np.zeros_like(h)], 1
        )
        assert t.confidence is not None  # filled by CuboidTrack
        for k, ts in enumerate(t.timestamps_us):
            alpha = float(wrap_angle(ry[k] - math.atan2(loc[k, 0], loc[k, 2])))
            cols = [
                str(frames[k]),
                str(ids[t.track_id]),
                t.label,
                _kept(attrs, int(ts), "truncated", "0"),
                _kept(attrs, int(ts), "occluded", "0"),
                _kept(attrs, int(ts), "alpha", f"{alpha:.6f}"),
                _kept(attrs, int(ts), "bbox", "-1 -1 -1 -1"),
                _box_text(attrs, int(ts), np.array([h[k], w[k], length[k], *loc[k], ry[k]])),
            ]
            if scores:
                cols.append(_kept(attrs, int(ts), "score", f"{float(t.confidence[k]):.6f}"))
            out.append((int(frames[k]), ids[t.track_id], " ".join(cols)))
    out.sort(key=lambda r: (r[0], r[1]))
    path = Path(path)
    path.write_text("".join(line + "\n" for _, _, line in out))
    return path
