"""Latency of one ``POST /v1/interpolate`` with a snap, per snap method (in-process, sequential requests).

Simulates a drive (``--rig``, ``--seconds``), registers it with a fresh in-process app (FastAPI
TestClient: routing, validation, JSON, the engine; no network), takes the ground-truth track with the
most lidar points, sends ``--keyframes`` evenly spaced keyframes and ``--queries`` query times spread
over the keyframes' span, and times ``--repeat`` requests per method after one warm-up each (method
order interleaved per round). Prints p50 / p90 / min per method and, with ``--out``, writes JSON.

Usage: ``python -m benchmarks.bench_interpolate_snap --rig tiny --seconds 6 --repeat 20``
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

METHODS = ("none", "points", "faces", "motion")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rig", default="tiny")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--keyframes", type=int, default=10)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings
    from engine import open_log
    from engine.service import PoseFrame, count_points_in_boxes
    from engine.sim import read_ground_truth, write_simulation
    from engine.tracks import sweep_points

    root = Path(tempfile.mkdtemp(prefix="bench-snap-"))
    try:
        t0 = time.perf_counter()
        write_simulation(root / "sim", args.rig, args.seconds, args.seed)
        sim_s = time.perf_counter() - t0
        log = open_log(root / "sim" / "log")
        lidar = next(iter(log.lidar))
        sweep_t = log.lidar[lidar].timestamps_us
        tracks = list(read_ground_truth(root / "sim" / "ground_truth").annotations.tracks)
        tracks = [t for t in tracks if len(t) >= min(len(sweep_t), args.queries)]

        def seen(track: Any) -> int:  # points inside the track's boxes over a few sweeps
            total = 0
            for i in np.linspace(0, len(track) - 1, 5).astype(int).tolist():
                j = log.lidar[lidar].nearest(int(track.timestamps_us[i]))
                pts = sweep_points(log, lidar, j, PoseFrame.WORLD)
                total += int(count_points_in_boxes(pts, np.asarray(track.boxes[i : i + 1], np.float32))[0])
            return total

        track = max(tracks, key=seen)
        kf = np.linspace(0, len(track) - 1, args.keyframes).round().astype(int)
        t = track.timestamps_us
        queries = np.unique(np.linspace(t[kf[0]], t[kf[-1]], args.queries).round().astype(np.int64))
        # Queries on the sweeps' times where the spacing allows (a UI snaps the frames it shows).
        on_sweeps = sweep_t[(sweep_t >= t[kf[0]]) & (sweep_t <= t[kf[-1]])]
        if on_sweeps.size >= args.queries:
            queries = on_sweeps[np.linspace(0, on_sweeps.size - 1, args.queries).round().astype(int)]
        settings = Settings(data_root=root / "data", pepper="bench")
        settings.logs_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(root / "sim" / "log"), settings.logs_dir / "sim")
        app = create_app(settings, start_workers=False)
        store = app.state.service.store
        tenant = store.tenants.create("bench")
        headers = {"X-API-Key": store.tenants.create_key(tenant.id)}
        with TestClient(app) as client:
            r = client.post("/v1/logs", json={"path": "sim"}, headers=headers)
            r.raise_for_status()
            base = {
                "keyframes": {
                    "timestamps_us": t[kf].tolist(),
                    "centers": track.centers[kf].tolist(),
                    "sizes": track.sizes[kf].tolist(),
                    "rotations_wxyz": track.rotations_wxyz[kf].tolist(),
                },
                "timestamps_us": queries.tolist(),
                "log_id": r.json()["id"],
            }
            bodies = {
                m: base if m == "none" else {**base, "snap": {"method": m, "max_gap_us": 60_000}}
                for m in METHODS
            }
            times: dict[str, list[float]] = {m: [] for m in METHODS}
            snapped: dict[str, int] = {}
            for m in METHODS:  # warm-up (JIT, log cache)
                r = client.post("/v1/interpolate", json=bodies[m], headers=headers)
                r.raise_for_status()
                snap = r.json()["snap"]
                snapped[m] = 0 if snap is None else int(sum(snap["snapped"]))
            for _ in range(args.repeat):
                for m in METHODS:
                    s = time.perf_counter()
                    r = client.post("/v1/interpolate", json=bodies[m], headers=headers)
                    times[m].append(time.perf_counter() - s)
                    r.raise_for_status()
        rows = {
            m: {
                "p50_ms": 1e3 * float(np.median(v)),
                "p90_ms": 1e3 * float(np.percentile(v, 90)),
                "min_ms": 1e3 * float(np.min(v)),
                "snapped": snapped[m],
            }
            for m, v in times.items()
        }
        report = {
            "rig": args.rig,
            "seconds": args.seconds,
            "track": track.track_id,
            "label": track.label,
            "keyframes": int(kf.size),
            "queries": int(queries.size),
            "repeat": args.repeat,
            "simulate_s": sim_s,
            "machine": platform.processor() or platform.machine(),
            "methods": rows,
        }
        print(f"{args.rig} {track.track_id} ({track.label}): {kf.size} keyframes, {queries.size} queries")
        for m, row in rows.items():
            print(
                f"  {m:7s} p50 {row['p50_ms']:8.1f} ms  p90 {row['p90_ms']:8.1f} ms  "
                f"min {row['min_ms']:8.1f} ms  snapped {row['snapped']}/{queries.size}"
            )
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
