"""Request guards: a body size limit (pure ASGI middleware) and strict JSON parsing (a route class).

* :class:`RequestGuard` answers 413 at once when ``Content-Length`` exceeds the limit, and stops a
  streamed body as soon as its bytes pass the limit; the body is never echoed.
* :class:`StrictJsonRoute` makes the routes parse JSON bodies once, strictly (:func:`check_json`): NaN,
  Infinity and overflowing numbers (``1e999``) are refused, as is nesting deeper than ``max_json_depth``
  (400, problem+json). Validation then sees only finite, shallow JSON. The low-latency routes use the
  same parser through :class:`api.fastroute.LeanJsonRoute`.
* Upload routes (``/v1/logs/upload``) get their own, larger limit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from pydantic_core import from_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response

__all__ = ["BadJson", "RequestGuard", "StrictJsonRoute", "check_json"]

UPLOAD_PATHS = ("/v1/logs/upload",)
MAX_DEPTH_KEY = "fusionlabel.max_json_depth"


class _TooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit.

    An HTTPException, so FastAPI's body reader re-raises it instead of turning it into a generic 400.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes", headers={"Connection": "close"})


class BadJson(ValueError):
    """The body is not strict JSON (message says why)."""


def _constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {text[:40]} overflows a float64")
    return value


_BIG_EXPONENT = re.compile(rb"e[+-]?0*[0-9]{3}")
"""Only numbers with a 3-digit exponent can overflow a float64 (searched in the lower-cased body: a
literal first character lets the regex engine skip ahead, ~5x faster than a character class)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
"""A JSON string literal. Only run on bodies that already parsed, where it is linear (on arbitrary
bytes, runs of escaped quotes would make the search quadratic)."""
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _depth_ok(body: bytes, limit: int) -> bool:
    """Whether valid JSON ``body`` nests at most ``limit`` containers deep.

    Strings are removed, then only brackets kept; each pass deletes the innermost (now empty)
    containers, so the number of passes is the nesting depth. Everything runs in C.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    for _ in range(limit):
        if not brackets:
            return True
        brackets = _INNERMOST.sub(b"", brackets)
    return not brackets


def check_json(body: bytes, max_depth: int) -> Any:
    """Parse ``body`` as strict, finite JSON nested at most ``max_depth`` deep; raise :class:`BadJson`.

    The common case goes through pydantic-core's parser (Rust; refuses NaN/Infinity literals and nests
    at most 200 deep on its own); bodies holding a number with a 3-digit exponent take the standard
    library's parser with a hook that refuses floats overflowing to infinity.
    """
    try:
        if _BIG_EXPONENT.search(body.lower()):
            value = json.loads(body, parse_constant=_constant, parse_float=_finite_float)
        else:
            value = from_json(body, allow_inf_nan=False)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        if "recursion limit" in str(exc):
            raise BadJson(f"JSON nested deeper than {max_depth} levels") from None
        raise BadJson(f"malformed JSON: {str(exc)[:200]}") from None
    if not _depth_ok(body, max_depth):
        raise BadJson(f"JSON nested deeper than {max_depth} levels")
    return value


class _StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = check_json(await self.body(), int(self.scope.get(MAX_DEPTH_KEY, 32)))
            except BadJson as exc:
                raise HTTPException(400, str(exc)) from None
        return self._json


class StrictJsonRoute(APIRoute):
    """An :class:`APIRoute` whose JSON bodies are parsed by :func:`check_json` (one parse per request)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the FastAPI handler so it reads the body through the strict parser."""
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(_StrictRequest(request.scope, request.receive))

        return strict


class RequestGuard:
    """ASGI middleware enforcing the body limits (see the module docstring).

    Parameters
    ----------
    app : ASGI app
        The wrapped application.
    max_body_bytes, max_upload_bytes : int
        Limits of JSON bodies and of uploads [bytes].
    max_json_depth : int
        Deepest allowed JSON nesting (handed to :class:`StrictJsonRoute` through the scope).
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self.max_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the body size of HTTP requests while they stream to the app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[MAX_DEPTH_KEY] = self.max_depth
        limit = self.max_upload if scope["path"] in UPLOAD_PATHS else self.max_body
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await problem_response(400, "Content-Length is not a number")(scope, receive, send)
                    return
                if int(value) > limit:
                    await self._too_large(scope, receive, send, limit)
                    return
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise _TooLarge(limit)
            return message

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watch)
        except _TooLarge:
            if not started:
                await self._too_large(scope, receive, send, limit)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413, f"request body exceeds {limit} bytes", slug="too-large", headers={"Connection": "close"}
        )
        await response(scope, receive, send)
