"""Are PandaSet's published lidar points already motion-compensated? Print the evidence as JSON.

Decisive test: the ground rings at the sweep seam. The Pandar64 sweep starts and ends directly
behind the car (sensor azimuth ±180°), so ground points just left of the seam (captured at the start
of the sweep) and just right of it (~98 ms later) are adjacent in azimuth but far apart in time.

* In a **raw** sweep every point is in the sensor frame of its own capture time, and a ring is the
  trace of one beam on the ground *relative to the sensor*: the rings continue across the seam
  (offset 0), whatever the ego speed. Deskewing a raw sweep opens the seam by ``v * dt`` (the rings
  really were laid down at places ``v * dt`` apart).
* In a **compensated** sweep the early points were moved into the sensor frame of the sweep's
  reference time, i.e. ``v * dt`` further behind: the rings are offset across the seam by ``v * dt``
  along the driving direction, and deskewing again doubles it to ``2 v * dt``.

The offset is measured as the shift (along the lidar's driving axis) that best aligns the histograms
of ground-point distances behind the car on both sides of the seam, and reported as a multiple of
``v * dt`` (v: ego speed along the driving axis from the poses, dt: median time between both sides).
Ratio ~0 published / ~1 deskewed means raw; ~1 published / ~2 deskewed means already compensated.

Comparing consecutive sweeps instead is weak: both sweeps are skewed alike, so they overlap either way.

Run: ``python -m benchmarks.check_pandaset_deskew [--data DIR] [--first 38] [--last 49]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.spatial import cKDTree

import kernels
from calibration.trajectory import Trajectory

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "pandaset_seq002"
SEAM_WEDGE_DEG = 6.0
"""Azimuth width of the wedge on each side of the seam."""
BINS = np.arange(5.0, 30.0, 0.01)
"""Distance-behind histogram bins [m] (1 cm)."""
SHIFTS_CM = np.arange(-120, 121)


def load_poses(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame timestamps [µs] and ``T_world_from_lidar`` (F, 4, 4)."""
    rows = np.loadtxt(data / "meta" / "lidar_poses_4x4.txt", comments="#")
    return np.round(rows[:, 1] * 1e6).astype(np.int64), rows[:, 2:].reshape(-1, 4, 4)


