"""Run the simulator: in memory (:func:`simulate`) or streamed to disk (:func:`write_simulation`).

Both drive the same step generator, so a written log equals the in-memory one bit for bit. Step ``k``
produces lidar sweep ``k`` (timestamp ``T_k = START_US + k P``) and every radar scan and camera frame whose
time falls in ``[T_k - P/2, T_k + P/2)``; radars and cameras capture within ``[T_0, T_{n-1}]`` (inside
the GT tracks' keyframe span). Actors within lidar range of the ego at ``T_k`` are simulated.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import numpy as np

from calibration.camera import CameraModel
from engine.annotations import Annotations, AttributePath, CoordinateFrame, CuboidTrack
from engine.io.annotations_json import write_annotations
from engine.io.native import LogWriter
from engine.log import Log, Stream
from engine.sensors import Sensor
from engine.sim.actors import ATTRIBUTES, CLASSES, VEHICLES
from engine.sim.cameras import camera_boxes, camera_times, track_id
from engine.sim.ground_truth import GT_FORMAT, BoxesWriter, CameraBoxes, GroundTruth, save_labels
from engine.sim.lidar import PointLabels, simulate_lidar_sweep
from engine.sim.radar import simulate_radar_sweep
from engine.sim.rigs import RigSpec, get_rig, rig_sensors
from engine.sim.road import GRID_US
from engine.sim.scene import START_US, Scene, build_scene
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import InvalidInputError

__all__ = ["SimResult", "simulate", "write_simulation"]

log = logging.getLogger(__name__)
Capture = LidarSweep | RadarSweep | CameraFrame


@dataclass(frozen=True, slots=True, eq=False)
class SimResult:
    """An in-memory simulation: the log (without annotations) and its ground truth."""

    log: Log
    ground_truth: GroundTruth


class _Run:
    """One simulation run: the scene, the sensor timetable, and the per-actor track windows."""

    def __init__(self, rig: str | RigSpec, seconds: float, seed: int) -> None:
        self.rig = get_rig(rig)
        self.seconds, self.seed = float(seconds), int(seed)
        self.scene: Scene = build_scene(self.rig, seconds, seed)
        lidar = self.rig.lidars[0]
        if any(spec.period_us != lidar.period_us for spec in self.rig.lidars):
            raise InvalidInputError(f"rig {self.rig.name!r}: every lidar must spin at the same rate")
        self.period = lidar.period_us
        self.n_sweeps = max(1, int(round(seconds * 1e6 / self.period)))
        self.sweep_times = START_US + np.arange(self.n_sweeps, dtype=np.int64) * self.period
        hi = int(self.sweep_times[-1])
        self.radar_times = []
        for spec in self.rig.radars:
            period = int(round(1e6 / spec.rate_hz))
            t = (
                START_US
                + spec.phase_us % period
                + np.arange(self.n_sweeps * self.period // period + 2) * period
            )
            self.radar_times.append(t[t <= hi].astype(np.int64))
        self.camera_times = [camera_times(c, lidar, self.n_sweeps) for c in self.rig.cameras]
        self.sensors: list[Sensor] = rig_sensors(self.rig)
        # Actors within this distance of the ego at a sweep time are simulated and get GT tracks.
        ranges = [s.max_range_m for s in self.rig.lidars] + [s.max_range_m for s in self.rig.radars]
        self.range_m = max(ranges) + 10.0
        self.first = np.full(len(self.scene.actors), -1, np.int64)
        self.last = np.full(len(self.scene.actors), -1, np.int64)

    def steps(self) -> Iterator[tuple[Capture, PointLabels | CameraBoxes]]:
        """Yield every capture with its ground truth, step by step (time order per sensor)."""
        sc = self.scene
        cams = {s.sensor_id: s for s in self.sensors}
        for k, t_k in enumerate(self.sweep_times):
            t = int(t_k)
            near = sc.actors_near(t, sc.ego_xy(np.array([t]))[0], self.range_m)
            self.first[near] = np.where(self.first[near] < 0, k, self.first[near])
            self.last[near] = k
            for i, lidar in enumerate(self.rig.lidars):
                yield simulate_lidar_sweep(sc, lidar, i, k, t, near, self.seed)
            lo, hi = t - self.period // 2, t - self.period // 2 + self.period
            for i, radar in enumerate(self.rig.radars):
                for j in np.flatnonzero((self.radar_times[i] >= lo) & (self.radar_times[i] < hi)):
                    yield simulate_radar_sweep(
                        sc, radar, i, int(j), int(self.radar_times[i][j]), near, self.seed
                    )
            for i, cam in enumerate(self.rig.cameras):
                for tc in self.camera_times[i][(self.camera_times[i] >= lo) & (self.camera_times[i] < hi)]:
                    sensor = cams[cam.sensor_id]
                    model = cast(CameraModel, sensor.camera)  # rig_sensors gives every camera a model
                    boxes = camera_boxes(sc, cam, model, sensor.ego_from_sensor, int(tc), near)
                    yield CameraFrame(cam.sensor_id, int(tc), None), boxes

    def annotations(self) -> Annotations:
        """GT tracks from the recorded windows (call after :meth:`steps` is exhausted)."""
        tracks = []
        for a in np.flatnonzero(self.first >= 0):
            k0, k1 = max(int(self.first[a]) - 1, 0), min(int(self.last[a]) + 1, self.n_sweeps - 1)
            times = self.sweep_times[k0 : k1 + 1]
            st = self.scene.actor_states(times, np.array([a]))
            boxes = np.column_stack(
                [
                    st.x[:, 0],
                    st.y[:, 0],
                    st.z[:, 0],
                    np.broadcast_to(self.scene.actors.size[a], (times.size, 3)),
                    st.yaw[:, 0],
                ]
            )
            label = int(self.scene.actors.label[a])
            attrs = self._attribute_paths(int(a), int(times[0]), int(times[-1])) if label in VEHICLES else ()
            tracks.append(
                CuboidTrack.from_boxes(
                    track_id(int(a)),
                    CLASSES[label],
                    times,
                    boxes,
                    CoordinateFrame.WORLD,
                    attributes=attrs,
                    static_attributes={"behaviour": self.scene.actors.behaviour[a]},
                )
            )
        return Annotations(tuple(tracks))

    def _attribute_paths(self, actor: int, t0: int, t1: int) -> tuple[AttributePath, ...]:
        grid = np.arange(t0, t1 + 1, GRID_US, dtype=np.int64)
        codes = self.scene.attributes(grid, np.array([actor]))
        out = []
        for name, values in ATTRIBUTES.items():
            c = codes[name][:, 0]
            change = np.concatenate([[0], np.flatnonzero(np.diff(c)) + 1])
            out.append(
                AttributePath(
                    name,
                    tuple(int(v) for v in grid[change]),
                    tuple(values[int(v)] for v in c[change]),
                    None,
                    change.size == 1,
                )
            )
        return tuple(out)

    def metadata(self) -> dict[str, Any]:
        """Facts about the run for the log and ground-truth manifests."""
        return {
            "source": "fusionlabel.sim",
            "rig": self.rig.name,
            "seed": self.seed,
            "seconds": self.seconds,
            "motion_compensated": False,
            "lidar_sweep_timestamp": "mid-sweep (head pointing forward)",
        }


def _consume(run: _Run, on_capture: Callable[[Capture, PointLabels | CameraBoxes], None]) -> None:
    for capture, truth in run.steps():
        on_capture(capture, truth)


def simulate(rig: str | RigSpec, seconds: float, seed: int) -> SimResult:
    """Simulate a drive in memory.

    Parameters
    ----------
    rig : str or RigSpec
        A preset name from :data:`engine.sim.RIGS` (``"nuscenes"``, ``"robotaxi"``, ``"tiny"``) or a spec.
    seconds : float
        Duration [s]; ``round(seconds * lidar rate)`` sweeps (at least one).
    seed : int
        Non-negative seed; the same seed gives bit-identical output.

    Returns
    -------
    SimResult
        The :class:`~engine.log.Log` (in-memory streams, no annotations) and the :class:`GroundTruth`.
    """
    run = _Run(rig, seconds, seed)
    items: dict[str, list[Any]] = {s.sensor_id: [] for s in run.sensors}
    labels: dict[str, list[PointLabels]] = {sid: [] for sid in _point_sensors(run.rig)}
    frames: list[CameraBoxes] = []

    def keep(capture: Capture, truth: PointLabels | CameraBoxes) -> None:
        items[capture.sensor_id].append(capture)
        if isinstance(truth, CameraBoxes):
            frames.append(truth)
        else:
            labels[capture.sensor_id].append(truth)

    _consume(run, keep)
    kinds = {s.sensor_id: s.kind.value for s in run.sensors}
    streams = {
        kind: {sid: Stream.from_items(sid, v) for sid, v in items.items() if kinds[sid] == kind}
        for kind in ("lidar", "radar", "camera")
    }
    the_log = Log(
        name=f"sim-{run.rig.name}-seed{run.seed}",
        sensors={s.sensor_id: s for s in run.sensors},
        trajectory=run.scene.trajectory,
        lidar=streams["lidar"],
        radar=streams["radar"],
        cameras=streams["camera"],
        metadata=run.metadata(),
    )
    truth = GroundTruth(
        annotations=run.annotations(),
        camera_boxes=tuple(frames),
        structures=run.scene.structures,
        point_labels=MappingProxyType({k: tuple(v) for k, v in labels.items()}),
        metadata=MappingProxyType(_gt_meta(run)),
    )
    return SimResult(the_log, truth)


def _point_sensors(rig: RigSpec) -> list[str]:
    return [s.sensor_id for s in rig.lidars] + [s.sensor_id for s in rig.radars]


def _gt_meta(run: _Run) -> dict[str, Any]:
    return {
        "rig": run.rig.name,
        "seed": run.seed,
        "seconds": run.seconds,
        "classes": list(CLASSES),
        "attributes": {k: list(v) for k, v in ATTRIBUTES.items()},
    }


def write_simulation(
    out_dir: str | Path,
    rig: str | RigSpec,
    seconds: float,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Simulate a drive and stream it to disk in constant memory (sweeps are never all held).

    Layout: ``out_dir/log/`` is a native log (:func:`engine.open_log`), ``out_dir/ground_truth/`` the
    ground truth (:func:`read_ground_truth`; layout in :mod:`engine.sim.ground_truth`).

    Parameters
    ----------
    out_dir : str or Path
        Output folder; ``out_dir/log`` must not exist or be empty.
    rig, seconds, seed
        As for :func:`simulate`.
    progress : callable, optional
        ``progress(done_sweeps, total_sweeps)`` after each lidar sweep.

    Returns
    -------
    Path
        The native log directory ``out_dir/log``.
    """
    out = Path(out_dir)
    run = _Run(rig, seconds, seed)
    gt = out / "ground_truth"
    gt.mkdir(parents=True, exist_ok=True)
    writer = LogWriter(
        out / "log", f"sim-{run.rig.name}-seed{run.seed}", run.sensors, run.scene.trajectory, run.metadata()
    )
    cams = {c.sensor_id: (c.width, c.height) for c in run.rig.cameras}
    boxes_out = BoxesWriter(gt / "boxes_2d.json", cams)
    counts: dict[str, int] = dict.fromkeys(_point_sensors(run.rig), 0)
    done = 0

    def store(capture: Capture, truth: PointLabels | CameraBoxes) -> None:
        nonlocal done
        if isinstance(capture, CameraFrame):
            writer.add_camera_frame(capture)
            boxes_out.add(cast(CameraBoxes, truth))
            return
        save_labels(gt / "labels" / capture.sensor_id, counts[capture.sensor_id], cast(PointLabels, truth))
        counts[capture.sensor_id] += 1
        if isinstance(capture, LidarSweep):
            writer.add_lidar(capture)
            if capture.sensor_id == run.rig.lidars[0].sensor_id:
                done += 1
                if progress is not None:
                    progress(done, run.n_sweeps)
        else:
            writer.add_radar(capture)

    try:
        _consume(run, store)
    finally:
        boxes_out.close()
    write_annotations(gt / "annotations.json", run.annotations())
    manifest = {
        "format": GT_FORMAT,
        "version": 1,
        **_gt_meta(run),
        "label_counts": counts,
        "structures": run.scene.structures.tolist(),
    }
    (gt / "manifest.json").write_text(json.dumps(manifest))
    path = writer.close()
    log.info("simulated %d sweeps of rig %r into %s", run.n_sweeps, run.rig.name, path)
    return path
