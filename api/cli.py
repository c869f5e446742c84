"""Command-line entry points of the service: ``serve`` and API-key administration.

``engine.cli`` must not import ``api`` at import time; its ``fusionlabel serve`` command imports this
module lazily and calls :func:`serve`. Standalone: ``python -m api.cli serve --port 8000``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from api.settings import Settings
from api.store import ConflictError, Store

__all__ = ["app", "create_key", "default_processes", "serve"]

MAX_DEFAULT_PROCESSES = 4
"""``serve`` starts one server process per core up to this many unless told otherwise."""


def default_processes() -> int:
    """Server processes when none are asked for: one per usable core, at most :data:`MAX_DEFAULT_PROCESSES`.

    One process runs the interpolate path at about 1 ms of CPU per request, so a second core roughly
    doubles the throughput at 16 concurrent clients and halves the tail latency (see
    ``benchmarks/bench_api.py``). Every process also runs its own job threads and webhook sender;
    they coordinate through the store's leases.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_PROCESSES))


logger = logging.getLogger(__name__)

app = typer.Typer(name="fusionlabel-api", no_args_is_help=True, pretty_exceptions_enable=False)


def _settings(data_root: Path | None, **overrides: Any) -> Settings:
    base = Settings()
    values = base.model_dump()
    if data_root is not None:
        values["data_root"] = data_root
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    data_root: Path | None = None,
    workers: int | None = None,
    log_level: str = "info",
    processes: int | None = None,
    warmup: bool = True,
) -> None:
    """Serve the API with uvicorn (``processes`` server processes, ``workers`` job threads in each).

    Parameters
    ----------
    host : str
        Interface to bind; loopback by default.
    port : int
        TCP port (0 picks a free one).
    data_root : Path, optional
        Store, uploads and logs; ``FUSIONLABEL_DATA_ROOT`` or ``./fusionlabel-data`` when omitted.
    workers : int, optional
        Job worker threads (``FUSIONLABEL_JOBS__WORKERS``, default 1).
    log_level : str
        uvicorn log level.
    processes : int, optional
        uvicorn worker processes sharing the port and the store (more throughput on more cores; each
        runs its own job threads and webhook sender, coordinated through the store's leases);
        :func:`default_processes` when omitted. With more than one, the parent accepts and hands the
        connections to the workers in turn (:func:`api.balance.serve_balanced`).
    warmup : bool
        Compile (or load from numba's disk cache) the kernels of the low-latency endpoints in a
        background thread while the server starts (:func:`engine.service.warmup.warm_up`); with several
        processes the parent does it once and the workers find the kernels cached.
    """
    import uvicorn

    from api.main import create_app

    settings = _settings(data_root, host=host, port=port)
    if workers is not None:
        settings = Settings(
            **{**settings.model_dump(), "jobs": {**settings.jobs.model_dump(), "workers": workers}}
        )
    logging.basicConfig(  # the service's --log-level wins over the CLI's default (WARNING unless -v)
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
    )
    processes = default_processes() if processes is None else processes
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    logger.info("serving on %s:%d with %d process(es)", settings.host, settings.port, processes)
    if warmup:
        _start_warm_up()
    if processes > 1:  # worker processes build the app themselves, from the environment
        os.environ.update(
            FUSIONLABEL_DATA_ROOT=str(settings.data_root),
            FUSIONLABEL_JOBS__WORKERS=str(settings.jobs.workers),
        )
        from api.balance import serve_balanced  # one acceptor: connections spread evenly

        serve_balanced(settings.host, settings.port, processes, log_level, graceful_s=10.0)
        return
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _start_warm_up() -> threading.Thread:
    """Run :func:`engine.service.warmup.warm_up` in a daemon thread; logs what each step took."""

    def run() -> None:
        from engine.service.warmup import warm_up

        try:
            took = warm_up()
        except Exception:  # noqa: BLE001 - a failed warm-up only costs the first callers time
            logger.exception("kernel warm-up failed; the first calls compile instead")
            return
        logger.info("kernels warm: %s", ", ".join(f"{k} {v:.1f} s" for k, v in took.items()))

    thread = threading.Thread(target=run, name="fusionlabel-warm-up", daemon=True)
    thread.start()
    return thread


def create_key(data_root: Path | None, tenant: str) -> tuple[str, str, str]:
    """Create ``tenant`` when new and a fresh API key for it.

    Returns
    -------
    (str, str, str)
        Tenant id, the plain API key (shown once; only its digest is stored) and the tenant's webhook
        signing secret.
    """
    settings = _settings(data_root)
    store = Store(settings.state_dir, settings.pepper)
    try:
        try:
            record = store.tenants.create(tenant)
        except ConflictError:
            record = store.tenants.by_name(tenant)
        return record.id, store.tenants.create_key(record.id), record.webhook_secret
    finally:
        store.close()


@app.command("serve")
def _serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    data_root: Annotated[Path | None, typer.Option(help="Data root (store, uploads, logs).")] = None,
    workers: Annotated[int | None, typer.Option(help="Job worker threads.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
    processes: Annotated[
        int | None, typer.Option(help="uvicorn worker processes (default: one per core, at most 4).", min=1)
    ] = None,
    warmup: Annotated[
        bool, typer.Option(help="Compile the endpoints' kernels in the background at start-up.")
    ] = True,
) -> None:
    """Serve the API (default 127.0.0.1:8000)."""
    serve(host, port, data_root, workers, log_level, processes, warmup)


@app.command("create-key")
def _create_key_cmd(
    tenant: Annotated[str, typer.Argument(help="Tenant name (created when new).")],
    data_root: Annotated[Path | None, typer.Option(help="Data root.")] = None,
) -> None:
    """Create an API key (printed once) for a tenant."""
    tenant_id, key, secret = create_key(data_root, tenant)
    typer.echo(f"tenant_id={tenant_id}\napi_key={key}\nwebhook_secret={secret}")


if __name__ == "__main__":
    app()
