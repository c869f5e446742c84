"""Suite measurements, part 2: the labelling stages (proposals ... validate) and end-to-end pre-labelling.

Same protocol as :mod:`benchmarks.stages` (warm-up once, ``repeat`` timed calls, peers once per frame).
Whole-log stages (validate, end-to-end) are timed in one call with the numba compile time measured
during the call subtracted, so a rig's first stage to use a kernel does not pay for its compile.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import kernels
from benchmarks.common import CompileClock
from benchmarks.stages import Plan, RigData, measure, peer_time, row, timed


def _recall(pred: np.ndarray, gt: np.ndarray, points: np.ndarray, thr: float = 0.3) -> tuple[int, int]:
    """GT boxes within 40 m with >= 20 points, and how many a prediction overlaps with BEV IoU >= thr."""
    if gt.shape[0] == 0:
        return 0, 0
    first = kernels.points_in_boxes(points, gt)
    counts = np.bincount(np.maximum(first, -1) + 1, minlength=gt.shape[0] + 1)[1:]
    keep = (counts >= 20) & (np.hypot(gt[:, 0], gt[:, 1]) < 40.0)
    if not keep.any() or pred.shape[0] == 0:
        return 0, int(keep.sum())
    iou = kernels.box_iou_bev(gt[keep], pred.astype(np.float32))
    return int((iou.max(axis=1) >= thr).sum()), int(keep.sum())


def stage_proposals(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Ground segmentation + voxel clustering + cuboid fit + NMS (``engine.proposals.propose``)."""
    from benchmarks.bench_proposals import adjusted_rand_index, cluster_input
    from engine.proposals import propose
    from kernels.geometry import cluster_points

    propose(rig.ego_points[0])  # compile
    times, outs = [], []
    for p in rig.ego_points:
        t_p, out = measure(lambda p=p: propose(p), plan.repeat, warm=False)
        times.append(t_p)
        outs.append(out)
    hit = total = 0
    for out, p, b in zip(outs, rig.ego_points, rig.gt_boxes, strict=True):
        h, n = _recall(np.asarray(out.boxes), b, p)
        hit, total = hit + h, total + n
    acc = f"recall {hit}/{total} GT (>=20 pts, <40 m) at BEV IoU 0.3"
    peers: dict[str, float | tuple[float, float]] = {}
    no_peer, note = "", ""
    try:
        import open3d as o3d

        # Open3D's DBSCAN costs seconds per dense sweep: one frame, our clustering on the same input
        cin = cluster_input(rig.ego_points[0])
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cin.astype(np.float64)))
        t0 = time.perf_counter()
        ref = np.asarray(cloud.cluster_dbscan(eps=0.4, min_points=1))
        t_o3d = time.perf_counter() - t0
        t_cl, ours_lbl = measure(
            lambda: cluster_points(cin, voxel_size_m=(0.2, 0.2, 0.5)).labels, plan.repeat, warm=True
        )
        peers["Open3D cluster_dbscan eps 0.4 vs our cluster_points (clustering only)"] = (t_o3d, t_cl)
        ari = adjusted_rand_index(ref, ours_lbl)
        note = (
            f"clustering {cin.shape[0] / 1e3:.0f}k points: ARI vs Open3D {ari:.3f}, ours {t_cl * 1e3:.1f} ms"
        )
    except ImportError:
        no_peer = "open3d not installed"
    return [
        row(
            rig,
            "ground+cluster+fit",
            float(np.median(times)),
            frames=len(rig.ego_points),
            peers=peers,
            no_peer=no_peer,
            plan=plan,
            accuracy=acc,
            note=note,
        )
    ]


