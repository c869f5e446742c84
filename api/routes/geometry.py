"""``POST /v1/fit`` (points or a rough box -> fitted cuboid) and ``POST /v1/points-in-boxes`` (counts)."""

from __future__ import annotations

from fastapi import APIRouter

from api.convert import cuboid_public, path_from_cuboid, snap_config
from api.deps import CtxDep, check_limit
from api.errors import PROBLEM_RESPONSES
from api.fastroute import LeanJsonRoute
from api.schemas import CountsCreate, CountsPublic, FitCreate, FitPublic
from engine.service import PoseFrame, count_points_in_boxes, fit_box, log_points

router = APIRouter(prefix="/v1", tags=["geometry"], responses=PROBLEM_RESPONSES, route_class=LeanJsonRoute)


@router.post("/fit", summary="Fit a cuboid to points, or refine a rough box")
def fit(body: FitCreate, ctx: CtxDep) -> FitPublic:
    """Without ``box``: one cuboid fitted to all ``points`` (L-shape fit, size priors pick the class).

    With ``box``: the box's pose is refined against ``points`` or, with ``log_id``, against the lidar
    sweep nearest ``box.timestamp_us`` (bounded move, never a heading flip); size is kept.
    """
    box = path_from_cuboid(body.box) if body.box is not None else None
    if body.points is not None:
        check_limit("points", len(body.points), ctx.limits.max_points)
        points: object = body.points
    else:
        assert body.log_id is not None and box is not None  # FitCreate's validator
        max_gap = body.snap.max_gap_us if body.snap else 60_000
        points = log_points(
            ctx.logs.get(ctx.tenant, body.log_id),
            body.lidar_id,
            int(box.timestamps_us[0]),
            box.frame,
            max_gap,
        )
    result = fit_box(points, box=box, snap=snap_config(body.snap), heading=body.heading.value)  # type: ignore[arg-type]
    return FitPublic(
        cuboid=cuboid_public(result.path),
        label=result.label,
        score=result.score,
        n_points=result.n_points,
        needs_keyframe=result.needs_keyframe,
    )


@router.post("/points-in-boxes", summary="Count points inside boxes")
def points_in_boxes(body: CountsCreate, ctx: CtxDep) -> CountsPublic:
    """Points inside each ``[x, y, z, length, width, height, yaw]`` box (points on a face count).

    Points come from the body, or from the log's lidar sweep nearest ``timestamp_us`` moved to ``frame``.
    """
    check_limit("boxes", len(body.boxes), ctx.limits.max_boxes)
    if body.points is not None:
        check_limit("points", len(body.points), ctx.limits.max_points)
        points: object = body.points
    else:
        assert body.log_id is not None and body.timestamp_us is not None  # CountsCreate's validator
        log = ctx.logs.get(ctx.tenant, body.log_id)
        points = log_points(
            log, body.lidar_id, body.timestamp_us, PoseFrame(body.frame.value), body.max_gap_us
        )
    counts = count_points_in_boxes(points, body.boxes)  # type: ignore[arg-type]
    return CountsPublic(counts=counts.tolist(), n_points=len(points))  # type: ignore[arg-type]
