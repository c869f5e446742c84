"""The ``fusionlabel`` console script: every engine command plus the service's ``serve`` and ``create-key``.

It lives in ``api`` because only ``api`` may import both layers (``api`` -> ``engine``); the engine's own
Typer app (:mod:`engine.cli`) never imports the service.
"""

from __future__ import annotations

from api import cli as _api_cli
from engine.cli import app

app.command("serve", help="Serve the HTTP API (FastAPI + uvicorn), on 127.0.0.1:8000 by default.")(
    _api_cli._serve_cmd
)
app.command("create-key", help="Create an API key (printed once) for a tenant.")(_api_cli._create_key_cmd)

__all__ = ["app"]
