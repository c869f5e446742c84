"""Service settings: one pydantic model per concern inside one ``BaseSettings`` (env prefix ``FUSIONLABEL_``).

Nested fields are set from the environment with ``__``, e.g. ``FUSIONLABEL_LIMITS__MAX_POINTS=100000`` or
``FUSIONLABEL_JOBS__WORKERS=2``. :func:`get_settings` is the FastAPI dependency (cached, never an
import-time singleton); tests build :class:`Settings` directly and pass it to ``create_app``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["JobsConfig", "LimitsConfig", "Settings", "WebhookConfig", "get_settings"]


class _Stage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LimitsConfig(_Stage):
    """Per-request limits; larger requests are answered 413 (body) or 422 (counts)."""

    max_body_bytes: int = Field(8 * 1024 * 1024, ge=1024, description="JSON request bodies [bytes]")
    max_upload_bytes: int = Field(2 * 1024**3, ge=1024, description="uploaded log archives [bytes]")
    max_points: int = Field(300_000, ge=1, description="points in one request")
    max_keyframes: int = Field(10_000, ge=1, description="keyframes in one interpolate request")
    max_timestamps: int = Field(100_000, ge=1, description="query timestamps / cuboids in one request")
    max_boxes: int = Field(10_000, ge=1, description="boxes in one points-in-boxes or project request")
    max_tracks: int = Field(10_000, ge=1, description="tracks in one validate request")
    max_json_depth: int = Field(32, ge=4, description="nesting depth of a JSON body")


class JobsConfig(_Stage):
    """The in-process job pool and its crash-recovery leases."""

    workers: int = Field(1, ge=0, description="job threads in this process (0: accept but never run)")
    lease_s: float = Field(30.0, gt=0, description="a RUNNING job whose lease lapses is re-queued [s]")
    poll_s: float = Field(0.5, gt=0, description="idle workers look for queued jobs this often [s]")
    max_attempts: int = Field(3, ge=1, description="runs (incl. crash re-queues) before a job fails")
    idempotency_ttl_s: float = Field(
        24 * 3600.0,
        gt=0,
        description="an Idempotency-Key is honoured this long after its job was created; then it is "
        "released (purged at start and by the workers) and reusing it creates a new job [s]",
    )
    purge_interval_s: float = Field(300.0, gt=0, description="workers purge expired keys this often [s]")
    prelabeler: str = Field(
        "engine.service:DefaultPrelabeler",
        description="'module:attribute' of the Prelabeler factory the workers call",
    )


class WebhookConfig(_Stage):
    """Signed completion callbacks."""

    max_attempts: int = Field(8, ge=1)
    backoff_base_s: float = Field(1.0, gt=0, description="delay before the 2nd attempt; doubles each time")
    backoff_max_s: float = Field(600.0, gt=0)
    timeout_s: float = Field(5.0, gt=0)
    allowed_hosts: tuple[str, ...] | None = Field(
        None, description="host names webhooks may target; any when None"
    )
    tolerance_s: int = Field(300, ge=1, description="receivers should reject older timestamps [s]")


class Settings(BaseSettings):
    """Everything ``fusionlabel serve`` can be configured with."""

    model_config = SettingsConfigDict(env_prefix="FUSIONLABEL_", env_nested_delimiter="__", frozen=True)

    data_root: Path = Field(Path("fusionlabel-data"), description="store, uploads and registered logs")
    logs_subdir: str = Field("logs", description="logs are registered by paths under data_root/logs_subdir")
    pepper: str | None = Field(
        None,
        description="server secret mixed into API-key hashes; read from data_root/state/pepper when None",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    log_cache_size: int = Field(8, ge=1, description="opened logs kept in memory")
    sweep_cache_mb: int = Field(
        256,
        ge=0,
        description="world-frame lidar sweeps kept across snap calls, per process [MB] (0: none)",
    )
    telemetry: bool = Field(
        False,
        description="FastAPI's native OpenTelemetry (traces, metrics, logs to the configured providers); "
        "off by default: it costs time on every request",
    )
    limits: LimitsConfig = LimitsConfig()
    jobs: JobsConfig = JobsConfig()
    webhooks: WebhookConfig = WebhookConfig()

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if "/" in self.logs_subdir or self.logs_subdir in ("", ".", "..", "state", "uploads", "results"):
            raise ValueError(f"logs_subdir must be a plain folder name, got {self.logs_subdir!r}")
        return self

    @property
    def logs_dir(self) -> Path:
        """Root of path-registered logs."""
        return self.data_root / self.logs_subdir

    @property
    def state_dir(self) -> Path:
        """SQLite store and the pepper file."""
        return self.data_root / "state"

    @property
    def uploads_dir(self) -> Path:
        """Uploaded logs, one folder per tenant."""
        return self.data_root / "uploads"

    @property
    def results_dir(self) -> Path:
        """Job results converted to other formats (SFS), one folder per tenant."""
        return self.data_root / "results"


@lru_cache
def get_settings() -> Settings:
    """The process settings, read from the environment once (FastAPI dependency)."""
    return Settings()
