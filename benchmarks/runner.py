"""One benchmark suite: rigs x stages on CPU (and CUDA when a GPU is present), JSON + a Markdown table.

Run: ``python -m benchmarks [--quick] [--rigs nuscenes,kitti,...] [--stages deskew,nms,...]
[--out DIR] [--no-results-md]`` (or ``fusionlabel bench all -- --quick``).

Rigs: ``nuscenes`` (32 beams, 6 cameras, 5 radars), ``kitti`` (64 beams, 2 front cameras, defined
here), ``robotaxi`` (128 beams, 12 cameras, 6 radars) from :mod:`engine.sim`, ``pandaset`` (the real
excerpt ``../shared/data/pandaset_seq002`` when present, else the bundled ``data/samples`` sample),
and ``tiny`` (16 beams; for tests). Stages: :data:`STAGES`. Every row gives frames/s, the ratio to each
peer measured in the same run (peer time / ours: > 1 means ours is faster) or the reason there is none,
the fraction of the memory-bandwidth bound where it applies (bound time / our time, 1.0 = at the
bound), an accuracy figure, the numba compile time the stage triggered (kept out of its speed) and,
with a GPU, CUDA figures GPU-resident and with host<->device copies (else the reason there are none).
A stage that fails on this machine becomes a row naming the error, never a crash.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import (
    MALLOC_SETTINGS,
    ROOT,
    CompileClock,
    load_average,
    machine_info,
    pin_malloc_thresholds,
    update_results_md,
)
from benchmarks.stages import NO_GPU, POINT_STAGES, Plan, RigData
from benchmarks.stages_labels import LABEL_STAGES

log = logging.getLogger("benchmarks.runner")
PANDASET_DIRS = (
    ROOT.parent / "shared" / "data" / "pandaset_seq002",
    ROOT / "data" / "samples" / "pandaset_seq002",
)
ALL_RIGS = ("nuscenes", "kitti", "robotaxi", "pandaset")
SECTION = "## Suite (python -m benchmarks)"
STAGES: dict[str, Callable[[RigData, Plan], list[dict[str, Any]]]] = {**POINT_STAGES, **LABEL_STAGES}
# simulated seconds per rig (quick, full): >= 6 lidar frames so tracks have >= 6 keyframes to interpolate
SECONDS = {"nuscenes": (0.3, 1.0), "kitti": (0.6, 1.5), "robotaxi": (0.6, 1.0), "tiny": (0.6, 1.0)}
# sweeps timed per rig, timed calls per frame, frames the peers see, frames pre-labelled end to end
QUICK = {"max_sweeps": 2, "repeat": 1, "peer_frames": 1, "e2e_frames": 3}
FULL = {"max_sweeps": 6, "repeat": 5, "peer_frames": 2, "e2e_frames": 8}


def kitti_rig() -> Any:
    """KITTI-like rig: a 64-beam HDL-64E-style lidar (+2 to -24.8 deg, 10 Hz) and a front stereo pair."""
    from engine.sim import CameraSpec, LidarSpec, RigSpec

    lidar = LidarSpec(
        "velodyne",
        (0.81, 0.32, 1.73),
        0.0,
        beams=64,
        columns=2000,
        fov_up_deg=2.0,
        fov_down_deg=-24.8,
        rate_hz=10.0,
        max_range_m=120.0,
    )
    cams = tuple(
        CameraSpec(
            f"cam_{side}", (1.08, y, 1.65), 0.0, 0.0, "brown_conrady", 1242, 375, 721.5, (0.0,) * 8, 10.0, 0
        )
        for side, y in (("left", 0.06), ("right", -0.48))
    )
    return RigSpec("kitti", (lidar,), (), cams)


def _ego_points(log_: Any, lidar_id: str, sweep: Any, compensated: bool) -> np.ndarray:
    import kernels

    e = log_.sensors[lidar_id].ego_from_sensor.matrix
    if compensated:
        return np.ascontiguousarray((sweep.points @ e[:3, :3].T + e[:3, 3]).astype(np.float32))
    return np.asarray(
        kernels.deskew(
            sweep.points,
            sweep.time_offset_us,
            timestamp_us=sweep.timestamp_us,
            trajectory=log_.trajectory,
            ego_from_sensor=e,
            extrapolation="clamp",
        )
    )


def load_rig(name: str, quick: bool, seconds: float | None = None, max_sweeps: int | None = None) -> RigData:
    """Simulate (or read) one rig's log and prepare sweeps, ego-frame points and GT boxes per sweep."""
    from benchmarks.eval_proposals import gt_boxes_ego

    note = ""
    if name == "pandaset":
        from engine import open_log

        path = next(p for p in PANDASET_DIRS if p.exists())
        the_log = open_log(path)
        note = f"real data ({path.parent.name}/{path.name}); sweeps are published motion-compensated"
        compensated = True
    else:
        from engine.sim import simulate

        spec = kitti_rig() if name == "kitti" else name
        secs = seconds if seconds is not None else SECONDS.get(name, (0.5, 1.0))[0 if quick else 1]
        sim = simulate(spec, secs, 0)
        the_log = dataclasses.replace(sim.log, annotations=sim.ground_truth.annotations)
        compensated = False
    lidar_id = next(iter(the_log.lidar))
    stream = the_log.lidar[lidar_id]
    keep = min(len(stream), max_sweeps or (QUICK if quick else FULL)["max_sweeps"])
    sweeps = [stream[i] for i in range(keep)]
    return RigData(
        name=name,
        log=the_log,
        lidar_id=lidar_id,
        sweeps=sweeps,
        ego_points=[_ego_points(the_log, lidar_id, s, compensated) for s in sweeps],
        gt_boxes=[gt_boxes_ego(the_log, s.timestamp_us)[0] for s in sweeps],
        annotations=the_log.annotations,
        note=note,
    )


