"""Compile (or load from numba's disk cache) the kernels behind the low-latency endpoints, before users call.

In a fresh install the first ``/v1/fit`` took 23 s and the first ``/v1/project`` 4 s (numba compiling on
2 cores); every later call, in that process or any later one, takes milliseconds because numba caches the
machine code on disk. :func:`warm_up` runs each path once on small synthetic inputs, so ``fusionlabel serve``
(in a background thread at start-up) or ``fusionlabel warmup`` (e.g. in a deployment step) pays that cost
instead of the first labeler.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["WARM_UP_STEPS", "warm_up"]


def _look_forward() -> np.ndarray:
    """4 x 4 camera_from_ego of a camera at the origin looking along +x."""
    from calibration.se3 import OPTICAL_FROM_FORWARD

    m = np.eye(4)
    m[:3, :3] = OPTICAL_FROM_FORWARD
    return m


def _two_cameras() -> list[Any]:
    """A pinhole (with distortion) and a Kannala–Brandt fisheye camera."""
    from calibration.camera_examples import example_cameras

    cams = example_cameras()
    return [cams["brown_conrady"], cams["fisheye"]]


def _interpolate() -> None:
    from tracking import CuboidPath, interpolate

    t = np.array([0, 500_000, 1_000_000], np.int64)
    centers = np.array([[0.0, 0.0, 0.0], [5.0, 0.5, 0.0], [10.0, 2.0, 0.0]])
    quats = np.tile([1.0, 0.0, 0.0, 0.0], (3, 1))
    path = CuboidPath(t, centers, np.tile([4.5, 1.9, 1.6], (3, 1)), quats)
    interpolate(path, np.arange(0, 1_000_001, 100_000))


def _surface(rng: np.random.Generator) -> np.ndarray:
    """Rear and side of a car in its box frame, 1 cm noise."""
    rear = np.column_stack([np.full(300, -2.2), rng.uniform(-0.9, 0.9, 300), rng.uniform(-0.6, 0.6, 300)])
    side = np.column_stack([rng.uniform(-2.2, 2.2, 300), np.full(300, 0.9), rng.uniform(-0.6, 0.6, 300)])
    return np.concatenate([rear, side]) + rng.normal(0.0, 0.01, (600, 3))


def _snap() -> None:
    from tracking import register_points

    rng = np.random.default_rng(0)
    register_points(_surface(rng) + [0.05, -0.02, 0.0], _surface(rng))


def _project() -> None:
    from kernels.footprint import sample_footprints

    cameras = _two_cameras()
    boxes = np.array([[10.0, 0.0, 0.0, 4.5, 1.9, 1.6, 0.3], [8.0, 3.0, 0.0, 4.5, 1.9, 1.6, -0.2]], np.float32)
    sample_footprints(boxes, cameras, np.stack([_look_forward()] * 2), np.array([0, 1]), backend="cpu")


def _project_points() -> None:
    import kernels
    from calibration.trajectory import Trajectory

    cameras = _two_cameras()
    t = np.array([0, 100_000, 200_000], np.int64)
    traj = Trajectory(
        t, np.c_[[0.0, 1.0, 2.0], np.zeros(3), np.zeros(3)], np.tile([1.0, 0.0, 0.0, 0.0], (3, 1))
    )
    for frame in ("ego", "world"):
        mats = kernels.camera_from_points_at(
            np.stack([_look_forward()] * 2),
            np.array([50_000, 150_000]),
            traj,
            ref_time_us=100_000,
            frame=frame,
        )
        points = np.array([[10.0, 0.5, 0.2], [12.0, -1.0, 0.5], [-3.0, 0.0, 0.0]], np.float32)
        kernels.project_to_cameras(points, cameras, mats)
        kernels.project_to_cameras(points, cameras, mats, depth_image=True)


def _fit() -> None:
    from engine.service.annotate import count_points_in_boxes, fit_box

    rng = np.random.default_rng(1)
    points = (_surface(rng) + [10.0, 0.0, 0.8]).astype(np.float32)
    fit_box(points)
    count_points_in_boxes(points, np.array([[10.0, 0.0, 0.8, 4.5, 1.9, 1.6, 0.0]], np.float32))


#: (name, step) in the order :func:`warm_up` runs them.
WARM_UP_STEPS: tuple[tuple[str, Callable[[], None]], ...] = (
    ("interpolate", _interpolate),
    ("snap (motion ICP)", _snap),
    ("project (points at capture times, pinhole and fisheye)", _project_points),
    ("footprints (pinhole and fisheye)", _project),
    ("fit and points-in-boxes", _fit),
)


def warm_up() -> dict[str, float]:
    """Run every step of :data:`WARM_UP_STEPS` once; returns seconds per step (compile or cache load)."""
    out = {}
    for name, step in WARM_UP_STEPS:
        t0 = time.perf_counter()
        step()
        out[name] = time.perf_counter() - t0
    return out
