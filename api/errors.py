"""The one place where errors become HTTP responses: RFC 9457 problem details (``application/problem+json``).

Engine errors (``engine.errors.EngineError`` and subclasses: bad values, bad types, unreadable logs) are
422; store errors map to 404 (not found, including another tenant's ids) and 409 (conflicts); request
validation is 422 with the invalid fields listed but their values never echoed; anything unexpected is
a bare 500 (details only in the server log). Routes raise :class:`HTTPException` only for HTTP concerns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from api.schemas.common import Problem
from api.store import ConflictError, NotFoundError, PathOutsideRoot
from engine.errors import EngineError, InvalidTypeError, LogFormatError

__all__ = ["PROBLEM_MEDIA_TYPE", "PROBLEM_RESPONSES", "install_error_handlers", "problem_response"]

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    500: "Internal server error",
    503: "Service unavailable",
}


def _problem_schema(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _problem_schema("Malformed JSON (NaN/Infinity, too deep, not UTF-8)"),
    401: _problem_schema("Missing or invalid API key"),
    404: _problem_schema("No such resource for this tenant"),
    413: _problem_schema("Request body too large"),
    415: _problem_schema("Unsupported content type"),
    422: _problem_schema("Invalid request: fields, limits or engine-level checks"),
    500: _problem_schema("Unexpected server error"),
}
"""Problem responses documented on every route (OpenAPI)."""


def problem_response(
    status: int,
    detail: str | None = None,
    *,
    slug: str | None = None,
    instance: str | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response (``type`` is ``urn:fusionlabel:problem:<slug>`` or ``about:blank``)."""
    body: dict[str, Any] = {
        "type": f"urn:fusionlabel:problem:{slug}" if slug else "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    if errors is not None:
        body["errors"] = list(errors)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {}))


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors()[:50]:
        loc = [p if isinstance(p, int) else str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", ""))[:500], "type": str(err.get("type", ""))})
    return out


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return problem_response(
        422,
        "request validation failed",
        slug="validation",
        instance=request.url.path,
        errors=_field_errors(exc),
    )


async def _engine(request: Request, exc: Exception) -> Response:
    slug = (
        "invalid-type"
        if isinstance(exc, InvalidTypeError)
        else "log-format"
        if isinstance(exc, LogFormatError)
        else "invalid-input"
    )
    return problem_response(422, str(exc)[:2000], slug=slug, instance=request.url.path)


async def _not_found(request: Request, exc: Exception) -> Response:
    return problem_response(404, str(exc), slug="not-found", instance=request.url.path)


async def _conflict(request: Request, exc: Exception) -> Response:
    return problem_response(409, str(exc), slug="conflict", instance=request.url.path)


async def _outside(request: Request, exc: Exception) -> Response:
    return problem_response(422, str(exc), slug="path-outside-root", instance=request.url.path)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette's 405 names only the first route's)."""
    methods: set[str] = set()
    scope = dict(request.scope)
    for route in request.app.routes:
        match, _ = route.matches({**scope, "method": "\x00"})
        if match is Match.PARTIAL:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return problem_response(exc.status_code, detail, instance=request.url.path, headers=headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "unexpected server error; see the server log", instance=request.url.path)


def install_error_handlers(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(EngineError, _engine)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(PathOutsideRoot, _outside)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
