"""FastAPI dependencies: the service state, the store, the caller's tenant, settings and limits.

``TenantDep`` authenticates the ``X-API-Key`` header (looked up by its HMAC digest) and yields the
tenant id every store call is scoped by. Dependencies are ``async`` and cheap (one indexed SQLite
lookup), so they add no thread hop to the low-latency routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.logcache import LogCache
from api.settings import LimitsConfig, Settings
from api.store import Store
from api.webhooks import WebhookSender
from api.worker import JobWorker

__all__ = [
    "Context",
    "CtxDep",
    "LimitsDep",
    "app_settings",
    "LogsDep",
    "Service",
    "ServiceDep",
    "SettingsDep",
    "StoreDep",
    "TenantDep",
    "check_limit",
    "get_service",
    "reject_unknown_query",
]


@dataclass(slots=True)
class Service:
    """What a running app holds (``app.state.service``)."""

    settings: Settings
    store: Store
    logs: LogCache
    worker: JobWorker | None = None
    webhooks: WebhookSender | None = None


async def get_service(request: Request) -> Service:
    """The app's :class:`Service`."""
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_store(service: ServiceDep) -> Store:
    """The store."""
    return service.store


StoreDep = Annotated[Store, Depends(get_store)]


async def get_logs(service: ServiceDep) -> LogCache:
    """Opened logs."""
    return service.logs


LogsDep = Annotated[LogCache, Depends(get_logs)]


async def app_settings(service: ServiceDep) -> Settings:
    """The settings the app was built with (``create_app(settings)``; :func:`get_settings` by default).

    Read from the app rather than overriding ``get_settings`` per app: FastAPI re-analyses overridden
    dependencies on every request, which costs more than the interpolation itself.
    """
    return service.settings


SettingsDep = Annotated[Settings, Depends(app_settings)]


async def get_limits(settings: SettingsDep) -> LimitsConfig:
    """Per-request limits."""
    return settings.limits


LimitsDep = Annotated[LimitsConfig, Depends(get_limits)]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key of a tenant (flk_...)")


async def current_tenant(store: StoreDep, key: Annotated[str | None, Security(_api_key)]) -> str:
    """The tenant of a valid ``X-API-Key`` (401 otherwise)."""
    if not key:
        raise HTTPException(401, "missing X-API-Key header", headers={"WWW-Authenticate": "ApiKey"})
    tenant = store.tenants.tenant_for_key(key)
    if tenant is None:
        raise HTTPException(401, "invalid or revoked API key", headers={"WWW-Authenticate": "ApiKey"})
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


@dataclass(frozen=True, slots=True)
class Context:
    """An authenticated request's tenant and the service (one dependency for the low-latency routes)."""

    tenant: str
    service: Service

    @property
    def limits(self) -> LimitsConfig:
        """Per-request limits."""
        return self.service.settings.limits

    @property
    def logs(self) -> LogCache:
        """Opened logs."""
        return self.service.logs


async def authenticated(request: Request, key: Annotated[str | None, Security(_api_key)]) -> Context:
    """:class:`Context` of a request with a valid ``X-API-Key`` (401 otherwise)."""
    service: Service = request.app.state.service
    return Context(await current_tenant(service.store, key), service)


CtxDep = Annotated[Context, Depends(authenticated)]


async def reject_unknown_query(request: Request) -> None:
    """422 for query parameters the route does not declare (typos must not be silently ignored)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    known = {p.alias for p in _query_params(dependant)}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise HTTPException(
            422, f"unknown query parameters {unknown[:5]}; this operation accepts {sorted(known)}"
        )


def _query_params(dependant: Any) -> list[Any]:
    out = list(dependant.query_params)
    for sub in dependant.dependencies:
        out += _query_params(sub)
    return out


def check_limit(name: str, count: int, limit: int) -> None:
    """422 when a request holds more items than the server's configured limit."""
    if count > limit:
        raise HTTPException(422, f"{name} holds {count} items; this server accepts at most {limit}")
