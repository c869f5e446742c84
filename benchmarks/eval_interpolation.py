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

Simulated logs (``--sim RIG``): the same methods on :func:`engine.sim.simulate` drives (one per seed in
``--sim-seeds``, ``--sim-seconds`` long; default ``k`` = 5, 10, 20), where the GT cuboids are the exact actor
states (no label noise). Actors are constant-size yaw-only boxes; lane actors follow the curved road
(clothoid turns) with smooth speed changes and stops, crossing actors start and stop on straight lines.
The sweeps are the rig's first lidar (spinning, per-column firing time, range noise, dropouts,
occlusion), moved to the world with the ego pose at each point's firing time; the actors' own motion
during a sweep stays in the points. Every GT frame has a sweep, so ``mov+sweep`` is every moving frame; a
further table keeps the moving frames with at least 30 exact returns on the object (``VISIBLE_POINTS``,
from the simulator's point labels). Reported per seed and pooled; nothing is tuned on the simulator
(every snap uses its defaults).

Run: ``.venv/bin/python -m benchmarks.eval_interpolation [--data PATH] [--json OUT]``, or
``.venv/bin/python -m benchmarks.eval_interpolation --sim robotaxi [--sim-seconds 20] [--sim-seeds 0,1,2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from calibration import SE3, Trajectory, wrap_angle
from engine import open_log
from engine.shared_frame import deskew_sweep
from engine.sim import get_rig, simulate
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
SIM_KS = (5, 10, 20)
NEAR_M = 3.0  # sweeps are cut to this far past each cuboid's half diagonal before snapping
VISIBLE_POINTS = 30  # "visible" moving frames (simulator): at least this many exact lidar returns
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


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """Tracks to evaluate and the lidar they are snapped against.

    ``sweeps_of(times)`` gives each time's sweep in the world frame (empty without one); ``has_sweep``
    says which times have one; ``visible_points(track_index, times)`` (simulator only) the exact number
    of lidar returns on the object at each time, from the simulator's point labels.
    """

    name: str
    tracks: list[CuboidPath]
    world_from_lidar: Trajectory
    sweeps_of: Callable[[np.ndarray], list[np.ndarray]]
    sweep_times: frozenset[int]
    visible_points: Callable[[int, np.ndarray], np.ndarray] | None = None
    trees: dict[int, tuple[np.ndarray, cKDTree]] = field(default_factory=dict)  # BEV kd-tree per sweep


def pandaset_source(data: Path) -> Source:
    """GT tracks and world-frame sweeps of a PandaSet log (points as stored, no deskew)."""
    log = open_log(data)
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

    tracks = [path_from_track(tr) for tr in log.annotations.tracks if len(tr) >= 3]
    return Source(str(data), tracks, world_from_lidar, sweeps_of, frozenset(sweeps))


def sim_source(rig: str, seconds: float, seed: int) -> Source:
    """GT tracks and sweeps of a simulated log (:func:`engine.sim.simulate`).

    The GT cuboids are the simulator's exact actor states at the sweep timestamps (world frame). The
    sweeps are the first lidar's, each point moved to the world with the ego pose at its own firing time
    (``engine.shared_frame.deskew_sweep``, as PandaSet ships its points); the actors' own motion during the
    sweep stays in the points (real skew), as do range noise, dropouts and occlusion. Cameras are left out
    of the run (they change neither the scene, the lidar nor the GT cuboids).
    """
    spec = dataclasses.replace(get_rig(rig), cameras=())
    run = simulate(spec, seconds, seed)
    log, gt = run.log, run.ground_truth
    lidar_id = spec.lidars[0].sensor_id
    world_from_lidar = world_from_lidar_trajectory(log.trajectory, log.sensors[lidar_id].ego_from_sensor)
    sweeps = {int(t): i for i, t in enumerate(log.lidar[lidar_id].timestamps_us)}
    labels = gt.point_labels[lidar_id]
    cache: dict[int, np.ndarray] = {}

    def points_at(t: int) -> np.ndarray:
        if t not in cache:
            cache[t] = deskew_sweep(log, lidar_id, sweeps[t], frame="world", backend="cpu")
        return cache[t]

    def sweeps_of(times: np.ndarray) -> list[np.ndarray]:
        return [points_at(int(t)) if int(t) in sweeps else np.zeros((0, 3), np.float32) for t in times]

    kept = [tr for tr in gt.annotations.tracks if len(tr) >= 3]
    actors = [int(tr.track_id.removeprefix("actor_")) for tr in kept]
    counts: dict[int, np.ndarray] = {}

    def visible_points(track: int, times: np.ndarray) -> np.ndarray:
        out = np.zeros(times.size, np.int64)
        for j, t in enumerate(times.tolist()):
            i = sweeps.get(int(t))
            if i is None:
                continue
            if i not in counts:
                lab = labels[i]  # instance is the actor index on actor points (semantic >= 2)
                counts[i] = np.bincount(lab.instance[(lab.semantic >= 2) & (lab.instance >= 0)])
            out[j] = counts[i][actors[track]] if actors[track] < counts[i].size else 0
        return out

    return Source(
        f"sim:{spec.name}:seed{seed}:{seconds:g}s",
        [path_from_track(tr) for tr in kept],
        world_from_lidar,
        sweeps_of,
        frozenset(sweeps),
        visible_points,
    )


def _interpolators(src: Source) -> dict[str, Interp]:
    return {
        "euler_lidar": lambda kf, t: euler_lidar(kf, t, src.world_from_lidar),
        "linear_world": lambda kf, t: interpolate(kf, t, method=PositionMethod.LINEAR),
        "hermite": lambda kf, t: interpolate(kf, t),
    }


def _is_moving(p: CuboidPath) -> bool:
    return float(np.linalg.norm(p.centers[-1, :2] - p.centers[0, :2])) > 2.0


def _track_record(
    path: CuboidPath, ti: int, mov: bool, hv: str, k: int, src: Source, fns: dict[str, Interp]
) -> dict[str, Any] | None:
    """Errors of every method on one track at keyframe spacing ``k`` (None without query frames)."""
    keep = sorted({*range(0, len(path), k), len(path) - 1})
    query = np.setdiff1d(np.arange(len(path)), keep)
    if query.size == 0:
        return None
    kf, gt = path.take(keep), path.take(query)
    has_sweep = np.array([int(t) in src.sweep_times for t in gt.timestamps_us])
    vis = None
    if src.visible_points is not None:
        vis = src.visible_points(ti, gt.timestamps_us) >= VISIBLE_POINTS
    rec: dict[str, Any] = {"mov": mov, "hv": hv, "sw": has_sweep, "vis": vis, "m": {}, "snap": {}}
    snap_cfg = SnapConfig()
    kf_sweeps: list[np.ndarray] | None = None
    q_sweeps: list[np.ndarray] | None = None
    for name in METHODS:
        if name in SNAPS and not mov:
            continue  # snapping is evaluated on moving objects (static ones need no snapping)
        if name in SNAPS:
            out = fns["hermite"](kf, gt.timestamps_us)
            if kf_sweeps is None or q_sweeps is None:
                kf_sweeps, q_sweeps = _near(src, kf), _near(src, out)
            ref = SnapReference(kf, kf_sweeps) if name != "hermite_snap" else None
            if name == "snap_faces" and ref is not None:
                snapped = snap_to_faces(out, q_sweeps, ref)
            elif name == "snap_motion" and ref is not None:
                t_start = time.perf_counter()
                snapped = snap_by_motion(out, q_sweeps, ref)
                rec["motion"] = (
                    time.perf_counter() - t_start,
                    int(has_sweep.sum()),
                    int(snapped.snapped[has_sweep].sum()),
                )
            else:
                snapped = snap_to_points(out, q_sweeps, snap_cfg, reference=ref)
            before = np.linalg.norm(out.centers - gt.centers, axis=1)
            moved = snapped.shift_m > 0
            after = np.linalg.norm(snapped.path.centers - gt.centers, axis=1)
            rec["snap"][name] = (int(moved.sum()), int(snapped.snapped.sum()), before[moved], after[moved])
            if name == "snap_kf":
                rec["flagged"] = int(snapped.needs_keyframe.sum())
                rec["flag_err"] = (
                    before[snapped.needs_keyframe],
                    before[snapped.snapped & ~snapped.needs_keyframe],
                )
            out = snapped.path
        else:
            out = fns[name](kf, gt.timestamps_us)
        rec["m"][name] = (
            np.linalg.norm(out.centers - gt.centers, axis=1),
            np.abs(wrap_angle(out.yaws - gt.yaws)),
            bev_iou(out, gt),
        )
    return rec


def _near(src: Source, path: CuboidPath) -> list[np.ndarray]:
    """Each cuboid's sweep cut to a disc around it (radius: half BEV diagonal + ``NEAR_M``).

    Every snap only looks within ``max_shift_m + margin_m`` (< 1 m) of the cuboid it is given, so the cut
    changes no result; it saves each snap from scanning whole sweeps (kd-tree per sweep, cached).
    """
    out = []
    for t, c, size in zip(path.timestamps_us.tolist(), path.centers, path.sizes, strict=True):
        if int(t) not in src.sweep_times:
            out.append(np.zeros((0, 3), np.float32))
            continue
        pts, tree = _tree(src, int(t))
        idx = tree.query_ball_point(c[:2], 0.5 * float(np.hypot(size[0], size[1])) + NEAR_M)
        out.append(pts[np.sort(np.asarray(idx, dtype=np.int64))])
    return out


def _tree(src: Source, t: int) -> tuple[np.ndarray, cKDTree]:
    if t not in src.trees:
        pts = src.sweeps_of(np.array([t], np.int64))[0]
        src.trees[t] = (pts, cKDTree(np.asarray(pts[:, :2], np.float64)))
    return src.trees[t]


def summarise(records: list[dict[str, Any]]) -> dict[str, object]:
    """One keyframe spacing's table row per method (and the snap diagnostics) from track records."""
    keys = ("c", "y", "iou", "c_mov", "c_sw", "c_mov_sw", "A", "B", "y_mov_sw", "iou_mov_sw")
    keys_vis = ("c_vis", "y_vis", "iou_vis")
    err: dict[str, dict[str, list[np.ndarray]]] = {m: {key: [] for key in keys + keys_vis} for m in METHODS}
    flagged = 0
    snap_stats: dict[str, dict[str, Any]] = {
        n: {"moved": 0, "with_points": 0, "err_before_moved": [], "err_after_moved": []} for n in SNAPS
    }
    motion_s, motion_tracks, motion_sweep_frames, motion_snapped = 0.0, 0, 0, 0
    flag_err: dict[str, list[np.ndarray]] = {"flagged": [], "unflagged": []}
    with_vis = any(r["vis"] is not None for r in records)
    for rec in records:
        has_sweep = rec["sw"]
        for name, (c, y, iou) in rec["m"].items():
            acc = err[name]
            acc["c"].append(c)
            acc["y"].append(y)
            acc["iou"].append(iou)
            acc["c_sw"].append(c[has_sweep])
            if rec["mov"]:
                acc["c_mov"].append(c)
                acc["c_mov_sw"].append(c[has_sweep])
                acc["y_mov_sw"].append(y[has_sweep])
                acc["iou_mov_sw"].append(iou[has_sweep])
                acc[rec["hv"]].append(c[has_sweep])
                if rec["vis"] is not None:
                    acc["c_vis"].append(c[rec["vis"]])
                    acc["y_vis"].append(y[rec["vis"]])
                    acc["iou_vis"].append(iou[rec["vis"]])
        for name, (moved, with_points, before, after) in rec["snap"].items():
            st = snap_stats[name]
            st["moved"] += moved
            st["with_points"] += with_points
            st["err_before_moved"].append(before)
            st["err_after_moved"].append(after)
        if "flagged" in rec:
            flagged += rec["flagged"]
            flag_err["flagged"].append(rec["flag_err"][0])
            flag_err["unflagged"].append(rec["flag_err"][1])
        if "motion" in rec:
            motion_s += rec["motion"][0]
            motion_tracks += 1
            motion_sweep_frames += rec["motion"][1]
            motion_snapped += rec["motion"][2]
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
        if with_vis:  # moving objects with >= VISIBLE_POINTS exact lidar returns (simulator only)
            n_vis = sum(v.size for v in err[name]["c_vis"])
            row[name] |= {  # type: ignore[operator]
                "center_mean_moving_visible_m": float(e["c_vis"].mean()),
                "center_p95_moving_visible_m": float(np.percentile(e["c_vis"], 95)),
                "yaw_mean_moving_visible_rad": float(e["y_vis"].mean()),
                "bev_iou_mean_moving_visible": float(e["iou_vis"].mean()),
                "frames_moving_visible": int(n_vis),
                "frames_moving": int(e["c_mov"].size) if err[name]["c_mov"] else 0,
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
    return row


def evaluate(src: Source, ks: list[int], keyframes_needed_too: bool) -> dict[str, Any]:
    """Track records per ``k`` (and keyframe counts per track) of one source, to summarise alone or pooled."""
    fns = _interpolators(src)
    moving = [_is_moving(p) for p in src.tracks]
    half = np.full(
        len(src.tracks), "", dtype=object
    )  # hold-out split of the moving tracks: A (even), B (odd)
    half[np.flatnonzero(moving)] = ["A" if j % 2 == 0 else "B" for j in range(int(sum(moving)))]
    records: dict[str, list[dict[str, Any]]] = {}
    for k in ks:
        recs = (
            _track_record(p, i, m, h, k, src, fns)
            for i, (p, m, h) in enumerate(zip(src.tracks, moving, half, strict=True))
        )
        records[str(k)] = [r for r in recs if r is not None]
    needed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in ("euler_lidar", "linear_world", "hermite") if keyframes_needed_too else ():
        counts = np.array([keyframes_needed(p, fns[name]) for p in src.tracks])
        needed[name] = (counts, np.array([len(p) for p in src.tracks]))
    return {"tracks": len(src.tracks), "moving": int(sum(moving)), "records": records, "needed": needed}


def results_of(evals: list[dict[str, Any]]) -> dict[str, object]:
    """The report (``tracks``, ``moving``, ``per_k``, keyframe counts) of one or several pooled sources."""
    ks = list(evals[0]["records"])
    per_k = {k: summarise([r for ev in evals for r in ev["records"][k]]) for k in ks}
    needed = {}
    for name in evals[0]["needed"]:
        counts = np.concatenate([ev["needed"][name][0] for ev in evals])
        frames = np.concatenate([ev["needed"][name][1] for ev in evals])
        needed[name] = {
            "mean_keyframes": float(counts.mean()),
            "fraction_of_frames": float(counts.sum() / frames.sum()),
        }
    return {
        "tracks": sum(ev["tracks"] for ev in evals),
        "moving": sum(ev["moving"] for ev in evals),
        "per_k": per_k,
        "keyframes_for_bev_iou_0.8": needed,
    }


def motion_stats(src: Source) -> dict[str, float]:
    """How far the moving GT tracks are from straight constant-velocity motion."""
    turn, dspeed, accel, pts = [], [], [], []
    for i, p in enumerate(src.tracks):
        if not _is_moving(p):
            continue
        t = p.timestamps_us.astype(np.float64) * 1e-6
        yaw = np.unwrap(p.yaws)
        turn.append(float(yaw.max() - yaw.min()))
        v = np.linalg.norm(np.diff(p.centers[:, :2], axis=0), axis=1) / np.diff(t)
        dspeed.append(float(v.max() - v.min()))
        accel.append(float(np.abs(np.diff(v) / np.diff(t)[1:]).max()) if v.size > 1 else 0.0)
        if src.visible_points is not None:
            pts.append(src.visible_points(i, p.timestamps_us))
    out = {
        "moving_tracks": len(turn),
        "moving_frames": int(sum(len(p) for p in src.tracks if _is_moving(p))),
        "fraction_turning_over_10deg": float(np.mean(np.array(turn) > np.radians(10.0))) if turn else 0.0,
        "fraction_speed_change_over_1mps": float(np.mean(np.array(dspeed) > 1.0)) if dspeed else 0.0,
        "median_max_abs_accel_mps2": float(np.median(accel)) if accel else 0.0,
    }
    if pts:
        allp = np.concatenate(pts)
        out["fraction_moving_frames_under_30_points"] = float(np.mean(allp < 30))
        out["fraction_moving_frames_without_points"] = float(np.mean(allp == 0))
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--ks", type=str, default=None, help="keyframe spacings [frames]")
    parser.add_argument("--no-keyframes-needed", action="store_true", help="skip the greedy count")
    parser.add_argument("--sim", metavar="RIG", default=None, help="evaluate on simulated logs of this rig")
    parser.add_argument("--sim-seconds", type=float, default=20.0, help="duration of each simulated log [s]")
    parser.add_argument(
        "--sim-seeds", "--sim-seed", type=str, default="0,1,2", help="simulator seeds, comma separated"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ks_text = args.ks or ",".join(map(str, SIM_KS if args.sim else KS))
    ks = [int(v) for v in ks_text.split(",")]
    kn = not args.no_keyframes_needed
    t0 = time.perf_counter()
    if args.sim is None:
        src = pandaset_source(args.data)
        ev = evaluate(src, ks, kn)
        results: dict[str, object] = {"data": str(args.data), **results_of([ev])}
        results["seconds"] = time.perf_counter() - t0
        report(results)
    else:
        seeds = [int(v) for v in args.sim_seeds.split(",")]
        evals: list[dict[str, Any]] = []
        per_seed: dict[str, dict[str, object]] = {}
        for seed in seeds:
            src = sim_source(args.sim, args.sim_seconds, seed)
            logger.info("%s: %d tracks", src.name, len(src.tracks))
            ev = evaluate(src, ks, kn)
            evals.append(ev)
            per_seed[str(seed)] = {"data": src.name, "motion": motion_stats(src), **results_of([ev])}
        pooled = {"data": f"sim:{args.sim} seeds {seeds} pooled", **results_of(evals)}
        results = {
            "sim": {"rig": args.sim, "seconds": args.sim_seconds, "seeds": seeds},
            "per_seed": per_seed,
            "pooled": pooled,
            "seconds": time.perf_counter() - t0,
        }
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        for key, res in per_seed.items():
            report(res, header=f"== {res['data']} (seed {key}) ==", with_json=False)
        report(pooled, header=f"== {pooled['data']} ==", with_json=False)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


def report(results: dict[str, Any], header: str | None = None, with_json: bool = True) -> None:
    """Print the JSON, then a table."""
    if with_json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    per_k = results["per_k"]
    assert isinstance(per_k, dict)
    head = (
        f"{'k':>3} {'method':<13} {'ctr mean':>9} {'ctr p95':>8} {'yaw mean':>9} {'BEV IoU':>8} "
        f"{'moving':>8} {'mov+sweep':>9} {'A':>6} {'B':>6}"
    )
    lines = ([header] if header else []) + [head, "-" * len(head)]
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
    first = next(iter(per_k.values()))
    if "center_mean_moving_visible_m" in first["hermite"]:
        head = (
            f"{'k':>3} {'method':<13} {f'mov, >={VISIBLE_POINTS} pts: ctr mean':>24} {'ctr p95':>8} "
            f"{'yaw mean':>9} {'BEV IoU':>8} {'frames':>7}"
        )
        lines += ["", head, "-" * len(head)]
        for k, row in per_k.items():
            for name in METHODS:
                r = row[name]
                lines.append(
                    f"{k:>3} {name:<13} {r['center_mean_moving_visible_m']:24.4f} "
                    f"{r['center_p95_moving_visible_m']:8.4f} {r['yaw_mean_moving_visible_rad']:9.4f} "
                    f"{r['bev_iou_mean_moving_visible']:8.4f} {r['frames_moving_visible']:7d}"
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
