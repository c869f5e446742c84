"""Stage measurements of the benchmark runner: one function per stage, ours beside its peers.

Each stage function takes a :class:`RigData` (a log, its lidar sweeps, ground-truth boxes per sweep)
and a :class:`Plan` (repeats, how many frames the slow peers see) and returns row dictionaries (see
``benchmarks.runner``). Peers are imported from the single-stage benchmarks (``bench_shared_frame``,
``bench_boxes``, ``bench_proposals``, ``eval_tracking``); only the shapes of the inputs are new here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import kernels

MEMORY_STAGES = ("deskew", "fuse", "project", "points_in_boxes")


@dataclass(slots=True)
class Plan:
    """How hard to measure: ``repeat`` samples per frame, peers on the first ``peer_frames`` frames."""

    repeat: int = 3
    peer_frames: int = 1
    copy_gbps: float = 10.0
    cuda: bool = False


@dataclass(slots=True)
class RigData:
    """One rig's log and what the stages need from it, prepared once."""

    name: str
    log: Any
    lidar_id: str
    sweeps: list[Any]
    ego_points: list[np.ndarray]
    gt_boxes: list[np.ndarray]
    annotations: Any
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` calls [s] after one warm-up call (JIT compile excluded)."""
    fn()
    best = float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - t0) * 1e-9)
    return best


def per_frame(fns: Sequence[Callable[[], Any]], repeat: int) -> float:
    """Median seconds per frame over the frames' calls."""
    return float(np.median([timed(f, repeat) for f in fns]))


def row(
    rig: RigData,
    stage: str,
    seconds: float,
    *,
    frames: int,
    device: str = "cpu",
    unit: str = "frames",
    per_item: float = 1.0,
    peers: dict[str, float] | None = None,
    no_peer: str = "",
    moved_bytes: float | None = None,
    plan: Plan | None = None,
    accuracy: str = "",
    note: str = "",
) -> dict[str, Any]:
    """One result row; ``seconds`` per frame (``per_item`` items per frame), peers in seconds per frame."""
    bound = None
    if moved_bytes is not None and plan is not None and seconds > 0:
        bound = moved_bytes / (plan.copy_gbps * 1e9) / seconds
    return {
        "rig": rig.name,
        "stage": stage,
        "device": device,
        "unit": f"{unit}/s",
        "frames": frames,
        "ms_per_frame": seconds * 1e3,
        "per_s": per_item / seconds if seconds > 0 else float("inf"),
        "peers": [
            {"name": k, "ms_per_frame": v * 1e3, "ratio": v / seconds} for k, v in (peers or {}).items()
        ],
        "no_peer_reason": no_peer if not peers else "",
        "memory_bound_fraction": bound,
        "accuracy": accuracy,
        "note": note,
    }


def _ego_from_sensor(rig: RigData) -> np.ndarray:
    return np.asarray(rig.log.sensors[rig.lidar_id].ego_from_sensor.matrix, np.float64)


def numpy_deskew(sweep: Any, traj: Any, ego_from_sensor: np.ndarray) -> np.ndarray:
    """Peer: a 4x4 pose per point, float64 NumPy, into the ego frame at the sweep time."""
    m = traj.matrices_at(sweep.timestamp_us + sweep.time_offset_us.astype(np.int64))
    ref_inv = np.linalg.inv(traj.matrices_at(np.array([sweep.timestamp_us]))[0])
    p = sweep.points.astype(np.float64) @ ego_from_sensor[:3, :3].T + ego_from_sensor[:3, 3]
    world = np.einsum("nij,nj->ni", m[:, :3, :3], p) + m[:, :3, 3]
    return world @ ref_inv[:3, :3].T + ref_inv[:3, 3]


def stage_deskew(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Per-point motion compensation of every sweep into the ego frame at the sweep time."""
    traj, e = rig.log.trajectory, _ego_from_sensor(rig)

    def ours(s: Any, backend: str = "cpu") -> Any:
        return kernels.deskew(
            s.points,
            s.time_offset_us,
            timestamp_us=s.timestamp_us,
            trajectory=traj,
            ego_from_sensor=e,
            extrapolation="clamp",
            backend=backend,
        )

    t = per_frame([lambda s=s: ours(s) for s in rig.sweeps], plan.repeat)
    peer_sweeps = rig.sweeps[: plan.peer_frames]
    t_np = per_frame([lambda s=s: numpy_deskew(s, traj, e) for s in peer_sweeps], 1)
    err = max(float(np.abs(ours(s) - numpy_deskew(s, traj, e)).max()) for s in peer_sweeps)
    n = float(np.mean([s.points.shape[0] for s in rig.sweeps]))
    rows = [
        row(
            rig,
            "deskew",
            t,
            frames=len(rig.sweeps),
            peers={"NumPy per-point matrices": t_np},
            moved_bytes=n * 28,
            plan=plan,
            accuracy=f"max |Δ| vs NumPy {err:.1e} m",
            note=f"{n / 1e3:.0f}k points/sweep" + (f"; {rig.note}" if rig.note else ""),
        )
    ]
    if plan.cuda:
        rows += _cuda_rows(rig, "deskew", [lambda s=s: ours(s, "cuda") for s in rig.sweeps], plan, n * 28)
    return rows


def stage_fuse(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """All lidars and radars of a frame into the ego frame at the lidar time (``engine.fuse_frame``)."""
    from engine.shared_frame import fuse_frame

    times = [s.timestamp_us for s in rig.sweeps]

    def ours(ts: int, backend: str = "cpu") -> Any:
        return fuse_frame(rig.log, ts, backend=backend)

    t = per_frame([lambda ts=ts: ours(ts) for ts in times], plan.repeat)
    traj = rig.log.trajectory

    def chain(shared: Any) -> list[np.ndarray]:
        """nuScenes ``from_file_multisweep`` style: sensor -> ego(t_capture) -> world -> ego(ref), float64."""
        out = []
        ref_inv = np.linalg.inv(traj.matrices_at(np.array([shared.ref_time_us]))[0])
        for s, sid in enumerate(shared.sensor_ids):
            sensor = rig.log.sensors[sid]
            stream = rig.log.lidar.get(sid) or rig.log.radar[sid]
            cap = stream[stream.nearest(int(shared.capture_time_us[s]))]
            pc = cap.points.T.astype(np.float64)
            for m in (
                sensor.ego_from_sensor.matrix,
                traj.matrices_at(np.array([cap.timestamp_us]))[0],
                ref_inv,
            ):
                pc = m[:3, :3] @ pc + m[:3, 3:4]
            out.append(pc)
        return out

    shared = [ours(ts) for ts in times[: plan.peer_frames]]
    t_chain = per_frame([lambda sh=sh: chain(sh) for sh in shared], 1)
    diff = max(
        float(np.median(np.linalg.norm(np.concatenate(chain(sh), 1).T - sh.points, axis=1))) for sh in shared
    )
    n = float(np.mean([sh.points.shape[0] for sh in shared]))
    rows = [
        row(
            rig,
            "fuse",
            t,
            frames=len(times),
            peers={"nuScenes-style chain (per-sweep pose)": t_chain},
            moved_bytes=n * 40,
            plan=plan,
            accuracy=f"median per-point motion correction vs the chain {diff:.3f} m",
            note=f"{len(shared[0].sensor_ids)} sensors, {n / 1e3:.0f}k points",
        )
    ]
    if plan.cuda:
        rows += _cuda_rows(
            rig, "fuse", [lambda ts=ts: ours(ts, "cuda") for ts in times], plan, n * 40, resident=False
        )
    return rows


def _cameras(rig: RigData) -> tuple[list[Any], np.ndarray]:
    cams = [s for s in rig.log.sensors.values() if s.camera is not None]
    mats = np.stack([np.linalg.inv(s.ego_from_sensor.matrix) for s in cams])
    return [s.camera for s in cams], mats


def cv2_project(points: np.ndarray, cams: list[Any], mats: np.ndarray) -> list[Any]:
    """Peer: ``cv2.projectPoints`` / ``cv2.fisheye.projectPoints`` per camera, float64."""
    import cv2

    p64, out = points.astype(np.float64), []
    for cam, m in zip(cams, mats, strict=True):
        rvec = cv2.Rodrigues(m[:3, :3])[0]
        if cam.model == "fisheye":
            out.append(
                cv2.fisheye.projectPoints(p64[None], rvec, m[:3, 3], cam.K, np.array(cam.params))[0][0]
            )
        else:
            out.append(cv2.projectPoints(p64, rvec, m[:3, 3], cam.K, np.array(cam.params))[0][:, 0])
    return out


def stage_project(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Every point of a sweep (ego frame) into every camera (dense C x N, static extrinsics)."""
    from benchmarks.bench_shared_frame import nuscenes_chain

    cams, mats = _cameras(rig)
    if not cams:
        return [row(rig, "project", float("nan"), frames=0, no_peer="rig has no cameras")]

    def ours(p: np.ndarray, backend: str = "cpu") -> Any:
        return kernels.project_to_cameras(p, cams, mats, backend=backend)

    t = per_frame([lambda p=p: ours(p) for p in rig.ego_points], plan.repeat)
    pts = rig.ego_points[: plan.peer_frames]
    eye3 = [np.eye(4)] * 3
    t_chain = per_frame(
        [
            lambda p=p: [
                nuscenes_chain(p, [*eye3, m], c.K, c.width, c.height) for c, m in zip(cams, mats, strict=True)
            ]
            for p in pts
        ],
        1,
    )
    peers = {"nuScenes-style chain (no distortion)": t_chain}
    acc = "cv2 not installed"
    try:
        t_cv = per_frame([lambda p=p: cv2_project(p, cams, mats) for p in pts], 1)
        peers["cv2.projectPoints / fisheye per camera"] = t_cv
        dense, ref = ours(pts[0]), cv2_project(pts[0], cams, mats)
        err = 0.0
        for c in range(len(cams)):
            z = pts[0].astype(np.float64) @ mats[c, 2, :3] + mats[c, 2, 3]
            ok = dense.valid[c] & (z > 0)  # cv2.fisheye folds rays beyond 90 degrees; compare in front only
            if ok.any():
                uv = np.stack([dense.u[c][ok], dense.v[c][ok]], 1)
                err = max(err, float(np.abs(uv - ref[c][ok]).max()))
        acc = f"max |Δuv| vs cv2 {err:.1e} px (valid points, z > 0)"
    except ImportError:
        pass
    n = float(np.mean([p.shape[0] for p in rig.ego_points]))
    moved = n * 12 + len(cams) * n * 13
    rows = [
        row(
            rig,
            "project",
            t,
            frames=len(rig.ego_points),
            peers=peers,
            moved_bytes=moved,
            plan=plan,
            accuracy=acc,
            note=f"{len(cams)} cameras, {n / 1e3:.0f}k points",
        )
    ]
    if plan.cuda:
        rows += _cuda_rows(
            rig,
            "project",
            [lambda p=p: ours(p, "cuda") for p in rig.ego_points],
            plan,
            moved,
            resident_fns=[lambda p=p: lambda d: ours(d, "cuda") for p in rig.ego_points],
        )
    return rows


def stage_points_in_boxes(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """First box of every point against the frame's ground-truth cuboids (ego frame)."""
    from benchmarks.bench_boxes import brute_force_first, numba_brute_force

    pairs = [(p, b) for p, b in zip(rig.ego_points, rig.gt_boxes, strict=True) if b.shape[0]]
    if not pairs:
        return [row(rig, "points_in_boxes", float("nan"), frames=0, no_peer="no ground-truth boxes")]

    def ours(p: np.ndarray, b: np.ndarray, backend: str = "cpu") -> Any:
        return kernels.points_in_boxes(p, b, backend=backend)

    t = per_frame([lambda p=p, b=b: ours(p, b) for p, b in pairs], plan.repeat)
    sub = pairs[: plan.peer_frames]
    t_np = per_frame([lambda p=p, b=b: brute_force_first(p, b) for p, b in sub], 1)
    t_nb = per_frame([lambda p=p, b=b: numba_brute_force(p, b) for p, b in sub], 1)
    agree = float(np.mean([np.mean(ours(p, b) == brute_force_first(p, b)) for p, b in sub]))
    n = float(np.mean([p.shape[0] for p, _ in pairs]))
    m = float(np.mean([b.shape[0] for _, b in pairs]))
    rows = [
        row(
            rig,
            "points_in_boxes",
            t,
            frames=len(pairs),
            peers={"NumPy brute force": t_np, "numba brute force (prange)": t_nb},
            moved_bytes=n * 16,
            plan=plan,
            accuracy=f"{agree:.2%} of labels equal to brute force",
            note=f"{n / 1e3:.0f}k points x {m:.0f} boxes",
        )
    ]
    if plan.cuda:
        rows += _cuda_rows(
            rig, "points_in_boxes", [lambda p=p, b=b: ours(p, b, "cuda") for p, b in pairs], plan, n * 16
        )
    return rows


def _recall(pred: np.ndarray, gt: np.ndarray, points: np.ndarray, thr: float = 0.3) -> tuple[int, int]:
    """GT boxes within 40 m with >= 20 points, and how many a prediction overlaps with BEV IoU >= thr."""
    if gt.shape[0] == 0:
        return 0, 0
    counts = np.bincount(np.maximum(kernels.points_in_boxes(points, gt), -1) + 1, minlength=gt.shape[0] + 1)[
        1:
    ]
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

    t = per_frame([lambda p=p: propose(p) for p in rig.ego_points], max(1, plan.repeat // 2))
    hit = total = 0
    for p, b in zip(rig.ego_points, rig.gt_boxes, strict=True):
        h, n = _recall(np.asarray(propose(p).boxes), b, p)
        hit, total = hit + h, total + n
    acc = f"recall {hit}/{total} GT (>=20 pts, <40 m) at BEV IoU 0.3"
    peers, no_peer, note = {}, "", ""
    try:
        import open3d as o3d

        inputs = [cluster_input(p) for p in rig.ego_points[: plan.peer_frames]]
        clouds = [o3d.geometry.PointCloud(o3d.utility.Vector3dVector(c.astype(np.float64))) for c in inputs]
        peers["Open3D cluster_dbscan eps 0.4 (clustering only)"] = per_frame(
            [lambda c=c: c.cluster_dbscan(eps=0.4, min_points=1) for c in clouds], 1
        )
        ref = np.asarray(clouds[0].cluster_dbscan(eps=0.4, min_points=1))
        ours_lbl = cluster_points(inputs[0], voxel_size_m=(0.2, 0.2, 0.5)).labels
        note = f"clustering ARI vs Open3D {adjusted_rand_index(ref, ours_lbl):.3f}"
    except ImportError:
        no_peer = "open3d not installed"
    return [
        row(
            rig,
            "ground+cluster+fit",
            t,
            frames=len(rig.ego_points),
            peers=peers,
            no_peer=no_peer,
            accuracy=acc,
            note=note,
        )
    ]


def stage_nms(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Rotated BEV NMS of 20 jittered proposals per GT box (IoU 0.5)."""
    from benchmarks.bench_boxes import shapely_nms

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
        return [row(rig, "nms", float("nan"), frames=0, no_peer="no ground-truth boxes")]
    t = per_frame([lambda b=b, s=s: kernels.nms(b, s, 0.5) for b, s in sets], plan.repeat)
    peers, no_peer, acc = {}, "", ""
    try:
        sub = sets[: plan.peer_frames]
        peers["shapely 2 STRtree + greedy"] = per_frame(
            [lambda b=b, s=s: shapely_nms(b, s, 0.5) for b, s in sub], 1
        )
        same = all(np.array_equal(kernels.nms(b, s, 0.5), shapely_nms(b, s, 0.5)) for b, s in sub)
        acc = f"same kept set as shapely: {same}"
    except ImportError:
        no_peer = "shapely not installed"
    rows = [
        row(
            rig,
            "nms",
            t,
            frames=len(sets),
            peers=peers,
            no_peer=no_peer,
            accuracy=acc,
            note=f"{np.mean([b.shape[0] for b, _ in sets]):.0f} proposals/frame",
        )
    ]
    if plan.cuda:
        rows += _cuda_rows(
            rig,
            "nms",
            [lambda b=b, s=s: kernels.nms(b, s, 0.5, backend="cuda") for b, s in sets],
            plan,
            None,
            resident=False,
        )
    return rows


def stage_track(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """Online tracker over the log on perturbed GT detections (``benchmarks.eval_tracking`` protocol)."""
    from benchmarks.eval_tracking import (
        online_hypotheses,
        perturb,
        score,
        tracker_config,
        truth_from_annotations,
    )

    times = np.array([s.timestamp_us for s in rig.sweeps], np.int64)
    ego = rig.log.trajectory.poses_at(times)[0][:, :2]
    truth = truth_from_annotations(list(rig.annotations.tracks), times, ego)
    frames, cfg = perturb(truth, 0), tracker_config(truth.labels)
    t = timed(lambda: online_hypotheses(frames, cfg), plan.repeat) / len(frames)
    try:
        ids, boxes = online_hypotheses(frames, cfg)
        s = score(truth, ids, boxes)
        acc = f"MOTA {s['mota']:.3f}, IDF1 {s['idf1']:.3f}"
    except ImportError:
        acc = "motmetrics not installed"
    return [
        row(
            rig,
            "track",
            t,
            frames=len(frames),
            no_peer="no third-party 3D tracker is installed (AB3DMOT-style trackers are not packaged)",
            accuracy=acc,
            note=f"{np.mean([len(b) for b in truth.boxes]):.0f} objects/frame",
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
        return [row(rig, "interpolate", float("nan"), frames=0, no_peer="no track with >= 6 keyframes")]
    t = timed(lambda: [interpolate(kf, full.timestamps_us) for _, _, kf, full in jobs], plan.repeat) / len(
        jobs
    )
    t_sp = timed(lambda: [scipy_interpolate(tr, keep, full.timestamps_us) for tr, keep, _, full in jobs], 1)
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
            t,
            frames=len(jobs),
            unit="tracks",
            peers={"SciPy CubicHermiteSpline + Slerp": t_sp / len(jobs)},
            accuracy=f"centre error vs GT mean {errs.mean():.3f} m, p95 {np.quantile(errs, 0.95):.3f} m",
            note=f"{len(jobs)} tracks, keyframe every 5th frame",
        )
    ]


def stage_validate(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """All validation rules on the log's clean GT annotations (``engine.validation.validate``)."""
    from engine.validation import validate

    t = timed(lambda: validate(rig.log, rig.annotations), max(1, plan.repeat // 2))
    findings = validate(rig.log, rig.annotations)
    n = len(rig.log.lidar[rig.lidar_id])  # validate covers the whole log
    return [
        row(
            rig,
            "validate",
            t / n,
            frames=n,
            no_peer="no open-source validator checks the same rules",
            accuracy=f"{len(findings)} findings on clean GT (false positives)",
            note=f"{len(rig.annotations.tracks)} tracks",
        )
    ]


def _sync() -> None:
    import cupy

    cupy.cuda.runtime.deviceSynchronize()


def _cuda_rows(
    rig: RigData,
    stage: str,
    host_fns: list[Callable[[], Any]],
    plan: Plan,
    moved: float | None,
    *,
    resident: bool = True,
    resident_fns: list[Callable[[Any], Any]] | None = None,
) -> list[dict[str, Any]]:
    """CUDA rows: host inputs (includes host<->device copies); GPU-resident for the lidar-point stages."""
    out = [
        row(
            rig,
            stage,
            per_frame([lambda f=f: (f(), _sync()) for f in host_fns], plan.repeat),
            frames=len(host_fns),
            device="cuda host<->device",
            no_peer="CPU row above is the peer",
            moved_bytes=moved,
            plan=plan,
            note="NumPy in, NumPy out (transfers included)",
        )
    ]
    if resident and resident_fns is not None:
        import cupy

        dev = [cupy.asarray(p) for p in rig.ego_points]
        fns = [lambda f=f, d=d: (f(d), _sync()) for f, d in zip(resident_fns, dev, strict=True)]
        out.append(
            row(
                rig,
                stage,
                per_frame(fns, plan.repeat),
                frames=len(fns),
                device="cuda resident",
                no_peer="CPU row above is the peer",
                moved_bytes=moved,
                plan=plan,
                note="CuPy in, CuPy out (no transfers)",
            )
        )
    return out


STAGES: dict[str, Callable[[RigData, Plan], list[dict[str, Any]]]] = {
    "deskew": stage_deskew,
    "fuse": stage_fuse,
    "project": stage_project,
    "points_in_boxes": stage_points_in_boxes,
    "ground+cluster+fit": stage_proposals,
    "nms": stage_nms,
    "track": stage_track,
    "interpolate": stage_interpolate,
    "validate": stage_validate,
}
