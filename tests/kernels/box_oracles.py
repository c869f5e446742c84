"""Slow, obviously-correct references for the box kernels (imported by name by the box tests).

* ``pib_oracle``: every point against every box in NumPy float64, with the documented containment
  formula written out element by element (no matrix product, so no fused multiply-add).
* ``iou_oracle``: the intersection polygon from the other classic construction (corners of each box
  inside the other plus edge-edge crossings, sorted by angle), not Sutherland-Hodgman.
* shapely references for IoU, GIoU and greedy NMS.
"""

from __future__ import annotations

import math

import numpy as np
import shapely


def random_boxes(rng: np.random.Generator, m: int, spread: float = 10.0) -> np.ndarray:
    """Overlapping (M, 7) float32 boxes with random yaw in a square of side ``2 * spread``."""
    b = np.empty((m, 7), np.float32)
    b[:, 0:2] = rng.uniform(-spread, spread, (m, 2))
    b[:, 2] = rng.uniform(-1.0, 1.0, m)
    b[:, 3] = rng.uniform(0.5, 6.0, m)
    b[:, 4] = rng.uniform(0.3, 3.0, m)
    b[:, 5] = rng.uniform(0.5, 3.0, m)
    b[:, 6] = rng.uniform(-math.pi, math.pi, m)
    return b


def pib_oracle(points: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first (N,) int32, member (N, M) bool)`` by brute force."""
    p = points.astype(np.float64)
    b = boxes.astype(np.float64)
    c = np.cos(b[:, 6])[None, :]
    s = np.sin(b[:, 6])[None, :]
    dx = p[:, 0:1] - b[None, :, 0]
    dy = p[:, 1:2] - b[None, :, 1]
    dz = p[:, 2:3] - b[None, :, 2]
    along = dx * c + dy * s
    across = dy * c - dx * s
    member = (
        (np.abs(along) <= 0.5 * b[None, :, 3])
        & (np.abs(across) <= 0.5 * b[None, :, 4])
        & (np.abs(dz) <= 0.5 * b[None, :, 5])
    )
    first = np.full(p.shape[0], -1, np.int32)
    if b.shape[0]:
        first = np.where(member.any(axis=1), member.argmax(axis=1), -1).astype(np.int32)
    return first, member


def corners(box: np.ndarray) -> np.ndarray:
    """(4, 2) float64 BEV corners, counter-clockwise."""
    x, y, _, length, width, _, yaw = (float(v) for v in box)
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], np.float64) * [length / 2, width / 2]
    return np.c_[x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1]]


def _inside(pt: np.ndarray, poly: np.ndarray, eps: float = 1e-9) -> bool:
    for k in range(4):
        a, b = poly[k], poly[(k + 1) % 4]
        if (b[0] - a[0]) * (pt[1] - a[1]) - (b[1] - a[1]) * (pt[0] - a[0]) < -eps:
            return False
    return True


def _crossing(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> np.ndarray | None:
    r, s = p2 - p1, q2 - q1
    den = r[0] * s[1] - r[1] * s[0]
    if abs(den) < 1e-15:
        return None
    qp = q1 - p1
    t = (qp[0] * s[1] - qp[1] * s[0]) / den
    u = (qp[0] * r[1] - qp[1] * r[0]) / den
    return p1 + t * r if 0.0 <= t <= 1.0 and 0.0 <= u <= 1.0 else None


def bev_intersection_oracle(a: np.ndarray, b: np.ndarray) -> float:
    """BEV intersection area by vertex collection."""
    pa, pb = corners(a), corners(b)
    pts = [v for v in pa if _inside(v, pb)] + [v for v in pb if _inside(v, pa)]
    for i in range(4):
        for j in range(4):
            x = _crossing(pa[i], pa[(i + 1) % 4], pb[j], pb[(j + 1) % 4])
            if x is not None:
                pts.append(x)
    if len(pts) < 3:
        return 0.0
    arr = np.array(pts)
    centre = arr.mean(axis=0)
    arr = arr[np.argsort(np.arctan2(arr[:, 1] - centre[1], arr[:, 0] - centre[0]))]
    x, y = arr[:, 0], arr[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _z_overlap(a: np.ndarray, b: np.ndarray) -> float:
    top = min(a[2] + a[5] / 2, b[2] + b[5] / 2)
    bottom = max(a[2] - a[5] / 2, b[2] - b[5] / 2)
    return max(0.0, float(top - bottom))


def iou_oracle(a: np.ndarray, b: np.ndarray, three_d: bool = False) -> float:
    """IoU (BEV or 3D) with :func:`bev_intersection_oracle`."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    inter = bev_intersection_oracle(a, b)
    sa, sb = a[3] * a[4], b[3] * b[4]
    if three_d:
        inter *= _z_overlap(a, b)
        sa, sb = sa * a[5], sb * b[5]
    union = sa + sb - inter
    return inter / union if union > 0 else 0.0


def shapely_overlap(a: np.ndarray, b: np.ndarray, three_d: bool = False, giou: bool = False) -> float:
    """IoU or GIoU of two boxes with shapely polygons."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    pa, pb = shapely.Polygon(corners(a)), shapely.Polygon(corners(b))
    inter = pa.intersection(pb).area
    sa, sb = a[3] * a[4], b[3] * b[4]
    if three_d:
        inter *= _z_overlap(a, b)
        sa, sb = sa * a[5], sb * b[5]
    union = sa + sb - inter
    iou = inter / union if union > 0 else 0.0
    if not giou:
        return iou
    hull = shapely.MultiPoint(np.r_[corners(a), corners(b)]).convex_hull.area
    if three_d:
        hull *= max(a[2] + a[5] / 2, b[2] + b[5] / 2) - min(a[2] - a[5] / 2, b[2] - b[5] / 2)
    return iou - (hull - union) / hull if hull > 0 else iou


def nms_reference(boxes: np.ndarray, scores: np.ndarray, thr: float, three_d: bool = False) -> np.ndarray:
    """Greedy NMS with shapely IoU over all pairs, stable descending score order."""
    order = np.argsort(-scores.astype(np.float32), kind="stable")
    keep: list[int] = []
    for i in order:
        if all(shapely_overlap(boxes[k], boxes[i], three_d) <= thr for k in keep):
            keep.append(int(i))
    return np.array(keep, np.int64)
