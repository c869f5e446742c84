"""Request guard (pure ASGI): body size limit and a strict JSON pre-parse, before any route runs.

* A body larger than the limit is answered 413 at once (from ``Content-Length`` when sent, else as soon
  as the streamed bytes pass the limit); the body is never echoed.
* JSON bodies are parsed once here with NaN, Infinity and overflowing numbers (``1e999``) refused,
  and nesting deeper than ``max_json_depth`` refused (400), so the route's own parser only ever sees
  finite, shallow JSON. The buffered body is then replayed to the application.
* Upload routes (``/v1/logs/upload``) stream with their own, larger limit and skip the JSON check.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem_response

__all__ = ["RequestGuard", "check_json"]

UPLOAD_PATHS = ("/v1/logs/upload",)


class _TooLarge(Exception):
    pass


class BadJson(ValueError):
    """The body is not strict JSON (message says why)."""


def _constant(name: str) -> Any:
    raise BadJson(f"{name} is not valid JSON; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJson(f"number {text[:40]} overflows a float64")
    return value


def _depth_ok(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            if item and isinstance(item[0], int | float) and not isinstance(item[-1], dict | list):
                continue  # a leaf vector (the common case for points); mixed lists are rejected by schemas
            stack.extend((v, depth + 1) for v in item if isinstance(v, dict | list))
    return True


_BIG_EXPONENT = re.compile(rb"[eE][+-]?0*[0-9]{3,}")
"""Only numbers with a 3-digit exponent can overflow a float64; others skip the per-float hook."""


def check_json(body: bytes, max_depth: int) -> None:
    """Raise :class:`BadJson` unless ``body`` is strict, finite JSON nested at most ``max_depth`` deep."""
    hook = _finite_float if _BIG_EXPONENT.search(body) else None
    try:
        value = json.loads(body, parse_constant=_constant, parse_float=hook)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"JSON nested deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadJson(f"malformed JSON: {str(exc)[:200]}") from None
    if not _depth_ok(value, max_depth):
        raise BadJson(f"JSON nested deeper than {max_depth} levels")


class RequestGuard:
    """ASGI middleware enforcing the body limits and strict JSON (see the module docstring).

    Parameters
    ----------
    app : ASGI app
        The wrapped application.
    max_body_bytes, max_upload_bytes : int
        Limits of JSON bodies and of uploads [bytes].
    max_json_depth : int
        Deepest allowed JSON nesting.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int, max_json_depth: int) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.max_upload = max_upload_bytes
        self.max_depth = max_json_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        upload = path in UPLOAD_PATHS
        limit = self.max_upload if upload else self.max_body
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await problem_response(400, "Content-Length is not a number", instance=path)(scope, receive, send)
                return
            if int(length) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        if upload:
            await self._stream(scope, receive, send, limit)
            return
        chunks, size = [], 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._too_large(scope, receive, send, limit)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and (ctype == b"application/json" or ctype.endswith(b"+json")):
            try:
                check_json(body, self.max_depth)
            except BadJson as exc:
                await problem_response(400, str(exc), slug="malformed-json", instance=path)(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413, f"request body exceeds {limit} bytes", slug="too-large", headers={"Connection": "close"}
        )
        await response(scope, receive, send)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        size = 0
        started = False

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit:
                    raise _TooLarge()
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
