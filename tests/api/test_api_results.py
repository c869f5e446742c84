"""Job results as SFS (read back with the engine's reader), and idempotency keys that expire."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from api_helpers import TenantKey, wait_job
from conftest import make_settings
from fastapi.testclient import TestClient

from api.main import create_app
from api.store import ConflictError, Store
from engine import open_log
from engine.io.sfs import read_sfs


class FakeClock:
    """A wall clock the test moves by hand [s since the epoch]."""

    def __init__(self, t: float = 1.7e9) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_sfs_results_read_back_with_the_engine_reader(
    client: TestClient, tenant_a: TenantKey, tenant_b: TenantKey, log_id: str, settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    h = tenant_a.headers
    job = client.post("/v1/jobs/prelabel", json={"log_id": log_id, "options": {"max_sweeps": 2}}, headers=h)
    job_id = job.json()["id"]
    assert wait_job(client, job_id, h)["state"] == "succeeded"
    native = client.get(f"/v1/jobs/{job_id}/results", headers=h)
    assert native.headers["content-type"] == "application/json"
    assert native.json() == client.get(f"/v1/jobs/{job_id}/results?format=native", headers=h).json()

    r = client.get(f"/v1/jobs/{job_id}/results?format=sfs", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    assert f"{job_id}.sfs" in r.headers["content-disposition"]
    path = tmp_path / "download.sfs"
    path.write_bytes(r.content)
    scene = read_sfs(path)
    (track,) = scene.annotations.tracks
    (expected,) = native.json()["annotations"]["tracks"]
    assert track.track_id == expected["track_id"] and track.label == expected["label"]
    np.testing.assert_array_equal(track.timestamps_us, expected["timestamps_us"])
    np.testing.assert_allclose(track.centers, expected["centers"], atol=1e-9)
    np.testing.assert_allclose(track.sizes, expected["sizes"], atol=1e-9)
    original = open_log(settings.logs_dir / "sim")
    assert set(scene.sensors) == set(original.sensors)
    assert {k: len(v) for k, v in scene.lidar.items()} == {k: len(v) for k, v in original.lidar.items()}

    again = client.get(f"/v1/jobs/{job_id}/results?format=sfs", headers=h)
    assert again.content == r.content  # served from the file written on the first request
    assert sorted(p.name for p in (settings.results_dir / tenant_a.id).iterdir()) == [f"{job_id}.sfs"]
    assert client.get(f"/v1/jobs/{job_id}/results?format=sfs", headers=tenant_b.headers).status_code == 404
    assert client.get(f"/v1/jobs/{job_id}/results?format=csv", headers=h).status_code == 422


def test_sfs_results_need_a_succeeded_job(client: TestClient, tenant_a: TenantKey, log_id: str) -> None:
    h = tenant_a.headers
    job = client.post(
        "/v1/jobs/prelabel", json={"log_id": log_id, "options": {"lidar_id": "boom"}}, headers=h
    ).json()
    assert wait_job(client, job["id"], h)["state"] == "failed"
    r = client.get(f"/v1/jobs/{job['id']}/results?format=sfs", headers=h)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/jobs/job_missing/results?format=sfs", headers=h).status_code == 404


def test_idempotency_keys_expire_after_the_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    store = Store(tmp_path / "st", pepper="p", idempotency_ttl_s=3600.0, clock=clock)
    try:
        t = store.tenants.create("a").id
        first, created = store.jobs.submit(t, "prelabel", {"log_id": "x"}, "k", None)
        clock.t += 3599.0
        again, replayed_created = store.jobs.submit(t, "prelabel", {"log_id": "x"}, "k", None)
        assert created and not replayed_created and again.id == first.id
        with pytest.raises(ConflictError, match="'k'"):
            store.jobs.submit(t, "prelabel", {"log_id": "y"}, "k", None)
        clock.t += 1.0  # the key is exactly ttl old: expired, so another body is no conflict any more
        fresh, fresh_created = store.jobs.submit(t, "prelabel", {"log_id": "y"}, "k", None)
        assert fresh_created and fresh.id != first.id and fresh.idempotency_key == "k"
        old = store.jobs.get(t, first.id)
        assert old.idempotency_key is None and old.state.value == "queued"  # released, the job is kept
        replay, replay_created = store.jobs.submit(t, "prelabel", {"log_id": "y"}, "k", None)
        assert not replay_created and replay.id == fresh.id  # the key now names the new job
    finally:
        store.close()


def test_expired_keys_are_purged(tmp_path: Path) -> None:
    clock = FakeClock()
    store = Store(tmp_path / "st", pepper="p", idempotency_ttl_s=60.0, clock=clock)
    try:
        t = store.tenants.create("a").id
        old, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, "old", None)
        clock.t += 30.0
        new, _ = store.jobs.submit(t, "prelabel", {"log_id": "x"}, "new", None)
        assert store.jobs.purge_expired_keys() == 0
        clock.t += 31.0
        assert store.jobs.purge_expired_keys() == 1
        assert store.jobs.get(t, old.id).idempotency_key is None
        assert store.jobs.get(t, new.id).idempotency_key == "new"
        assert store.jobs.purge_expired_keys() == 0
        again, created = store.jobs.submit(t, "prelabel", {"log_id": "x"}, "old", None)
        assert created and again.id != old.id  # a purged key creates a new job
    finally:
        store.close()


def test_ttl_comes_from_settings_and_the_app_purges_at_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", idempotency_ttl_s=60.0)
    earlier = Store(settings.state_dir, settings.pepper, clock=lambda: time.time() - 120.0)
    t = earlier.tenants.create("a").id
    stale, _ = earlier.jobs.submit(t, "prelabel", {"log_id": "x"}, "stale", None)
    recent, _ = earlier.jobs.submit(t, "prelabel", {"log_id": "x"}, "recent", None)
    earlier.db.connection().execute("UPDATE jobs SET created_at = ? WHERE id = ?", (time.time(), recent.id))
    earlier.close()
    app = create_app(settings, start_workers=False)
    store = app.state.service.store
    try:
        assert store.jobs.idempotency_ttl_s == 60.0
        assert store.jobs.get(t, stale.id).idempotency_key is None
        assert store.jobs.get(t, recent.id).idempotency_key == "recent"
    finally:
        store.close()
