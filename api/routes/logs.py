"""Logs: register by path under the data root, upload a native-log archive, list, get, delete."""

from __future__ import annotations

import shutil
import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from api.convert import log_public
from api.deps import LogsDep, SettingsDep, StoreDep, TenantDep
from api.errors import PROBLEM_RESPONSES
from api.middleware import StrictJsonRoute
from api.schemas import LogCreate, LogList, LogPublic
from api.schemas.common import LogId, Name
from api.store import resolve_inside
from api.uploads import place_upload, receive_archive
from engine import open_log
from engine.errors import LogFormatError

router = APIRouter(prefix="/v1/logs", tags=["logs"], responses=PROBLEM_RESPONSES, route_class=StrictJsonRoute)

_UPLOAD_TYPES = {"application/x-tar", "application/gzip", "application/x-gzip", "application/octet-stream"}


@router.post("", status_code=status.HTTP_201_CREATED, summary="Register a log by path")
def register_log(body: LogCreate, tenant: TenantDep, store: StoreDep, settings: SettingsDep) -> LogPublic:
    """Register a native log or PandaSet folder lying under the server's logs folder.

    The path is relative to that folder; absolute paths, ``..`` and symlinks leading out of it are
    refused (422). The log is opened (manifest only) before it is registered.
    """
    path = resolve_inside(settings.logs_dir, body.path)
    try:
        log = open_log(path)
    except OSError as exc:  # unreadable files, names too long: the log cannot be opened
        raise LogFormatError(f"log {body.path[:200]!r} cannot be read: {type(exc).__name__}") from None
    return log_public(store.logs.add(tenant, body.name or log.name, "path", path, log.summary()))


@router.post(
    "/upload",
    status_code=status.HTTP_201_CREATED,
    summary="Upload a log: an SFS scene, an MCAP file or a tar archive of a log folder",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_log(
    request: Request,
    tenant: TenantDep,
    store: StoreDep,
    settings: SettingsDep,
    name: Annotated[Name | None, Query(description="display name")] = None,
) -> LogPublic:
    """Upload a log as the raw request body; its kind is read from the content.

    An SFS scene (Scale's JSON-binary container) or an MCAP file (ROS 2) is kept as it came; a tar (or
    tar.gz) archive of a log folder (native, PandaSet, ...) is unpacked. Content types
    ``application/octet-stream``, ``application/x-tar`` or ``application/gzip``.
    """
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in _UPLOAD_TYPES:
        raise HTTPException(
            415,
            "upload an SFS scene, an MCAP file or a tar archive (application/octet-stream or "
            f"application/x-tar), not {ctype or 'no content type'}",
        )
    tmp = await receive_archive(request.stream(), settings.uploads_dir / ".incoming")
    target = settings.uploads_dir / tenant / uuid.uuid4().hex
    try:
        root = await run_in_threadpool(place_upload, tmp, target, 4 * settings.limits.max_upload_bytes)
    finally:
        tmp.unlink(missing_ok=True)
    try:
        log = await run_in_threadpool(open_log, root)
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return log_public(store.logs.add(tenant, name or log.name, "upload", root, log.summary()))


@router.get("", summary="List logs")
async def list_logs(
    tenant: TenantDep,
    store: StoreDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> LogList:
    """The tenant's logs, newest first."""
    return LogList(
        items=[log_public(r) for r in store.logs.list(tenant, limit, offset)], limit=limit, offset=offset
    )


@router.get("/{log_id}", summary="Get a log")
async def get_log(log_id: LogId, tenant: TenantDep, store: StoreDep) -> LogPublic:
    """One log (404 for unknown ids and other tenants' logs)."""
    return log_public(store.logs.get(tenant, log_id))


@router.delete("/{log_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Forget a log")
async def delete_log(log_id: LogId, tenant: TenantDep, store: StoreDep, logs: LogsDep) -> Response:
    """Remove the registration (files of path-registered logs stay)."""
    store.logs.delete(tenant, log_id)
    logs.forget(log_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