def cuda_state() -> tuple[bool, str]:
    """Whether a real GPU (not numba's simulator) that CuPy can use is present, and why not."""
    from kernels import cuda_status

    st = cuda_status()
    if st.driver_devices == 0:
        return False, NO_GPU
    if st.simulator:
        return False, "numba CUDA simulator active (NUMBA_ENABLE_CUDASIM); no real GPU figures"
    if not st.cupy:
        return False, "GPU present but CuPy is not installed or cannot allocate"
    return True, ""


def _error_row(rig: str, stage: str, exc: BaseException, reason: str) -> dict[str, Any]:
    return {
        "rig": rig,
        "stage": stage,
        "device": "cpu",
        "unit": "frames/s",
        "frames": 0,
        "ms_per_frame": float("nan"),
        "per_s": float("nan"),
        "peers": [],
        "no_peer_reason": f"stage failed: {type(exc).__name__}: {exc}"[:300],
        "memory_bound_fraction": None,
        "accuracy": "",
        "note": "",
        "compile_s": 0.0,
        "cuda": {"reason": reason or "stage failed"},
    }


def run(
    quick: bool = True,
    rigs: list[str] | None = None,
    stages: list[str] | None = None,
    seconds: float | None = None,
    max_sweeps: int | None = None,
    cuda: bool | None = None,
) -> dict[str, Any]:
    """Run the suite; returns ``{"machine", "bandwidth", "quick", "cuda", "rows", "wall_s", ...}``."""
    from benchmarks.bench_shared_frame import memory_bandwidth

    t0 = time.perf_counter()
    load_start = load_average()
    malloc_pinned = pin_malloc_thresholds()  # the same allocator state for every peer (see common.py)
    rigs = list(rigs or ALL_RIGS)
    stages = list(stages or STAGES)
    for s in stages:
        if s not in STAGES:
            raise ValueError(f"unknown stage {s!r}; expected one of {list(STAGES)}")
    for rig in rigs:
        if rig not in (*ALL_RIGS, "tiny"):
            raise ValueError(f"unknown rig {rig!r}; expected one of {[*ALL_RIGS, 'tiny']}")
    bw = memory_bandwidth(64 << 20 if quick else 256 << 20)
    has_cuda, reason = cuda_state()
    use_cuda = has_cuda if cuda is None else (cuda and has_cuda)
    if cuda is False and has_cuda:
        reason = "CUDA rows skipped (--cpu-only)"
    cfg = QUICK if quick else FULL
    plan = Plan(
        repeat=cfg["repeat"],
        peer_frames=cfg["peer_frames"],
        e2e_frames=cfg["e2e_frames"],
        copy_gbps=bw["copy_GBps"],
        cuda=use_cuda,
        cuda_reason=reason,
    )
    rows: list[dict[str, Any]] = []
    prep: dict[str, float] = {}
    compile_total = CompileClock()
    with compile_total:
        for name in rigs:
            t_rig = time.perf_counter()
            data = load_rig(name, quick, seconds, max_sweeps)
            prep[name] = time.perf_counter() - t_rig
            log.info("rig %s: %d sweeps prepared in %.1f s", name, len(data.sweeps), prep[name])
            for stage in stages:
                t_stage = time.perf_counter()
                with CompileClock() as clock:
                    try:
                        got = STAGES[stage](data, plan)
                    except Exception as exc:  # noqa: BLE001 - a failing stage becomes a row, the suite goes on
                        log.warning("%s / %s failed: %r", name, stage, exc)
                        got = [_error_row(name, stage, exc, reason)]
                for r in got:
                    r["compile_s"] = clock.seconds / len(got)
                    r["stage_wall_s"] = (time.perf_counter() - t_stage) / len(got)
                rows += got
                log.info(
                    "  %s %.1f s (numba compile %.1f s)", stage, time.perf_counter() - t_stage, clock.seconds
                )
    return {
        "machine": {
            **machine_info(),
            "load_average_1min_start": load_start,
            "malloc": dict(MALLOC_SETTINGS) if malloc_pinned else "glibc defaults",
        },
        "bandwidth": bw,
        "quick": quick,
        "cuda": use_cuda,
        "cuda_reason": reason,
        "plan": dataclasses.asdict(plan),
        "rows": rows,
        "rig_prep_s": prep,
        "compile_s": compile_total.seconds,
        "compiled_kernels": compile_total.kernels,
        "compiled_names": sorted(set(compile_total.names)),
        "wall_s": time.perf_counter() - t0,
    }


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def _cuda_cells(r: dict[str, Any]) -> tuple[str, str]:
    c = r.get("cuda") or {}
    if "reason" in c:
        return f"none: {c['reason']}", f"none: {c['reason']}"
    res = (
        f"{_fmt(c['resident_ms_per_frame'], '.2f')} ms ({_fmt(c['resident_x_cpu'])}x CPU)"
        if "resident_ms_per_frame" in c
        else f"none: {c.get('resident_reason', '')}"
    )
    host = f"{_fmt(c['host_device_ms_per_frame'], '.2f')} ms ({_fmt(c['host_device_x_cpu'])}x CPU)"
    return res, host


