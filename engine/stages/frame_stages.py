"""The per-frame stages of the pipeline: the shared frame and the cuboid proposals.

* :class:`SharedFrameStage`: ``timestamp_us -> SharedFrame``, every lidar and radar capture nearest the
  frame time deskewed into the ego frame at that time (:func:`engine.shared_frame.fuse_frame`; sweeps a
  log marks as motion-compensated are only moved, never compensated twice).
* :class:`ProposalStage`: ``SharedFrame -> ProposalSet``, the model-free detector on the frame's fused
  lidar points (ego frame), stamped with the frame time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.log import Log
from engine.proposals import Detector, GeometricDetector, ProposalSet
from engine.shared_frame import SharedFrame, fuse_frame
from engine.stages.config import Backend, FramesConfig, ProposalsConfig, SharedFrameConfig
from kernels.errors import InvalidInputError

__all__ = ["ProposalStage", "SharedFrameStage", "frame_times", "reference_lidar"]


def reference_lidar(log: Log, config: FramesConfig) -> str:
    """The lidar whose sweeps are the pipeline's frames (``config.lidar``, else the first by id)."""
    if not log.lidar:
        raise InvalidInputError(f"log {log.name!r} has no lidar stream; pre-labeling needs one")
    if config.lidar is None:
        return sorted(log.lidar)[0]
    if config.lidar not in log.lidar:
        raise InvalidInputError(
            f"frames.lidar {config.lidar!r} is not a lidar of the log; lidars are {sorted(log.lidar)}"
        )
    return config.lidar


def frame_times(log: Log, config: FramesConfig) -> npt.NDArray[np.int64]:
    """Timestamps [µs] of the frames the pipeline visits: every ``stride``-th reference sweep."""
    stamps = log.lidar[reference_lidar(log, config)].timestamps_us[:: config.stride]
    if config.max_frames is not None:
        stamps = stamps[: config.max_frames]
    if stamps.size == 0:
        raise InvalidInputError(f"log {log.name!r}: the reference lidar has no sweeps")
    return np.asarray(stamps, np.int64)


class SharedFrameStage:
    """Fuse the log's lidars and radars into the ego frame at one frame time.

    Parameters
    ----------
    log : Log
        The drive log.
    config : SharedFrameConfig
        Sensors and the largest capture gap.
    backend : {"auto", "cpu", "cuda"}
        Where the deskew kernels run.
    """

    def __init__(self, log: Log, config: SharedFrameConfig, backend: Backend) -> None:
        self.log = log
        self.config = config
        self.backend = backend
        self.sensors = (
            list(config.sensors) if config.sensors is not None else [*sorted(log.lidar), *sorted(log.radar)]
        )
        unknown = [s for s in self.sensors if s not in log.lidar and s not in log.radar]
        if unknown:
            raise InvalidInputError(
                f"shared_frame.sensors {unknown} are not lidars or radars of the log; "
                f"streams are {sorted([*log.lidar, *log.radar])}"
            )

    def __call__(self, timestamp_us: int) -> SharedFrame:
        """The fused frame at ``timestamp_us`` [µs], ego frame at that time."""
        return fuse_frame(
            self.log,
            int(timestamp_us),
            sensor_ids=self.sensors,
            frame="ego",
            max_gap_us=self.config.max_gap_us,
            backend=self.backend,
        )


class ProposalStage:
    """Cuboid proposals on the fused lidar points of one frame.

    Parameters
    ----------
    log : Log
        The drive log (for sensor kinds and the reference lidar's extrinsics).
    config : ProposalsConfig
        Detector settings.
    lidar : str
        The reference lidar (its position feeds the detector's visible-edge criterion).
    backend : {"auto", "cpu", "cuda"}
        Where the proposal kernels run (overrides ``config.detector.backend``).
    detector : Detector, optional
        Any proposal source instead of the model-free one.
    """

    def __init__(
        self,
        log: Log,
        config: ProposalsConfig,
        lidar: str,
        backend: Backend,
        detector: Detector | None = None,
    ) -> None:
        update: dict[str, object] = {"backend": backend}
        if config.sensor_xy_from_extrinsics:
            xyz = log.sensors[lidar].ego_from_sensor.translation
            update["sensor_xy"] = (float(xyz[0]), float(xyz[1]))
        self.detector: Detector = detector or GeometricDetector(config.detector.model_copy(update=update))
        self.lidar_ids = set(log.lidar)
        self.config = config
        self.lidar_xy = log.sensors[lidar].ego_from_sensor.translation[:2].astype(np.float32)

    def points(self, shared: SharedFrame) -> npt.NDArray[np.float32]:
        """The frame's points the detector sees: lidar only (unless configured otherwise), none on the ego."""
        pts = shared.points
        keep = np.ones(pts.shape[0], bool)
        if self.config.lidar_only:
            keep &= np.array([sid in self.lidar_ids for sid in shared.sensor_ids], bool)[shared.sensor_index]
        if self.config.ego_clearance_m > 0:
            d2 = np.square(pts[:, 0] - self.lidar_xy[0]) + np.square(pts[:, 1] - self.lidar_xy[1])
            keep &= d2 >= self.config.ego_clearance_m**2
        return pts if keep.all() else np.ascontiguousarray(pts[keep])

    def __call__(self, shared: SharedFrame) -> ProposalSet:
        """Ego-frame proposals of one fused frame, stamped with its reference time."""
        return self.detector(self.points(shared), timestamp_us=shared.ref_time_us)
