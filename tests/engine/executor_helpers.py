"""Shared by the executor tests: small simulated logs on disk and a cheap, picklable detector for them.

The detector replays the simulator's ground-truth boxes (ego frame, seeded noise and dropouts), so the
executor tests exercise scheduling, chunk merging and idempotent outputs without the model-free
detector's compile time in every fresh worker process; the shared-frame stage and the tracker run as
in production.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.executors import PrelabelJob
from engine.io import open_log
from engine.proposals import ProposalSet
from engine.proposals.imported import ImportedDetections
from engine.render import boxes_at
from engine.sim import read_ground_truth, write_simulation
from engine.stages import PipelineConfig, frame_times

CONFIG = PipelineConfig(backend="cpu", links={"enabled": False}, validation={"enabled": False})
OUTPUT_FILES = {"_DONE.json", "annotations.json", "config.json", "findings.json", "stats.json"}


@dataclass(frozen=True)
class SimLog:
    """A simulated native log on disk and a ground-truth detector for it."""

    path: Path
    detector: ImportedDetections

    def job(self, out_dir: Path, detector: ImportedDetections | None = None) -> PrelabelJob:
        """A job writing to ``out_dir`` with this log's detector (or another)."""
        return PrelabelJob(str(self.path), str(out_dir), CONFIG, ("native",), detector or self.detector)


def make_sim_log(root: Path, seconds: float, seed: int) -> SimLog:
    """Simulate the ``tiny`` rig for ``seconds`` under ``root``; detections from its ground truth."""
    log_dir = write_simulation(root, "tiny", seconds, seed)
    log, truth = open_log(log_dir), read_ground_truth(root)
    rng = np.random.default_rng(seed)
    classes = tuple(sorted({t.label for t in truth.annotations.tracks}))
    frames = {}
    for t in frame_times(log, CONFIG.frames).tolist():
        seen = [b for b in boxes_at(log, truth.annotations, t, "ego", tolerance_us=0) if rng.random() > 0.1]
        boxes = np.array([b.box for b in seen], np.float32).reshape(-1, 7)
        boxes[:, :3] += rng.normal(0.0, 0.05, (len(seen), 3)).astype(np.float32)
        ids = np.array([classes.index(b.label) for b in seen], np.int32)
        scores = rng.uniform(0.5, 1.0, len(seen)).astype(np.float32)
        frames[t] = ProposalSet(boxes, scores, ids, classes, t)
    return SimLog(log_dir, ImportedDetections(frames, classes))


class KillOnceDetector(ImportedDetections):
    """Kills its own process (SIGKILL) at one frame, once: the first caller leaves ``marker`` behind.

    Used only in Ray workers: Ray must notice the dead worker and run the task again.
    """

    def __init__(self, base: ImportedDetections, marker: str, at_us: int) -> None:
        super().__init__({t: base(timestamp_us=t) for t in base.timestamps_us}, base.classes)
        self.marker = marker
        self.at_us = at_us

    def __call__(
        self, points: object = None, *, intensity: object = None, timestamp_us: int | None = None
    ) -> ProposalSet:
        """The base detections; at ``at_us`` on the first attempt, the process dies instead."""
        if timestamp_us == self.at_us and not os.path.exists(self.marker):
            Path(self.marker).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(points, intensity=intensity, timestamp_us=timestamp_us)


def output_names(out_dir: Path) -> set[str]:
    """Every entry of an output folder (hidden temporaries and leftover folders included)."""
    return {p.name for p in out_dir.iterdir()}
