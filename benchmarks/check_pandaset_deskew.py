"""Are PandaSet's published lidar points already motion-compensated? Print the evidence as JSON.

Method: for consecutive sweeps k, k+1 of frames ~30-45 (the ego drives ~5 m/s), put both into the
world frame (a) with the frame's single pose ``T_world_from_lidar`` (what is right if the points are
already compensated to the frame time) and (b) with ``kernels.deskew`` using each point's own time
(right if they are raw). Two measures: (1) the sweep seam: inside one sweep, the last 2 ms of points
re-scan the azimuths of the first 2 ms, ~100 ms later; under the right hypothesis the two ends meet,
under the wrong one they are offset by about speed x 0.1 s.(the decisive test, used for the
conclusion); (2) the median / 75th-percentile nearest-neighbour distance from sweep k+1 to sweep k
(weak: consecutive raw sweeps are skewed alike, so they overlap either way).

Run: ``python -m benchmarks.check_pandaset_deskew [--data DIR] [--first 30] [--last 45]``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

import kernels
from calibration.trajectory import Trajectory

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "pandaset_seq002"


def load_poses(data: Path) -> tuple[np.ndarray, np.ndarray]:
    """Frame timestamps [µs] and ``T_world_from_lidar`` (F, 4, 4)."""
    rows = np.loadtxt(data / "meta" / "lidar_poses_4x4.txt", comments="#")
    return np.round(rows[:, 1] * 1e6).astype(np.int64), rows[:, 2:].reshape(-1, 4, 4)


def load_sweep(data: Path, frame: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Points (sensor frame), per-point offsets [µs] and the sweep start [µs]."""
    d = np.load(data / "lidar" / f"{frame:02d}.npz")
    start = int(round(float(d["sweep_start_time_s"]) * 1e6))
    return d["points"], d["point_time_offset_us"].astype(np.int32), start


def nn_stats(a: np.ndarray, b: np.ndarray, origin: np.ndarray) -> dict[str, float]:
    """Nearest-neighbour distances from ``b`` to ``a`` for points of ``b`` 5-40 m from ``origin``."""
    r = np.linalg.norm(b[:, :2] - origin[:2], axis=1)
    sel = b[(r > 5.0) & (r < 40.0)]
    dist, _ = cKDTree(a).query(sel, k=1)
    return {
        "median_m": float(np.median(dist)),
        "p75_m": float(np.percentile(dist, 75)),
        "n": int(sel.shape[0]),
    }


def seam_gap(raw: np.ndarray, deskewed: np.ndarray, off: np.ndarray, origin: np.ndarray) -> dict[str, float]:
    """Within one sweep: the last 2 ms of points re-scan the azimuths of the first 2 ms, ~100 ms later.

    Under the right hypothesis both ends of the sweep meet (small nearest-neighbour distance); under
    the wrong one they are offset by about speed x 0.1 s.
    """
    lo, hi = int(off.min()), int(off.max())
    first, last = off < lo + 2_000, off > hi - 2_000  # a sweep spans ~102.9 ms: ~3 ms overlap
    out = {}
    for name, pts in (("as_published_m", raw), ("deskewed_m", deskewed)):
        out[name] = round(nn_stats(pts[first], pts[last], origin)["median_m"], 4)
    return out


def run(data: Path, first: int, last: int) -> dict[str, Any]:
    """Compare both hypotheses over consecutive sweep pairs."""
    stamps, poses = load_poses(data)
    traj = Trajectory.from_matrices(stamps, poses)  # world_from_lidar ("ego" = the lidar here)
    world_raw, world_deskew, speeds, seams = {}, {}, {}, []
    for f in range(first, last + 1):
        pts, off, start = load_sweep(data, f)
        p = poses[f]
        world_raw[f] = (pts.astype(np.float64) @ p[:3, :3].T + p[:3, 3]).astype(np.float32)
        world_deskew[f] = kernels.deskew(
            pts, off, timestamp_us=start, trajectory=traj, frame="world", extrapolation="constant_velocity"
        )
        seams.append({"frame": f, **seam_gap(world_raw[f], world_deskew[f], off, poses[f][:3, 3])})
        speeds[f] = float(
            np.linalg.norm(poses[f][:3, 3] - poses[f - 1][:3, 3]) / ((stamps[f] - stamps[f - 1]) * 1e-6)
        )
    pairs = []
    for f in range(first, last):
        origin = poses[f + 1][:3, 3]
        raw = nn_stats(world_raw[f], world_raw[f + 1], origin)
        desk = nn_stats(world_deskew[f], world_deskew[f + 1], origin)
        pairs.append(
            {
                "frames": [f, f + 1],
                "ego_speed_mps": round(speeds[f + 1], 3),
                "as_published_median_m": round(raw["median_m"], 4),
                "deskewed_median_m": round(desk["median_m"], 4),
                "as_published_p75_m": round(raw["p75_m"], 4),
                "deskewed_p75_m": round(desk["p75_m"], 4),
            }
        )
    raw_med = float(np.median([p["as_published_median_m"] for p in pairs]))
    desk_med = float(np.median([p["deskewed_median_m"] for p in pairs]))
    raw_p75 = float(np.median([p["as_published_p75_m"] for p in pairs]))
    desk_p75 = float(np.median([p["deskewed_p75_m"] for p in pairs]))
    seam_raw = float(np.median([x["as_published_m"] for x in seams]))
    seam_desk = float(np.median([x["deskewed_m"] for x in seams]))
    # decisive only when the hypotheses differ by > 10 % on the seam and the pair metric agrees
    seam_rel = (seam_desk - seam_raw) / max(seam_raw, 1e-9)
    pair_rel = (desk_p75 - raw_p75) / max(raw_p75, 1e-9)
    compensated: bool | None = None
    verdict = (
        "inconclusive: both hypotheses align static structure within 10 % (seam "
        f"{seam_rel:+.1%}, consecutive sweeps p75 {pair_rel:+.1%})"
    )
    if seam_rel > 0.1 and pair_rel > 0:
        compensated, verdict = True, "published points are already motion-compensated"
    elif seam_rel < -0.1 and pair_rel < 0:
        compensated, verdict = False, "published points are raw (deskew improves alignment)"
    return {
        "frames": [first, last],
        "median_over_pairs": {
            "as_published_median_m": raw_med,
            "deskewed_median_m": desk_med,
            "as_published_p75_m": raw_p75,
            "deskewed_p75_m": desk_p75,
        },
        "pairs_where_published_aligns_better_p75": int(
            sum(p["as_published_p75_m"] <= p["deskewed_p75_m"] for p in pairs)
        ),
        "seam_median_over_frames": {
            "as_published_m": float(np.median([x["as_published_m"] for x in seams])),
            "deskewed_m": float(np.median([x["deskewed_m"] for x in seams])),
        },
        "seams": seams,
        "pairs": pairs,
        "conclusion": verdict,
        "already_motion_compensated": compensated,
    }


def main() -> None:
    """Command-line entry point: print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT)
    parser.add_argument("--first", type=int, default=30)
    parser.add_argument("--last", type=int, default=45)
    args = parser.parse_args()
    print(json.dumps(run(args.data, args.first, args.last), indent=2))


if __name__ == "__main__":
    main()
