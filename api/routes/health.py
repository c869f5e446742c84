"""``/health`` (the process answers) and ``/ready`` (store and data root usable); no API key needed."""

from __future__ import annotations

import logging
import os
import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServiceDep
from api.middleware import StrictJsonRoute

router = APIRouter(tags=["health"], route_class=StrictJsonRoute)
logger = logging.getLogger(__name__)


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    """Always ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


@router.get(
    "/ready",
    summary="Readiness",
    responses={503: {"description": "store or data root unusable", "content": {"application/json": {}}}},
)
def ready(service: ServiceDep) -> JSONResponse:
    """200 when the store answers and the data root is writable; 503 naming what failed otherwise."""
    checks: dict[str, str] = {}
    try:
        service.store.db.ping()
        checks["store"] = "ok"
    except Exception as exc:
        checks["store"] = f"error: {type(exc).__name__}"
    try:
        probe = service.settings.data_root / f".ready-{uuid.uuid4().hex}"
        probe.write_bytes(b"ok")
        probe.unlink()
        checks["data_root"] = (
            "ok" if os.access(service.settings.logs_dir, os.R_OK) else "error: logs folder unreadable"
        )
    except OSError as exc:
        checks["data_root"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    if not ok:
        logger.warning("not ready: %s", checks)
    return JSONResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )
