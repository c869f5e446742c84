"""Jobs: submit a pre-labeling job (idempotent), follow, cancel, retry, fetch results and webhook attempts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Path, Query, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.convert import delivery_public, job_public
from api.deps import ServiceDep, SettingsDep, StoreDep, TenantDep
from api.errors import PROBLEM_RESPONSES
from api.middleware import StrictJsonRoute
from api.results import SFS_MEDIA_TYPE, ResultFormat, sfs_result
from api.schemas import DeliveryPublic, JobList, JobPublic, JobStateName, PrelabelCreate, PrelabelResultPublic
from api.store import JobState

router = APIRouter(
    prefix="/v1/jobs",
    tags=["jobs"],
    responses={
        **PROBLEM_RESPONSES,
        409: PROBLEM_RESPONSES[422] | {"description": "Conflict with the job's state"},
    },
    route_class=StrictJsonRoute,
)

JobId = Annotated[str, Path(min_length=1, max_length=64, description="job id")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="same key + same body returns the original job; same key + another body is 409",
    ),
]


def _nudge(service: ServiceDep) -> None:
    if service.worker is not None:
        service.worker.nudge()


@router.post(
    "/prelabel",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Submit a pre-labeling job",
    responses={
        202: {"description": "Accepted: the job is committed and queued (or an earlier one replayed)"}
    },
)
def submit_prelabel(
    body: PrelabelCreate,
    response: Response,
    tenant: TenantDep,
    store: StoreDep,
    settings: SettingsDep,
    service: ServiceDep,
    idempotency_key: IdempotencyKey = None,
) -> JobPublic:
    """Run log -> shared frame -> proposals -> tracks -> links -> validation on a registered log.

    The job is committed to the store before this answers 202, so an acknowledged job survives a crash.
    Send an ``Idempotency-Key`` to make retries of this request safe.
    """
    store.logs.get(tenant, body.log_id)  # 404 before accepting work on another tenant's log
    url = None if body.webhook_url is None else str(body.webhook_url)
    allowed = settings.webhooks.allowed_hosts
    if body.webhook_url is not None and allowed is not None and body.webhook_url.host not in allowed:
        raise HTTPException(422, f"webhook host {body.webhook_url.host!r} is not allowed on this server")
    request = body.model_dump(mode="json", exclude={"webhook_url"})
    job, created = store.jobs.submit(tenant, "prelabel", request, idempotency_key, url)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    _nudge(service)
    return job_public(job)


@router.get("", summary="List jobs")
async def list_jobs(
    tenant: TenantDep,
    store: StoreDep,
    state: JobStateName | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> JobList:
    """The tenant's jobs, newest first."""
    jobs = store.jobs.list(tenant, None if state is None else JobState(state.value), limit, offset)
    return JobList(items=[job_public(j) for j in jobs], limit=limit, offset=offset)


@router.get("/{job_id}", summary="Get a job")
async def get_job(job_id: JobId, tenant: TenantDep, store: StoreDep) -> JobPublic:
    """State, progress and stage of a job (404 for unknown ids and other tenants' jobs)."""
    return job_public(store.jobs.get(tenant, job_id))


@router.post("/{job_id}/cancel", summary="Cancel a job")
def cancel_job(job_id: JobId, tenant: TenantDep, store: StoreDep) -> JobPublic:
    """Queued jobs are cancelled at once; running ones stop at their next stage (409 once finished)."""
    return job_public(store.jobs.cancel(tenant, job_id))


@router.post("/{job_id}/retry", summary="Retry a job")
def retry_job(job_id: JobId, tenant: TenantDep, store: StoreDep, service: ServiceDep) -> JobPublic:
    """Queue a failed or cancelled job again (409 otherwise)."""
    job = store.jobs.retry(tenant, job_id)
    _nudge(service)
    return job_public(job)


@router.get(
    "/{job_id}/results",
    summary="Download a job's results",
    response_model=PrelabelResultPublic,
    responses={
        200: {
            "description": "native JSON (default), or an SFS scene with `format=sfs`",
            "content": {
                "application/json": {},
                SFS_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def job_results(
    job_id: JobId,
    tenant: TenantDep,
    service: ServiceDep,
    result_format: Annotated[
        ResultFormat, Query(alias="format", description="native JSON, or an SFS scene (log + pre-labels)")
    ] = ResultFormat.NATIVE,
) -> Response:
    """Results of a succeeded job (409 while it is not).

    ``format=native``: annotations (fusionlabel JSON) plus stage counts, findings and metadata.
    ``format=sfs``: the job's log as a Scale Sensor Fusion Scene with the pre-labels as its cuboid
    annotations (written on first request, then served from disk; 409 when the log was removed).
    """
    store = service.store
    if result_format is ResultFormat.NATIVE:
        return Response(store.jobs.result(tenant, job_id), media_type="application/json")
    results_dir = service.settings.results_dir
    path = await run_in_threadpool(sfs_result, store, service.logs, results_dir, tenant, job_id)
    return FileResponse(path, media_type=SFS_MEDIA_TYPE, filename=f"{job_id}.sfs")


@router.get("/{job_id}/webhooks", summary="Webhook deliveries of a job")
async def job_webhooks(job_id: JobId, tenant: TenantDep, store: StoreDep) -> list[DeliveryPublic]:
    """Every delivery of the job's webhook and every attempt made (status, error, duration)."""
    return [delivery_public(d, a) for d, a in store.deliveries.for_job(tenant, job_id)]
