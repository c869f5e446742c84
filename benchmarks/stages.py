"""Suite measurements, part 1: timing, rows, CUDA columns and the point stages (deskew ... points-in-boxes).

Each stage function takes a :class:`RigData` (a log, its lidar sweeps, ground-truth boxes per sweep)
and a :class:`Plan` (repeats, how many frames the slow peers see) and returns row dictionaries (see
``benchmarks.runner``). Peers are imported from the single-stage benchmarks (``bench_shared_frame``,
``bench_boxes``, ``bench_proposals``, ``eval_tracking``); only the shapes of the inputs are new here.

Timing protocol: ours is warmed up once per stage (numba compiles on the first frame's call; the
compile time is recorded in the row's ``compile_s``, not in its speed), then every frame is timed
``repeat`` times and the row gives the median over frames of each frame's fastest call. Peers are
plain NumPy / OpenCV / shapely / Open3D / SciPy code with nothing to compile: one call per frame on the
first ``peer_frames`` frames. Single-shot measurements of whole-log stages subtract the numba compile
time measured during the call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import kernels
from benchmarks.common import CompileClock

NO_GPU = "no CUDA GPU on this machine"
NO_CUDA_PATH = "no CUDA path for this stage"


@dataclass(slots=True)
class Plan:
    """How hard to measure: ``repeat`` timed calls per frame, peers on the first ``peer_frames`` frames."""

    repeat: int = 3
    peer_frames: int = 1
    e2e_frames: int = 4
    copy_gbps: float = 10.0
    cuda: bool = False
    cuda_reason: str = NO_GPU


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


def measure(fn: Callable[[], Any], repeat: int, warm: bool = True) -> tuple[float, Any]:
    """Fastest of ``repeat`` calls [s] and the last result.

    With ``warm`` one untimed call comes first (JIT compile excluded); without it the numba compile
    time spent inside the timed calls is subtracted.
    """
    if warm:
        fn()
    best, out = float("inf"), None
    for _ in range(max(1, repeat)):
        with CompileClock() as clock:
            t0 = time.perf_counter_ns()
            out = fn()
            elapsed = (time.perf_counter_ns() - t0) * 1e-9
        best = min(best, max(elapsed - clock.seconds, 1e-9))
    return best, out


def timed(fn: Callable[[], Any], repeat: int, warm: bool = True) -> float:
    """Fastest of ``repeat`` calls [s] (see :func:`measure`)."""
    return measure(fn, repeat, warm)[0]


def per_frame(fns: Sequence[Callable[[], Any]], repeat: int) -> float:
    """Median over frames of each frame's fastest call [s]; one warm-up call on the first frame."""
    if not fns:
        return float("nan")
    fns[0]()
    return float(np.median([timed(f, repeat, warm=False) for f in fns]))


def peer_time(fns: Sequence[Callable[[], Any]]) -> float:
    """Median seconds of one call per frame (peers: nothing to compile, no warm-up)."""
    times = []
    for f in fns:
        t0 = time.perf_counter_ns()
        f()
        times.append((time.perf_counter_ns() - t0) * 1e-9)
    return float(np.median(times))