def stage_nms(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Rotated BEV NMS of 20 jittered proposals per GT box (IoU 0.5)."""
    from benchmarks.bench_boxes import shapely_nms
    from benchmarks.stages import cuda_columns, per_frame

    rng = np.random.default_rng(0)
    sets = []
    for b in rig.gt_boxes:
        if b.shape[0] == 0:
            continue
        base = np.repeat(b, 20, axis=0).astype(np.float64)
        base[:, 0:2] += rng.normal(0.0, 0.35, (base.shape[0], 2))
        base[:, 6] += rng.normal(0.0, 0.2, base.shape[0])
        sets.append(
            (base.astype(np.float32), np.round(rng.uniform(0, 1, base.shape[0]), 2).astype(np.float32))
        )
    if not sets:
        return [row(rig, "nms", float("nan"), frames=0, no_peer="no ground-truth boxes", plan=plan)]
    t = per_frame([lambda b=b, s=s: kernels.nms(b, s, 0.5) for b, s in sets], plan.repeat)
    peers, no_peer, acc = {}, "", ""
    try:
        sub = sets[: plan.peer_frames]
        peers["shapely 2 STRtree + greedy"] = peer_time(
            [lambda b=b, s=s: shapely_nms(b, s, 0.5) for b, s in sub]
        )
        same = all(np.array_equal(kernels.nms(b, s, 0.5), shapely_nms(b, s, 0.5)) for b, s in sub)
        acc = f"same kept set as shapely: {same}"
    except ImportError:
        no_peer = "shapely not installed"
    cuda = cuda_columns(
        plan,
        t,
        [lambda b=b, s=s: kernels.nms(b, s, 0.5, backend="cuda") for b, s in sets],
        None,
    )
    return [
        row(
            rig,
            "nms",
            t,
            frames=len(sets),
            peers=peers,
            no_peer=no_peer,
            plan=plan,
            accuracy=acc,
            note=f"{np.mean([b.shape[0] for b, _ in sets]):.0f} proposals/frame",
            cuda=cuda,
        )
    ]


def stage_track(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Online tracker over the log on perturbed GT detections (``benchmarks.eval_tracking`` protocol)."""
    from benchmarks.eval_tracking import (
        online_hypotheses,
        perturb,
        score,
        tracker_config,
        truth_from_annotations,
    )

    times = np.array(rig.log.lidar[rig.lidar_id].timestamps_us, np.int64)
    ego = rig.log.trajectory.poses_at(times)[0][:, :2]
    truth = truth_from_annotations(list(rig.annotations.tracks), times, ego)
    frames, cfg = perturb(truth, 0), tracker_config(truth.labels)
    t, (ids, boxes) = measure(lambda: online_hypotheses(frames, cfg), plan.repeat)
    try:
        s = score(truth, ids, boxes)
        acc = f"MOTA {s['mota']:.3f}, IDF1 {s['idf1']:.3f}"
    except ImportError:
        acc = "motmetrics not installed"
    return [
        row(
            rig,
            "track",
            t / len(frames),
            frames=len(frames),
            no_peer="no third-party 3D MOT tracker is packaged on PyPI (AB3DMOT-style trackers are repos)",
            plan=plan,
            accuracy=acc,
            note=f"{np.mean([len(b) for b in truth.boxes]):.0f} objects/frame, whole log",
        )
    ]


def scipy_interpolate(track: Any, keep: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, Any]:
    """Peer: SciPy cubic Hermite (finite-difference tangents) centres + ``Slerp`` rotations."""
    from scipy.interpolate import CubicHermiteSpline
    from scipy.spatial.transform import Rotation, Slerp

    t = track.timestamps_us[keep].astype(np.float64)
    c = track.centers[keep]
    d = np.gradient(c, t, axis=0)
    q = track.rotations_wxyz[keep][:, [1, 2, 3, 0]]
    return CubicHermiteSpline(t, c, d)(query), Slerp(t, Rotation.from_quat(q))(query)


def stage_interpolate(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Every GT track from every 5th keyframe back to all its frames (``tracking.interpolate``)."""
    from engine.tracks import path_from_track
    from tracking import CuboidPath, interpolate

    jobs = []
    for tr in rig.annotations.tracks:
        k = tr.timestamps_us.size
        if k < 6:
            continue
        keep = np.unique(np.r_[np.arange(0, k, 5), k - 1])
        full = path_from_track(tr)
        kf = CuboidPath(
            full.timestamps_us[keep],
            full.centers[keep],
            full.sizes[keep],
            full.rotations_wxyz[keep],
            frame=full.frame,
        )
        jobs.append((tr, keep, kf, full))
    if not jobs:
        return [
            row(rig, "interpolate", float("nan"), frames=0, no_peer="no track with >= 6 frames", plan=plan)
        ]
    t = timed(lambda: [interpolate(kf, full.timestamps_us) for _, _, kf, full in jobs], plan.repeat)
    t_sp = peer_time(
        [lambda: [scipy_interpolate(tr, keep, full.timestamps_us) for tr, keep, _, full in jobs]]
    )
    errs = np.concatenate(
        [
            np.linalg.norm(interpolate(kf, full.timestamps_us).centers - full.centers, axis=1)
            for _, _, kf, full in jobs
        ]
    )
    return [
        row(
            rig,
            "interpolate",
            t / len(jobs),
            frames=len(jobs),
            unit="tracks",
            peers={"SciPy CubicHermiteSpline + Slerp": t_sp / len(jobs)},
            plan=plan,
            accuracy=f"centre error vs GT mean {errs.mean():.3f} m, p95 {np.quantile(errs, 0.95):.3f} m",
            note=f"{len(jobs)} tracks, keyframe every 5th frame",
        )
    ]


def stage_validate(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """All validation rules on the log's clean GT annotations (``engine.validation.validate``)."""
    from engine.validation import validate

    t, findings = measure(lambda: validate(rig.log, rig.annotations), 1, warm=False)
    n = len(rig.log.lidar[rig.lidar_id])  # validate covers the whole log
    return [
        row(
            rig,
            "validate",
            t / n,
            frames=n,
            no_peer="no open-source validator checks the same rules",
            plan=plan,
            accuracy=f"{len(findings)} findings on clean GT (false positives)",
            note=f"{len(rig.annotations.tracks)} tracks, whole log, one call",
        )
    ]


def stage_end_to_end(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """``engine.pipeline.prelabel`` on the first frames: fuse, propose, track, link, validate."""
    from benchmarks.eval_proposals import gt_boxes_ego
    from engine.annotations import Annotations
    from engine.pipeline import prelabel
    from engine.stages.config import PipelineConfig
    from engine.tracks import densify_track

    cfg = PipelineConfig(backend="cpu", frames={"max_frames": plan.e2e_frames})
    with CompileClock() as clock:
        t, res = measure(lambda: prelabel(rig.log, cfg), 1, warm=False)
    n = int(res.frame_times_us.size)
    # pre-label tracks are sparse keyframes (TracksConfig.keyframes): score them at every frame
    dense = Annotations(tuple(densify_track(t) for t in res.annotations.tracks), res.annotations.links)
    out_log = dataclasses.replace(rig.log, annotations=dense)
    stream = rig.log.lidar[rig.lidar_id]
    hit = total = 0
    for ts in res.frame_times_us.tolist():
        sweep = stream[stream.nearest(int(ts))]
        e = rig.log.sensors[rig.lidar_id].ego_from_sensor.matrix
        pts = np.ascontiguousarray((sweep.points @ e[:3, :3].T + e[:3, 3]).astype(np.float32))
        h, k = _recall(gt_boxes_ego(out_log, ts)[0], gt_boxes_ego(rig.log, ts)[0], pts)
        hit, total = hit + h, total + k
    per_stage = ", ".join(f"{s.name} {s.seconds:.2f} s" for s in res.stages if s.status == "ok")
    return [
        row(
            rig,
            "end-to-end pre-label",
            t / n,
            frames=n,
            no_peer="no open-source pre-labeler runs the same chain",
            plan=plan,
            accuracy=f"{res.tracks} tracks; GT recall {hit}/{total} (>=20 pts, <40 m) at BEV IoU 0.3",
            note=f"first {n} frames, one call, numba compile {clock.seconds:.1f} s subtracted; {per_stage}",
        )
    ]


LABEL_STAGES: dict[str, Callable[[RigData, Plan], list[dict[str, Any]]]] = {
    "ground+cluster+fit": stage_proposals,
    "nms": stage_nms,
    "track": stage_track,
    "interpolate": stage_interpolate,
    "validate": stage_validate,
    "end-to-end pre-label": stage_end_to_end,
}
