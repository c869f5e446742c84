"""Contention-robust projection timings: one thread each, interleaved rounds, best sample per case.

Run: ``python -m benchmarks.projection_per_core [--rounds 60]``. Prints a Markdown table.

On a shared 2-core machine the 2-thread medians of ``bench_shared_frame`` are dominated by other
processes (a parallel loop waits for a descheduled worker). Here every side runs on one thread
(numba, OpenCV and BLAS), the cases alternate round by round (so load spikes hit all of them) and
the fastest sample of each is kept: per-core ratios that hold whatever the load. The inputs are
those of ``bench_shared_frame`` (250k points in front of the camera, the example cameras).
"""

from __future__ import annotations

import os

from benchmarks.wide_vectors import FLAG, enable_from_argv

WIDE = enable_from_argv()  # before numba is imported
for _var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

import kernels  # noqa: E402
from benchmarks import floors  # noqa: E402
from benchmarks.bench_shared_frame import nuscenes_chain, points_in_front, rig  # noqa: E402
from calibration.camera_examples import example_cameras  # noqa: E402


def cases(n: int) -> dict[str, Callable[[], Any]]:
    """The timed calls, by name."""
    import cv2

    cv2.setNumThreads(1)
    pts = points_in_front(np.random.default_rng(0), n)
    pts[:, 2] = np.abs(pts[:, 2]) * 10 + 1.0
    p64 = pts.astype(np.float64)
    cams = example_cameras()
    pin, fish = cams["brown_conrady"], cams["fisheye"]
    zero, eye4 = np.zeros(3), [np.eye(4)] * 4
    ego = points_in_front(np.random.default_rng(1), n)
    rig_cams, mats = rig(8, np.random.default_rng(2))
    return {
        "ours 8 cams float32": lambda: kernels.project_to_cameras(ego, rig_cams, mats),
        "ours 8 cams float64": lambda: kernels.project_to_cameras(ego, rig_cams, mats, precision="float64"),
        "floor 8 cams (fresh outputs)": floors.write_cameras_floor(ego, 8),
        "floor 8 cams (preallocated)": floors.write_cameras_floor(ego, 8, fresh=False),
        "ours BC float32": lambda: kernels.project_points(pts, pin),
        "ours KB float32": lambda: kernels.project_points(pts, fish),
        "ours BC float64": lambda: kernels.project_points(pts, pin, precision="float64"),
        "ours KB float64": lambda: kernels.project_points(pts, fish, precision="float64"),
        "floor (fresh outputs)": floors.copy_rows_floor(pts),
        "floor (preallocated)": floors.copy_rows_floor(pts, fresh=False),
        "cv2.projectPoints": lambda: cv2.projectPoints(p64, zero, zero, pin.K, np.array(pin.params)),
        "cv2.fisheye.projectPoints": lambda: cv2.fisheye.projectPoints(
            p64[None], zero, zero, fish.K, np.array(fish.params)
        ),
        "nuScenes-style chain (BC K)": lambda: nuscenes_chain(pts, eye4, pin.K, pin.width, pin.height),
    }


def measure(rounds: int, n: int = 250_000) -> dict[str, float]:
    """Best wall time [ms] per case over ``rounds`` interleaved rounds (slow cases every 4th round)."""
    calls = cases(n)
    for fn in calls.values():
        fn()
    best = dict.fromkeys(calls, float("inf"))
    for r in range(rounds):
        for name, fn in calls.items():
            if ("cv2" in name or "nuScenes" in name or "8 cams" in name) and r % 4:
                continue
            t0 = time.perf_counter_ns()
            fn()
            best[name] = min(best[name], (time.perf_counter_ns() - t0) * 1e-6)
    return best


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument(FLAG, action="store_true", help="512-bit vectors (benchmarks/wide_vectors.py)")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    best = measure(args.rounds)
    wide = ", 512-bit vectors" if args.wide_vectors else ""
    print(f"One thread each, best of {args.rounds} interleaved rounds{wide}; 1-min load {load:.2f}.\n")
    print("| case | best [ms] |\n|---|---|")
    for name, ms in best.items():
        print(f"| {name} | {ms:.3f} |")
    bc, kb, floor = best["ours BC float32"], best["ours KB float32"], best["floor (fresh outputs)"]
    print(
        f"\nratios: cv2.projectPoints / ours BC {best['cv2.projectPoints'] / bc:.0f}x, "
        f"cv2.fisheye / ours KB {best['cv2.fisheye.projectPoints'] / kb:.0f}x, "
        f"chain / ours BC {best['nuScenes-style chain (BC K)'] / bc:.0f}x, "
        f"chain / ours KB {best['nuScenes-style chain (BC K)'] / kb:.0f}x; "
        f"ours / floor: BC {bc / floor:.2f}, KB {kb / floor:.2f}"
    )


if __name__ == "__main__":
    main()