def load_sweep(data: Path, frame: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Points (sensor frame), per-point offsets from the sweep start [µs] and the sweep start [µs]."""
    with np.load(data / "lidar" / f"{frame:02d}.npz") as d:
        start = int(round(float(d["sweep_start_time_s"]) * 1e6))
        return d["points"], d["point_time_offset_us"].astype(np.int32), start


def ground_mask(points: np.ndarray, k: int = 12, min_normal_z: float = 0.97) -> np.ndarray:
    """Points whose local PCA normal (k neighbours) is within ~14° of vertical."""
    pts = points.astype(np.float64)
    _, idx = cKDTree(pts).query(pts, k=k)
    nb = pts[idx] - pts[idx].mean(axis=1, keepdims=True)
    _, vecs = np.linalg.eigh(np.einsum("nki,nkj->nij", nb, nb))
    return np.asarray(np.abs(vecs[:, 2, 0]) > min_normal_z)


def ring_offset(behind_a: np.ndarray, behind_b: np.ndarray) -> tuple[float, float]:
    """Shift ``s`` [m] with ``behind_a ≈ behind_b + s`` best aligning the ring histograms; its correlation."""
    ha = gaussian_filter1d(np.histogram(behind_a, BINS)[0].astype(float), 1.5)
    hb = gaussian_filter1d(np.histogram(behind_b, BINS)[0].astype(float), 1.5)
    ha, hb = ha - ha.mean(), hb - hb.mean()
    n = ha.size
    corr = np.array(
        [np.dot(ha[max(0, s) : n + min(0, s)], hb[max(0, -s) : n - max(0, s)]) for s in SHIFTS_CM]
    )
    best = int(np.argmax(corr))
    return float(SHIFTS_CM[best]) / 100.0, float(corr[best] / np.sqrt((ha**2).sum() * (hb**2).sum()))


def seam(data: Path, frame: int, stamps: np.ndarray, poses: np.ndarray, traj: Trajectory) -> dict[str, Any]:
    """Ring offset across the seam of one sweep, as published and after ``kernels.deskew``."""
    pts, off, start = load_sweep(data, frame)
    deskewed = kernels.deskew(
        pts,
        off,
        timestamp_us=start,
        trajectory=traj,
        ref_time_us=int(stamps[frame]),
        extrapolation="constant_velocity",
    )
    azimuth = np.degrees(np.arctan2(pts[:, 0], pts[:, 1]))  # 0 = lidar +y (forward), seam at ±180
    ground = ground_mask(pts)
    a = ground & (azimuth < -180.0 + SEAM_WEDGE_DEG) & (off < 30_000)  # start of the sweep
    b = ground & (azimuth > 180.0 - SEAM_WEDGE_DEG) & (off > 70_000)  # end of the sweep
    dt = float(np.median(off[b]) - np.median(off[a])) * 1e-6
    nxt, prv = min(frame + 1, len(stamps) - 1), max(frame - 1, 0)
    v_world = (poses[nxt][:3, 3] - poses[prv][:3, 3]) / ((stamps[nxt] - stamps[prv]) * 1e-6)
    v_fwd = float((poses[frame][:3, :3].T @ v_world)[1])  # along the lidar's +y (driving direction)
    expected = v_fwd * dt
    out: dict[str, Any] = {
        "frame": frame,
        "ego_speed_mps": round(v_fwd, 3),
        "seam_dt_ms": round(dt * 1e3, 2),
        "v_dt_m": round(expected, 4),
        "ground_points": [int(a.sum()), int(b.sum())],
    }
    for name, p in (("published", pts), ("deskewed", deskewed)):
        shift, corr = ring_offset(-p[a, 1].astype(np.float64), -p[b, 1].astype(np.float64))
        out[f"{name}_offset_m"] = shift
        out[f"{name}_ratio"] = round(shift / expected, 3) if abs(expected) > 1e-3 else None
        out[f"{name}_corr"] = round(corr, 3)
    return out


def verdict(pub: float, desk: float) -> tuple[bool | None, str]:
    """Decide from the median ratios (offset / v dt) as published and after deskew."""
    if 0.5 <= pub <= 1.5 and desk >= 1.5:
        return True, "already motion-compensated: rings break at the seam by ~v*dt; deskewing doubles it"
    if abs(pub) <= 0.25 and 0.5 <= desk <= 1.5:
        return False, "raw: rings continue across the seam; deskew opens it by ~v*dt"
    return None, "inconclusive"


def run(data: Path, first: int, last: int) -> dict[str, Any]:
    """Measure the seam over frames ``first..last`` and decide."""
    stamps, poses = load_poses(data)
    traj = Trajectory.from_matrices(stamps, poses)  # world_from_lidar: "ego" = the lidar here
    frames = [seam(data, f, stamps, poses, traj) for f in range(first, last + 1)]
    usable = [f for f in frames if f["published_ratio"] is not None and f["ego_speed_mps"] >= 2.5]
    pub = float(np.median([f["published_ratio"] for f in usable])) if usable else float("nan")
    desk = float(np.median([f["deskewed_ratio"] for f in usable])) if usable else float("nan")
    compensated, text = verdict(pub, desk) if usable else (None, "inconclusive: no frame at >= 2.5 m/s")
    return {
        "test": "ground-ring offset across the sweep seam (behind the car), in units of v*dt",
        "frames": [first, last],
        "frames_used": [f["frame"] for f in usable],
        "median_ratio_published": round(pub, 3),
        "median_ratio_deskewed": round(desk, 3),
        "expected_if_raw": {"published": 0.0, "deskewed": 1.0},
        "expected_if_compensated": {"published": 1.0, "deskewed": 2.0},
        "per_frame": frames,
        "conclusion": text,
        "already_motion_compensated": compensated,
    }


def main() -> None:
    """Command-line entry point: print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--first", type=int, default=38)
    parser.add_argument("--last", type=int, default=49)
    args = parser.parse_args()
    print(json.dumps(run(args.data, args.first, args.last), indent=2))


if __name__ == "__main__":
    main()