COLUMNS = (
    "rig",
    "stage",
    "throughput",
    "ms/frame",
    "peers (x peer) or why none",
    "mem",
    "accuracy",
    "CUDA resident",
    "CUDA host↔device",
    "compile s",
    "note",
)


def markdown(result: dict[str, Any]) -> str:
    """The suite's Markdown section: a header naming device, versions and commit, then one row per result."""
    m, bw = result["machine"], result["bandwidth"]
    vers = ", ".join(
        f"{k} {m[k]}"
        for k in ("numpy", "numba", "scipy", "opencv", "open3d", "shapely", "torch", "cupy")
        if m.get(k)
    )
    gpu = (
        f"GPU {m['gpu']} (CUDA driver {m.get('cuda_driver')}, runtime {m.get('cuda_runtime')})"
        if m.get("gpu")
        else f"no GPU ({result['cuda_reason']})"
    )
    lines = [
        SECTION,
        "",
        f"Device: {m['cpu']}, {m['cores']} cores, numba threads {m.get('numba_threads')}; {gpu}. "
        f"Python {m['python']}; {vers}. git {m['git']}"
        f"{'; quick run' if result['quick'] else '; full run'}. 1-min load average "
        f"{m['load_average_1min_start']} at the start, {m['load_average_1min']} at the end "
        f"(2 cores: above ~1 the run shared them). Copy bandwidth {bw['copy_GBps']:.1f} GB/s. "
        f"Wall time {result['wall_s']:.0f} s, of it numba compile {result['compile_s']:.0f} s "
        f"({result['compiled_kernels']} kernels; cache misses only) and rig preparation "
        f"{sum(result['rig_prep_s'].values()):.0f} s.",
        "",
        "x peer = peer time / ours on the same inputs in this run (> 1: ours faster). mem = fraction of the "
        "memory-bandwidth bound reached (bound time / our time; - where a stage is not bandwidth-bound). "
        "CUDA columns: ms/frame and CPU time / CUDA time. compile s = numba compile the stage triggered "
        "(excluded from its speed).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in result["rows"]:
        peers = (
            "; ".join(f"{p['name']}: {_fmt(p['ratio'])}x" for p in r["peers"])
            or f"none: {r['no_peer_reason']}"
        )
        res, host = _cuda_cells(r)
        cells = [
            r["rig"],
            r["stage"],
            f"{_fmt(r['per_s'])} {r['unit']}",
            _fmt(r["ms_per_frame"], ".2f"),
            peers,
            _fmt(r["memory_bound_fraction"], ".3f"),
            r["accuracy"],
            res,
            host,
            _fmt(r.get("compile_s"), ".1f"),
            r["note"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the result dictionary."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short run (<= 2 minutes on 2 cores)")
    p.add_argument("--rigs", default=",".join(ALL_RIGS), help=f"comma list of {[*ALL_RIGS, 'tiny']}")
    p.add_argument("--stages", default=None, help=f"comma list of {list(STAGES)} (default: all)")
    p.add_argument("--seconds", type=float, default=None, help="simulated seconds per synthetic rig")
    p.add_argument("--max-sweeps", type=int, default=None, help="sweeps measured per rig")
    p.add_argument("--cpu-only", action="store_true", help="skip CUDA figures even with a GPU")
    p.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for suite*.json/.md"
    )
    p.add_argument("--no-results-md", action="store_true", help="do not update benchmarks/RESULTS.md")
    p.add_argument("--results-md", type=Path, default=None, help="RESULTS.md to update (default: the repo's)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(
        args.quick,
        args.rigs.split(","),
        args.stages.split(",") if args.stages else None,
        args.seconds,
        args.max_sweeps,
        False if args.cpu_only else None,
    )
    stem = "suite_quick" if args.quick else "suite"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2, default=str))
    section = markdown(result)
    (args.out / f"{stem}.md").write_text(section)
    print(section)
    if not args.no_results_md:
        heading = SECTION if not args.quick else SECTION.replace("benchmarks)", "benchmarks --quick)")
        text = section.replace(SECTION, heading, 1)
        if args.results_md is not None:
            update_results_md(heading, text, args.results_md)
        else:
            update_results_md(heading, text)
    return result
