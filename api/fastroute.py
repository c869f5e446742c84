"""A lean route class for the low-latency endpoints (``op(body: XCreate, ctx: CtxDep) -> XPublic``).

FastAPI's generic request handler solves the dependency graph on every request (query check, API-key
header, context), validates the body, then validates the returned model once more against the response
model before serialising it: on ``/v1/interpolate`` that was about as much server time as the
interpolation itself. :class:`LeanJsonRoute` keeps the declaration as it is, so the OpenAPI document
(body schema, security scheme, response model, problem responses) is generated from the same signature,
but serves each request along a short fixed path:

1. query parameters: none are declared, so any is a 422 (as :func:`api.deps.reject_unknown_query`);
2. ``X-API-Key`` -> tenant (:func:`api.deps.authenticated`; digests cached for a few seconds);
3. ``Content-Type`` must be JSON (415), the body strict JSON (:func:`api.middleware.check_json`, 400);
4. one pydantic validation (failures become the usual 422 problem with the fields listed);
5. the endpoint (``async`` on the event loop, plain functions in the thread pool);
6. the returned model serialised once, by its own pydantic-core serializer (no re-validation).

Errors raised anywhere go through the app's exception handlers, so the RFC 9457 problem format is the
same as on every other route.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from api.deps import CtxDep, authenticated
from api.middleware import MAX_DEPTH_KEY, BadJson, StrictJsonRoute, check_json

__all__ = ["LeanJsonRoute", "is_json_media_type"]


@functools.lru_cache(maxsize=256)
def is_json_media_type(content_type: str | None) -> bool:
    """Whether a ``Content-Type`` header names JSON (``application/json`` or ``application/*+json``)."""
    if not content_type:
        return False
    media = content_type.partition(";")[0].strip().lower()
    main, _, sub = media.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _signature(endpoint: Callable[..., Any]) -> tuple[str, type[BaseModel], str]:
    """Names of the body and context parameters of ``endpoint``, and the body model."""
    hints = typing.get_type_hints(endpoint, include_extras=True)
    body: tuple[str, type[BaseModel]] | None = None
    ctx: str | None = None
    for name in inspect.signature(endpoint).parameters:
        hint = hints.get(name)
        if hint == CtxDep:
            ctx = name
        elif inspect.isclass(hint) and issubclass(hint, BaseModel) and body is None:
            body = (name, hint)
        else:
            raise TypeError(f"LeanJsonRoute endpoint {endpoint.__name__}: unsupported parameter {name!r}")
    if body is None or ctx is None:
        raise TypeError(f"LeanJsonRoute endpoint {endpoint.__name__} needs (body: Model, ctx: CtxDep)")
    return body[0], body[1], ctx


def _validation_error(exc: ValidationError) -> RequestValidationError:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    return RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors])


class LeanJsonRoute(StrictJsonRoute):
    """An :class:`APIRoute` serving ``op(body: Model, ctx: CtxDep) -> Model`` endpoints directly.

    See the module docstring for the steps; other signatures are a ``TypeError`` when the route is built.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The short request path (see the module docstring)."""
        endpoint = self.endpoint
        body_name, model, ctx_name = _signature(endpoint)
        is_async = inspect.iscoroutinefunction(endpoint)
        status_code = self.status_code or 200

        async def lean(request: Request) -> Response:
            if request.scope.get("query_string") and request.query_params:
                unknown = sorted(set(request.query_params))[:5]
                raise HTTPException(422, f"unknown query parameters {unknown}; this operation accepts []")
            ctx = await authenticated(request, request.headers.get("x-api-key"))
            raw = await request.body()
            if not raw:
                raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
            if not is_json_media_type(request.headers.get("content-type")):
                raise HTTPException(415, "Content-Type must be application/json")
            try:
                value = check_json(raw, int(request.scope.get(MAX_DEPTH_KEY, 32)))
            except BadJson as exc:
                raise HTTPException(400, str(exc)) from None
            try:
                body = model.model_validate(value)
            except ValidationError as exc:
                raise _validation_error(exc) from None
            kwargs = {body_name: body, ctx_name: ctx}
            result = await endpoint(**kwargs) if is_async else await run_in_threadpool(endpoint, **kwargs)
            if isinstance(result, Response):
                return result
            content = result.__pydantic_serializer__.to_json(result)
            return Response(content, status_code=status_code, media_type="application/json")

        return lean
