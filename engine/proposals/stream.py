"""Proposals over a whole log: every lidar sweep moved to the ego frame and handed to a detector."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from engine.log import Log
from engine.proposals.config import ProposalConfig
from engine.proposals.detectors import Detector
from engine.proposals.geometric import GeometricDetector
from engine.proposals.types import ProposalSet
from kernels.errors import InvalidInputError

__all__ = ["propose_log"]


def propose_log(
    log: Log,
    *,
    config: ProposalConfig | None = None,
    detector: Detector | None = None,
    lidar: str | None = None,
    deskew: bool = False,
) -> Iterator[ProposalSet]:
    """Yield the proposals of every sweep of one lidar, in time order.

    Parameters
    ----------
    log : Log
        The drive log.
    config : ProposalConfig, optional
        For the default model-free detector (ignored when ``detector`` is given).
    detector : Detector, optional
        Any proposal source; the model-free :class:`GeometricDetector` when omitted.
    lidar : str, optional
        Lidar sensor id; the only lidar when the log has one.
    deskew : bool
        Motion-compensate each sweep into the ego frame at its timestamp (``kernels.deskew``, with the
        log's trajectory; end poses held for up to 0.5 s outside it) instead of applying only the
        constant ``ego_from_sensor``.

    Yields
    ------
    ProposalSet
        Ego-frame proposals stamped with the sweep's ``timestamp_us``.
    """
    if lidar is None:
        if len(log.lidar) != 1:
            raise InvalidInputError(f"log has lidars {sorted(log.lidar)}; pass lidar= to pick one")
        lidar = next(iter(log.lidar))
    if lidar not in log.lidar:
        raise InvalidInputError(f"unknown lidar {lidar!r}; expected one of {sorted(log.lidar)}")
    det: Detector = detector if detector is not None else GeometricDetector(config)
    ego_from_sensor = log.sensors[lidar].ego_from_sensor
    for sweep in log.lidar[lidar]:
        if deskew:
            from kernels.deskew import deskew as deskew_points

            points = deskew_points(
                sweep.points,
                sweep.time_offset_us,
                timestamp_us=sweep.timestamp_us,
                trajectory=log.trajectory,
                ego_from_sensor=ego_from_sensor.matrix,
                extrapolation="clamp",
            )
        else:
            points = ego_from_sensor.transform_points(sweep.points)
        yield det(np.asarray(points, np.float32), intensity=sweep.intensity, timestamp_us=sweep.timestamp_us)
