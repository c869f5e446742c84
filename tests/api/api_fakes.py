"""Test doubles for the service tests (importable as ``api_fakes`` in-process and by server subprocesses)."""

from __future__ import annotations

import os
import time
from typing import Any

from engine import Annotations, CoordinateFrame, CuboidTrack, Log
from engine.errors import InvalidInputError
from engine.service import PrelabelOptions, PrelabelResult, Progress, StageReport


class FakePrelabeler:
    """A quick pipeline: ``max_sweeps`` steps of ``FAKE_PRELABEL_STEP_S`` seconds each, one track out.

    ``options.lidar_id == "boom"`` raises an engine error (a failing job); ``"crash"`` raises a bare
    RuntimeError (an internal error).
    """

    def __init__(self) -> None:
        self.step_s = float(os.environ.get("FAKE_PRELABEL_STEP_S", "0.01"))

    def __call__(self, log: Log, options: PrelabelOptions, progress: Progress) -> PrelabelResult:
        if options.lidar_id == "boom":
            raise InvalidInputError("unknown lidar_id 'boom'")
        if options.lidar_id == "crash":
            raise RuntimeError("simulated bug")
        steps = options.max_sweeps or 3
        for i in range(steps):
            time.sleep(self.step_s)
            progress("proposals", (i + 1) / steps)
        track = CuboidTrack.from_boxes(
            "t0", "car", [0, 100_000], [[0, 0, 0, 4, 2, 1.5, 0]] * 2, CoordinateFrame.WORLD
        )
        meta: dict[str, Any] = {"log": log.name, "steps": steps}
        return PrelabelResult(Annotations((track,)), (StageReport("proposals", "ok", steps, 0.0),), (), meta)
