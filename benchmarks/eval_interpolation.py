"""Keyframe interpolation on PandaSet GT tracks vs Euler-lerp-in-lidar-frame and world-linear baselines.

For every GT track (world frame, 10 Hz) keep every k-th frame (and the last) as keyframes, interpolate the
other frames and compare with the GT: centre error [m] (mean, 95th percentile), yaw error [rad] and BEV IoU.

Methods
    ``euler_lidar``  per-component linear interpolation of ``[x, y, z, l, w, h, yaw]`` in each frame's lidar
                     (Pandar64) frame, yaw included as a plain number (CVAT 3D, Scale SFS SDK style);
                     the result is moved back to the world with the pose of the query frame.
    ``linear_world`` linear centres + slerp rotations in the world frame (nuScenes / ncore style).
    ``hermite``      ``tracking.interpolate``: cubic Hermite centres + slerp, world frame.
    ``hermite_snap`` ``hermite`` then ``tracking.snap_to_points`` on the frame's lidar sweep; moving tracks
                     only (net displacement > 2 m); compare its ``mov+sweep`` column (frames 0-49 have
                     sweeps in the excerpt) with the other methods'.
    ``snap_kf``      the same, calibrated on the track's keyframes and their sweeps (``SnapReference``).
    ``snap_faces``   ``hermite`` then ``tracking.snap_to_faces``: translation from the points' face
                     extents, calibrated at the keyframes, blended with the interpolation by variance.
    ``snap_motion``  ``hermite`` then ``tracking.snap_by_motion``: the object's relative motion from
                     registering its points sweep to sweep (and to the keyframes), anchored at the
                     keyframes, solved with the interpolation as a prior; moving tracks only.

Hold-out: the moving tracks are split by parity of their index among the moving tracks; ``snap_faces``
settings (``FaceSnapConfig.face_std_m``) and the ``MotionSnapConfig`` defaults were chosen on half ``A``
(even) only; the ``mov+sweep`` error of each half is reported separately
(``center_mean_moving_with_sweep_m_A`` / ``_B``), ``B`` is held out.

Also: keyframes needed per track to keep BEV IoU >= 0.8 on every frame (greedy insertion of the worst
frame, starting from the first and last), per method.

Run: ``.venv/bin/python -m benchmarks.eval_interpolation [--data PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from calibration import SE3, Trajectory, wrap_angle
from engine import open_log
from engine.tracks import path_from_track, sweep_points
from tracking import (
    CuboidPath,
    PoseFrame,
    PositionMethod,
    SnapConfig,
    SnapReference,
    interpolate,
    snap_by_motion,
    snap_to_faces,
    snap_to_points,
    to_ego,
)

logger = logging.getLogger("eval_interpolation")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pandaset_seq002"
KS = (2, 5, 10, 20)
METHODS = ("euler_lidar", "linear_world", "hermite", "hermite_snap", "snap_kf", "snap_faces", "snap_motion")
SNAPS = ("hermite_snap", "snap_kf", "snap_faces", "snap_motion")

Interp = Callable[[CuboidPath, np.ndarray], CuboidPath]


def world_from_lidar_trajectory(traj: Trajectory, ego_from_lidar: SE3) -> Trajectory:
    """``world_from_lidar(t) = world_from_ego(t) @ ego_from_lidar`` at the trajectory's timestamps."""
    m = traj.matrices_at(traj.timestamps_us) @ ego_from_lidar.matrix
    return Trajectory.from_matrices(traj.timestamps_us, m, extrapolation=traj.extrapolation)


def euler_lidar(kf: CuboidPath, t: np.ndarray, world_from_lidar: Trajectory) -> CuboidPath:
    """Baseline: lerp every component (yaw as a number) in the lidar frame of each keyframe's time."""
    lid = to_ego(kf, world_from_lidar)  # "ego" here is the lidar frame (trajectory world_from_lidar)
    b = lid.boxes.astype(np.float64)
    b[:, 6] = lid.yaws  # Euler yaw as the SDKs store it, no unwrapping
    cols = [np.interp(t.astype(np.float64), kf.timestamps_us.astype(np.float64), b[:, c]) for c in range(7)]
    out = CuboidPath.from_boxes(t, np.stack(cols, axis=1), frame=PoseFrame.EGO)
    return interpolate(out, t, world_from_ego=world_from_lidar, output_frame=PoseFrame.WORLD)


