"""The FastAPI application: ``create_app(settings)`` wires store, routers, error handlers and workers.

Run it with ``fusionlabel serve`` (see :mod:`api.cli`) or ``uvicorn --factory api.main:create_app``.
The store is opened when the app is built (so an app used without its lifespan, e.g. by a test client
that is not entered, still answers); the job workers and the webhook sender start and stop with the
lifespan.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api.deps import Service, reject_unknown_query
from api.errors import install_error_handlers
from api.logcache import LogCache
from api.middleware import RequestGuard
from api.routes import geometry, health, interpolate, jobs, logs, project, quality
from api.settings import Settings, get_settings
from api.store import Store
from api.webhooks import WebhookSender
from api.worker import JobWorker
from engine.service import load_prelabeler
from engine.service.sweep_cache import sweep_cache

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

DESCRIPTION = """
Engine calls for annotation UIs (interpolate, validate, project, fit, points-in-boxes) and durable,
idempotent pre-labeling jobs with signed webhooks.

* Authenticate with an API key in the `X-API-Key` header; every resource belongs to one tenant.
* Errors are RFC 9457 problem details (`application/problem+json`).
* JSON bodies must be strict: NaN and Infinity are refused, as are bodies over the size limit (413).
"""


def create_app(settings: Settings | None = None, *, start_workers: bool = True) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings : Settings, optional
        Configuration; read from the environment (``FUSIONLABEL_*``) when omitted.
    start_workers : bool
        Start the job workers and webhook sender in the lifespan (tests of the HTTP layer alone pass
        False).

    Returns
    -------
    FastAPI
        The app; ``app.state.service`` holds the store and workers.
    """
    cfg = settings or get_settings()
    cfg.data_root.mkdir(parents=True, exist_ok=True)
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    store = Store(cfg.state_dir, cfg.pepper, idempotency_ttl_s=cfg.jobs.idempotency_ttl_s)
    purged = store.jobs.purge_expired_keys()
    if purged:
        logger.info("released %d expired idempotency keys", purged)
    service = Service(cfg, store, LogCache(store, cfg.log_cache_size))
    sweep_cache.budget_bytes = cfg.sweep_cache_mb << 20

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if start_workers:
            service.webhooks = WebhookSender(store, cfg.webhooks)
            service.webhooks.start()
            service.worker = JobWorker(
                store, service.logs, cfg.jobs, load_prelabeler(cfg.jobs.prelabeler), service.webhooks.nudge
            )
            service.worker.start()
            logger.info("started %d job workers", cfg.jobs.workers)
        # Everything imported and built so far (numba, pydantic, the routes) lives as long as the process:
        # move it out of the collector's reach so full collections stay short (latency tails).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if service.worker is not None:
                service.worker.stop()
            if service.webhooks is not None:
                service.webhooks.stop()
            store.close()

    app = FastAPI(
        title="fusionlabel",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(reject_unknown_query)],
        telemetry=None if cfg.telemetry else {"tracing": False, "metrics": False, "logs": False},
    )
    app.state.service = service
    install_error_handlers(app)
    app.add_middleware(
        RequestGuard,
        max_body_bytes=cfg.limits.max_body_bytes,
        max_upload_bytes=cfg.limits.max_upload_bytes,
        max_json_depth=cfg.limits.max_json_depth,
    )
    for module in (health, interpolate, quality, geometry, project, logs, jobs):
        app.include_router(module.router)
    return app
