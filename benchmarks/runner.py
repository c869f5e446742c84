"""One benchmark suite: rigs x stages on CPU (and CUDA when a GPU is present), JSON + a Markdown table.

Run: ``python -m benchmarks [--quick] [--rigs nuscenes,kitti,...] [--stages deskew,nms,...]
[--out DIR] [--results-md]``.

Rigs: ``nuscenes`` (32 beams, 6 cameras, 5 radars), ``kitti`` (64 beams, 2 front cameras, defined
here), ``robotaxi`` (128 beams, 12 cameras, 6 radars) from :mod:`engine.sim`, ``pandaset`` (the real
excerpt ``../shared/data/pandaset_seq002`` when present, else the bundled ``data/samples`` sample),
and ``tiny`` (16 beams; for tests). Stages are in :data:`benchmarks.stages.STAGES`. Every row gives
frames/s, the ratio to each peer measured in the same run (peer time / ours: > 1 means ours is faster)
or the reason there is none, the fraction of the memory-bandwidth bound where it applies
(bound time / our time, 1.0 = at the bound) and an accuracy figure. A stage that fails on this
machine (a missing optional package) becomes a row naming the error, never a crash.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import logging
import math
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.stages import STAGES, Plan, RigData

log = logging.getLogger("benchmarks.runner")
ROOT = Path(__file__).resolve().parents[1]
PANDASET_DIRS = (
    ROOT.parent / "shared" / "data" / "pandaset_seq002",
    ROOT / "data" / "samples" / "pandaset_seq002",
)
ALL_RIGS = ("nuscenes", "kitti", "robotaxi", "pandaset")
SECTION = "## Suite (python -m benchmarks)"
# seconds simulated per rig, and sweeps kept per rig: (quick, full)
SECONDS = {"nuscenes": (0.5, 2.0), "kitti": (0.5, 2.0), "robotaxi": (0.3, 1.0), "tiny": (0.3, 1.0)}
MAX_SWEEPS = (4, 12)


def kitti_rig() -> Any:
    """KITTI-like rig: a 64-beam HDL-64E-style lidar (+2 to -24.8 deg) and a front stereo pair, no radar."""
    from engine.sim import CameraSpec, LidarSpec, RigSpec

    lidar = LidarSpec("velodyne", (0.81, 0.32, 1.73), 0.0, 64, 2000, 10.0, 2.0, -24.8, 120.0)
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
        secs = seconds if seconds is not None else SECONDS.get(name, (0.5, 2.0))[0 if quick else 1]
        sim = simulate(spec, secs, 0)
        the_log = dataclasses.replace(sim.log, annotations=sim.ground_truth.annotations)
        compensated = False
    lidar_id = next(iter(the_log.lidar))
    stream = the_log.lidar[lidar_id]
    keep = min(len(stream), max_sweeps or MAX_SWEEPS[0 if quick else 1])
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


def cuda_present() -> bool:
    """A real GPU (not numba's simulator) that CuPy can allocate on."""
    from kernels import cuda_status

    st = cuda_status()
    return st.driver_devices > 0 and not st.simulator and st.cupy


def machine_info() -> dict[str, Any]:
    """Device, package versions, git commit and load of this run."""
    info: dict[str, Any] = {"python": platform.python_version(), "cores": os.cpu_count()}
    for mod in ("numpy", "numba", "scipy", "cv2", "open3d", "shapely", "torch", "cupy"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional packages: record that they are absent
            info[mod] = None
    try:
        git = ["git", "-C", str(ROOT)]
        info["git_commit"] = (
            subprocess.run(
                [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
            ).stdout.strip()
            or "unknown"
        )
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        info["git_dirty"] = bool(dirty)
    except OSError:
        info["git_commit"], info["git_dirty"] = "unknown", None
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        )
    except (OSError, StopIteration):
        pass
    info["cpu"] = cpu
    info["gpu"] = None
    try:
        if cuda_present():
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(0)
            info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
            info["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
    except Exception as exc:  # noqa: BLE001 - never fail on device probing
        info["gpu_error"] = repr(exc)
    info["load_average_1min"] = round(os.getloadavg()[0], 2)
    return info


def _error_row(rig: str, stage: str, exc: BaseException) -> dict[str, Any]:
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
    }


def end_to_end_row(rig: RigData) -> dict[str, Any]:
    """End-to-end pre-label row: measured when ``engine.pipeline`` exists, else a row saying so."""
    if importlib.util.find_spec("engine.pipeline") is None:
        return _error_row(
            rig.name, "end-to-end pre-label", RuntimeError("engine/pipeline.py not present yet")
        )
    from engine import pipeline

    fn = getattr(pipeline, "prelabel", None) or getattr(pipeline, "prelabel_log", None)
    if fn is None:
        return _error_row(rig.name, "end-to-end pre-label", RuntimeError("engine.pipeline has no prelabel()"))
    from benchmarks.stages import row, timed

    t = timed(lambda: fn(rig.log), 0)
    tracks = len(fn(rig.log).annotations.tracks)
    n = len(rig.log.lidar[rig.lidar_id])
    return row(
        rig,
        "end-to-end pre-label",
        t / n,
        frames=n,
        no_peer="no open-source pre-labeler runs the same chain",
        accuracy=f"{tracks} tracks out for {len(rig.annotations.tracks)} GT tracks",
        note=f"engine.pipeline.{fn.__name__} on the whole log (first call's JIT compile excluded)",
    )


def run(
    quick: bool = True,
    rigs: list[str] | None = None,
    stages: list[str] | None = None,
    seconds: float | None = None,
    max_sweeps: int | None = None,
    cuda: bool | None = None,
) -> dict[str, Any]:
    """Run the suite; returns ``{"machine", "bandwidth", "quick", "rows", "wall_s"}``."""
    from benchmarks.bench_shared_frame import memory_bandwidth

    t0 = time.perf_counter()
    rigs = list(rigs or ALL_RIGS)
    stages = list(stages or [*STAGES, "end-to-end pre-label"])
    for s in stages:
        if s not in STAGES and s != "end-to-end pre-label":
            raise ValueError(f"unknown stage {s!r}; expected one of {[*STAGES, 'end-to-end pre-label']}")
    bw = memory_bandwidth(64 << 20 if quick else 256 << 20)
    use_cuda = cuda_present() if cuda is None else cuda
    plan = Plan(
        repeat=2 if quick else 5, peer_frames=1 if quick else 3, copy_gbps=bw["copy_GBps"], cuda=use_cuda
    )
    rows: list[dict[str, Any]] = []
    for name in rigs:
        t_rig = time.perf_counter()
        data = load_rig(name, quick, seconds, max_sweeps)
        log.info("rig %s: %d sweeps prepared in %.1f s", name, len(data.sweeps), time.perf_counter() - t_rig)
        for stage in stages:
            t_stage = time.perf_counter()
            try:
                if stage == "end-to-end pre-label":
                    rows.append(end_to_end_row(data))
                else:
                    rows += STAGES[stage](data, plan)
            except Exception as exc:  # noqa: BLE001 - a failing stage becomes a row, the suite goes on
                log.warning("%s / %s failed: %r", name, stage, exc)
                rows.append(_error_row(name, stage, exc))
            log.info("  %s %.1f s", stage, time.perf_counter() - t_stage)
    return {
        "machine": machine_info(),
        "bandwidth": bw,
        "quick": quick,
        "cuda": use_cuda,
        "rows": rows,
        "wall_s": time.perf_counter() - t0,
    }


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "-" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, spec)


def markdown(result: dict[str, Any]) -> str:
    """The suite's Markdown section: a header naming device, versions and commit, then one row per result."""
    m, bw = result["machine"], result["bandwidth"]
    vers = ", ".join(
        f"{k} {m[k]}"
        for k in ("numpy", "numba", "scipy", "cv2", "open3d", "shapely", "torch", "cupy")
        if m.get(k)
    )
    lines = [
        SECTION,
        "",
        f"Device: {m['cpu']}, {m['cores']} cores"
        + (f"; GPU {m['gpu']} (driver {m.get('cuda_driver')})" if m.get("gpu") else "; no GPU")
        + f". Python {m['python']}; {vers}. git {m['git_commit']}"
        + (" + uncommitted changes" if m.get("git_dirty") else "")
        + f"{' (quick run)' if result['quick'] else ''}; 1-min load {m['load_average_1min']}; "
        f"copy bandwidth {bw['copy_GBps']:.1f} GB/s; wall time {result['wall_s']:.0f} s.",
        "",
        "x peer = peer time / ours on the same inputs in this run (> 1: ours faster). mem = fraction of the "
        "memory-bandwidth bound reached (bound time / our time).",
        "",
        "| rig | stage | device | throughput | ms/frame | peers (x peer) | mem | accuracy | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        peers = (
            "; ".join(f"{p['name']}: {_fmt(p['ratio'])}x" for p in r["peers"])
            or f"none: {r['no_peer_reason']}"
        )
        cells = [
            r["rig"],
            r["stage"],
            r["device"],
            f"{_fmt(r['per_s'])} {r['unit']}",
            _fmt(r["ms_per_frame"], ".2f"),
            peers,
            _fmt(r["memory_bound_fraction"], ".2f"),
            r["accuracy"],
            r["note"],
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def update_results_md(section: str, path: Path) -> None:
    """Replace this suite's own section of RESULTS.md (or append it); other sections stay."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    if SECTION in text:
        before, after = text.split(SECTION, 1)
        rest = after.split("\n## ", 1)
        text = before + section + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the result dictionary."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short run (<= 2 minutes on 2 cores)")
    p.add_argument("--rigs", default=",".join(ALL_RIGS), help=f"comma list of {[*ALL_RIGS, 'tiny']}")
    p.add_argument("--stages", default=None, help="comma list (default: all)")
    p.add_argument("--seconds", type=float, default=None, help="simulated seconds per synthetic rig")
    p.add_argument("--max-sweeps", type=int, default=None, help="sweeps measured per rig")
    p.add_argument("--cpu-only", action="store_true", help="skip CUDA rows even with a GPU")
    p.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for suite.json/.md"
    )
    p.add_argument("--results-md", action="store_true", help="also update benchmarks/RESULTS.md")
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
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "suite.json").write_text(json.dumps(result, indent=2, default=str))
    section = markdown(result)
    (args.out / "suite.md").write_text(section)
    print(section)
    if args.results_md:
        update_results_md(section, ROOT / "benchmarks" / "RESULTS.md")
    return result