def _footprints(boxes: np.ndarray) -> np.ndarray:
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    sx = np.array([1, -1, -1, 1]) * 0.5
    sy = np.array([1, 1, -1, -1]) * 0.5
    lx, ly = boxes[:, 3:4] * sx, boxes[:, 4:5] * sy
    x = boxes[:, :1] + c[:, None] * lx - s[:, None] * ly
    y = boxes[:, 1:2] + s[:, None] * lx + c[:, None] * ly
    return shapely.polygons(np.stack([x, y], axis=2))


def bev_iou(a: CuboidPath, b: CuboidPath) -> np.ndarray:
    """BEV IoU of corresponding rows of two equally long paths (shapely, element-wise: the kernel
    ``kernels.box_iou_bev`` computes full matrices, too slow for thousands of small calls here)."""
    pa, pb = _footprints(a.boxes.astype(np.float64)), _footprints(b.boxes.astype(np.float64))
    inter = shapely.area(shapely.intersection(pa, pb))
    return np.asarray(inter / (shapely.area(pa) + shapely.area(pb) - inter), dtype=np.float64)


def keyframes_needed(gt: CuboidPath, fn: Interp, threshold: float = 0.8) -> int:
    """Greedy insertion from the first and last frame: add the worst frame until every IoU >= threshold."""
    keep = sorted({0, len(gt) - 1})
    while True:
        out = fn(gt.take(keep), gt.timestamps_us)
        iou = bev_iou(out, gt)
        iou[keep] = 1.0
        worst = int(np.argmin(iou))
        if iou[worst] >= threshold:
            return len(keep)
        keep = sorted({*keep, worst})


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--ks", type=str, default=",".join(map(str, KS)), help="keyframe spacings")
    parser.add_argument("--no-keyframes-needed", action="store_true", help="skip the greedy count")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    log = open_log(args.data)
    traj = log.trajectory
    lidar_id = next(iter(log.lidar))
    world_from_lidar = world_from_lidar_trajectory(traj, log.sensors[lidar_id].ego_from_sensor)
    sweep_times = log.lidar[lidar_id].timestamps_us
    sweeps = {int(t): i for i, t in enumerate(sweep_times)}
    cache: dict[int, np.ndarray] = {}

    def points_at(t: int) -> np.ndarray:
        if t not in cache:
            cache[t] = sweep_points(log, lidar_id, sweeps[t], PoseFrame.WORLD)
        return cache[t]

    def sweeps_of(times: np.ndarray) -> list[np.ndarray]:
        """Each time's sweep, world frame (empty without one)."""
        return [points_at(int(t)) if int(t) in sweeps else np.zeros((0, 3), np.float32) for t in times]

    fns: dict[str, Interp] = {
        "euler_lidar": lambda kf, t: euler_lidar(kf, t, world_from_lidar),
        "linear_world": lambda kf, t: interpolate(kf, t, method=PositionMethod.LINEAR),
        "hermite": lambda kf, t: interpolate(kf, t),
    }
    tracks = [path_from_track(tr) for tr in log.annotations.tracks if len(tr) >= 3]
    moving = [float(np.linalg.norm(p.centers[-1, :2] - p.centers[0, :2])) > 2.0 for p in tracks]
    half = np.full(len(tracks), "", dtype=object)  # hold-out split of the moving tracks: A (even), B (odd)
    half[np.flatnonzero(moving)] = ["A" if j % 2 == 0 else "B" for j in range(int(sum(moving)))]
    snap_cfg = SnapConfig()
    results: dict[str, object] = {"data": str(args.data), "tracks": len(tracks), "moving": int(sum(moving))}
    per_k: dict[str, object] = {}
    t0 = time.perf_counter()
    for k in (int(v) for v in args.ks.split(",")):
        err: dict[str, dict[str, list[np.ndarray]]] = {
            m: {
                **{key: [] for key in ("c", "y", "iou", "c_mov", "c_sw", "c_mov_sw", "A", "B")},
                **{key: [] for key in ("y_mov_sw", "iou_mov_sw")},
            }
            for m in METHODS
        }
        flagged = 0
        snap_stats: dict[str, dict[str, Any]] = {
            n: {"moved": 0, "with_points": 0, "err_before_moved": [], "err_after_moved": []} for n in SNAPS
        }
        motion_s, motion_tracks, motion_sweep_frames, motion_snapped = 0.0, 0, 0, 0
        flag_err: dict[str, list[np.ndarray]] = {"flagged": [], "unflagged": []}
        for path, mov, hv in zip(tracks, moving, half, strict=True):
            keep = sorted({*range(0, len(path), k), len(path) - 1})
            query = np.setdiff1d(np.arange(len(path)), keep)
            if query.size == 0:
                continue
            kf, gt = path.take(keep), path.take(query)
            has_sweep = np.array([int(t) in sweeps for t in gt.timestamps_us])
            for name in METHODS:
                if name in SNAPS and not mov:
                    continue  # snapping is evaluated on moving objects (static ones need no snapping)
                if name in SNAPS:
                    out = fns["hermite"](kf, gt.timestamps_us)
                    ref = SnapReference(kf, sweeps_of(kf.timestamps_us)) if name != "hermite_snap" else None
                    if name == "snap_faces" and ref is not None:
                        snapped = snap_to_faces(out, sweeps_of(gt.timestamps_us), ref)
                    elif name == "snap_motion" and ref is not None:
                        t_start = time.perf_counter()
                        snapped = snap_by_motion(out, sweeps_of(gt.timestamps_us), ref)
                        motion_s += time.perf_counter() - t_start
                        motion_tracks += 1
                        motion_sweep_frames += int(has_sweep.sum())
                        motion_snapped += int(snapped.snapped[has_sweep].sum())
                    else:
                        snapped = snap_to_points(out, sweeps_of(gt.timestamps_us), snap_cfg, reference=ref)
                    before = np.linalg.norm(out.centers - gt.centers, axis=1)
                    moved = snapped.shift_m > 0
                    snap_stats[name]["moved"] += int(moved.sum())
                    snap_stats[name]["with_points"] += int(snapped.snapped.sum())
                    snap_stats[name]["err_before_moved"].append(before[moved])
                    after = np.linalg.norm(snapped.path.centers - gt.centers, axis=1)
                    snap_stats[name]["err_after_moved"].append(after[moved])
                    if name == "snap_kf":
                        flagged += int(snapped.needs_keyframe.sum())
                        flag_err["flagged"].append(before[snapped.needs_keyframe])
                        flag_err["unflagged"].append(before[snapped.snapped & ~snapped.needs_keyframe])
                    out = snapped.path
                else:
                    out = fns[name](kf, gt.timestamps_us)
                c = np.linalg.norm(out.centers - gt.centers, axis=1)
                e = err[name]
                e["c"].append(c)
                e["y"].append(np.abs(wrap_angle(out.yaws - gt.yaws)))
                e["iou"].append(bev_iou(out, gt))
                e["c_sw"].append(c[has_sweep])
                if mov:
                    e["c_mov"].append(c)
                    e["c_mov_sw"].append(c[has_sweep])
                    e["y_mov_sw"].append(e["y"][-1][has_sweep])
                    e["iou_mov_sw"].append(e["iou"][-1][has_sweep])
                    e[hv].append(c[has_sweep])
        row: dict[str, object] = {}
        for name in METHODS:
            e = {key: np.concatenate(v) if v else np.full(1, np.nan) for key, v in err[name].items()}
            row[name] = {
                "center_mean_m": float(e["c"].mean()),
                "center_p95_m": float(np.percentile(e["c"], 95)),
                "yaw_mean_rad": float(e["y"].mean()),
                "bev_iou_mean": float(e["iou"].mean()),
                "center_mean_moving_m": float(e["c_mov"].mean()),
                "center_mean_with_sweep_m": float(e["c_sw"].mean()),
                "center_mean_moving_with_sweep_m": float(e["c_mov_sw"].mean()),
                "center_mean_moving_with_sweep_m_A": float(e["A"].mean()),
                "center_mean_moving_with_sweep_m_B": float(e["B"].mean()),
                "center_p95_moving_with_sweep_m": float(np.percentile(e["c_mov_sw"], 95)),
                "yaw_mean_moving_with_sweep_rad": float(e["y_mov_sw"].mean()),
                "bev_iou_mean_moving_with_sweep": float(e["iou_mov_sw"].mean()),
                "frames": int(e["c"].size),
            }
        for n, st in snap_stats.items():
            eb = np.concatenate(st["err_before_moved"]) if st["err_before_moved"] else np.zeros(0)
            ea = np.concatenate(st["err_after_moved"]) if st["err_after_moved"] else np.zeros(0)
            row[f"{n}_frames"] = {
                "with_points": st["with_points"],
                "moved": st["moved"],
                "center_mean_before_on_moved_m": float(eb.mean()) if eb.size else None,
                "center_mean_after_on_moved_m": float(ea.mean()) if ea.size else None,
            }
        row["snap_needs_keyframe_frames"] = flagged
        row["snap_motion_runtime"] = {
            "seconds_per_track": motion_s / max(motion_tracks, 1),
            "tracks": motion_tracks,
            # frames with a sweep that kept the interpolated cuboid (no accepted registration or refused)
            "fallback_fraction_of_sweep_frames": 1.0 - motion_snapped / max(motion_sweep_frames, 1),
        }
        # Is the flag informative? Hermite centre error on frames snap flagged vs frames it accepted.
        for key, v in flag_err.items():
            e_f = np.concatenate(v) if v else np.zeros(0)
            row[f"hermite_error_on_{key}_frames_m"] = float(e_f.mean()) if e_f.size else None
        per_k[str(k)] = row
    results["per_k"] = per_k
    needed = {}
    for name in () if args.no_keyframes_needed else ("euler_lidar", "linear_world", "hermite"):
        counts = np.array([keyframes_needed(p, fns[name]) for p in tracks])
        frames = np.array([len(p) for p in tracks])
        needed[name] = {
            "mean_keyframes": float(counts.mean()),
            "fraction_of_frames": float(counts.sum() / frames.sum()),
        }
    results["keyframes_for_bev_iou_0.8"] = needed
    results["seconds"] = time.perf_counter() - t0
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


