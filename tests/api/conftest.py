"""Fixtures of the API tests: a data root per test, an app with fast job settings, two tenants, a sim log."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_helpers import TenantKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import JobsConfig, LimitsConfig, Settings, WebhookConfig


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1 s simulated drive of the tiny rig (native log in ``log/``, ground truth beside it)."""
    from engine.sim import write_simulation

    out = tmp_path_factory.mktemp("sim")
    write_simulation(out, "tiny", 1.0, 3)
    return out


def make_settings(root: Path, **jobs: object) -> Settings:
    """Settings for tests: short leases, fast polling and backoff, the fake prelabeler, small limits."""
    job_cfg = {"workers": 1, "lease_s": 1.5, "poll_s": 0.05, "prelabeler": "api_fakes:FakePrelabeler", **jobs}
    return Settings(
        data_root=root,
        pepper="test-pepper",
        jobs=JobsConfig(**job_cfg),  # type: ignore[arg-type]
        webhooks=WebhookConfig(backoff_base_s=0.05, backoff_max_s=0.2, max_attempts=4, timeout_s=2.0),
        limits=LimitsConfig(max_body_bytes=1_000_000, max_points=20_000, max_json_depth=32),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _tenant(app: FastAPI, name: str) -> TenantKey:
    store = app.state.service.store
    t = store.tenants.create(name)
    return TenantKey(t.id, store.tenants.create_key(t.id), t.webhook_secret)


@pytest.fixture
def tenant_a(app: FastAPI) -> TenantKey:
    return _tenant(app, "alpha")


@pytest.fixture
def tenant_b(app: FastAPI) -> TenantKey:
    return _tenant(app, "bravo")


@pytest.fixture
def log_id(client: TestClient, settings: Settings, sim_dir: Path, tenant_a: TenantKey) -> str:
    """The sim log copied under the logs folder and registered for tenant A."""
    shutil.copytree(sim_dir / "log", settings.logs_dir / "sim")
    r = client.post("/v1/logs", json={"path": "sim"}, headers=tenant_a.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
