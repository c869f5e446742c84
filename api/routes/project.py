"""``POST /v1/project``: cuboids -> per-camera footprints at each camera's capture time."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CtxDep, check_limit
from api.errors import PROBLEM_RESPONSES
from api.fastroute import LeanJsonRoute
from api.schemas import FootprintPublic, ProjectCreate, ProjectPublic
from engine.service import PoseFrame, project_cuboids

router = APIRouter(prefix="/v1", tags=["annotate"], responses=PROBLEM_RESPONSES, route_class=LeanJsonRoute)


@router.post("/project", summary="Project cuboids into a log's cameras")
def project(body: ProjectCreate, ctx: CtxDep) -> ProjectPublic:
    """2D footprints (clipped rectangles) of each cuboid in every camera of the log.

    Each camera uses its capture nearest the cuboid's timestamp, with the ego motion between the two
    times applied (rolling-shutter-free model). Cuboids may share timestamps (several tracks per frame).
    """
    c = body.cuboids
    check_limit("cuboids", len(c.timestamps_us), ctx.limits.max_boxes)
    log = ctx.logs.get(ctx.tenant, body.log_id)
    footprints = project_cuboids(
        log,
        c.timestamps_us,
        c.centers,
        c.sizes,
        rotations_wxyz=c.rotations_wxyz,
        yaws=c.yaws,
        frame=PoseFrame(c.frame.value),
        camera_ids=body.camera_ids,
        max_gap_us=body.max_gap_us,
    )
    return ProjectPublic(
        footprints=[
            FootprintPublic(
                cuboid=f.cuboid,
                camera_id=f.camera_id,
                capture_time_us=f.capture_time_us,
                box=f.box,
                corners_in_front=f.corners_in_front,
                corners_in_image=f.corners_in_image,
                min_depth_m=f.min_depth_m,
            )
            for f in footprints
        ]
    )