def report(results: dict[str, object]) -> None:
    """Print the JSON, then a table."""
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    per_k = results["per_k"]
    assert isinstance(per_k, dict)
    head = (
        f"{'k':>3} {'method':<13} {'ctr mean':>9} {'ctr p95':>8} {'yaw mean':>9} {'BEV IoU':>8} "
        f"{'moving':>8} {'mov+sweep':>9} {'A':>6} {'B':>6}"
    )
    lines = [head, "-" * len(head)]
    for k, row in per_k.items():
        for name in METHODS:
            r = row[name]
            lines.append(
                f"{k:>3} {name:<13} {r['center_mean_m']:9.3f} {r['center_p95_m']:8.3f} "
                f"{r['yaw_mean_rad']:9.4f} {r['bev_iou_mean']:8.3f} {r['center_mean_moving_m']:8.3f} "
                f"{r['center_mean_moving_with_sweep_m']:9.3f} "
                f"{r['center_mean_moving_with_sweep_m_A']:6.3f} {r['center_mean_moving_with_sweep_m_B']:6.3f}"
            )
    head = (
        f"{'k':>3} {'method':<13} {'mov+sweep: ctr mean':>19} {'ctr p95':>8} {'yaw mean':>9} "
        f"{'BEV IoU':>8} {'A':>7} {'B':>7}"
    )
    lines += ["", head, "-" * len(head)]
    for k, row in per_k.items():
        for name in METHODS:
            r = row[name]
            lines.append(
                f"{k:>3} {name:<13} {r['center_mean_moving_with_sweep_m']:19.4f} "
                f"{r['center_p95_moving_with_sweep_m']:8.4f} {r['yaw_mean_moving_with_sweep_rad']:9.4f} "
                f"{r['bev_iou_mean_moving_with_sweep']:8.4f} {r['center_mean_moving_with_sweep_m_A']:7.4f} "
                f"{r['center_mean_moving_with_sweep_m_B']:7.4f}"
            )
        rt = row["snap_motion_runtime"]
        lines.append(
            f"    snap_motion: {rt['seconds_per_track']:.3f} s per track ({rt['tracks']} tracks), "
            f"{100 * rt['fallback_fraction_of_sweep_frames']:.1f} % of sweep frames fell back to hermite"
        )
    needed = results["keyframes_for_bev_iou_0.8"]
    assert isinstance(needed, dict)
    lines.append(
        "keyframes per track for BEV IoU >= 0.8: "
        + ", ".join(
            f"{n} {v['mean_keyframes']:.2f} ({100 * v['fraction_of_frames']:.1f} % of frames)"
            for n, v in needed.items()
        )
    )
    sys.stdout.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
