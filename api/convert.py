"""Schemas <-> engine values and store records (no math: the engine validates and computes)."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from api.schemas import (
    AttemptPublic,
    CuboidCreate,
    CuboidPublic,
    CuboidSeriesCreate,
    DeliveryPublic,
    FrameName,
    JobPublic,
    JobStateName,
    LogPublic,
    SnapCreate,
    SnapReportPublic,
)
from api.schemas.annotate import SnapBoundsCreate, SnapMethod
from api.schemas.quality import TrackKeyframesCreate
from api.store import Delivery, DeliveryAttempt, JobRecord, LogRecord
from engine import CoordinateFrame, CuboidTrack
from engine.service import CuboidPath, PoseFrame, SnapConfig, SnapResult
from engine.service.annotate import AnySnapConfig, FaceSnapConfig, MotionSnapConfig

__all__ = [
    "cuboid_public",
    "delivery_public",
    "job_public",
    "log_public",
    "path_from_cuboid",
    "path_from_series",
    "series_dict",
    "snap_config",
    "snap_method_config",
    "snap_public",
    "track_from_keyframes",
]


def _frame(name: FrameName) -> PoseFrame:
    return PoseFrame(name.value)


def _rows(rows: Sequence[Sequence[float]], width: int) -> npt.NDArray[np.float64]:
    """``(len(rows), width)`` float64 from validated fixed-width rows.

    ``np.fromiter`` over the flattened values is about twice as fast as ``np.asarray`` on a list of tuples.
    """
    flat = itertools.chain.from_iterable(rows)
    return np.fromiter(flat, np.float64, count=len(rows) * width).reshape(len(rows), width)


def path_from_series(series: CuboidSeriesCreate) -> CuboidPath:
    """A :class:`CuboidPath` from columns (the engine checks order, unit quaternions and sizes)."""
    times = np.fromiter(series.timestamps_us, np.int64, count=len(series.timestamps_us))
    centers, sizes = _rows(series.centers, 3), _rows(series.sizes, 3)
    if series.yaws is not None:
        boxes = np.column_stack((centers, sizes, np.asarray(series.yaws, np.float64)))
        return CuboidPath.from_boxes(times, boxes, series.confidence, _frame(series.frame))
    return CuboidPath(
        times,
        centers,
        sizes,
        _rows(series.rotations_wxyz or [], 4),  # never empty: the schema requires one rotation column
        None if series.confidence is None else np.asarray(series.confidence, np.float32),
        _frame(series.frame),
    )


def track_from_keyframes(track: TrackKeyframesCreate) -> CuboidTrack:
    """An :class:`engine.CuboidTrack` (the engine checks order, unit quaternions and sizes)."""
    frame = CoordinateFrame(track.frame.value)
    if track.yaws is not None:
        boxes = [(*c, *s, y) for c, s, y in zip(track.centers, track.sizes, track.yaws, strict=True)]
        return CuboidTrack.from_boxes(
            track.track_id, track.label, track.timestamps_us, boxes, frame, confidence=track.confidence
        )
    return CuboidTrack(
        track.track_id,
        track.label,
        frame,
        track.timestamps_us,  # type: ignore[arg-type]
        track.centers,  # type: ignore[arg-type]
        track.sizes,  # type: ignore[arg-type]
        track.rotations_wxyz,  # type: ignore[arg-type]
        track.confidence,  # type: ignore[arg-type]
    )


def path_from_cuboid(cuboid: CuboidCreate) -> CuboidPath:
    """A one-cuboid path."""
    if cuboid.yaw is not None:
        return CuboidPath.from_boxes(
            [cuboid.timestamp_us], [(*cuboid.center, *cuboid.size, cuboid.yaw)], None, _frame(cuboid.frame)
        )
    return CuboidPath(
        [cuboid.timestamp_us],  # type: ignore[arg-type]
        [cuboid.center],  # type: ignore[arg-type]
        [cuboid.size],  # type: ignore[arg-type]
        [cuboid.rotation_wxyz],  # type: ignore[arg-type]
        None,
        _frame(cuboid.frame),
    )


def series_dict(path: CuboidPath) -> dict[str, Any]:
    """Columns of a path as plain JSON-ready values, shaped as :class:`CuboidSeriesPublic`.

    For responses serialised directly (no model instance to build and validate); the values come
    from the engine's validated arrays.
    """
    return {
        "timestamps_us": path.timestamps_us.tolist(),
        "centers": path.centers.tolist(),
        "sizes": path.sizes.tolist(),
        "rotations_wxyz": path.rotations_wxyz.tolist(),
        "yaws": path.yaws.tolist(),
        "confidence": [] if path.confidence is None else path.confidence.tolist(),
        "frame": path.frame.value,
    }


def cuboid_public(path: CuboidPath, index: int = 0) -> CuboidPublic:
    """One cuboid of a path."""
    return CuboidPublic(
        timestamp_us=int(path.timestamps_us[index]),
        center=tuple(path.centers[index].tolist()),
        size=tuple(path.sizes[index].tolist()),
        rotation_wxyz=tuple(path.rotations_wxyz[index].tolist()),
        yaw=float(path.yaws[index]),
        frame=FrameName(path.frame.value),
    )


def _bounds(snap: SnapBoundsCreate, *names: str) -> dict[str, Any]:
    """The bounds among ``names`` the request gives (omitted ones keep the method's defaults)."""
    return {n: getattr(snap, n) for n in names if getattr(snap, n) is not None}


def snap_config(snap: SnapBoundsCreate | None) -> SnapConfig | None:
    """Bounds of a containment refit (:func:`tracking.snap_to_points`) from the request."""
    return None if snap is None else SnapConfig(**_bounds(snap, "max_shift_m", "max_yaw_rad"))


def snap_method_config(snap: SnapCreate | None) -> AnySnapConfig | None:
    """Engine snap settings of the requested method (its type picks the method; defaults for the rest).

    ``max_shift_m`` maps onto every method's translation bound; ``max_yaw_rad`` onto the heading bound
    of ``points`` and ``motion`` (``faces`` never turns a cuboid). Omitted bounds keep the method's own
    defaults.
    """
    if snap is None:
        return None
    if snap.method is SnapMethod.POINTS:
        return snap_config(snap)
    if snap.method is SnapMethod.FACES:
        return FaceSnapConfig(**_bounds(snap, "max_shift_m"))
    return MotionSnapConfig(**_bounds(snap, "max_shift_m", "max_yaw_rad"))


def snap_public(result: SnapResult) -> SnapReportPublic:
    """Per-cuboid snap report (NaN residuals become null)."""
    return SnapReportPublic(
        snapped=result.snapped.tolist(),
        needs_keyframe=result.needs_keyframe.tolist(),
        residual_m=[None if math.isnan(r) else r for r in result.residual_m.tolist()],
        shift_m=result.shift_m.tolist(),
        yaw_change_rad=result.yaw_change_rad.tolist(),
        n_points=result.n_points.tolist(),
    )


def _when(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


def job_public(job: JobRecord) -> JobPublic:
    """The public view of a job."""
    return JobPublic(
        id=job.id,
        kind=job.kind,
        state=JobStateName(job.state.value),
        progress=job.progress,
        stage=job.stage,
        attempts=job.attempts,
        cancel_requested=job.cancel_requested,
        error=job.error,
        idempotency_key=job.idempotency_key,
        created_at=datetime.fromtimestamp(job.created_at, UTC),
        updated_at=datetime.fromtimestamp(job.updated_at, UTC),
        started_at=_when(job.started_at),
        finished_at=_when(job.finished_at),
        results_url=f"/v1/jobs/{job.id}/results" if job.state.value == "succeeded" else None,
    )


def log_public(rec: LogRecord) -> LogPublic:
    """The public view of a log (its server path is not disclosed)."""
    return LogPublic(
        id=rec.id,
        name=rec.name,
        source=rec.source,
        summary=rec.summary,
        created_at=datetime.fromtimestamp(rec.created_at, UTC),
    )


def delivery_public(delivery: Delivery, attempts: list[DeliveryAttempt]) -> DeliveryPublic:
    """A webhook delivery with its attempts."""
    return DeliveryPublic(
        id=delivery.id,
        event=delivery.event,
        url=delivery.url,
        state=delivery.state.value,
        attempts=[
            AttemptPublic(
                attempt=a.attempt,
                at=datetime.fromtimestamp(a.at, UTC),
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ],
    )
