"""Deterministic synthetic drive logs with ground truth (the simulator).

A seeded world — a road with turns, an ego that cruises, changes speed and stops, traffic (cars,
trucks, cyclists, pedestrians; moving, parked, crossing) with time-varying vehicle attributes, and
buildings — observed by a rig of spinning lidars (per-column timing, so motion skew is real), radars
(measured range rate) and pinhole / fisheye cameras (ground-truth 2D boxes at capture time).

Entry points: :func:`simulate` (in memory), :func:`write_simulation` (streamed to ``OUT/log`` plus
``OUT/ground_truth``; layout in :mod:`engine.sim.ground_truth`), :func:`read_ground_truth`, and the
rig presets :data:`RIGS`. Same ``(rig, seconds, seed)`` gives bit-identical output.
"""

from engine.sim.actors import ATTRIBUTES, CLASSES
from engine.sim.ground_truth import Box2D, CameraBoxes, GroundTruth, read_ground_truth
from engine.sim.lidar import PointLabels
from engine.sim.rigs import RIGS, CameraSpec, LidarSpec, RadarSpec, RigSpec, get_rig
from engine.sim.scene import START_US
from engine.sim.simulate import SimResult, simulate, write_simulation

__all__ = [
    "ATTRIBUTES",
    "CLASSES",
    "RIGS",
    "START_US",
    "Box2D",
    "CameraBoxes",
    "CameraSpec",
    "GroundTruth",
    "LidarSpec",
    "PointLabels",
    "RadarSpec",
    "RigSpec",
    "SimResult",
    "get_rig",
    "read_ground_truth",
    "simulate",
    "write_simulation",
]
