"""``POST /v1/validate`` (annotations -> findings) and ``POST /v1/footprints`` (tracks -> camera boxes)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter

from api.convert import track_from_keyframes
from api.deps import CtxDep, check_limit
from api.errors import PROBLEM_RESPONSES
from api.fastroute import LeanJsonRoute
from api.schemas.quality import (
    FindingPublic,
    TrackFootprintPublic,
    TrackFootprintsCreate,
    TrackFootprintsPublic,
    ValidateCreate,
    ValidatePublic,
)
from engine.service import track_footprints, validate_annotations

router = APIRouter(prefix="/v1", tags=["quality"], responses=PROBLEM_RESPONSES, route_class=LeanJsonRoute)


@router.post("/validate", summary="Validate annotations against a log")
def validate(body: ValidateCreate, ctx: CtxDep) -> ValidatePublic:
    """Run the validation rules (schema, geometry, temporal, fusion, data) on annotations of a log.

    Annotations are read leniently: broken sizes, quaternions or time order become findings rather
    than request errors. Rules that cannot run on this log are listed in ``skipped``.
    """
    check_limit("tracks", len(body.annotations.tracks), ctx.limits.max_tracks)
    log = ctx.logs.get(ctx.tenant, body.log_id)
    report = validate_annotations(
        log, body.annotations.model_dump(mode="json"), rules=body.rules, config=body.config
    )
    findings = [FindingPublic(**f.to_dict()) for f in report.findings]
    return ValidatePublic(
        findings=findings, skipped=dict(report.skipped), counts=dict(Counter(f.severity for f in findings))
    )


@router.post("/footprints", summary="Footprints of tracks in camera captures")
def footprints(body: TrackFootprintsCreate, ctx: CtxDep) -> TrackFootprintsPublic:
    """Each track posed at each camera capture in ``[start_us, end_us]``, projected into the camera.

    Cuboids are interpolated between keyframes (Hermite/slerp) at the capture time; the result gives
    amodal and visible boxes, truncation and occlusion (by other tracks and, optionally, by lidar).
    """
    check_limit("keyframes", sum(len(t.timestamps_us) for t in body.tracks), ctx.limits.max_keyframes)
    log = ctx.logs.get(ctx.tenant, body.log_id)
    found = track_footprints(
        log,
        [track_from_keyframes(t) for t in body.tracks],
        camera_ids=body.camera_ids,
        start_us=body.start_us,
        end_us=body.end_us,
        lidar_occlusion=body.lidar_occlusion,
    )
    return TrackFootprintsPublic(
        footprints=[
            TrackFootprintPublic(
                track_id=f.track_id,
                camera_id=f.sensor_id,
                capture_time_us=f.timestamp_us,
                box=f.box,
                visible_box=f.visible_box,
                visible_fraction=f.visible_fraction,
                truncation=f.truncation,
                occlusion=f.occlusion,
                depth_m=f.depth_m,
            )
            for f in found
        ]
    )