def row(
    rig: RigData,
    stage: str,
    seconds: float,
    *,
    frames: int,
    unit: str = "frames",
    per_item: float = 1.0,
    peers: dict[str, float | tuple[float, float]] | None = None,
    no_peer: str = "",
    moved_bytes: float | None = None,
    plan: Plan | None = None,
    accuracy: str = "",
    note: str = "",
    cuda: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One result row; ``seconds`` per frame (``per_item`` items per frame), peers in seconds per frame.

    A peer given as ``(peer_s, ours_s)`` is compared with ``ours_s`` (our time for the same narrower
    work, e.g. clustering alone) instead of the row's ``seconds``.
    """
    bound = None
    if moved_bytes is not None and plan is not None and seconds > 0:
        bound = moved_bytes / (plan.copy_gbps * 1e9) / seconds
    if cuda is None:
        cuda = {"reason": plan.cuda_reason if plan is not None and not plan.cuda else NO_CUDA_PATH}
    ok = np.isfinite(seconds) and seconds > 0
    return {
        "rig": rig.name,
        "stage": stage,
        "device": "cpu",
        "unit": f"{unit}/s",
        "frames": frames,
        "ms_per_frame": seconds * 1e3,
        "per_s": per_item / seconds if ok else float("nan"),
        "peers": [_peer(k, v, seconds) for k, v in (peers or {}).items()],
        "no_peer_reason": no_peer if not peers else "",
        "memory_bound_fraction": bound,
        "accuracy": accuracy,
        "note": note,
        "compile_s": 0.0,
        "cuda": cuda,
    }


def _peer(name: str, value: float | tuple[float, float], seconds: float) -> dict[str, Any]:
    peer_s, ours_s = value if isinstance(value, tuple) else (value, seconds)
    out = {"name": name, "ms_per_frame": peer_s * 1e3, "ratio": peer_s / ours_s}
    if isinstance(value, tuple):
        out["ours_ms_per_frame"] = ours_s * 1e3
    return out


def _sync() -> None:
    import cupy

    cupy.cuda.runtime.deviceSynchronize()


def cuda_columns(
    plan: Plan,
    cpu_seconds: float,
    host_fns: list[Callable[[], Any]],
    resident: tuple[list[Any], Callable[[Any], Any]] | None = None,
) -> dict[str, Any]:
    """CUDA figures for a CPU row: host inputs (copies included) and, given inputs, GPU-resident ones.

    ``resident`` is ``(host inputs, fn)``: inputs are copied to the device once, ``fn(device_input)``
    is timed alone. Ratios are CPU time / CUDA time (> 1: the GPU is faster).
    """
    if not plan.cuda:
        return {"reason": plan.cuda_reason}
    out: dict[str, Any] = {}
    t_host = per_frame([lambda f=f: (f(), _sync()) for f in host_fns], plan.repeat)
    out["host_device_ms_per_frame"] = t_host * 1e3
    out["host_device_x_cpu"] = cpu_seconds / t_host
    if resident is not None:
        import cupy

        inputs, fn = resident
        dev = [cupy.asarray(x) for x in inputs]
        t_res = per_frame([lambda d=d: (fn(d), _sync()) for d in dev], plan.repeat)
        out["resident_ms_per_frame"] = t_res * 1e3
        out["resident_x_cpu"] = cpu_seconds / t_res
    else:
        out["resident_reason"] = "inputs are a whole log (host objects); no device-resident form"
    return out


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
    t_np = peer_time([lambda s=s: numpy_deskew(s, traj, e) for s in peer_sweeps])
    err = max(float(np.abs(ours(s) - numpy_deskew(s, traj, e)).max()) for s in peer_sweeps)
    n = float(np.mean([s.points.shape[0] for s in rig.sweeps]))
    cuda = cuda_columns(plan, t, [lambda s=s: ours(s, "cuda") for s in rig.sweeps])
    return [
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
            cuda=cuda,
        )
    ]


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
    t_chain = peer_time([lambda sh=sh: chain(sh) for sh in shared])
    diff = max(
        float(np.median(np.linalg.norm(np.concatenate(chain(sh), 1).T - sh.points, axis=1))) for sh in shared
    )
    n = float(np.mean([sh.points.shape[0] for sh in shared]))
    cuda = cuda_columns(plan, t, [lambda ts=ts: ours(ts, "cuda") for ts in times])
    return [
        row(
            rig,
            "fuse",
            t,
            frames=len(times),
            peers={"nuScenes-style chain (one pose per sweep, no per-point deskew)": t_chain},
            moved_bytes=n * 40,
            plan=plan,
            accuracy=f"median per-point motion correction vs the chain {diff:.3f} m",
            note=f"{len(shared[0].sensor_ids)} sensors, {n / 1e3:.0f}k points",
            cuda=cuda,
        )
    ]


def _cameras(rig: RigData) -> tuple[list[Any], np.ndarray]:
    cams = [s for s in rig.log.sensors.values() if s.camera is not None]
    if not cams:
        return [], np.zeros((0, 4, 4))
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
        return [row(rig, "project", float("nan"), frames=0, no_peer="rig has no cameras", plan=plan)]

    def ours(p: Any, backend: str = "cpu") -> Any:
        return kernels.project_to_cameras(p, cams, mats, backend=backend)

    t = per_frame([lambda p=p: ours(p) for p in rig.ego_points], plan.repeat)
    pts = rig.ego_points[: plan.peer_frames]
    eye3 = [np.eye(4)] * 3
    t_chain = peer_time(
        [
            lambda p=p: [
                nuscenes_chain(p, [*eye3, m], c.K, c.width, c.height) for c, m in zip(cams, mats, strict=True)
            ]
            for p in pts
        ]
    )
    peers = {"nuScenes-style chain (pinhole, no distortion)": t_chain}
    acc = "cv2 not installed"
    try:
        t_cv = peer_time([lambda p=p: cv2_project(p, cams, mats) for p in pts])
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
    models = sorted({c.model for c in cams})
    cuda = cuda_columns(
        plan,
        t,
        [lambda p=p: ours(p, "cuda") for p in rig.ego_points],
        (rig.ego_points, lambda d: ours(d, "cuda")),
    )
    return [
        row(
            rig,
            "project",
            t,
            frames=len(rig.ego_points),
            peers=peers,
            moved_bytes=n * 12 + len(cams) * n * 13,
            plan=plan,
            accuracy=acc,
            note=f"{len(cams)} cameras ({', '.join(models)}), {n / 1e3:.0f}k points",
            cuda=cuda,
        )
    ]


def stage_points_in_boxes(rig: RigData, plan: Plan) -> list[dict[str, Any]]:
    """First box of every point against the frame's ground-truth cuboids (ego frame)."""
    from benchmarks.bench_boxes import brute_force_first, numba_brute_force

    pairs = [(p, b) for p, b in zip(rig.ego_points, rig.gt_boxes, strict=True) if b.shape[0]]
    if not pairs:
        return [
            row(rig, "points_in_boxes", float("nan"), frames=0, no_peer="no ground-truth boxes", plan=plan)
        ]

    def ours(p: Any, b: Any, backend: str = "cpu") -> Any:
        return kernels.points_in_boxes(p, b, backend=backend)

    t = per_frame([lambda p=p, b=b: ours(p, b) for p, b in pairs], plan.repeat)
    sub = pairs[: plan.peer_frames]
    t_np = peer_time([lambda p=p, b=b: brute_force_first(p, b) for p, b in sub])
    numba_brute_force(sub[0][0][:64], sub[0][1])  # the numba peer compiles outside its timing
    t_nb = peer_time([lambda p=p, b=b: numba_brute_force(p, b) for p, b in sub])
    agree = float(np.mean([np.mean(ours(p, b) == brute_force_first(p, b)) for p, b in sub]))
    n = float(np.mean([p.shape[0] for p, _ in pairs]))
    m = float(np.mean([b.shape[0] for _, b in pairs]))
    cuda = cuda_columns(
        plan,
        t,
        [lambda p=p, b=b: ours(p, b, "cuda") for p, b in pairs],
        None,
    )
    return [
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
            cuda=cuda,
        )
    ]


POINT_STAGES: dict[str, Callable[[RigData, Plan], list[dict[str, Any]]]] = {
    "deskew": stage_deskew,
    "fuse": stage_fuse,
    "project": stage_project,
    "points_in_boxes": stage_points_in_boxes,
}
