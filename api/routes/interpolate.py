"""``POST /v1/interpolate``: keyframes -> cuboids at timestamps (optionally snapped to a log's lidar)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic_core import to_json

from api.convert import path_from_series, series_dict, snap_method_config, snap_public
from api.deps import CtxDep, check_limit
from api.errors import PROBLEM_RESPONSES
from api.fastroute import LeanJsonRoute
from api.schemas import InterpolateCreate, InterpolatePublic
from engine import Log
from engine.service import OutOfRange, PoseFrame, PositionMethod, interpolate_cuboids

router = APIRouter(prefix="/v1", tags=["annotate"], responses=PROBLEM_RESPONSES, route_class=LeanJsonRoute)


INLINE_ROWS = 4096
"""Requests with at most this many keyframes + query times (and no snapping) are computed on the event
loop (well under a millisecond), sparing a thread hop; larger ones go to the thread pool."""


@router.post("/interpolate", summary="Interpolate a track's keyframes", response_model=InterpolatePublic)
async def interpolate(body: InterpolateCreate, ctx: CtxDep) -> Response:
    """Cuboids of one track at ``timestamps_us``: cubic Hermite centres, slerped rotations, linear sizes.

    With ``log_id`` the log's ego poses convert ego-frame keyframes or output; with ``snap`` the cuboids
    are also corrected with the log's lidar sweeps (``snap.method``: the object's registered motion
    anchored at the keyframes by default, the keyframe-calibrated face extents, or a refit of each cuboid
    to its own sweep; bounded moves, never a heading flip) and the report flags frames that need a
    keyframe.
    """
    check_limit("keyframes", len(body.keyframes.timestamps_us), ctx.limits.max_keyframes)
    check_limit("timestamps_us", len(body.timestamps_us), ctx.limits.max_timestamps)
    small = len(body.keyframes.timestamps_us) + len(body.timestamps_us) <= INLINE_ROWS
    if small and body.log_id is None and body.snap is None:
        return _interpolate(body, None)
    log = await run_in_threadpool(ctx.logs.get, ctx.tenant, body.log_id) if body.log_id is not None else None
    return await run_in_threadpool(_interpolate, body, log)


def _interpolate(body: InterpolateCreate, log: Log | None) -> Response:
    """The response, serialised directly from the engine's arrays (shaped as :class:`InterpolatePublic`)."""
    result = interpolate_cuboids(
        path_from_series(body.keyframes),
        body.timestamps_us,
        output_frame=None if body.output_frame is None else PoseFrame(body.output_frame.value),
        method=PositionMethod(body.method.value),
        out_of_range=OutOfRange(body.out_of_range.value),
        log=log,
        snap=snap_method_config(body.snap),
        lidar_id=body.snap.lidar_id if body.snap else None,
        max_gap_us=body.snap.max_gap_us if body.snap else 0,
    )
    snap = None if result.snap is None else snap_public(result.snap).model_dump(mode="json")
    content = to_json({"cuboids": series_dict(result.path), "snap": snap}, inf_nan_mode="null")
    return Response(content, media_type="application/json")
