"""Tracker throughput (frames/s) at 50, 200 and 1,000 objects per frame over a 600-frame log, and
interpolation calls/s.

asv-shaped: ``params`` / ``param_names``, seeded ``setup``, ``time_*``. Objects drive at constant
velocity (random headings, 0-15 m/s) in a 1 km square; detections carry 0.2 m jitter and 10 % drop-outs.
Interpolation: one ``tracking.interpolate`` call per track (8 keyframes, 20 queries), the annotation UI's
unit of work. Keyframe selection: ``tracking.keyframes_from_path`` on a 600-frame (60 s) smooth path
that turns and changes speed (the offline refinement runs it once per track).

Run: ``.venv/bin/python -m benchmarks.bench_tracking [--json OUT]``; prints JSON and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine_info
from tracking import CuboidPath, Detections, OnlineTracker, interpolate, keyframes_from_path

FRAMES = 600


def make_frames(n_objects: int, n_frames: int = FRAMES, seed: int = 0) -> list[Detections]:
    rng = np.random.default_rng(seed)
    pos = rng.uniform(-500, 500, (n_objects, 2))
    heading = rng.uniform(-np.pi, np.pi, n_objects)
    speed = rng.uniform(0, 15, n_objects)
    vel = np.stack([np.cos(heading), np.sin(heading)], 1) * speed[:, None]
    out = []
    for f in range(n_frames):
        keep = rng.random(n_objects) >= 0.1
        b = np.zeros((int(keep.sum()), 7))
        b[:, :2] = pos[keep] + vel[keep] * f * 0.1 + rng.normal(0, 0.2, (len(b), 2))
        b[:, 3:6] = [4.5, 1.9, 1.6]
        b[:, 6] = heading[keep]
        out.append(Detections(f * 100_000, b))
    return out


class TrackerSuite:
    params = [[50, 200, 1000]]
    param_names = ["objects_per_frame"]

    def setup(self, n: int) -> None:
        self.frames = make_frames(n)
        OnlineTracker().run(self.frames[:5])  # warm-up

    def time_online(self, n: int) -> None:
        OnlineTracker().run(self.frames)


class InterpolationSuite:
    def setup(self) -> None:
        rng = np.random.default_rng(1)
        t = np.arange(8) * 1_000_000
        boxes = np.column_stack(
            [
                np.cumsum(rng.normal(5, 1, (8, 2)), 0),
                np.zeros(8),
                np.tile([4.5, 1.9, 1.6], (8, 1)),
                np.cumsum(rng.normal(0, 0.1, 8)),
            ]
        )
        self.path = CuboidPath.from_boxes(t, boxes)
        self.query = np.linspace(0, 7_000_000, 20).astype(np.int64)

    def time_interpolate(self) -> None:
        interpolate(self.path, self.query)


class KeyframeSuite:
    def setup(self) -> None:
        s = np.linspace(0, 1, FRAMES)
        yaw = 2.0 * np.sin(3 * s)
        speed = 8 + 4 * np.sin(7 * s)
        xy = np.cumsum(np.stack([np.cos(yaw), np.sin(yaw)], 1) * speed[:, None] * 0.1, axis=0)
        boxes = np.column_stack([xy, np.zeros(FRAMES), np.tile([4.5, 1.9, 1.6], (FRAMES, 1)), yaw])
        self.path = CuboidPath.from_boxes(np.arange(FRAMES) * 100_000, boxes)

    def time_keyframes(self) -> None:
        keyframes_from_path(self.path)


def _best(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        best = min(best, (time.perf_counter_ns() - t0) * 1e-9)
    return float(best)


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    results: dict[str, object] = {
        "machine": machine_info(gpu=False),
        "frames": FRAMES,
    }
    suite = TrackerSuite()
    for n in TrackerSuite.params[0]:
        suite.setup(n)
        sec = _best(lambda n=n: suite.time_online(n), 3 if n < 1000 else 1)
        results[f"online_{n}_objects_frames_per_s"] = FRAMES / sec
    isuite = InterpolationSuite()
    isuite.setup()
    calls = 2000
    sec = _best(lambda: [isuite.time_interpolate() for _ in range(calls)], 3)
    results["interpolate_calls_per_s"] = calls / sec
    results["interpolated_cuboids_per_s"] = calls * isuite.query.size / sec
    ksuite = KeyframeSuite()
    ksuite.setup()
    results["keyframes_600_frame_path_calls_per_s"] = 1.0 / _best(ksuite.time_keyframes, 5)
    results["keyframes_600_frame_path_count"] = len(keyframes_from_path(ksuite.path))
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    lines = ["| case | throughput |", "|---|---|"]
    for n in TrackerSuite.params[0]:
        lines.append(
            f"| online tracker, {n} objects/frame, {FRAMES} frames "
            f"| {results[f'online_{n}_objects_frames_per_s']:.0f} frames/s |"
        )
    lines.append(
        f"| interpolate (8 keyframes -> 20 cuboids) | {results['interpolate_calls_per_s']:.0f} calls/s |"
    )
    lines.append(
        f"| keyframes_from_path (600-frame path -> {results['keyframes_600_frame_path_count']} keyframes) "
        f"| {results['keyframes_600_frame_path_calls_per_s']:.0f} calls/s |"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
