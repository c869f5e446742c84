"""Occlusion tests of footprint face samples: against the other cuboids of a frame and the lidar.

Private helpers of :mod:`engine.linking.footprints` (rules in its module docstring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numba
import numpy as np
import numpy.typing as npt

from engine.shared_frame import deskew_sweep, project_points
from kernels.boxes import points_in_boxes

if TYPE_CHECKING:
    from engine.linking.footprints import FootprintConfig
    from engine.log import Log

__all__ = ["cuboid_occlusion", "lidar_occlusion", "window_min_at"]

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


def cuboid_occlusion(
    points_cam: npt.NDArray[np.float32],
    mask: B,
    boxes: F64,
    cam_from_local: F64,
    min_gap_m: float = 0.02,
    *,
    reference: bool = False,
) -> B:
    """Which samples are hidden from the camera by another box of the same frame.

    Parameters
    ----------
    points_cam : ndarray of shape (A, F, 3), float32
        Face samples of A boxes in the camera optical frame [m].
    mask : ndarray of shape (A, F), bool
        Samples to test (others come back False).
    boxes : ndarray of shape (A, 7), float64
        The same boxes ``[x, y, z, l, w, h, yaw]`` in the local z-up frame [m, rad].
    cam_from_local : ndarray of shape (4, 4), float64
        Local frame -> camera optical frame.
    min_gap_m : float
        The segment camera -> sample stops this short of the sample [m] (its own surface).
    reference : bool
        Use the vectorised NumPy slab test over every (sample, box) pair (the tests' reference) instead
        of the compiled loop that stops at a sample's first hit; the results are equal.

    Returns
    -------
    ndarray of shape (A, F), bool
        True where the segment from the camera centre to the sample crosses another box.
    """
    out = np.zeros(mask.shape, bool)
    if boxes.shape[0] < 2 or not mask.any():
        return out
    r, t = cam_from_local[:3, :3], cam_from_local[:3, 3]
    origin = -r.T @ t
    owner, sample = np.nonzero(mask)
    p = (points_cam[owner, sample].astype(np.float64) - t) @ r  # (K, 3) local frame
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])

    def to_box(x: F64) -> F64:  # (..., 3) -> (..., A, 3) in each box's own axes
        d = x[..., None, :] - boxes[:, :3]
        return np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1], d[..., 2]], -1)

    o = to_box(origin)  # (A, 3) the camera in each box's axes
    half = 0.5 * boxes[:, 3:6]
    if not reference:
        out[owner, sample] = _segments_hit_boxes(
            p, owner.astype(np.int64), origin, boxes[:, :3], c, s, o, half, min_gap_m
        )
        return out
    d = to_box(p) - o  # (K, A, 3)
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    t1 = (-half - o) / d
    t2 = (half - o) / d
    tmin = np.minimum(t1, t2).max(axis=-1)
    tmax = np.maximum(t1, t2).min(axis=-1)
    seg = np.linalg.norm(p - origin, axis=-1)[:, None]
    hit = (tmin <= tmax) & (tmax > 0.0) & (tmin < 1.0 - min_gap_m / np.maximum(seg, 1e-9))
    hit[np.arange(owner.size), owner] = False
    out[owner, sample] = hit.any(axis=-1)
    return out


@numba.njit(cache=True)
def _segments_hit_boxes(  # type: ignore[no-untyped-def]
    p, owner, origin, centres, c, s, o, half, min_gap_m: float
):  # pragma: no cover - compiled
    """For each sample ``p[k]``, whether the segment from ``origin`` crosses a box other than ``owner[k]``.

    The operations of :func:`cuboid_occlusion`'s reference path, in the same order, per (sample, box).
    """
    n = p.shape[0]
    a = centres.shape[0]
    hit = np.zeros(n, np.bool_)
    for k in range(n):
        ex = p[k, 0] - origin[0]
        ey = p[k, 1] - origin[1]
        ez = p[k, 2] - origin[2]
        seg = math.sqrt(ex * ex + ey * ey + ez * ez)
        stop = 1.0 - min_gap_m / max(seg, 1e-9)
        for b in range(a):
            if b == owner[k]:
                continue
            dx = p[k, 0] - centres[b, 0]
            dy = p[k, 1] - centres[b, 1]
            dz = p[k, 2] - centres[b, 2]
            q = (c[b] * dx + s[b] * dy, -s[b] * dx + c[b] * dy, dz)
            tmin = -np.inf
            tmax = np.inf
            for ax in range(3):
                dd = q[ax] - o[b, ax]
                if abs(dd) < 1e-12:
                    dd = 1e-12
                t1 = (-half[b, ax] - o[b, ax]) / dd
                t2 = (half[b, ax] - o[b, ax]) / dd
                tmin = max(tmin, min(t1, t2))
                tmax = min(tmax, max(t1, t2))
            if tmin <= tmax and tmax > 0.0 and tmin < stop:
                hit[k] = True
                break
    return hit


def _lidar_world(log: Log, t_us: int, max_gap_us: int, cache: dict[tuple[str, int], F64]) -> F64:
    """World-frame points of each lidar's sweep nearest ``t_us`` (within ``max_gap_us``), deskewed."""
    parts = []
    for lid, stream in sorted(log.lidar.items()):
        if len(stream) == 0:
            continue
        i = stream.nearest(t_us)
        if abs(int(stream.timestamps_us[i]) - t_us) > max_gap_us:
            continue
        key = (lid, i)
        if key not in cache:
            if len(cache) > 8:
                cache.pop(next(iter(cache)))
            cache[key] = np.asarray(deskew_sweep(log, lid, i, frame="world"), np.float64)
        parts.append(cache[key])
    return np.concatenate(parts) if parts else np.zeros((0, 3))


def lidar_occlusion(
    log: Log,
    frames: Sequence[tuple[str, int]],
    row_frame: npt.NDArray[np.int64],
    boxes_world: F64,
    u: F64,
    v: F64,
    depth: npt.NDArray[np.float32],
    mask: B,
    cfg: FootprintConfig,
) -> B:
    """Which face samples lie behind a lidar return (not on a tracked cuboid) by more than the margin.

    The lidar sweep nearest each camera frame is deskewed to the world, returns inside the frame's
    cuboids (at the capture time, grown by ``box_margin_m``) are dropped, the rest projected into the
    camera at its capture time; the nearest depth within ``lidar_window_px`` of a sample's pixel is
    compared with the sample's depth.
    """
    out = np.zeros(mask.shape, bool)
    cache: dict[tuple[str, int], F64] = {}
    for f in np.unique(row_frame[mask.any(axis=1)]):
        sid, t = frames[int(f)]
        rows = np.flatnonzero(row_frame == f)
        pts = _lidar_world(log, t, cfg.lidar_max_gap_us, cache)
        if pts.shape[0] == 0:
            continue
        grown = boxes_world[rows].copy()
        grown[:, 3:6] += 2.0 * cfg.box_margin_m
        inside = points_in_boxes(pts.astype(np.float32), grown.astype(np.float32)) >= 0
        pts = pts[~inside]
        if pts.shape[0] == 0:
            continue
        res = project_points(
            log, pts.astype(np.float32), ref_time_us=t, frame="world", camera_ids=[sid], depth_image=True
        )
        img = np.asarray(res.projection.depth_image)[0]
        h, w = img.shape
        m = mask[rows]
        col = np.clip(np.floor(np.nan_to_num(u[rows][m])).astype(np.int64), 0, w - 1)
        row = np.clip(np.floor(np.nan_to_num(v[rows][m])).astype(np.int64), 0, h - 1)
        d = depth[rows][m].astype(np.float64)
        lid = window_min_at(img, row, col, cfg.lidar_window_px)
        margin = np.maximum(cfg.occlusion_margin_m, cfg.occlusion_margin_rel * d)
        hidden = np.zeros(m.shape, bool)
        hidden[m] = lid < d - margin
        out[rows] = hidden
    return out


def window_min_at(
    img: npt.NDArray[np.float32], row: npt.NDArray[np.int64], col: npt.NDArray[np.int64], radius: int
) -> npt.NDArray[np.float32]:
    """Minimum of ``img`` over the ``(2 radius + 1)²`` window centred on each pixel ``(row, col)``.

    Equal to ``scipy.ndimage.minimum_filter(img, size=2 radius + 1, mode="nearest")[row, col]`` (edge
    pixels repeat beyond the border, so the window is clipped to the image), computed at the given
    pixels only instead of over the whole image.
    """
    h, w = img.shape
    out = np.full(row.shape, np.inf, img.dtype)
    for dy in range(-radius, radius + 1):
        rr = np.clip(row + dy, 0, h - 1)
        for dx in range(-radius, radius + 1):
            np.minimum(out, img[rr, np.clip(col + dx, 0, w - 1)], out=out)
    return out
